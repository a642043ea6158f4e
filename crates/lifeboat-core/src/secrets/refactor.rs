//! Moving a secret written into the compose file into `.env`: the compose line's value
//! becomes `${KEY}` and `.env` gets `KEY=value`. The change is shown as a diff first; both
//! files are edited atomically with dated copies kept (see [`EnvDoc::save`]).

use std::path::{Path, PathBuf};

use super::{EnvDoc, SecretsError, HISTORY_DIR};
use crate::stack::Project;

/// A planned move of one hard-coded secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MovePlan {
    /// The service.
    pub service: String,
    /// The variable.
    pub key: String,
    /// The compose file to change.
    pub compose_file: PathBuf,
    /// The 1-based line in it.
    pub line: usize,
    /// The line as it is.
    pub old_line: String,
    /// The line as it will be.
    pub new_line: String,
    /// `.env` gets this variable (it is not there yet).
    pub env_file: PathBuf,
    value: String,
}

impl MovePlan {
    /// The change as a unified-diff-like text, with the value masked.
    pub fn diff(&self, dir: &Path) -> String {
        let rel = |p: &Path| {
            p.strip_prefix(dir)
                .map_or_else(|_| p.display().to_string(), |r| r.display().to_string())
        };
        let masked = self.old_line.replace(&self.value, &"•".repeat(8));
        format!(
            "--- {f}\n+++ {f}\n@@ line {l} @@\n-{masked}\n+{new}\n--- {e}\n+++ {e}\n+{k}=•••••••• ({n} characters)\n",
            f = rel(&self.compose_file),
            l = self.line,
            new = self.new_line,
            e = rel(&self.env_file),
            k = self.key,
            n = self.value.chars().count()
        )
    }
}

/// Finds where `service` writes `key` in the compose files and plans the move.
///
/// # Errors
/// When the line cannot be found, the value is already a reference, or `.env` defines `key`
/// with another value.
pub fn plan_move(project: &Project, service: &str, key: &str) -> Result<MovePlan, SecretsError> {
    let not_found = || {
        SecretsError::Fix(format!(
            "{key} of {service} was not found as a plain `{key}: value` or `- {key}=value` line; move it by hand"
        ))
    };
    for file in &project.compose_files {
        let Ok(text) = std::fs::read_to_string(file) else {
            continue;
        };
        let lines: Vec<&str> = text.split('\n').collect();
        let Some(found) = find_in_service(&lines, service, key) else {
            continue;
        };
        let (idx, value_start, value_end) = found;
        let line = lines[idx].trim_end_matches('\r');
        let raw = &line[value_start..value_end];
        let value = unquote(raw);
        if value.contains('$') {
            return Err(SecretsError::Fix(format!(
                "{key} of {service} already refers to a variable"
            )));
        }
        let new_line = format!("{}${{{key}}}{}", &line[..value_start], &line[value_end..]);
        let env_file = project
            .dotenv
            .clone()
            .unwrap_or_else(|| project.dir.join(".env"));
        if env_file.exists() {
            if let Some(existing) = EnvDoc::load(&env_file)?.get(key)? {
                if existing != value {
                    return Err(SecretsError::Fix(format!(
                        "{} already defines {key} with another value; rename one of them first",
                        env_file.display()
                    )));
                }
            }
        }
        return Ok(MovePlan {
            service: service.to_owned(),
            key: key.to_owned(),
            compose_file: file.clone(),
            line: idx + 1,
            old_line: line.to_owned(),
            new_line,
            env_file,
            value,
        });
    }
    Err(not_found())
}

