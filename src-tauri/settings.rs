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
    /// The notification channels beside the desktop (ntfy, mail, webhooks, pings).
    pub channels: Vec<ChannelRow>,
}

/// A notification channel as the Settings screen lists it: where it goes by host only (a
/// topic, a ping URL's id or a webhook's path can work as a password, so they stay out of
/// the window), what it gets, and whether its secret is stored (never the secret).
#[derive(Debug, Clone, Serialize, TS)]
pub struct ChannelRow {
    /// Its name.
    pub name: String,
    /// `ntfy`, `gotify`, `webhook`, `email` or `ping`.
    pub kind: String,
    /// The server's host (and port).
    pub host: String,
    /// Which alerts it gets.
    pub level: lifeboat_core::notify::ChannelLevel,
    /// Only these stacks; all when empty.
    pub stacks: Vec<String>,
    /// Whether a token, password or signing key is stored for it.
    pub has_secret: bool,
}

fn channel_rows(state: &AppState) -> Result<Vec<ChannelRow>, IpcError> {
    use lifeboat_core::notify;
    Ok(notify::channels(&state.catalog)?
        .into_iter()
        .map(|c| ChannelRow {
            host: c.kind.host(),
            kind: c.kind.as_str().to_owned(),
            has_secret: notify::secret::get(&c.name).ok().flatten().is_some(),
            name: c.name,
            level: c.level,
            stacks: c.stacks,
        })
        .collect())
}

/// Sends a test message through the channel `name`; the error says what failed (DNS,
/// refused, TLS, 401…).
#[tauri::command]
pub async fn test_channel(state: State<'_, AppState>, name: String) -> Result<(), IpcError> {
    let catalog = state.catalog.clone();
    blocking(move || {
        let sent = lifeboat_core::notify::test(&catalog, Some(&name))
            .map_err(|e| IpcError::new(ErrorCode::NotSent, e.to_string()))?;
        for d in sent {
            if let Err(e) = d.result {
                let mut said = lifeboat_core::alerts::upper_first(&e.to_string());
                if !said.ends_with(['.', '?', '!']) {
                    said.push('.');
                }
                return Err(IpcError::new(ErrorCode::NotSent, said));
            }
        }
        Ok(())
    })
    .await
}

fn view(app: &AppHandle, state: &AppState) -> Result<SettingsView, IpcError> {
    Ok(SettingsView {
        settings: AppSettings::load(&state.catalog)?,
        levels: Levels::load(&state.catalog)?,
        start_at_login: app.autolaunch().is_enabled().unwrap_or(false),
        log_dir: log_dir()?.display().to_string(),
        version: lifeboat_core::VERSION.into(),
        channels: channel_rows(state)?,
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
