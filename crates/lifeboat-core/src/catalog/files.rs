//! The file cache: for each large file a backup read, what the file was (device, inode,
//! size, modification and change times) and the pieces its content went into, per
//! destination, key, stack and component. The next backup of that component puts those pieces
//! into its stream without reading the file when nothing about it changed, as restic's
//! file cache does. It holds no content and no secret: archive names and piece names (keyed
//! hashes, which say nothing without the key).

use rusqlite::params;

use super::{Catalog, CatalogError};

/// A large file as a backup read it, and the pieces of its content (with its tar padding).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CachedFile {
    /// Its name in the archive, byte for byte.
    pub path: Vec<u8>,
    /// Device.
    pub dev: u64,
    /// Inode.
    pub ino: u64,
    /// Size.
    pub size: u64,
    /// Modification time, nanoseconds since the epoch.
    pub mtime_ns: i64,
    /// Change time, nanoseconds since the epoch.
    pub ctime_ns: i64,
    /// Its content's pieces in order, as (name, plaintext bytes, bytes of its file).
    pub pieces: Vec<(String, u64, u64)>,
    /// SHA-256 of its content, for the manifest (empty: unknown, so not used).
    pub sha256: String,
}

/// Which component of which stack in which destination a cache is of.
#[derive(Debug, Clone, Copy)]
pub struct CacheScope<'a> {
    /// The destination's root, as given.
    pub dest: &'a str,
    /// The stack key's public recipient (pieces are named and encrypted with the key).
    pub key: &'a str,
    /// The compose project name.
    pub stack: &'a str,
    /// The component (`service-app`).
    pub component: &'a str,
}

// SQLite integers are signed 64-bit: device and inode numbers are stored bit for bit.
#[allow(clippy::cast_possible_wrap, clippy::cast_sign_loss)]
impl Catalog {
    /// The cached files of one component.
    ///
    /// # Errors
    /// When SQLite fails.
    pub fn file_cache(&self, scope: CacheScope<'_>) -> Result<Vec<CachedFile>, CatalogError> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare(
                "SELECT path, dev, ino, size, mtime_ns, ctime_ns, pieces, sha256 FROM file_cache
                 WHERE dest = ?1 AND key = ?2 AND stack = ?3 AND component = ?4",
            )
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map(
                params![scope.dest, scope.key, scope.stack, scope.component],
                |r| {
                    let pieces: String = r.get(6)?;
                    Ok(CachedFile {
                        path: r.get(0)?,
                        dev: r.get::<_, i64>(1)? as u64,
                        ino: r.get::<_, i64>(2)? as u64,
                        size: r.get::<_, i64>(3)? as u64,
                        mtime_ns: r.get(4)?,
                        ctime_ns: r.get(5)?,
                        // A row that does not parse is no cache entry: the file is read.
                        pieces: serde_json::from_str(&pieces).unwrap_or_default(),
                        sha256: r.get(7)?,
                    })
                },
            )
            .map_err(|e| self.err(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.err(e))
    }

    /// Replaces the cached files of one component with `files`.
    ///
    /// # Errors
    /// When SQLite fails.
    pub fn set_file_cache(
        &self,
        scope: CacheScope<'_>,
        files: &[CachedFile],
    ) -> Result<(), CatalogError> {
        let mut conn = self.conn();
        let tx = conn.transaction().map_err(|e| self.err(e))?;
        tx.execute(
            "DELETE FROM file_cache WHERE dest = ?1 AND key = ?2 AND stack = ?3 AND component = ?4",
            params![scope.dest, scope.key, scope.stack, scope.component],
        )
        .map_err(|e| self.err(e))?;
        {
            let mut insert = tx
                .prepare(
                    "INSERT OR REPLACE INTO file_cache
                     (dest, key, stack, component, path, dev, ino, size, mtime_ns, ctime_ns, pieces, sha256)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
                )
                .map_err(|e| self.err(e))?;
            for f in files {
                let pieces = serde_json::to_string(&f.pieces).unwrap_or_default();
                insert
                    .execute(params![
                        scope.dest,
                        scope.key,
                        scope.stack,
                        scope.component,
                        f.path,
                        f.dev as i64,
                        f.ino as i64,
                        f.size as i64,
                        f.mtime_ns,
                        f.ctime_ns,
                        pieces,
                        f.sha256
                    ])
                    .map_err(|e| self.err(e))?;
            }
        }
        tx.commit().map_err(|e| self.err(e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_component_cache_is_replaced_whole_and_kept_apart_from_others() {
        let dir = tempfile::tempdir().unwrap();
        let cat = Catalog::open(&dir.path().join("c.sqlite3")).unwrap();
        let scope = CacheScope {
            dest: "/mnt/usb",
            key: "age1xyz",
            stack: "app",
            component: "service-app",
        };
        let other = CacheScope {
            component: "service-db",
            ..scope
        };
        let file = |name: &[u8], ino: u64| CachedFile {
            path: name.to_vec(),
            dev: u64::MAX - 1,
            ino,
            size: 5 << 20,
            mtime_ns: 1_700_000_000_123_456_789,
            ctime_ns: 1_700_000_001_000_000_000,
            pieces: vec![
                ("ab".repeat(32), 4 << 20, 4_000_100),
                ("cd".repeat(32), 1 << 20, 1_000_100),
            ],
            sha256: "ef".repeat(32),
        };
        cat.set_file_cache(scope, &[file(b"data/a.bin", 1), file(b"data/\xff.bin", 2)])
            .unwrap();
        cat.set_file_cache(other, &[file(b"db/x", 3)]).unwrap();
        let got = cat.file_cache(scope).unwrap();
        assert_eq!(got.len(), 2);
        assert!(got.contains(&file(b"data/\xff.bin", 2)));
        cat.set_file_cache(scope, &[file(b"data/a.bin", 9)])
            .unwrap();
        assert_eq!(cat.file_cache(scope).unwrap(), vec![file(b"data/a.bin", 9)]);
        assert_eq!(cat.file_cache(other).unwrap(), vec![file(b"db/x", 3)]);
        let rekeyed = CacheScope {
            key: "age1other",
            ..scope
        };
        assert!(cat.file_cache(rekeyed).unwrap().is_empty());
    }
}
