//! Secrets commands: the stack's env files masked, one value revealed on request, set,
//! generate, rotate (with its impact note), hygiene findings and their fixes. Files are named
//! as the listing names them and checked against the stack's own env files; no path from the
//! web UI is ever opened as such. No command returns a value except `reveal_secret`.

use std::path::Path;

use lifeboat_core::secrets::{self, Finding, FindingCode, SecretsError, SecretsView};
use lifeboat_core::{LoadOptions, Project};
use serde::Serialize;
use tauri::State;
use ts_rs::TS;

use crate::error::{ErrorCode, IpcError};
use crate::AppState;

/// The Secrets screen's content.
#[derive(Debug, Clone, Serialize, TS)]
pub struct SecretsScreen {
    /// Files and variables, masked.
    pub view: SecretsView,
    /// Hygiene findings.
    pub findings: Vec<Finding>,
    /// Dated copies of earlier versions, newest first.
    pub copies: Vec<secrets::SavedCopy>,
}

impl From<SecretsError> for IpcError {
    fn from(e: SecretsError) -> Self {
        let code = match &e {
            SecretsError::UnknownFile(_)
            | SecretsError::UnknownVariable { .. }
            | SecretsError::NothingToFix => ErrorCode::InvalidStack,
            _ => ErrorCode::Internal,
        };
        Self::new(code, e)
    }
}

fn project(state: &AppState, stack_id: i64) -> Result<Project, IpcError> {
    let record = state.catalog.stack(stack_id)?;
    Ok(lifeboat_core::stack::load(
        Path::new(&record.dir),
        &LoadOptions::default(),
    )?)
}

fn screen(p: &Project) -> SecretsScreen {
    SecretsScreen {
        view: secrets::list(p),
        findings: secrets::check(p, dirs_home().as_deref()),
        copies: secrets::copies(p),
    }
}

fn dirs_home() -> Option<std::path::PathBuf> {
    std::env::var_os("HOME").map(std::path::PathBuf::from)
}

#[tauri::command]
pub fn secrets_screen(
    state: State<'_, AppState>,
    stack_id: i64,
) -> Result<SecretsScreen, IpcError> {
    Ok(screen(&project(&state, stack_id)?))
}

/// The one command that returns a value: what the user asked to see.
#[tauri::command]
pub fn reveal_secret(
    state: State<'_, AppState>,
    stack_id: i64,
    file: String,
    key: String,
) -> Result<String, IpcError> {
    Ok(secrets::reveal(&project(&state, stack_id)?, &file, &key)?)
}

#[tauri::command]
pub fn set_secret(
    state: State<'_, AppState>,
    stack_id: i64,
    file: String,
    key: String,
    value: String,
) -> Result<SecretsScreen, IpcError> {
    let p = project(&state, stack_id)?;
    secrets::set(&p, &file, &key, &value)?;
    Ok(screen(&p))
}

/// Sets a new random value suited to the variable's name (this is also "rotate").
#[tauri::command]
pub fn generate_secret(
    state: State<'_, AppState>,
    stack_id: i64,
    file: String,
    key: String,
) -> Result<SecretsScreen, IpcError> {
    let p = project(&state, stack_id)?;
    secrets::set_generated(&p, &file, &key, None, None)?;
    Ok(screen(&p))
}

/// What rotating a variable means, to show before the user confirms.
#[tauri::command]
pub fn rotation_note(
    state: State<'_, AppState>,
    stack_id: i64,
    file: String,
    key: String,
) -> Result<String, IpcError> {
    Ok(secrets::rotation(&project(&state, stack_id)?, &file, &key)?)
}

/// Puts a dated copy back (the current file is kept as a copy in turn).
#[tauri::command]
pub fn restore_secret_copy(
    state: State<'_, AppState>,
    stack_id: i64,
    name: String,
) -> Result<SecretsScreen, IpcError> {
    let p = project(&state, stack_id)?;
    secrets::restore_copy(&p, &name)?;
    Ok(screen(&p))
}

/// Applies the fix of the finding with this code and file.
#[tauri::command]
pub fn fix_finding(
    state: State<'_, AppState>,
    stack_id: i64,
    code: FindingCode,
    file: String,
    variable: Option<String>,
) -> Result<SecretsScreen, IpcError> {
    let p = project(&state, stack_id)?;
    secrets::fix_matching(&p, code, &file, variable.as_deref())?;
    Ok(screen(&p))
}
