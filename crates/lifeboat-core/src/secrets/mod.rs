//! A stack's secrets: its `.env`, every `env_file:` and `secrets.env` files in its data.
//! Variables are listed masked, with where they are defined and which services read them;
//! values are set, generated and rotated with a note on what that means; hygiene checks find
//! files others can read, files git would publish, secrets written into the compose file,
//! variables compose needs that are defined nowhere, and secrets left in shell history.
//!
//! No value leaves this module except through [`reveal`]: listings carry lengths only.

pub mod envdoc;
pub mod refactor;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use envdoc::{file_mode, set_private as set_mode};
pub use envdoc::{EnvDoc, EnvDocError};

use crate::sensitive::{findable, looks_secret};
use crate::stack::Project;
use crate::warning::Remedy;

/// Where dated copies of edited files go, inside the stack folder (never outside it).
pub const HISTORY_DIR: &str = ".lifeboat/secrets-history";

/// One variable, without its value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct Variable {
    /// Its name.
    pub key: String,
    /// The 1-based line of its (last) definition.
    #[ts(type = "number")]
    pub line: usize,
    /// How many characters the value has.
    #[ts(type = "number")]
    pub length: usize,
    /// The name says it holds a secret.
    pub secret: bool,
    /// Services that read it (through `env_file:` or `${KEY}` in the compose file).
    pub used_by: Vec<String>,
}

/// One env file of the stack.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct EnvFileView {
    /// Its path relative to the stack folder.
    pub name: String,
    /// The file exists.
    pub exists: bool,
    /// Its permission bits (`0o600`), when known.
    #[ts(type = "number | null")]
    pub mode: Option<u32>,
    /// Its variables, in file order.
    pub variables: Vec<Variable>,
    /// Why it could not be read, if it could not.
    pub error: Option<String>,
}

/// Every env file of a stack, and what compose needs that none defines.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct SecretsView {
    /// The files: `.env` first, then `env_file:`s, then `secrets.env` files in the data.
    pub files: Vec<EnvFileView>,
    /// Variables the compose file uses without a default that no file defines.
    pub undefined: Vec<String>,
}

/// The env files of a stack: `.env` (even when missing), every `env_file:`, and
/// `secrets.env` files up to three folders deep.
pub fn env_files(project: &Project) -> Vec<PathBuf> {
    let mut out = vec![project
        .dotenv
        .clone()
        .unwrap_or_else(|| project.dir.join(".env"))];
    for s in &project.services {
        for e in &s.env_files {
            if !out.contains(&e.path) {
                out.push(e.path.clone());
            }
        }
    }
    fn walk(dir: &Path, depth: u32, out: &mut Vec<PathBuf>) {
        let Ok(rd) = std::fs::read_dir(dir) else {
            return;
        };
        let mut entries: Vec<_> = rd.filter_map(Result::ok).collect();
        entries.sort_by_key(std::fs::DirEntry::file_name);
        for e in entries {
            let p = e.path();
            let Ok(ft) = e.file_type() else { continue };
            if ft.is_file() && e.file_name() == "secrets.env" && !out.contains(&p) {
                out.push(p);
            } else if ft.is_dir()
                && depth > 0
                && e.file_name() != ".git"
                && e.file_name() != ".lifeboat"
            {
                walk(&p, depth - 1, out);
            }
        }
    }
    walk(&project.dir, 3, &mut out);
    out
}

/// Variable names referenced as `$NAME` or `${NAME…}` in `text` (`$$` is a literal dollar).
pub fn references(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let b = text.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] != b'$' {
            i += 1;
            continue;
        }
        if b.get(i + 1) == Some(&b'$') {
            i += 2;
            continue;
        }
        let start = if b.get(i + 1) == Some(&b'{') {
            i + 2
        } else {
            i + 1
        };
        let mut end = start;
        while end < b.len() && (b[end].is_ascii_alphanumeric() || b[end] == b'_') {
            end += 1;
        }
        if end > start && !b[start].is_ascii_digit() {
            out.insert(text[start..end].to_owned());
        }
        i = end.max(i + 1);
    }
    out
}

