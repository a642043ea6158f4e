//! The one way Lifeboat writes an encrypted file: created new and private (0600) before a
//! byte goes in, encrypted as it is written (age), and on [`Sealed::finish`] the age stream
//! closed, buffers flushed and the file synced. [`write_atomic`] adds the rename from a
//! `.partial` name, so a reader sees the whole file or none. Archives, manifests, database
//! dump spools, restore's safety dumps and the recovery file all go through here.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use super::{commit, create_private};

/// An encrypted file being written.
pub struct Sealed {
    age: age::stream::StreamWriter<Counted>,
}

/// The file under the age stream, counting the bytes that reach it.
struct Counted {
    file: BufWriter<File>,
    bytes: u64,
}

impl Write for Counted {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.file.write(buf)?;
        self.bytes += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

/// Who can open a sealed file.
pub enum Key<'a> {
    /// The holders of these age identities.
    Recipients(&'a [age::x25519::Recipient]),
    /// Whoever knows this passphrase (age's scrypt).
    Passphrase(age::secrecy::SecretString),
}

impl Sealed {
    /// Creates `path` (it must not exist), private to its owner, encrypted to `key`.
    ///
    /// # Errors
    /// When the file cannot be created.
    pub fn create(path: &Path, key: Key<'_>) -> io::Result<Self> {
        let encryptor = match key {
            Key::Recipients(r) => {
                age::Encryptor::with_recipients(r.iter().map(|r| r as &dyn age::Recipient))
                    .map_err(|e| io::Error::other(e.to_string()))?
            }
            Key::Passphrase(p) => age::Encryptor::with_user_passphrase(p),
        };
        let file = create_private(path)?;
        // age writes whole 64 KiB chunks, which a smaller buffer hands to the file as they
        // are; it only gathers the header's small writes.
        let age = encryptor.wrap_output(Counted {
            file: BufWriter::with_capacity(16 << 10, file),
            bytes: 0,
        })?;
        Ok(Self { age })
    }

    /// Closes the age stream, flushes and syncs the file. Returns the bytes stored.
    ///
    /// # Errors
    /// When writing or syncing fails (a full disk shows here).
    pub fn finish(self) -> io::Result<u64> {
        let (bytes, file) = self.finish_unsynced()?;
        file.sync_all()?;
        Ok(bytes)
    }

    /// Closes the age stream and flushes the file, leaving the sync to the caller (who must
    /// sync it before anything names it: pieces are synced on a thread of their own).
    /// Returns the bytes stored and the file.
    ///
    /// # Errors
    /// When writing fails (a full disk shows here).
    pub fn finish_unsynced(self) -> io::Result<(u64, File)> {
        let counted = self.age.finish()?;
        let bytes = counted.bytes;
        let file = counted
            .file
            .into_inner()
            .map_err(io::IntoInnerError::into_error)?;
        Ok((bytes, file))
    }
}

impl Write for Sealed {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.age.write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.age.flush()
    }
}

/// The name a file is written under before [`write_atomic`] renames it into place.
pub fn partial_name(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".partial");
    PathBuf::from(name)
}

/// Writes `path` encrypted to `key`, whole or not at all: `fill` writes the plaintext into
/// `PATH.partial` (a stale one is replaced), which is sealed, synced and renamed to `path`.
/// On error the partial file is removed.
///
/// # Errors
/// What `fill` returns, or why the file could not be written.
pub fn write_atomic(
    path: &Path,
    key: Key<'_>,
    fill: impl FnOnce(&mut Sealed) -> io::Result<()>,
) -> io::Result<()> {
    let partial = partial_name(path);
    let _ = std::fs::remove_file(&partial);
    let result = (|| {
        let mut sealed = Sealed::create(&partial, key)?;
        fill(&mut sealed)?;
        sealed.finish()?;
        commit(&partial, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&partial);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    #[test]
    fn a_sealed_file_is_private_whole_and_opens_with_its_key() {
        let t = tempfile::tempdir().unwrap();
        let id = age::x25519::Identity::generate();
        let path = t.path().join("m.age");
        write_atomic(&path, Key::Recipients(&[id.to_public()]), |w| {
            w.write_all(b"plain")
        })
        .unwrap();
        assert!(!partial_name(&path).exists());
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let mut out = Vec::new();
        super::super::decrypt(io::BufReader::new(File::open(&path).unwrap()), &id, &path)
            .unwrap()
            .read_to_end(&mut out)
            .unwrap();
        assert_eq!(out, b"plain");
        // A failing fill leaves neither the file nor its partial.
        let other = t.path().join("n.age");
        let err = write_atomic(&other, Key::Recipients(&[id.to_public()]), |_| {
            Err(io::Error::other("no"))
        })
        .unwrap_err();
        assert_eq!(err.to_string(), "no");
        assert!(!other.exists() && !partial_name(&other).exists());
    }
}
