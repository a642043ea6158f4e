//! The stack owner's identity: an age X25519 key that encrypts every archive. It lives in the
//! OS keyring (Secret Service, Keychain, Credential Manager); headless use may point at an
//! identity file instead (`--identity FILE`, then `LIFEBOAT_IDENTITY`). A copy encrypted with
//! a passphrase the user chooses (age scrypt) goes to each backup destination, so a new
//! machine needs only the drive and the passphrase.
//!
//! Secret material stays in age's `SecretString`s and is never logged or put in an error.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use age::secrecy::{ExposeSecret, SecretString};
use age::x25519::{Identity, Recipient};

/// The keyring service and user under which the identity is stored.
pub const KEYRING_SERVICE: &str = "lifeboat";
/// See [`KEYRING_SERVICE`].
pub const KEYRING_USER: &str = "backup-identity";
/// File name of the passphrase-encrypted identity in a destination.
pub const RECOVERY_FILE: &str = "lifeboat-recovery.age";
/// The shortest recovery passphrase Lifeboat accepts.
pub const MIN_PASSPHRASE: usize = 10;
/// File name of the printable recovery kit in a destination.
pub const KIT_FILE: &str = "LIFEBOAT-RECOVERY-KIT.txt";

/// Why the identity could not be found, stored or recovered.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// No identity anywhere Lifeboat looks.
    #[error(
        "no backup key: create one with `lifeboat key init` (stored in the system keyring), \
         or pass --identity FILE / set LIFEBOAT_IDENTITY"
    )]
    Missing,
    /// An identity already exists where `init` would write one.
    #[error("a backup key already exists in {where_}; Lifeboat will not replace it (that would make existing backups unreadable)")]
    Exists {
        /// Where.
        where_: String,
    },
    /// The identity file could not be read or written.
    #[error("{path}: {reason}")]
    File {
        /// The file.
        path: PathBuf,
        /// What went wrong (never its content).
        reason: String,
    },
    /// The keyring refused or is not available.
    #[error("the system keyring is not available ({0}); unlock it, or use --identity FILE")]
    Keyring(String),
    /// The text is not an age identity.
    #[error("{0} does not hold an age identity (a line starting with AGE-SECRET-KEY-1)")]
    Malformed(String),
    /// A new recovery passphrase is too short to stand up to guessing.
    #[error("a recovery passphrase needs at least {min} characters")]
    WeakPassphrase {
        /// The least number of characters, [`MIN_PASSPHRASE`].
        min: usize,
    },
    /// The recovery file did not open with that passphrase.
    #[error("the recovery file did not open: wrong passphrase or damaged file")]
    WrongPassphrase,
    /// The recovery file holds another key than the one in use.
    #[error("the passphrase is right, but the recovery file holds a different key than the one this computer uses; write a new recovery file")]
    RecoveryMismatch,
}

/// Where an identity came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySource {
    /// An identity file.
    File(PathBuf),
    /// The OS keyring.
    Keyring,
}

/// Parses age identity-file text (comments allowed).
///
/// # Errors
/// [`KeyError::Malformed`] when no valid identity line is in it.
pub fn parse_identity(text: &str, origin: &str) -> Result<Identity, KeyError> {
    text.lines()
        .map(str::trim)
        .find(|l| l.starts_with("AGE-SECRET-KEY-1"))
        .and_then(|l| l.parse::<Identity>().ok())
        .ok_or_else(|| KeyError::Malformed(origin.to_owned()))
}

/// The identity as an age identity file (what `age -d -i FILE` reads).
pub fn identity_file_text(identity: &Identity) -> SecretString {
    SecretString::from(format!(
        "# Lifeboat backup key. Anyone with this file can read your backups: keep it safe.\n\
         # public key: {}\n{}\n",
        identity.to_public(),
        identity.to_string().expose_secret()
    ))
}

/// The keyring entry: service [`KEYRING_SERVICE`] unless `LIFEBOAT_KEYRING_SERVICE` names
/// another (tests use their own, so they never touch a real key).
fn keyring_entry() -> Result<keyring::Entry, KeyError> {
    let service =
        std::env::var("LIFEBOAT_KEYRING_SERVICE").unwrap_or_else(|_| KEYRING_SERVICE.into());
    keyring::Entry::new(&service, KEYRING_USER).map_err(|e| KeyError::Keyring(e.to_string()))
}

