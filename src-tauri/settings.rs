//! The Settings screen: default destination, notification levels, start at login, theme,
//! the log folder and the about box. Everything here is saved in the catalog (no secret)
//! and takes effect at once.

use lifeboat_core::alerts::Levels;
use lifeboat_core::settings::{log_dir, AppSettings, Theme};
use serde::Serialize;
use tauri::{AppHandle, Manager, State};
use tauri_plugin_autostart::ManagerExt;
use tauri_plugin_dialog::DialogExt;
use ts_rs::TS;

use crate::backups::blocking;
use crate::error::{ErrorCode, IpcError};
use crate::AppState;

/// What the Settings screen shows.
#[derive(Debug, Clone, Serialize, TS)]
pub struct SettingsView {
    /// The saved preferences.
    pub settings: AppSettings,
    /// Which notifications are sent beside failures.
    pub levels: Levels,
    /// Whether Lifeboat starts (in the tray) when the user logs in.
    pub start_at_login: bool,
    /// Where the log files are (shown; "Open logs" opens it).
    pub log_dir: String,
    /// Lifeboat's version.
    pub version: String,
}

fn view(app: &AppHandle, state: &AppState) -> Result<SettingsView, IpcError> {
    Ok(SettingsView {
        settings: AppSettings::load(&state.catalog)?,
        levels: Levels::load(&state.catalog)?,
        start_at_login: app.autolaunch().is_enabled().unwrap_or(false),
        log_dir: log_dir()?.display().to_string(),
        version: lifeboat_core::VERSION.into(),
    })
}

#[tauri::command]
pub fn settings_view(app: AppHandle, state: State<'_, AppState>) -> Result<SettingsView, IpcError> {
    view(&app, &state)
}

/// Asks for the default destination with the system's folder dialog; `clear` forgets it.
#[tauri::command]
pub async fn choose_default_destination(
    app: AppHandle,
    state: State<'_, AppState>,
    clear: bool,
) -> Result<SettingsView, IpcError> {
    let mut settings = AppSettings::load(&state.catalog)?;
    if clear {
        settings.default_destination = None;
    } else {
        let dialog = app.clone();
        let picked = blocking(move || {
            Ok(dialog
                .dialog()
                .file()
                .set_title("Choose where new stacks back up (an external drive or a NAS folder)")
                .blocking_pick_folder())
        })
        .await?;
        let Some(dir) = picked.and_then(|p| p.into_path().ok()) else {
            return view(&app, &state);
        };
        settings.default_destination = Some(dir.display().to_string());
    }
    settings.save(&state.catalog)?;
    view(&app, &state)
}

/// Saves the theme and gives the window's frame the same one.
#[tauri::command]
pub fn set_theme(
    app: AppHandle,
    state: State<'_, AppState>,
    theme: Theme,
) -> Result<SettingsView, IpcError> {
    let mut settings = AppSettings::load(&state.catalog)?;
    settings.theme = theme;
    settings.save(&state.catalog)?;
    apply_theme(&app, theme);
    view(&app, &state)
}

/// Gives the native window frame the theme (the page follows through CSS).
pub fn apply_theme(app: &AppHandle, theme: Theme) {
    if let Some(w) = app.get_webview_window("main") {
        let _ = w.set_theme(match theme {
            Theme::System => None,
            Theme::Light => Some(tauri::Theme::Light),
            Theme::Dark => Some(tauri::Theme::Dark),
        });
    }
}

/// Opens the log folder in the file manager.
#[tauri::command]
pub async fn open_logs() -> Result<(), IpcError> {
    blocking(|| {
        let dir = log_dir()?;
        std::fs::create_dir_all(&dir).map_err(|e| {
            IpcError::new(
                ErrorCode::Internal,
                format!("{} could not be created: {e}", dir.display()),
            )
        })?;
        open::that_detached(&dir).map_err(|e| {
            IpcError::new(
                ErrorCode::Internal,
                format!(
                    "{} could not be opened in the file manager: {e}",
                    dir.display()
                ),
            )
        })
    })
    .await
}
