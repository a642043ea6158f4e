//! The system tray: an icon for the overall state (idle, running, warning, error), a
//! tooltip with the last and next backup, and a menu: Open Lifeboat, a line per stack
//! with its freshness and "Back up now", Cancel, Pause schedules, Start at login, Quit.
//!
//! The menu is built from a [`TrayModel`], a plain value the `tray_menu` command also
//! returns, so tests check exactly what the menu holds.

use chrono::{Local, TimeZone};
use lifeboat_core::alerts;
use lifeboat_core::catalog::BackupResult;
use serde::Serialize;
use tauri::image::Image;
use tauri::menu::{CheckMenuItem, IsMenuItem, Menu, MenuItem, PredefinedMenuItem, Submenu};
use tauri::tray::TrayIconBuilder;
use tauri::{AppHandle, Manager, State, Wry};
use tauri_plugin_autostart::ManagerExt;
use ts_rs::TS;

use crate::error::IpcError;
use crate::AppState;

/// One entry of the tray menu.
#[derive(Debug, Clone, Serialize, TS)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum TrayItem {
    /// A command (or, disabled, a status line).
    Item {
        /// The menu id.
        id: String,
        /// What it says.
        label: String,
        /// Whether it can be clicked.
        enabled: bool,
    },
    /// A check box.
    Check {
        /// The menu id.
        id: String,
        /// What it says.
        label: String,
        /// Whether it can be clicked.
        enabled: bool,
        /// Whether it is ticked.
        checked: bool,
    },
    /// A submenu.
    Submenu {
        /// What it says.
        label: String,
        /// Its entries.
        items: Vec<TrayItem>,
    },
    /// A line.
    Separator,
}

/// Everything the tray shows.
#[derive(Debug, Clone, Serialize, TS)]
pub struct TrayModel {
    /// `idle`, `running`, `warning` or `error`.
    pub state: String,
    /// The tooltip.
    pub tooltip: String,
    /// The menu.
    pub items: Vec<TrayItem>,
}

fn item(id: &str, label: impl Into<String>, enabled: bool) -> TrayItem {
    TrayItem::Item {
        id: id.to_owned(),
        label: label.into(),
        enabled,
    }
}

/// "4 h ago", "3 days ago".
fn ago(secs: i64) -> String {
    match secs.max(0) {
        s if s < 90 => "just now".to_owned(),
        s if s < 5400 => format!("{} min ago", s / 60),
        s if s < 2 * 86_400 => format!("{} h ago", s / 3600),
        s => format!("{} days ago", s / 86_400),
    }
}

fn clock(t: i64, now: i64) -> String {
    let Some(at) = Local.timestamp_opt(t, 0).single() else {
        return String::new();
    };
    if t - now < 20 * 3600 {
        at.format("%H:%M").to_string()
    } else {
        at.format("%a %H:%M").to_string()
    }
}

/// Builds the tray's model from the catalog, the running jobs, and whether Lifeboat starts
/// at login.
pub fn model(state: &AppState, autostart: bool) -> TrayModel {
    let catalog = &state.catalog;
    let now = Local::now();
    let now_s = now.timestamp();
    let running = state.busy_stacks();
    let paused = catalog.paused_until().ok().flatten().filter(|u| *u > now_s);
    let mut worst = 0u8; // 0 idle, 1 warning, 2 error
    let mut items = vec![item("open", "Open Lifeboat", true), TrayItem::Separator];
    let mut last_any: Option<i64> = None;
    let mut next_any: Option<i64> = None;
    let stacks = catalog.stacks().unwrap_or_default();
    for s in &stacks {
        let history = catalog.backups(s.id, 20).unwrap_or_default();
        let last_ok = history
            .iter()
            .find(|b| b.result == BackupResult::Ok)
            .map(|b| b.started);
        if let Some(t) = last_ok {
            last_any = Some(last_any.map_or(t, |a| a.max(t)));
        }
        let settings = catalog.settings(s.id).unwrap_or_default();
        let next = settings
            .schedule
            .as_ref()
            .and_then(|sc| sc.next_after(&now))
            .map(|t| t.timestamp());
        if let Some(n) = next {
            next_any = Some(next_any.map_or(n, |a| a.min(n)));
        }
        let banners = alerts::current(catalog, s.id, &now).unwrap_or_default();
        let level = banners
            .iter()
            .map(|a| match a.severity {
                alerts::Severity::Error => 2,
                alerts::Severity::Warning => 1,
                alerts::Severity::Info => 0,
            })
            .max()
            .unwrap_or(0);
        worst = worst.max(level);
        let is_running = running.contains(&s.id);
        let status = if is_running {
            format!("{}: backing up…", s.name)
        } else {
            match (last_ok, level) {
                (_, 2) => format!("{}: last backup failed", s.name),
                (Some(t), _) => format!("{}: backed up {}", s.name, ago(now_s - t)),
                (None, _) => format!("{}: never backed up", s.name),
            }
        };
        let mut sub = Vec::new();
        for (component, at) in catalog.component_freshness(s.id).unwrap_or_default() {
            sub.push(item(
                &format!("fresh:{}:{component}", s.id),
                format!(
                    "{}: {}",
                    component.strip_prefix("service-").unwrap_or(&component),
                    ago(now_s - at)
                ),
                false,
            ));
        }
        sub.push(item(
            &format!("next:{}", s.id),
            match (next, paused) {
                (Some(_), Some(_)) => "Schedule paused".to_owned(),
                (Some(n), None) => format!("Next backup at {}", clock(n, now_s)),
                (None, _) => "No schedule".to_owned(),
            },
            false,
        ));
        sub.push(TrayItem::Separator);
        sub.push(item(
            &format!("backup:{}", s.id),
            "Back up now",
            !is_running,
        ));
        sub.push(item(&format!("show:{}", s.id), "Open stack page", true));
        items.push(TrayItem::Submenu {
            label: status,
            items: sub,
        });
    }
    if stacks.is_empty() {
        items.push(item("none", "No stacks yet", false));
    }
    items.push(TrayItem::Separator);
    items.push(item("cancel", "Cancel running backup", !running.is_empty()));
    let pause_label = match paused {
        Some(i64::MAX) => "Schedules paused until resumed".to_owned(),
        Some(u) => format!("Schedules paused until {}", clock(u, now_s)),
        None => "Pause schedules".to_owned(),
    };
    items.push(TrayItem::Submenu {
        label: pause_label,
        items: vec![
            item("pause:hour", "For 1 hour", true),
            item("pause:tomorrow", "Until tomorrow", true),
            item("pause:indefinitely", "Until resumed", true),
            item("resume", "Resume", paused.is_some()),
        ],
    });
    items.push(TrayItem::Check {
        id: "autostart".into(),
        label: "Start at login".into(),
        enabled: true,
        checked: autostart,
    });
    items.push(TrayItem::Separator);
    items.push(item("quit", "Quit Lifeboat", true));
    let state_name = if !running.is_empty() {
        "running"
    } else {
        ["idle", "warning", "error"][usize::from(worst)]
    };
    let mut tooltip = match last_any {
        Some(t) => format!("Last backup {}", ago(now_s - t)),
        None => "No backup yet".to_owned(),
    };
    if !running.is_empty() {
        tooltip = format!("Backing up… · {tooltip}");
    }
    match (paused, next_any) {
        (Some(_), _) => tooltip.push_str(" · schedules paused"),
        (None, Some(n)) => tooltip.push_str(&format!(" · next at {}", clock(n, now_s))),
        (None, None) => {}
    }
    TrayModel {
        state: state_name.to_owned(),
        tooltip: format!("Lifeboat: {tooltip}"),
        items,
    }
}