/// Finds the identity: `explicit` file, then `LIFEBOAT_IDENTITY`, then the keyring.
///
/// # Errors
/// [`KeyError::Missing`] when there is none; file and keyring errors as they happen.
pub fn load(explicit: Option<&Path>) -> Result<(Identity, KeySource), KeyError> {
    let from_env = std::env::var_os("LIFEBOAT_IDENTITY")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from);
    if let Some(path) = explicit.map(Path::to_path_buf).or(from_env) {
        let text = std::fs::read_to_string(&path).map_err(|e| KeyError::File {
            path: path.clone(),
            reason: e.to_string(),
        })?;
        let id = parse_identity(&text, &path.display().to_string())?;
        return Ok((id, KeySource::File(path)));
    }
    match keyring_entry()?.get_password() {
        Ok(secret) => {
            let secret = SecretString::from(secret);
            Ok((
                parse_identity(secret.expose_secret(), "the keyring entry")?,
                KeySource::Keyring,
            ))
        }
        Err(keyring::Error::NoEntry) => Err(KeyError::Missing),
        Err(e) => Err(KeyError::Keyring(e.to_string())),
    }
}

/// Creates a new identity and stores it in `file` (mode 0600, must not exist) or, without
/// a file, in the keyring (must be empty there). Returns its public recipient.
///
/// # Errors
/// [`KeyError::Exists`] rather than replace a key; file and keyring errors.
pub fn init(file: Option<&Path>) -> Result<Recipient, KeyError> {
    let identity = Identity::generate();
    store(&identity, file)?;
    Ok(identity.to_public())
}

/// Stores `identity` in `file` (mode 0600, must not exist) or, without a file, in the
/// keyring (must be empty there).
///
/// # Errors
/// [`KeyError::Exists`] rather than replace a key; file and keyring errors.
pub fn store(identity: &Identity, file: Option<&Path>) -> Result<(), KeyError> {
    let text = identity_file_text(identity);
    match file {
        Some(path) => {
            if path.exists() {
                return Err(KeyError::Exists {
                    where_: path.display().to_string(),
                });
            }
            let mut f = crate::archive::create_private(path).map_err(|e| KeyError::File {
                path: path.to_owned(),
                reason: e.to_string(),
            })?;
            f.write_all(text.expose_secret().as_bytes())
                .and_then(|()| f.sync_all())
                .map_err(|e| KeyError::File {
                    path: path.to_owned(),
                    reason: e.to_string(),
                })?;
        }
        None => {
            let entry = keyring_entry()?;
            match entry.get_password() {
                Ok(_) => {
                    return Err(KeyError::Exists {
                        where_: "the system keyring".into(),
                    })
                }
                Err(keyring::Error::NoEntry) => {}
                Err(e) => return Err(KeyError::Keyring(e.to_string())),
            }
            entry
                .set_password(text.expose_secret())
                .map_err(|e| KeyError::Keyring(e.to_string()))?;
        }
    }
    Ok(())
}

/// What [`adopt`] did with a key recovered from a drive.
pub enum Adopted {
    /// There was no key here: the recovered one is stored and used from now on.
    Stored,
    /// The key here is the recovered one.
    AlreadyHere,
    /// Another key is stored here; it stays, and the recovered one (returned) may only be
    /// used for this session.
    Other(Identity),
}

impl std::fmt::Debug for Adopted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Stored => "Stored",
            Self::AlreadyHere => "AlreadyHere",
            Self::Other(_) => "Other(..)",
        })
    }
}

/// Makes a key recovered from a drive this computer's key when it has none (in `file`, or
/// the keyring without one); never replaces another key.
///
/// # Errors
/// When the key here cannot be read (keyring unavailable, a damaged file), or the
/// recovered key cannot be stored.
pub fn adopt(recovered: Identity, file: Option<&Path>) -> Result<Adopted, KeyError> {
    let here = match file {
        Some(p) if !p.exists() => Err(KeyError::Missing),
        _ => load(file).map(|(id, _)| id),
    };
    match here {
        Err(KeyError::Missing) => {
            store(&recovered, file)?;
            Ok(Adopted::Stored)
        }
        Ok(id) if id.to_public().to_string() == recovered.to_public().to_string() => {
            Ok(Adopted::AlreadyHere)
        }
        Ok(_) => Ok(Adopted::Other(recovered)),
        Err(e) => Err(e),
    }
}

/// Whether `passphrase` may protect a recovery file: at least [`MIN_PASSPHRASE`]
/// characters.
///
/// # Errors
/// [`KeyError::WeakPassphrase`].
pub fn check_passphrase(passphrase: &SecretString) -> Result<(), KeyError> {
    if passphrase.expose_secret().chars().count() < MIN_PASSPHRASE {
        return Err(KeyError::WeakPassphrase {
            min: MIN_PASSPHRASE,
        });
    }
    Ok(())
}

