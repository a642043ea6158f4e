//! Where a channel's token or password is kept: the OS keyring (service `lifeboat`, or
//! `LIFEBOAT_KEYRING_SERVICE`; user `channel:NAME`) when one answers, else the headless
//! secrets file `channel-secrets.json` in Lifeboat's folder, readable by its owner only
//! (0600), for servers without a Secret Service. Never in the catalog, a log or an error.

use std::collections::BTreeMap;
use std::path::PathBuf;

use age::secrecy::{ExposeSecret, SecretString};

/// The headless secrets file's name in Lifeboat's folder.
pub const FILE: &str = "channel-secrets.json";

/// Where a secret went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Place {
    /// The OS keyring.
    Keyring,
    /// The 0600 file.
    File(PathBuf),
}

impl std::fmt::Display for Place {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Keyring => f.write_str("the system keyring"),
            Self::File(p) => write!(f, "{} (readable by you only)", p.display()),
        }
    }
}

/// A secret could not be kept or read.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct SecretError(String);

fn entry(name: &str) -> Option<keyring::Entry> {
    if std::env::var_os("LIFEBOAT_NO_KEYRING").is_some() {
        return None;
    }
    let service = std::env::var("LIFEBOAT_KEYRING_SERVICE")
        .unwrap_or_else(|_| crate::keys::KEYRING_SERVICE.into());
    keyring::Entry::new(&service, &format!("channel:{name}")).ok()
}

fn file() -> Result<PathBuf, SecretError> {
    crate::catalog::home()
        .map(|h| h.join(FILE))
        .map_err(|e| SecretError(e.to_string()))
}

fn read_file() -> Result<BTreeMap<String, String>, SecretError> {
    let path = file()?;
    match std::fs::read(&path) {
        Ok(b) => serde_json::from_slice(&b).map_err(|_| {
            SecretError(format!(
                "{} is damaged (not the JSON Lifeboat writes); remove it and add the channels' secrets again",
                path.display()
            ))
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(BTreeMap::new()),
        Err(e) => Err(SecretError(format!("{}: {e}", path.display()))),
    }
}

fn write_file(map: &BTreeMap<String, String>) -> Result<PathBuf, SecretError> {
    let path = file()?;
    let io = |e: std::io::Error| SecretError(format!("{}: {e}", path.display()));
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(io)?;
    }
    let tmp = path.with_extension("json.new");
    let _ = std::fs::remove_file(&tmp);
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    let mut f = opts.open(&tmp).map_err(io)?;
    let body = serde_json::to_vec_pretty(map).map_err(|e| SecretError(e.to_string()))?;
    std::io::Write::write_all(&mut f, &body).map_err(io)?;
    f.sync_all().map_err(io)?;
    std::fs::rename(&tmp, &path).map_err(io)?;
    Ok(path)
}

/// Keeps `value` as channel `name`'s secret: in the keyring if it takes it, else in the file.
///
/// # Errors
/// When neither can be written.
pub fn put(name: &str, value: &SecretString) -> Result<Place, SecretError> {
    if let Some(e) = entry(name) {
        if e.set_password(value.expose_secret()).is_ok() {
            // An older copy in the file would shadow the new one.
            let mut map = read_file().unwrap_or_default();
            if map.remove(name).is_some() {
                write_file(&map)?;
            }
            return Ok(Place::Keyring);
        }
    }
    let mut map = read_file()?;
    map.insert(name.to_owned(), value.expose_secret().to_owned());
    write_file(&map).map(Place::File)
}

/// Channel `name`'s secret, if it has one (the file first: it answers without D-Bus).
///
/// # Errors
/// When the file is damaged or unreadable.
pub fn get(name: &str) -> Result<Option<SecretString>, SecretError> {
    if let Some(v) = read_file()?.remove(name) {
        return Ok(Some(SecretString::from(v)));
    }
    Ok(entry(name)
        .and_then(|e| e.get_password().ok())
        .map(SecretString::from))
}

/// Forgets channel `name`'s secret wherever it is.
pub fn forget(name: &str) {
    if let Some(e) = entry(name) {
        let _ = e.delete_credential();
    }
    if let Ok(mut map) = read_file() {
        if map.remove(name).is_some() {
            let _ = write_file(&map);
        }
    }
}
