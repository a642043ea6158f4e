//! The TypeScript types of the IPC boundary are generated from the Rust types and committed
//! in `ui/src/lib/ipc/bindings/`. This test regenerates them into a temporary folder and
//! fails when the committed files differ; `UPDATE_BINDINGS=1 cargo test --test bindings`
//! writes them.

use std::collections::BTreeMap;
use std::path::Path;

use lifeboat_core::catalog::StackRecord;
use lifeboat_core::drill::DrillReport;
use lifeboat_core::job::JobEvent;
use lifeboat_core::restore::{RestorePlan, RestoreReport, UndoReport};
use lifeboat_core::schedule::Pause;
use lifeboat_desktop::{
    BackupChoices, BackupDone, BackupOverview, DrillOverview, DriveInfo, DriveRestoreDone,
    ErrorCode, InspectResult, IpcError, RestorePoints, RestoreRequest, ScheduleView, SecretsScreen,
    SettingsView, TrayModel,
};
use ts_rs::{Config, TS};

fn export_all(dir: &Path) {
    let cfg = Config::new().with_large_int("number").with_out_dir(dir);
    InspectResult::export_all(&cfg).unwrap();
    StackRecord::export_all(&cfg).unwrap();
    JobEvent::export_all(&cfg).unwrap();
    IpcError::export_all(&cfg).unwrap();
    ErrorCode::export_all(&cfg).unwrap();
    BackupOverview::export_all(&cfg).unwrap();
    BackupChoices::export_all(&cfg).unwrap();
    BackupDone::export_all(&cfg).unwrap();
    SecretsScreen::export_all(&cfg).unwrap();
    RestorePoints::export_all(&cfg).unwrap();
    RestoreRequest::export_all(&cfg).unwrap();
    RestorePlan::export_all(&cfg).unwrap();
    RestoreReport::export_all(&cfg).unwrap();
    UndoReport::export_all(&cfg).unwrap();
    DriveInfo::export_all(&cfg).unwrap();
    DriveRestoreDone::export_all(&cfg).unwrap();
    ScheduleView::export_all(&cfg).unwrap();
    Pause::export_all(&cfg).unwrap();
    TrayModel::export_all(&cfg).unwrap();
    SettingsView::export_all(&cfg).unwrap();
    DrillOverview::export_all(&cfg).unwrap();
    DrillReport::export_all(&cfg).unwrap();
}

fn read_dir(dir: &Path) -> BTreeMap<String, String> {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .filter(|e| e.path().extension().is_some_and(|x| x == "ts"))
                .map(|e| {
                    (
                        e.file_name().to_string_lossy().into_owned(),
                        std::fs::read_to_string(e.path()).unwrap(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn typescript_bindings_are_current() {
    let committed = Path::new(env!("CARGO_MANIFEST_DIR")).join("ui/src/lib/ipc/bindings");
    if std::env::var_os("UPDATE_BINDINGS").is_some() {
        for old in read_dir(&committed).keys() {
            std::fs::remove_file(committed.join(old)).unwrap();
        }
        export_all(&committed);
    }
    let fresh = tempfile::tempdir().unwrap();
    export_all(fresh.path());
    let want = read_dir(fresh.path());
    let have = read_dir(&committed);
    assert!(
        want.contains_key("Inspection.ts") && want.contains_key("IpcError.ts"),
        "{:?}",
        want.keys()
    );
    assert_eq!(
        have.keys().collect::<Vec<_>>(),
        want.keys().collect::<Vec<_>>(),
        "the committed bindings are stale: run UPDATE_BINDINGS=1 cargo test --test bindings"
    );
    for (name, text) in &want {
        assert_eq!(
            &have[name], text,
            "{name} is stale: run UPDATE_BINDINGS=1 cargo test --test bindings"
        );
    }
}