/// The identity in the keyring (or `LIFEBOAT_IDENTITY`), created in the keyring first when
/// there is none: what setting up backups on a new computer needs.
///
/// # Errors
/// When the keyring is not available, or an identity there does not load.
pub fn load_or_init() -> Result<Identity, KeyError> {
    match load(None) {
        Ok((identity, _)) => Ok(identity),
        Err(KeyError::Missing) => {
            init(None)?;
            Ok(load(None)?.0)
        }
        Err(e) => Err(e),
    }
}

/// Encrypts the identity with `passphrase` (age scrypt) into `path`, atomically.
///
/// # Errors
/// When the file cannot be written.
pub fn write_recovery(
    identity: &Identity,
    passphrase: SecretString,
    path: &Path,
) -> Result<(), KeyError> {
    check_passphrase(&passphrase)?;
    let file_err = |e: std::io::Error| KeyError::File {
        path: path.to_owned(),
        reason: e.to_string(),
    };
    let text = identity_file_text(identity);
    crate::archive::sealed::write_atomic(
        path,
        crate::archive::sealed::Key::Passphrase(passphrase),
        |w| w.write_all(text.expose_secret().as_bytes()),
    )
    .map_err(file_err)
}

/// Opens a recovery file with `passphrase`.
///
/// # Errors
/// [`KeyError::WrongPassphrase`] for a wrong passphrase or a damaged file.
pub fn read_recovery(path: &Path, passphrase: SecretString) -> Result<Identity, KeyError> {
    let file = std::fs::File::open(path).map_err(|e| KeyError::File {
        path: path.to_owned(),
        reason: e.to_string(),
    })?;
    let decryptor = age::Decryptor::new_buffered(std::io::BufReader::new(file))
        .map_err(|_| KeyError::WrongPassphrase)?;
    let identity = age::scrypt::Identity::new(passphrase);
    let mut reader = decryptor
        .decrypt(std::iter::once(&identity as &dyn age::Identity))
        .map_err(|_| KeyError::WrongPassphrase)?;
    let mut text = String::new();
    reader
        .read_to_string(&mut text)
        .map_err(|_| KeyError::WrongPassphrase)?;
    let text = SecretString::from(text);
    parse_identity(text.expose_secret(), &path.display().to_string())
}

/// Checks that `passphrase` opens the recovery file at `path` and that it holds `identity`,
/// without showing either.
///
/// # Errors
/// [`KeyError::WrongPassphrase`], [`KeyError::RecoveryMismatch`], or the file is missing.
pub fn test_recovery(
    path: &Path,
    passphrase: SecretString,
    identity: &Identity,
) -> Result<(), KeyError> {
    let found = read_recovery(path, passphrase)?;
    if found.to_public().to_string() == identity.to_public().to_string() {
        Ok(())
    } else {
        Err(KeyError::RecoveryMismatch)
    }
}

/// The recovery kit: a plain page to print and keep with the backup drive. It holds no
/// secret: the passphrase is written on it by hand, if at all.
pub fn recovery_kit(dest: &Path, recipient: &str, stacks: &[String], made: &str) -> String {
    let stacks = if stacks.is_empty() {
        "(none yet)".to_owned()
    } else {
        stacks.join(", ")
    };
    format!(
        "LIFEBOAT RECOVERY KIT\n\
         =====================\n\n\
         Made {made}. Print this page and keep it with the backup drive, away from this computer.\n\n\
         What this is\n  Lifeboat makes encrypted backups of Docker Compose stacks. Without the backup key nobody,\n  \
         including you, can read them. The key is stored on the backup drive in {RECOVERY_FILE},\n  \
         locked with your recovery passphrase.\n\n\
         Where the backups are\n  {dest}\n  Stacks: {stacks}\n\n\
         The key's public half (safe to share; it identifies the key)\n  {recipient}\n\n\
         Recovery passphrase (write it here by hand, or keep it in your password manager)\n\n  \
         ______________________________________________\n\n\
         On a new computer\n  \
         1. Install Lifeboat and plug in the backup drive.\n  \
         2. Choose \"Restore from a backup drive\" (or run: lifeboat key import-recovery --from DRIVE_FOLDER)\n     \
         and type the recovery passphrase.\n  \
         3. Pick the stack and the snapshot, and a folder to restore into.\n\n\
         Without Lifeboat\n  \
         age -d -o key.txt {RECOVERY_FILE}           (asks for the passphrase)\n  \
         cd {dest}\n  \
         age -d -i key.txt STACK/snapshots/SNAPSHOT.COMPONENT.list.age | xargs -n1 age -d -i key.txt \\\n      \
         | tar -xzpf - --numeric-owner -C /path/to/stack\n  \
         README-RESTORE.txt on the drive says more.\n",
        dest = dest.display()
    )
}

