//! Shared helpers: where things are, skipping honestly, running the inspection.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use lifeboat_core::inspect::{inspect, InspectOptions, Inspection};
use lifeboat_core::job::NoProgress;
use lifeboat_core::{CancelToken, LoadOptions, Project};

/// `../shared` beside the repository.
pub fn shared() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared")
}

pub use lifeboat_testkit::skip;

pub fn load(dir: &Path) -> Project {
    lifeboat_core::stack::load(
        dir,
        &LoadOptions {
            files: Vec::new(),
            use_process_env: false,
        },
    )
    .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
}

pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// Inspects with `opts` on a fresh runtime, with no progress shown and no cancellation.
pub fn inspect_with(project: &Project, opts: &InspectOptions) -> Inspection {
    runtime()
        .block_on(inspect(
            project,
            opts,
            Arc::new(NoProgress),
            &CancelToken::new(),
        ))
        .unwrap()
}

/// Inspects without asking any Docker engine.
pub fn inspect_files(project: &Project) -> Inspection {
    inspect_with(
        project,
        &InspectOptions {
            use_docker: false,
            ..InspectOptions::default()
        },
    )
}

/// Sum of regular files' sizes under `dir`, counted by `find`, not by Lifeboat.
pub fn find_sizes(dir: &Path) -> (u64, u64) {
    let out = std::process::Command::new("find")
        .arg(dir)
        .args(["-type", "f", "-printf", "%s\\n"])
        .output()
        .expect("find runs");
    let text = String::from_utf8(out.stdout).unwrap();
    let sizes: Vec<u64> = text.lines().map(|l| l.parse().unwrap()).collect();
    (sizes.iter().sum(), sizes.len() as u64)
}

/// Generates a `gen_stack.py` stack of `shape` at scale 1 in `out`; `false` (after saying why)
/// when the generator or Python is missing.
pub fn generate(shape: &str, out: &Path) -> bool {
    let script = shared().join("bench/gen_stack.py");
    if !script.is_file() {
        skip("../shared/bench/gen_stack.py is missing");
        return false;
    }
    let status = Command::new("python3")
        .arg(&script)
        .args(["--shape", shape, "--scale", "1", "--out"])
        .arg(out)
        .status();
    match status {
        Ok(s) if s.success() => true,
        Ok(s) => panic!("gen_stack.py --shape {shape} failed: {s}"),
        Err(e) => {
            skip(&format!("python3 is not available: {e}"));
            false
        }
    }
}

/// Plans `opts` and applies that plan at once, as `lifeboat restore --yes` does; errors
/// of either step are returned.
pub fn restore_now(
    opts: &lifeboat_core::restore::RestoreOptions,
    identity: &age::x25519::Identity,
) -> Result<lifeboat_core::restore::RestoreReport, lifeboat_core::restore::RestoreError> {
    let plan = lifeboat_core::restore::plan(opts, identity)?;
    lifeboat_core::restore::apply(plan, identity, &NoProgress, &CancelToken::new())
}

/// The destination root and the piece files of a reported component, in stream order.
pub fn piece_files(
    c: &lifeboat_core::backup::ComponentReport,
    id: &age::x25519::Identity,
) -> (PathBuf, Vec<PathBuf>) {
    let list = PathBuf::from(c.list.as_deref().expect("a piece list"));
    let dest = list.ancestors().nth(3).unwrap().to_owned();
    let names = lifeboat_core::archive::pieces::read_list(&list, id).unwrap();
    let files = names
        .iter()
        .map(|n| dest.join(lifeboat_core::archive::pieces::rel_path(n)))
        .collect();
    (dest, files)
}

/// A reported component's tar stream, read back piece by piece.
pub fn plaintext(
    c: &lifeboat_core::backup::ComponentReport,
    id: &age::x25519::Identity,
) -> Vec<u8> {
    use lifeboat_core::archive::pieces::{read_list, read_piece, PieceKey};
    let list = PathBuf::from(c.list.as_deref().expect("a piece list"));
    let dest = list.ancestors().nth(3).unwrap().to_owned();
    let key = PieceKey::of(id);
    read_list(&list, id)
        .unwrap()
        .iter()
        .flat_map(|n| read_piece(&dest, &key, id, n, None).unwrap())
        .collect()
}
