//! The snapshot manifest: what a snapshot holds, encrypted to the stack's identity like the
//! archives. A snapshot exists once its manifest does.

use std::io::{BufReader, Read, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::archive::{self, ArchiveError};
use crate::warning::Warning;

/// The manifest format this Lifeboat writes (`docs/FORMAT.md`): 1 stored each component as
/// one archive file, 2 as pieces with a piece list.
pub const FORMAT: u32 = 2;

/// What a component holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, TS)]
#[serde(rename_all = "lowercase")]
pub enum ComponentKind {
    /// `.env`, env files and compose files.
    Secrets,
    /// One service's bind mounts and volumes.
    Service,
    /// One database's logical dump.
    Database,
}

/// How a component was captured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, TS)]
#[serde(rename_all = "kebab-case")]
pub enum Recipe {
    /// Files archived as they are.
    Files,
    /// Files, with every SQLite database copied through SQLite's online backup.
    FilesSqliteOnline,
    /// Files, read while the service was stopped.
    FilesStopped,
    /// Files, after Redis wrote its dump (`BGSAVE`).
    RedisBgsave,
    /// `pg_dumpall` through the Docker exec API.
    PgDumpall,
    /// `mysqldump`/`mariadb-dump --single-transaction` through the Docker exec API.
    MysqlDump,
    /// `mongodump --archive` through the Docker exec API.
    Mongodump,
}

impl Recipe {
    /// The tool that made a dump, for messages.
    pub fn tool(self) -> &'static str {
        match self {
            Self::PgDumpall => "pg_dumpall",
            Self::MysqlDump => "mysqldump",
            Self::Mongodump => "mongodump",
            Self::RedisBgsave => "redis-cli BGSAVE",
            Self::Files | Self::FilesSqliteOnline | Self::FilesStopped => "file copy",
        }
    }

    /// Whether this recipe produced a logical dump.
    pub fn is_dump(self) -> bool {
        matches!(self, Self::PgDumpall | Self::MysqlDump | Self::Mongodump)
    }
}

/// One file in a component (regular files only).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileEntry {
    /// Its name in the archive.
    pub path: String,
    /// Its size in the archive.
    pub bytes: u64,
    /// Its modification time (Unix seconds), when known; restore plans use it to tell
    /// changed files from unchanged ones.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mtime: Option<i64>,
    /// The name's bytes in hex, when they are not UTF-8 (`path` then shows them as
    /// U+FFFD): Linux file names are bytes, and the archive keeps them exactly.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub raw: Option<String>,
    /// Where its tar entry (its PAX header, when it has one) starts in the component's
    /// stream, as (piece index, offset in that piece): restoring one file reads from there.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at: Option<(u32, u64)>,
    /// SHA-256 of its content (snapshots since 2026-12-03).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    /// Its permission bits, as archived.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<u32>,
    /// Its numeric user, as archived.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uid: Option<u64>,
    /// Its numeric group, as archived.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gid: Option<u64>,
}

/// The rows of one table of a database a component holds, counted when it was captured: in
/// the online-backup copy of a SQLite database, or in a dump as the dump holds them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableRows {
    /// The archive name of the SQLite file or the dump.
    pub file: String,
    /// The database inside a dump (empty for SQLite).
    #[serde(default)]
    pub database: String,
    /// The table (`public.items` in a Postgres dump).
    pub table: String,
    /// Its rows.
    pub rows: u64,
}

/// The variable names an env file of the `secrets` component defines (never the values).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnvNames {
    /// The file's archive name.
    pub file: String,
    /// The names, in file order.
    pub names: Vec<String>,
}

/// One component of a snapshot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ComponentEntry {
    /// `secrets`, `service-NAME`, `db-NAME`.
    pub name: String,
    /// What it holds.
    pub kind: ComponentKind,
    /// The service it belongs to, if one.
    pub service: Option<String>,
    /// How it was captured.
    pub recipe: Recipe,
    /// Format 1: the archive's file name in the stack's `archives/` folder. Empty when the
    /// component is stored as pieces.
    #[serde(default)]
    pub archive: String,
    /// Format 2: the pieces of the tar stream in order, as (name, plaintext bytes, bytes
    /// of its file).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pieces: Vec<(String, u64, u64)>,
    /// Format 2: the encrypted piece list, relative to the destination's root
    /// (`STACK/snapshots/ID.COMPONENT.list.age`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub list: Option<String>,
    /// Bytes of pieces this snapshot added to the destination (format 2).
    #[serde(default)]
    pub bytes_new: u64,
    /// SHA-256 of the archive's plaintext (the tar stream).
    pub sha256: String,
    /// Plaintext bytes.
    pub bytes_in: u64,
    /// Bytes of the encrypted archive file, or of all its pieces' files.
    pub bytes_stored: u64,
    /// The archive was already in the destination (unchanged since an earlier snapshot).
    pub reused: bool,
    /// Fingerprint of the files' metadata, for change detection.
    pub fingerprint: String,
    /// Host folders and files it captured, as absolute paths.
    pub roots: Vec<String>,
    /// SQLite databases captured with the online backup API (archive names).
    pub sqlite: Vec<String>,
    /// Logical dumps in the archive (archive names).
    #[serde(default)]
    pub dumps: Vec<String>,
    /// Files inside its folders that the `secrets` component holds (archive names): a
    /// restore of this component keeps the ones in place as they are.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub left_to_secrets: Vec<String>,
    /// Archive folders of named volumes (`_volumes/NAME`, however they were read) and of
    /// bind mounts read through the Docker engine because this user could not read them.
    #[serde(default)]
    pub engine_prefixes: Vec<String>,
    /// Something meant for it could not be read (see the manifest's `missing`): the next
    /// backup reads it again rather than reuse it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub incomplete: bool,
    /// Regular files, with sizes.
    pub files: Vec<FileEntry>,
    /// Rows of each table of its SQLite databases and dumps, at capture time.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rows: Vec<TableRows>,
    /// The variables its env files define (the `secrets` component).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub env_names: Vec<EnvNames>,
}