/// Per service, the variables its part of the compose files references; and those it
/// references without a default (`${X}` or `${X:?…}`, not `${X:-d}`).
fn compose_references(project: &Project) -> (BTreeMap<String, BTreeSet<String>>, BTreeSet<String>) {
    let mut by_service: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut required = BTreeSet::new();
    for f in &project.compose_files {
        let Ok(text) = std::fs::read_to_string(f) else {
            continue;
        };
        let Ok(doc) = serde_norway::from_str::<serde_norway::Value>(&text) else {
            continue;
        };
        if let Some(services) = doc.get("services").and_then(|s| s.as_mapping()) {
            for (name, body) in services {
                let Some(name) = name.as_str() else { continue };
                let body = serde_norway::to_string(body).unwrap_or_default();
                by_service
                    .entry(name.to_owned())
                    .or_default()
                    .extend(references(&body));
            }
        }
        // `${X}` and `$X` with no default, anywhere in the file.
        let b = text.as_bytes();
        for (i, _) in text.match_indices('$') {
            if i > 0 && b[i - 1] == b'$' {
                continue;
            }
            let rest = &text[i + 1..];
            let (name, braced) = match rest.strip_prefix('{') {
                Some(r) => (r, true),
                None => (rest, false),
            };
            let len = name
                .bytes()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == b'_')
                .count();
            if len == 0 || name.as_bytes()[0].is_ascii_digit() {
                continue;
            }
            let after = &name[len..];
            let has_default = braced && (after.starts_with(":-") || after.starts_with('-'));
            if !has_default {
                required.insert(name[..len].to_owned());
            }
        }
    }
    (by_service, required)
}

/// Lists every env file's variables, masked, with the services that read each.
pub fn list(project: &Project) -> SecretsView {
    let (refs, required) = compose_references(project);
    let mut defined = BTreeSet::new();
    let mut files = Vec::new();
    for path in env_files(project) {
        let readers: Vec<String> = project
            .services
            .iter()
            .filter(|s| s.env_files.iter().any(|e| e.path == path))
            .map(|s| s.name.clone())
            .collect();
        let is_dotenv = project
            .dotenv
            .as_ref()
            .map_or(path == project.dir.join(".env"), |d| d == &path);
        let mut view = EnvFileView {
            name: relative(&path, &project.dir),
            exists: path.is_file(),
            mode: file_mode(&path),
            variables: Vec::new(),
            error: None,
        };
        if view.exists {
            match EnvDoc::load(&path).and_then(|d| d.entries()) {
                Ok(entries) => {
                    let mut last: BTreeMap<String, envdoc_entry::Entry> = BTreeMap::new();
                    for e in entries {
                        last.insert(
                            e.key.clone(),
                            envdoc_entry::Entry {
                                line: e.line,
                                length: e.value.chars().count(),
                            },
                        );
                    }
                    let mut vars: Vec<Variable> = last
                        .into_iter()
                        .map(|(key, e)| {
                            let mut used_by = readers.clone();
                            if is_dotenv {
                                for (svc, names) in &refs {
                                    if names.contains(&key) && !used_by.contains(svc) {
                                        used_by.push(svc.clone());
                                    }
                                }
                            }
                            used_by.sort();
                            defined.insert(key.clone());
                            Variable {
                                secret: looks_secret(&key),
                                key,
                                line: e.line,
                                length: e.length,
                                used_by,
                            }
                        })
                        .collect();
                    vars.sort_by_key(|v| v.line);
                    view.variables = vars;
                }
                Err(e) => view.error = Some(e.to_string()),
            }
        }
        files.push(view);
    }
    let undefined = required
        .into_iter()
        .filter(|k| !defined.contains(k) && std::env::var_os(k).is_none())
        .collect();
    SecretsView { files, undefined }
}

mod envdoc_entry {
    pub(super) struct Entry {
        pub line: usize,
        pub length: usize,
    }
}

/// The env file of the stack named `name` (relative, as [`list`] shows it). Only files of
/// the stack are accepted, so a name from the UI cannot point anywhere else.
///
/// # Errors
/// [`SecretsError::UnknownFile`] for any other name.
pub fn file_by_name(project: &Project, name: &str) -> Result<PathBuf, SecretsError> {
    env_files(project)
        .into_iter()
        .find(|p| relative(p, &project.dir) == name)
        .ok_or_else(|| SecretsError::UnknownFile(name.to_owned()))
}

/// Why a secrets operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SecretsError {
    /// Not an env file of this stack.
    #[error("{0} is not an env file of this stack")]
    UnknownFile(String),
    /// No such variable.
    #[error("{key} is not defined in {file}")]
    UnknownVariable {
        /// The variable.
        key: String,
        /// The file.
        file: String,
    },
    /// Reading or writing the file failed.
    #[error(transparent)]
    Doc(#[from] EnvDocError),
    /// The system's random source failed.
    #[error("the system's random number source failed: {0}")]
    Random(String),
    /// A fix could not be applied.
    #[error("{0}")]
    Fix(String),
    /// The finding to fix is gone (fixed already) or has no fix.
    #[error("that problem is already fixed, or Lifeboat cannot fix it by itself")]
    NothingToFix,
}