fn icon(state: &str) -> Option<Image<'static>> {
    let bytes: &'static [u8] = match state {
        "running" => include_bytes!("../icons/tray/running@2x.png"),
        "warning" => include_bytes!("../icons/tray/warning@2x.png"),
        "error" => include_bytes!("../icons/tray/error@2x.png"),
        _ => include_bytes!("../icons/tray/idle@2x.png"),
    };
    Image::from_bytes(bytes).ok()
}

fn build_items(
    app: &AppHandle,
    items: &[TrayItem],
) -> tauri::Result<Vec<Box<dyn IsMenuItem<Wry>>>> {
    let mut out: Vec<Box<dyn IsMenuItem<Wry>>> = Vec::new();
    for it in items {
        match it {
            TrayItem::Item { id, label, enabled } => {
                out.push(Box::new(MenuItem::with_id(
                    app,
                    id,
                    label,
                    *enabled,
                    None::<&str>,
                )?));
            }
            TrayItem::Check {
                id,
                label,
                enabled,
                checked,
            } => out.push(Box::new(CheckMenuItem::with_id(
                app,
                id,
                label,
                *enabled,
                *checked,
                None::<&str>,
            )?)),
            TrayItem::Submenu { label, items } => {
                let children = build_items(app, items)?;
                let refs: Vec<&dyn IsMenuItem<Wry>> = children.iter().map(AsRef::as_ref).collect();
                out.push(Box::new(Submenu::with_items(app, label, true, &refs)?));
            }
            TrayItem::Separator => out.push(Box::new(PredefinedMenuItem::separator(app)?)),
        }
    }
    Ok(out)
}

fn autostart_enabled(app: &AppHandle) -> bool {
    app.autolaunch().is_enabled().unwrap_or(false)
}

/// Creates the tray icon.
///
/// # Errors
/// When the platform has no tray.
pub fn create(app: &AppHandle) -> tauri::Result<()> {
    let state = app.state::<AppState>().inner().clone();
    let m = model(&state, autostart_enabled(app));
    let menu = menu_of(app, &m)?;
    let mut builder = TrayIconBuilder::with_id("main")
        .menu(&menu)
        .tooltip(&m.tooltip)
        .on_menu_event(|app, event| crate::scheduler::on_menu(app, event.id().as_ref()));
    if let Some(img) = icon(&m.state) {
        builder = builder.icon(img);
    }
    builder.build(app)?;
    Ok(())
}

fn menu_of(app: &AppHandle, m: &TrayModel) -> tauri::Result<Menu<Wry>> {
    let items = build_items(app, &m.items)?;
    let refs: Vec<&dyn IsMenuItem<Wry>> = items.iter().map(AsRef::as_ref).collect();
    Menu::with_items(app, &refs)
}

/// Rebuilds the tray's icon, tooltip and menu from the current state. Menus are built on
/// the main thread, as GTK requires.
pub fn refresh(app: &AppHandle) {
    let handle = app.clone();
    let _ = app.run_on_main_thread(move || {
        let Some(tray) = handle.tray_by_id("main") else {
            return;
        };
        let state = handle.state::<AppState>().inner().clone();
        let m = model(&state, autostart_enabled(&handle));
        match menu_of(&handle, &m) {
            Ok(menu) => {
                let _ = tray.set_menu(Some(menu));
            }
            Err(e) => tracing::warn!("the tray menu could not be built: {e}"),
        }
        let _ = tray.set_tooltip(Some(&m.tooltip));
        let _ = tray.set_icon(icon(&m.state));
    });
}

/// The tray's current model (for tests and for the window's status line).
#[tauri::command]
pub fn tray_menu(app: AppHandle, state: State<'_, AppState>) -> Result<TrayModel, IpcError> {
    Ok(model(&state, autostart_enabled(&app)))
}