/// Applies a plan: `.env` first (so the reference never points at nothing), then the
/// compose file; both keep dated copies in the stack's history folder.
///
/// # Errors
/// When a file changed since the plan or cannot be written.
pub fn apply_move(project: &Project, plan: &MovePlan) -> Result<(), SecretsError> {
    let history = project.dir.join(HISTORY_DIR);
    let text = std::fs::read_to_string(&plan.compose_file).map_err(|e| {
        SecretsError::Fix(format!("cannot read {}: {e}", plan.compose_file.display()))
    })?;
    let mut lines: Vec<String> = text.split('\n').map(str::to_owned).collect();
    let Some(current) = lines.get(plan.line - 1) else {
        return Err(SecretsError::Fix(
            "the compose file changed; check again".into(),
        ));
    };
    let cr = if current.ends_with('\r') { "\r" } else { "" };
    if current.trim_end_matches('\r') != plan.old_line {
        return Err(SecretsError::Fix(
            "the compose file changed; check again".into(),
        ));
    }
    let mut env = if plan.env_file.exists() {
        EnvDoc::load(&plan.env_file)?
    } else {
        EnvDoc::new(&plan.env_file)
    };
    env.set(&plan.key, &plan.value)?;
    env.save(&history)?;
    lines[plan.line - 1] = format!("{}{cr}", plan.new_line);
    EnvDoc::from_text(&plan.compose_file, lines.join("\n")).save(&history)?;
    Ok(())
}

/// The line index and the value's byte range of `key` inside `service`'s block.
fn find_in_service(lines: &[&str], service: &str, key: &str) -> Option<(usize, usize, usize)> {
    let indent = |l: &str| l.len() - l.trim_start().len();
    let services = lines
        .iter()
        .position(|l| l.trim_end() == "services:" && indent(l) == 0)?;
    let mut i = services + 1;
    let mut svc_indent = None;
    while i < lines.len() {
        let l = lines[i].trim_end_matches('\r');
        if !l.trim().is_empty() && !l.trim_start().starts_with('#') {
            if indent(l) == 0 {
                return None;
            }
            let t = l.trim_start();
            let name = t.strip_suffix(':').map(|n| n.trim_matches(['"', '\'']));
            if name == Some(service) {
                svc_indent = Some(indent(l));
                i += 1;
                break;
            }
        }
        i += 1;
    }
    let svc_indent = svc_indent?;
    while i < lines.len() {
        let l = lines[i].trim_end_matches('\r');
        if !l.trim().is_empty() && !l.trim_start().starts_with('#') && indent(l) <= svc_indent {
            return None;
        }
        let t = l.trim_start();
        let start = indent(l);
        // `- KEY=value`
        if let Some(rest) = t.strip_prefix("- ") {
            let rest_start = start + 2 + (rest.len() - rest.trim_start().len());
            let rest = rest.trim_start();
            let (body, offset) = match rest.chars().next() {
                Some(q @ ('"' | '\'')) if rest.ends_with(q) && rest.len() >= 2 => {
                    (&rest[1..rest.len() - 1], rest_start + 1)
                }
                _ => (rest, rest_start),
            };
            if let Some(v) = body.strip_prefix(key).and_then(|r| r.strip_prefix('=')) {
                let vs = offset + key.len() + 1;
                return Some((i, vs, vs + v.len()));
            }
        }
        // `KEY: value`
        if let Some(after) = t.strip_prefix(key).and_then(|r| r.strip_prefix(':')) {
            let v = after.trim_start();
            if !v.is_empty() {
                let vs = start + key.len() + 1 + (after.len() - v.len());
                let v_end = match v.chars().next() {
                    // A quoted value ends at its closing quote (a comment may follow).
                    Some(q @ ('"' | '\'')) => vs + 1 + v[1..].find(q)? + 1,
                    _ => match v.find(" #") {
                        Some(c) => vs + v[..c].trim_end().len(),
                        None => vs + v.trim_end().len(),
                    },
                };
                return Some((i, vs, v_end));
            }
        }
        i += 1;
    }
    None
}

fn unquote(raw: &str) -> String {
    let raw = raw.trim();
    if raw.len() >= 2 {
        if let Some(inner) = raw.strip_prefix('\'').and_then(|r| r.strip_suffix('\'')) {
            return inner.replace("''", "'");
        }
        if let Some(inner) = raw.strip_prefix('"').and_then(|r| r.strip_suffix('"')) {
            return inner.replace("\\\"", "\"").replace("\\\\", "\\");
        }
    }
    raw.to_owned()
}