/// The value of `key` in the env file `name`: the one explicit way a value leaves.
///
/// # Errors
/// Unknown file or variable; unreadable file.
pub fn reveal(project: &Project, name: &str, key: &str) -> Result<String, SecretsError> {
    let path = file_by_name(project, name)?;
    EnvDoc::load(&path)?
        .get(key)?
        .ok_or_else(|| SecretsError::UnknownVariable {
            key: key.to_owned(),
            file: name.to_owned(),
        })
}

/// Sets `key` in env file `name` (created 0600 if missing), keeping a dated copy of the old
/// file in the stack's [`HISTORY_DIR`]. Returns the copy's path.
///
/// # Errors
/// Unknown file; a bad name or value; writing failed (the old file is then untouched).
pub fn set(
    project: &Project,
    name: &str,
    key: &str,
    value: &str,
) -> Result<Option<PathBuf>, SecretsError> {
    let path = file_by_name(project, name)?;
    let mut doc = if path.exists() {
        EnvDoc::load(&path)?
    } else {
        EnvDoc::new(&path)
    };
    doc.set(key, value)?;
    Ok(doc.save(&project.dir.join(HISTORY_DIR))?)
}

/// Sets `key` in env file `name` to a new random value: of `kind` and `length` when given,
/// else what suits the variable's name ([`GenKind::suggest`]). Generating a value for a
/// variable that has one is rotating it ([`rotation`] says what that means first). Returns
/// the dated copy's path, as [`set`] does.
///
/// # Errors
/// As [`generate`] and [`set`].
pub fn set_generated(
    project: &Project,
    name: &str,
    key: &str,
    kind: Option<GenKind>,
    length: Option<usize>,
) -> Result<Option<PathBuf>, SecretsError> {
    let (suggested, suggested_len) = GenKind::suggest(key);
    let value = generate(kind.unwrap_or(suggested), length.unwrap_or(suggested_len))?;
    set(project, name, key, &value)
}

/// What rotating `key` of env file `name` means, to show before the user confirms: who
/// must restart and what users will notice ([`rotation_note`]).
///
/// # Errors
/// [`SecretsError::UnknownVariable`] when the file does not define it.
pub fn rotation(project: &Project, name: &str, key: &str) -> Result<String, SecretsError> {
    let used_by = readers(project, name, key).ok_or_else(|| SecretsError::UnknownVariable {
        key: key.to_owned(),
        file: name.to_owned(),
    })?;
    Ok(rotation_note(project, key, &used_by))
}

/// A dated copy of an env file, kept when it was edited.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct SavedCopy {
    /// The copy's name in the history folder (`.env.20261123T014501Z`).
    pub name: String,
    /// The env file it is a copy of, as [`list`] names it.
    pub file: String,
    /// When it was taken, as written in its name (`2026-11-23 01:45:01 UTC`).
    pub taken: String,
    /// Its size in bytes.
    #[ts(type = "number")]
    pub bytes: u64,
}