/// Writes the recovery kit for `identity` into destination `dest` (dated today, listing the
/// stacks found there) and returns its path.
///
/// # Errors
/// When the file cannot be written.
pub fn write_recovery_kit(dest: &Path, identity: &Identity) -> Result<PathBuf, KeyError> {
    let today = crate::time::date(crate::time::unix_now());
    let kit = recovery_kit(
        dest,
        &identity.to_public().to_string(),
        &crate::destination::stacks_in(dest),
        &today,
    );
    let path = dest.join(KIT_FILE);
    std::fs::write(&path, kit).map_err(|e| KeyError::File {
        path: path.clone(),
        reason: e.to_string(),
    })?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_short_recovery_passphrase_is_refused_and_nothing_is_written() {
        let t = tempfile::tempdir().unwrap();
        let rec = t.path().join("lifeboat-recovery.age");
        let id = Identity::generate();
        let short = SecretString::from("nine char");
        assert!(matches!(
            write_recovery(&id, short, &rec),
            Err(KeyError::WeakPassphrase {
                min: MIN_PASSPHRASE
            })
        ));
        assert!(!rec.exists());
        assert!(check_passphrase(&SecretString::from("ten chars!")).is_ok());
        // Characters, not bytes: five two-byte letters are five.
        assert!(check_passphrase(&SecretString::from("ééééé")).is_err());
    }

    #[test]
    fn a_recovered_key_is_adopted_only_where_no_other_key_lives() {
        let t = tempfile::tempdir().unwrap();
        let key = t.path().join("key.txt");
        let recovered = Identity::generate();
        assert!(matches!(
            adopt(recovered.clone(), Some(&key)),
            Ok(Adopted::Stored)
        ));
        assert_eq!(
            load(Some(&key)).unwrap().0.to_public().to_string(),
            recovered.to_public().to_string()
        );
        assert!(matches!(
            adopt(recovered.clone(), Some(&key)),
            Ok(Adopted::AlreadyHere)
        ));
        // Another drive's key: the one here stays, the other is handed back for the session.
        let other = Identity::generate();
        let before = std::fs::read(&key).unwrap();
        match adopt(other.clone(), Some(&key)) {
            Ok(Adopted::Other(id)) => {
                assert_eq!(id.to_public().to_string(), other.to_public().to_string());
            }
            r => panic!("{r:?}"),
        }
        assert_eq!(std::fs::read(&key).unwrap(), before);
        // A key file that does not read is an error, never overwritten.
        std::fs::write(&key, "not a key").unwrap();
        assert!(adopt(other, Some(&key)).is_err());
        assert_eq!(std::fs::read(&key).unwrap(), b"not a key");
    }

    #[test]
    fn identity_files_and_recovery_round_trip() {
        let t = tempfile::tempdir().unwrap();
        let key = t.path().join("key.txt");
        let recipient = init(Some(&key)).unwrap();
        assert!(matches!(init(Some(&key)), Err(KeyError::Exists { .. })));
        let (id, src) = load(Some(&key)).unwrap();
        assert_eq!(id.to_public().to_string(), recipient.to_string());
        assert_eq!(src, KeySource::File(key.clone()));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(
                std::fs::metadata(&key).unwrap().permissions().mode() & 0o777,
                0o600
            );
        }
        let rec = t.path().join(RECOVERY_FILE);
        write_recovery(&id, SecretString::from("correct horse"), &rec).unwrap();
        let back = read_recovery(&rec, SecretString::from("correct horse")).unwrap();
        assert_eq!(back.to_public().to_string(), recipient.to_string());
        assert!(matches!(
            read_recovery(&rec, SecretString::from("wrong")),
            Err(KeyError::WrongPassphrase)
        ));
        test_recovery(&rec, SecretString::from("correct horse"), &id).unwrap();
        let other = Identity::generate();
        assert!(matches!(
            test_recovery(&rec, SecretString::from("correct horse"), &other),
            Err(KeyError::RecoveryMismatch)
        ));
        let kit = recovery_kit(
            t.path(),
            &recipient.to_string(),
            &["chatbot".into()],
            "today",
        );
        assert!(kit.contains(&recipient.to_string()) && kit.contains("chatbot"));
        assert!(!kit.contains(id.to_string().expose_secret()));
        let secret = id.to_string();
        let Err(err) = parse_identity("no key here", "x") else {
            panic!("parsed a key from nothing")
        };
        let err = err.to_string();
        assert!(!err.contains(secret.expose_secret()));
    }
}
