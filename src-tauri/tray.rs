//! The system tray: an icon for the overall state (idle, running, warning, error), a
//! tooltip with the last and next backup, and a menu: Open Lifeboat, a line per stack
//! with its freshness and "Back up now", Cancel, Pause schedules, Start at login, Quit.
//!
//! The menu is built from a [`TrayModel`], a plain value the `tray_menu` command also
//! returns, so tests check exactly what the menu holds.

use chrono::{Local, TimeZone};
use lifeboat_core::alerts;
use lifeboat_core::status::{self, StackStatus};
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

/// The tray icon's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, TS)]
#[serde(rename_all = "lowercase")]
pub enum TrayState {
    /// Nothing needs attention.
    Idle,
    /// A backup needs attention soon (stale, drive almost full, waiting).
    Warning,
    /// A backup failed.
    Error,
    /// A backup or restore runs.
    Running,
}

impl TrayState {
    /// The state of stacks whose worst alert is `worst`.
    fn of(worst: Option<alerts::Severity>) -> Self {
        match worst {
            Some(alerts::Severity::Error) => Self::Error,
            Some(alerts::Severity::Warning) => Self::Warning,
            Some(alerts::Severity::Info) | None => Self::Idle,
        }
    }
}

/// Everything the tray shows.
#[derive(Debug, Clone, Serialize, TS)]
pub struct TrayModel {
    /// The icon.
    pub state: TrayState,
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

/// Builds the tray's model from the stacks' [`status`], the running jobs, and whether
/// Lifeboat starts at login.
pub fn model(state: &AppState, autostart: bool) -> TrayModel {
    let catalog = &state.catalog;
    let now = Local::now();
    let now_s = now.timestamp();
    let running = state.busy_stacks();
    let paused = catalog.paused_until().ok().flatten().filter(|u| *u > now_s);
    let stacks = status::all(catalog, &now);
    let mut items = vec![item("open", "Open Lifeboat", true), TrayItem::Separator];
    items.extend(
        stacks
            .iter()
            .map(|s| stack_menu(s, running.contains(&s.stack.id), paused, now_s)),
    );
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
    let state = if running.is_empty() {
        TrayState::of(stacks.iter().filter_map(StackStatus::worst).max())
    } else {
        TrayState::Running
    };
    TrayModel {
        state,
        tooltip: tooltip(&stacks, !running.is_empty(), paused, now_s),
        items,
    }
}

/// A stack's submenu: its state as the label, each component's freshness, the next run,
/// Back up now and Open stack page.
fn stack_menu(s: &StackStatus, is_running: bool, paused: Option<i64>, now_s: i64) -> TrayItem {
    let (id, name) = (s.stack.id, &s.stack.name);
    let label = match (is_running, s.worst(), s.last_ok) {
        (true, _, _) => format!("{name}: backing up…"),
        (false, Some(alerts::Severity::Error), _) => format!("{name}: last backup failed"),
        (false, _, Some(t)) => format!("{name}: backed up {}", status::ago(now_s - t)),
        (false, _, None) => format!("{name}: never backed up"),
    };
    let mut sub: Vec<TrayItem> = s
        .components
        .iter()
        .map(|(component, at)| {
            item(
                &format!("fresh:{id}:{component}"),
                format!(
                    "{}: {}",
                    component.strip_prefix("service-").unwrap_or(component),
                    status::ago(now_s - at)
                ),
                false,
            )
        })
        .collect();
    if s.last_ok.is_some() {
        sub.push(item(
            &format!("proven:{id}"),
            match s.last_proven {
                Some(t) => format!("Proven restorable {}", status::ago(now_s - t)),
                None => "Never proven restorable".to_owned(),
            },
            false,
        ));
    }
    sub.push(item(
        &format!("next:{id}"),
        match (s.next, paused) {
            (Some(_), Some(_)) => "Schedule paused".to_owned(),
            (Some(n), None) => format!("Next backup at {}", clock(n, now_s)),
            (None, _) => "No schedule".to_owned(),
        },
        false,
    ));
    sub.push(TrayItem::Separator);
    sub.push(item(&format!("backup:{id}"), "Back up now", !is_running));
    sub.push(item(&format!("show:{id}"), "Open stack page", true));
    TrayItem::Submenu { label, items: sub }
}

/// "Lifeboat: Last backup 4 h ago · next at 02:30 · proven restorable 3 days ago", with
/// "Backing up…" or "schedules paused" when so. The proof is the weakest stack's: "never
/// proven restorable" while a backed-up stack has had no drill pass.
fn tooltip(stacks: &[StackStatus], running: bool, paused: Option<i64>, now_s: i64) -> String {
    let last = stacks.iter().filter_map(|s| s.last_ok).max();
    let next = stacks.iter().filter_map(|s| s.next).min();
    let mut tip = match last {
        Some(t) => format!("Last backup {}", status::ago(now_s - t)),
        None => "No backup yet".to_owned(),
    };
    if running {
        tip = format!("Backing up… · {tip}");
    }
    match (paused, next) {
        (Some(_), _) => tip.push_str(" · schedules paused"),
        (None, Some(n)) => tip.push_str(&format!(" · next at {}", clock(n, now_s))),
        (None, None) => {}
    }
    let backed_up = stacks.iter().filter(|s| s.last_ok.is_some());
    if backed_up.clone().any(|s| s.last_proven.is_none()) {
        tip.push_str(" · never proven restorable");
    } else if let Some(t) = backed_up.filter_map(|s| s.last_proven).min() {
        tip.push_str(&format!(" · proven restorable {}", status::ago(now_s - t)));
    }
    format!("Lifeboat: {tip}")
}

fn icon(state: TrayState) -> Option<Image<'static>> {
    let bytes: &'static [u8] = match state {
        TrayState::Running => include_bytes!("../icons/tray/running@2x.png"),
        TrayState::Warning => include_bytes!("../icons/tray/warning@2x.png"),
        TrayState::Error => include_bytes!("../icons/tray/error@2x.png"),
        TrayState::Idle => include_bytes!("../icons/tray/idle@2x.png"),
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
    if let Some(img) = icon(m.state) {
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
        let _ = tray.set_icon(icon(m.state));
    });
}

/// The tray's current model (for tests and for the window's status line).
#[tauri::command]
pub fn tray_menu(app: AppHandle, state: State<'_, AppState>) -> Result<TrayModel, IpcError> {
    Ok(model(&state, autostart_enabled(&app)))
}