/// The dated copies of the stack's env files, newest first.
pub fn copies(project: &Project) -> Vec<SavedCopy> {
    let dir = project.dir.join(HISTORY_DIR);
    let files: Vec<(String, String)> = env_files(project)
        .into_iter()
        .filter_map(|p| {
            Some((
                p.file_name()?.to_string_lossy().into_owned(),
                relative(&p, &project.dir),
            ))
        })
        .collect();
    let mut out: Vec<SavedCopy> = std::fs::read_dir(&dir)
        .map(|rd| {
            rd.filter_map(Result::ok)
                .filter_map(|e| {
                    let name = e.file_name().to_string_lossy().into_owned();
                    let (base, stamp) = name.rsplit_once('.')?;
                    let (_, file) = files.iter().find(|(b, _)| b == base)?;
                    let s = stamp.get(..16)?;
                    let taken = format!(
                        "{}-{}-{} {}:{}:{} UTC",
                        s.get(0..4)?,
                        s.get(4..6)?,
                        s.get(6..8)?,
                        s.get(9..11)?,
                        s.get(11..13)?,
                        s.get(13..15)?
                    );
                    Some(SavedCopy {
                        bytes: e.metadata().ok()?.len(),
                        file: file.clone(),
                        name,
                        taken,
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    out.sort_by(|a, b| {
        b.name
            .rsplit_once('.')
            .map(|x| x.1)
            .cmp(&a.name.rsplit_once('.').map(|x| x.1))
    });
    out
}

/// Puts a dated copy back in place of its env file. The current file is kept as a dated
/// copy first, so this can be undone the same way.
///
/// # Errors
/// When `name` is not one of [`copies`], or writing fails.
pub fn restore_copy(project: &Project, name: &str) -> Result<Option<PathBuf>, SecretsError> {
    let copy = copies(project)
        .into_iter()
        .find(|c| c.name == name)
        .ok_or_else(|| SecretsError::UnknownFile(name.to_owned()))?;
    let target = file_by_name(project, &copy.file)?;
    let text = std::fs::read_to_string(project.dir.join(HISTORY_DIR).join(&copy.name))
        .map_err(|e| SecretsError::Fix(format!("cannot read the copy {}: {e}", copy.name)))?;
    let doc = EnvDoc::from_text(&target, text);
    doc.entries()?;
    Ok(doc.save(&project.dir.join(HISTORY_DIR))?)
}

/// What kind of value to generate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "lowercase")]
pub enum GenKind {
    /// Hex digits (encryption keys): `length` characters.
    Hex,
    /// Standard base64 (JWT and session secrets): `length` characters.
    Base64,
    /// Letters, digits, `-` and `_` (passwords that go into URLs unescaped).
    Password,
}

impl GenKind {
    /// The kind and length suited to a variable's name.
    pub fn suggest(key: &str) -> (Self, usize) {
        let k = key.to_ascii_uppercase();
        if k.contains("JWT")
            || k.contains("SESSION")
            || (k.contains("SECRET") && !k.contains("KEY"))
        {
            (Self::Base64, 64)
        } else if k.contains("ENCRYPTION") || k.ends_with("_KEY") || k.contains("KEY_") {
            (Self::Hex, 64)
        } else {
            (Self::Password, 32)
        }
    }
}

/// A random value from the operating system's source (`getrandom`), without modulo bias.
///
/// # Errors
/// When the random source fails, or `length` is 0 or above 4096.
pub fn generate(kind: GenKind, length: usize) -> Result<String, SecretsError> {
    if length == 0 || length > 4096 {
        return Err(SecretsError::Random(format!(
            "a length of {length} makes no sense; choose 16 to 4096"
        )));
    }
    let alphabet: &[u8] = match kind {
        GenKind::Hex => b"0123456789abcdef",
        GenKind::Base64 => b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/",
        GenKind::Password => b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_",
    };
    // Alphabets of 16 and 64 symbols divide 256: masking the low bits is unbiased.
    let mask = (alphabet.len() - 1) as u8;
    let mut bytes = vec![0u8; length];
    getrandom::fill(&mut bytes).map_err(|e| SecretsError::Random(e.to_string()))?;
    let out: String = bytes
        .iter()
        .map(|b| alphabet[(b & mask) as usize] as char)
        .collect();
    bytes.fill(0);
    Ok(out)
}

/// The services that read `key` of env file `name`, or `None` when the file does not
/// define it.
pub fn readers(project: &Project, name: &str, key: &str) -> Option<Vec<String>> {
    list(project)
        .files
        .into_iter()
        .filter(|f| f.name == name)
        .flat_map(|f| f.variables)
        .find(|v| v.key == key)
        .map(|v| v.used_by)
}

/// What rotating `key` means, as sentences: who must restart and what users will notice.
pub fn rotation_note(project: &Project, key: &str, used_by: &[String]) -> String {
    let k = key.to_ascii_uppercase();
    let restart = if used_by.is_empty() {
        "No service reads it that Lifeboat can see.".to_owned()
    } else {
        format!(
            "{} read{} it and must be restarted (`docker compose up -d {}`).",
            used_by.join(", "),
            if used_by.len() == 1 { "s" } else { "" },
            used_by.join(" ")
        )
    };
    let kinds: Vec<&str> = used_by
        .iter()
        .filter_map(|s| {
            project
                .service(s)?
                .image_kind
                .as_ref()
                .map(|(k, _)| k.as_str())
        })
        .collect();
    let meaning = if k.contains("ENCRYPTION") {
        "Data encrypted with the old key (for n8n: every saved credential) cannot be read with the new one: \
         export or re-enter it first, or keep the old key."
    } else if k.contains("JWT") || k.contains("SESSION") || k.contains("COOKIE") {
        "Everyone is logged out and must log in again."
    } else if k.contains("PASSWORD") || k.contains("PASS") {
        if kinds
            .iter()
            .any(|k| matches!(*k, "postgres" | "mysql" | "mariadb" | "mongo"))
        {
            "The database keeps its old password until you change it inside the database too \
             (e.g. `ALTER USER … PASSWORD …`): change both, then restart."
        } else {
            "Anything that logs in with the old password stops working until it uses the new one."
        }
    } else if k.contains("TOKEN") || k.contains("API_KEY") {
        "A token issued by another service must be replaced there too, or the new value will be refused."
    } else {
        "Anything that depends on the old value stops working until it uses the new one."
    };
    format!("{restart} {meaning}")
}

/// How much a hygiene finding matters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, TS)]
#[serde(rename_all = "lowercase")]
#[ts(rename = "FindingSeverity")]
pub enum Severity {
    /// Worth mending.
    Medium,
    /// Mend it now: a secret is exposed.
    High,
}

impl std::fmt::Display for Severity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(match self {
            Self::Medium => "medium",
            Self::High => "high",
        })
    }
}

/// What kind of problem a [`Finding`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, TS)]
#[serde(rename_all = "kebab-case")]
pub enum FindingCode {
    /// An env file others can read.
    FileMode,
    /// An env file in a git work tree that git does not ignore.
    NotGitignored,
    /// A secret written into the compose file.
    HardcodedSecret,
    /// A variable the compose file uses that no env file defines.
    UndefinedVariable,
    /// A secret value in a shell history.
    SecretInShellHistory,
    /// A copy of an env file others can read.
    SecretInReadableCopy,
    /// An env file line that does not parse as compose reads it.
    EnvSyntax,
    /// A quoted value that runs on over lines holding definitions.
    EnvQuoteRunsOn,
}

impl FindingCode {
    /// The kebab-case code, as serialized: `file-mode`, `hardcoded-secret`, …
    pub fn as_str(self) -> &'static str {
        match self {
            Self::FileMode => "file-mode",
            Self::NotGitignored => "not-gitignored",
            Self::HardcodedSecret => "hardcoded-secret",
            Self::UndefinedVariable => "undefined-variable",
            Self::SecretInShellHistory => "secret-in-shell-history",
            Self::SecretInReadableCopy => "secret-in-readable-copy",
            Self::EnvSyntax => "env-syntax",
            Self::EnvQuoteRunsOn => "env-quote-runs-on",
        }
    }
}

/// One hygiene finding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct Finding {
    /// What kind of problem it is (a stable kebab-case code).
    pub code: FindingCode,
    /// How much it matters.
    pub severity: Severity,
    /// The file it concerns (relative to the stack), if one.
    pub file: Option<String>,
    /// The line, if one.
    #[ts(type = "number | null")]
    pub line: Option<usize>,
    /// The variable, if one.
    pub variable: Option<String>,
    /// The service, if one.
    pub service: Option<String>,
    /// What is wrong and why it matters.
    pub message: String,
    /// What `check --fix` (or the Fix button) does, when it can fix it.
    pub fix: Option<String>,
    /// The change the fix makes, as a diff with values masked, when it edits files.
    #[serde(default)]
    pub preview: Option<String>,
    /// What the person can have Lifeboat do about it, beside the fix.
    #[serde(default)]
    pub remedy: Option<Remedy>,
}

impl Finding {
    /// A finding of `code` that says `message`, about nothing in particular yet.
    fn new(code: FindingCode, severity: Severity, message: String) -> Self {
        Self {
            code,
            severity,
            file: None,
            line: None,
            variable: None,
            service: None,
            message,
            fix: None,
            preview: None,
            remedy: None,
        }
    }

    fn in_file(self, file: impl Into<String>) -> Self {
        Self {
            file: Some(file.into()),
            ..self
        }
    }

    fn of_variable(self, variable: impl Into<String>) -> Self {
        Self {
            variable: Some(variable.into()),
            ..self
        }
    }
}

/// Runs the hygiene checks, one after the other. `home` is where shell history files are
/// looked for.
pub fn check(project: &Project, home: Option<&Path>) -> Vec<Finding> {
    let view = list(project);
    let mut out = Vec::new();
    for f in view.files.iter().filter(|f| f.exists) {
        out.extend(readable_by_others(f));
        out.extend(not_ignored(project, f));
    }
    for f in view.files.iter().filter(|f| f.exists) {
        out.extend(syntax_findings(&project.dir.join(&f.name), &f.name));
    }
    out.extend(hardcoded(project));
    out.extend(view.undefined.iter().map(|key| undefined(key)));
    if let Some(home) = home {
        out.extend(in_shell_history(project, &view, home));
    }
    out.extend(readable_copies(project, &view));
    out
}

/// An env file other users can read.
fn readable_by_others(f: &EnvFileView) -> Option<Finding> {
    let mode = f.mode.filter(|m| m & 0o077 != 0)?;
    Some(Finding {
        fix: Some(format!("chmod 600 {}", f.name)),
        ..Finding::new(
            FindingCode::FileMode,
            Severity::High,
            format!(
                "{} can be read by other users on this machine (mode {:o}).",
                f.name, mode
            ),
        )
        .in_file(&f.name)
    })
}

/// An env file in a git work tree that git does not ignore.
fn not_ignored(project: &Project, f: &EnvFileView) -> Option<Finding> {
    let path = project.dir.join(&f.name);
    if crate::stack::git_ignores(&project.dir, &path) != Some(false) {
        return None;
    }
    Some(Finding {
        fix: Some(format!("add /{} to .gitignore", f.name)),
        ..Finding::new(
            FindingCode::NotGitignored,
            Severity::High,
            format!(
                "{} is in a git repository and not ignored: a `git add .` would publish its secrets.",
                f.name
            ),
        )
        .in_file(&f.name)
    })
}

/// Secrets written into the compose file, with the move to `.env` that fixes each.
fn hardcoded(project: &Project) -> Vec<Finding> {
    let compose = project
        .compose_files
        .first()
        .map(|c| relative(c, &project.dir));
    let mut out = Vec::new();
    for s in &project.services {
        for var in &s.hardcoded_secrets {
            let plan = refactor::plan_move(project, &s.name, var).ok();
            let compose_name = |p: &refactor::MovePlan| {
                p.compose_file
                    .file_name()
                    .map_or_else(String::new, |n| n.to_string_lossy().into_owned())
            };
            out.push(Finding {
                file: compose.clone(),
                service: Some(s.name.clone()),
                fix: plan.as_ref().map(|p| {
                    format!("move {var} into .env and write ${{{var}}} in {}", compose_name(p))
                }),
                preview: plan.as_ref().map(|p| p.diff(&project.dir)),
                ..Finding::new(
                    FindingCode::HardcodedSecret,
                    Severity::Medium,
                    format!(
                        "{} has {var} written into the compose file; move it to .env and write ${{{var}}} there instead.",
                        s.name
                    ),
                )
                .of_variable(var)
            });
        }
    }
    out
}

/// A variable the compose file uses without a default that no env file defines.
fn undefined(key: &str) -> Finding {
    Finding::new(
        FindingCode::UndefinedVariable,
        Severity::Medium,
        format!(
            "The compose file uses ${{{key}}} without a default and no env file defines it: compose will use an empty value."
        ),
    )
    .in_file(".env")
    .of_variable(key)
}

/// Secret values of the env files that also appear in a shell history under `home`.
fn in_shell_history(project: &Project, view: &SecretsView, home: &Path) -> Vec<Finding> {
    let histories: Vec<(PathBuf, String)> = [
        ".bash_history",
        ".zsh_history",
        ".local/share/fish/fish_history",
        ".ash_history",
    ]
    .iter()
    .map(|h| home.join(h))
    .filter_map(|p| {
        let bytes = std::fs::read(&p).ok()?;
        Some((p, String::from_utf8_lossy(&bytes).into_owned()))
    })
    .collect();
    let mut out = Vec::new();
    if histories.is_empty() {
        return out;
    }
    for f in &view.files {
        let Ok(doc) = EnvDoc::load(&project.dir.join(&f.name)) else {
            continue;
        };
        let Ok(entries) = doc.entries() else { continue };
        for e in entries
            .iter()
            .filter(|e| looks_secret(&e.key) && findable(&e.value))
        {
            for (hist, _) in histories.iter().filter(|(_, text)| text.contains(&e.value)) {
                out.push(Finding {
                    line: Some(e.line),
                    ..Finding::new(
                        FindingCode::SecretInShellHistory,
                        Severity::Medium,
                        format!(
                            "The value of {} also appears in {}: remove those lines, or rotate it.",
                            e.key,
                            hist.display()
                        ),
                    )
                    .in_file(&f.name)
                    .of_variable(&e.key)
                });
            }
        }
    }
    out
}

/// What compose's dotenv rules make of an env file that a person would not mean: a line
/// that does not parse, or a quoted value that runs on over lines holding definitions (an
/// unclosed or escaped quote, as `'pa55word\'` is), which compose then never sees.
fn syntax_findings(path: &Path, name: &str) -> Vec<Finding> {
    let Ok(doc) = EnvDoc::load(path) else {
        return Vec::new();
    };
    let finding =
        |code: FindingCode, line: usize, variable: Option<String>, message: String| Finding {
            code,
            severity: Severity::High,
            file: Some(name.to_owned()),
            line: Some(line),
            remedy: Some(Remedy::SetSecret {
                file: name.to_owned(),
                key: variable.clone(),
            }),
            variable,
            service: None,
            message,
            fix: None,
            preview: None,
        };
    let entries = match doc.entries() {
        Ok(e) => e,
        Err(e) => {
            let (line, reason) = match &e {
                EnvDocError::Syntax { line, reason, .. } => (*line, reason.clone()),
                other => (0, other.to_string()),
            };
            return vec![finding(
                FindingCode::EnvSyntax,
                line,
                None,
                format!(
                    "{name} line {line} does not parse as compose reads it: {reason}. Compose refuses \
                     the file; fix the line (values with quotes or backslashes are safest set \
                     through Lifeboat, which quotes them as compose reads them)."
                ),
            )];
        }
    };
    let lines: Vec<&str> = doc.text().split('\n').collect();
    let mut out = Vec::new();
    for e in entries.iter().filter(|e| e.last_line > e.line) {
        let swallowed: Vec<String> = lines
            .get(e.line..e.last_line)
            .unwrap_or_default()
            .iter()
            .filter_map(|l| {
                let l = l.trim_start();
                let l = l.strip_prefix("export ").unwrap_or(l);
                let (k, _) = l.split_once('=')?;
                envdoc::is_key(k.trim()).then(|| k.trim().to_owned())
            })
            .collect();
        if !swallowed.is_empty() {
            out.push(finding(
                FindingCode::EnvQuoteRunsOn,
                e.line,
                Some(e.key.clone()),
                format!(
                    "The quoted value of {} on line {} of {name} runs on to line {}, so compose never \
                     sees {}: its closing quote is missing or escaped by a backslash. Set the value \
                     again through Lifeboat.",
                    e.key,
                    e.line,
                    e.last_line,
                    swallowed.join(", "),
                ),
            ));
        }
    }
    out
}

/// Names of files that look like copies of env files or backups.
fn looks_like_copy(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    let template = [".example", ".sample", ".template", ".dist"]
        .iter()
        .any(|t| n.ends_with(t));
    if template {
        return false;
    }
    n.ends_with('~')
        || [
            ".bak", ".backup", ".old", ".orig", ".save", ".copy", ".swp", ".sql", ".dump",
        ]
        .iter()
        .any(|s| n.ends_with(s))
        || n.starts_with(".env.")
        || n.starts_with("secrets.env.")
        || n.contains(".env.bak")
}

/// Secret values of the env files found again in copies others can read (`.env.bak`,
/// `secrets.env.old`, `*.sql`, editor backups…), in the stack folder and one level below.
fn readable_copies(project: &Project, view: &SecretsView) -> Vec<Finding> {
    let mut values: Vec<(String, String)> = Vec::new();
    for f in view.files.iter().filter(|f| f.exists) {
        let Ok(doc) = EnvDoc::load(&project.dir.join(&f.name)) else {
            continue;
        };
        let Ok(entries) = doc.entries() else { continue };
        values.extend(
            entries
                .into_iter()
                .filter(|e| looks_secret(&e.key) && findable(&e.value))
                .map(|e| (e.key, e.value)),
        );
    }
    if values.is_empty() {
        return Vec::new();
    }
    let env_names: Vec<&str> = view.files.iter().map(|f| f.name.as_str()).collect();
    let mut candidates = Vec::new();
    let mut dirs = vec![(project.dir.clone(), 0)];
    while let Some((dir, depth)) = dirs.pop() {
        let Ok(rd) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in rd.filter_map(Result::ok) {
            let name = e.file_name().to_string_lossy().into_owned();
            let Ok(meta) = e.path().symlink_metadata() else {
                continue;
            };
            if meta.is_dir() && depth == 0 && name != ".git" && name != ".lifeboat" {
                dirs.push((e.path(), depth + 1));
            } else if meta.is_file() && meta.len() <= 4 << 20 && looks_like_copy(&name) {
                let rel = relative(&e.path(), &project.dir);
                if !env_names.contains(&rel.as_str()) && mode_of(&meta) & 0o004 != 0 {
                    candidates.push((e.path(), rel));
                }
            }
        }
    }
    candidates.sort();
    let mut out = Vec::new();
    for (path, rel) in candidates {
        let Ok(bytes) = std::fs::read(&path) else {
            continue;
        };
        let text = String::from_utf8_lossy(&bytes);
        let found: Vec<&str> = values
            .iter()
            .filter(|(_, v)| text.contains(v.as_str()))
            .map(|(k, _)| k.as_str())
            .collect();
        if found.is_empty() {
            continue;
        }
        out.push(Finding {
            code: FindingCode::SecretInReadableCopy,
            severity: Severity::High,
            file: Some(rel.clone()),
            line: None,
            variable: found.first().map(|k| (*k).to_owned()),
            service: None,
            message: format!(
                "{rel} holds the value of {} and every user on this machine can read it: delete the copy if you do not need it, or make it private.",
                found.join(", ")
            ),
            fix: Some(format!("chmod 600 {rel}")),
            preview: None,
            remedy: None,
        });
    }
    out
}

#[cfg(unix)]
fn mode_of(meta: &std::fs::Metadata) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    meta.permissions().mode()
}

#[cfg(not(unix))]
fn mode_of(_meta: &std::fs::Metadata) -> u32 {
    0
}

/// Fixes the findings of `check` with this code in `file` (and `variable`, when given):
/// what the desktop's Fix button on one finding does.
///
/// # Errors
/// [`SecretsError::NothingToFix`] when no such finding is left to fix, or what the fix met.
pub fn fix_matching(
    project: &Project,
    code: FindingCode,
    file: &str,
    variable: Option<&str>,
) -> Result<Vec<String>, SecretsError> {
    let findings: Vec<Finding> = check(project, None)
        .into_iter()
        .filter(|f| {
            f.code == code
                && f.file.as_deref() == Some(file)
                && variable.is_none_or(|v| f.variable.as_deref() == Some(v))
                && f.fix.is_some()
        })
        .collect();
    if findings.is_empty() {
        return Err(SecretsError::NothingToFix);
    }
    fix(project, &findings)
}

/// Applies the fixes Lifeboat can make for `findings`: mode 0600, and `.gitignore` entries
/// (appended to the stack folder's `.gitignore`, created 0644 if missing). Returns what it
/// did, as sentences.
///
/// # Errors
/// When a change cannot be written.
pub fn fix(project: &Project, findings: &[Finding]) -> Result<Vec<String>, SecretsError> {
    let mut done = Vec::new();
    let mut ignore_lines = Vec::new();
    for f in findings {
        let Some(name) = &f.file else { continue };
        match f.code {
            FindingCode::FileMode | FindingCode::SecretInReadableCopy => {
                let path = project.dir.join(name);
                set_mode(&path, 0o600)
                    .map_err(|e| SecretsError::Fix(format!("cannot chmod {name}: {e}")))?;
                done.push(format!("{name} is now readable by you only (0600)."));
            }
            FindingCode::NotGitignored => ignore_lines.push(format!("/{name}")),
            FindingCode::HardcodedSecret if f.fix.is_some() => {
                if let (Some(svc), Some(var)) = (&f.service, &f.variable) {
                    let plan = refactor::plan_move(project, svc, var)?;
                    refactor::apply_move(project, &plan)?;
                    done.push(format!(
                        "Moved {var} of {svc} into {} and wrote ${{{var}}} in its place.",
                        relative(&plan.env_file, &project.dir)
                    ));
                }
            }
            _ => {}
        }
    }
    if !ignore_lines.is_empty() {
        let gi = project.dir.join(".gitignore");
        let mut text = std::fs::read_to_string(&gi).unwrap_or_default();
        let have: BTreeSet<&str> = text.lines().map(str::trim).collect();
        let add: Vec<String> = ignore_lines
            .into_iter()
            .filter(|l| !have.contains(l.as_str()))
            .collect();
        if !add.is_empty() {
            if !text.is_empty() && !text.ends_with('\n') {
                text.push('\n');
            }
            text.push_str("# secrets, added by Lifeboat\n");
            for l in &add {
                text.push_str(l);
                text.push('\n');
            }
            let tmp = project.dir.join(".gitignore.lifeboat.tmp");
            std::fs::write(&tmp, &text)
                .and_then(|()| crate::archive::commit(&tmp, &gi))
                .map_err(|e| SecretsError::Fix(format!("cannot write .gitignore: {e}")))?;
            done.push(format!("Added {} to .gitignore.", add.join(", ")));
        }
    }
    Ok(done)
}

fn relative(p: &Path, dir: &Path) -> String {
    p.strip_prefix(dir)
        .map_or_else(|_| p.display().to_string(), |r| r.display().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_are_found_and_dollar_dollar_is_literal() {
        let r = references("a: ${DB_PASS:-x} $USER $$NOT ${1BAD} ${N8N_KEY}");
        assert_eq!(
            r.into_iter().collect::<Vec<_>>(),
            ["DB_PASS", "N8N_KEY", "USER"]
        );
    }

    #[test]
    fn generated_values_use_their_alphabet_and_differ() {
        let a = generate(GenKind::Hex, 64).unwrap();
        let b = generate(GenKind::Hex, 64).unwrap();
        assert_eq!(a.len(), 64);
        assert!(a.bytes().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, b);
        let p = generate(GenKind::Password, 32).unwrap();
        assert!(p
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_'));
        // Every symbol shows up over enough draws (no symbol is unreachable).
        let many = generate(GenKind::Base64, 4096).unwrap();
        let distinct: BTreeSet<char> = many.chars().collect();
        assert_eq!(distinct.len(), 64);
        assert_eq!(GenKind::suggest("N8N_ENCRYPTION_KEY"), (GenKind::Hex, 64));
        assert_eq!(GenKind::suggest("JWT_SECRET"), (GenKind::Base64, 64));
        assert_eq!(
            GenKind::suggest("POSTGRES_PASSWORD"),
            (GenKind::Password, 32)
        );
        assert!(generate(GenKind::Hex, 0).is_err());
    }
}