/// A snapshot's manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// [`FORMAT`].
    pub format: u32,
    /// The Lifeboat version that wrote it.
    pub lifeboat_version: String,
    /// The snapshot's id (`20261122T221500.123Z-ab12`).
    pub snapshot: String,
    /// The compose project name.
    pub stack: String,
    /// The stack folder at backup time.
    pub stack_dir: String,
    /// When the backup started (Unix seconds).
    pub started: i64,
    /// How long it took.
    pub duration_ms: u64,
    /// How long services were stopped.
    pub downtime_ms: u64,
    /// Images of the services (name → image).
    pub images: Vec<(String, String)>,
    /// The components.
    pub components: Vec<ComponentEntry>,
    /// Warnings of the backup.
    pub warnings: Vec<Warning>,
    /// The person accepted a backup that could not capture everything it meant to
    /// (`--allow-partial`): `missing` says what is not in it. A partial snapshot is never
    /// taken as `latest` by a restore without saying so.
    #[serde(default)]
    pub partial: bool,
    /// What a partial snapshot does not hold, as sentences.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub missing: Vec<String>,
}

/// Why a manifest could not be written or read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ManifestError {
    /// File or decryption trouble.
    #[error(transparent)]
    Archive(#[from] ArchiveError),
    /// It decrypted but is not a manifest Lifeboat understands.
    #[error("{path}: not a Lifeboat manifest ({reason})")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
}

impl Manifest {
    /// Writes the manifest, gzip-compressed JSON encrypted to `recipient`, at `path`
    /// (atomically). Compressed, a manifest takes about a third of the space: it is
    /// written anew with every snapshot, and its file table is most of what a day adds
    /// when little changed.
    ///
    /// # Errors
    /// When the file cannot be written.
    pub fn write(
        &self,
        path: &Path,
        recipient: &age::x25519::Recipient,
    ) -> Result<(), ManifestError> {
        let io = |source| ArchiveError::Io {
            path: path.to_owned(),
            source,
        };
        let json = serde_json::to_vec(self).map_err(|e| io(std::io::Error::other(e)))?;
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(6));
        gz.write_all(&json).map_err(io)?;
        let packed = gz.finish().map_err(io)?;
        let recipients = [recipient.clone()];
        archive::sealed::write_atomic(path, archive::sealed::Key::Recipients(&recipients), |w| {
            w.write_all(&packed)
        })
        .map_err(io)?;
        Ok(())
    }

    /// Reads and decrypts a manifest: gzip-compressed JSON, or plain JSON as manifests
    /// before 2026-12-03 were.
    ///
    /// # Errors
    /// Wrong key, damaged or unreadable file, or not a manifest.
    pub fn read(path: &Path, identity: &age::x25519::Identity) -> Result<Self, ManifestError> {
        let file = std::fs::File::open(path).map_err(|source| ArchiveError::Io {
            path: path.to_owned(),
            source,
        })?;
        let mut reader = archive::decrypt(BufReader::new(file), identity, path)?;
        let mut json = Vec::new();
        reader
            .read_to_end(&mut json)
            .map_err(|e| archive::damaged(path, &e))?;
        if json.starts_with(&[0x1f, 0x8b]) {
            let mut plain = Vec::with_capacity(json.len() * 3);
            flate2::read::MultiGzDecoder::new(json.as_slice())
                .read_to_end(&mut plain)
                .map_err(|e| archive::damaged(path, &e))?;
            json = plain;
        }
        let m: Manifest = serde_json::from_slice(&json).map_err(|e| ManifestError::Invalid {
            path: path.to_owned(),
            reason: e.to_string(),
        })?;
        if m.format > FORMAT {
            return Err(ManifestError::Invalid {
                path: path.to_owned(),
                reason: format!(
                    "format {} is newer than this Lifeboat understands; update Lifeboat",
                    m.format
                ),
            });
        }
        Ok(m)
    }
}
