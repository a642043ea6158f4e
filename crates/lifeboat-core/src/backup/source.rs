//! Where a component's tar stream lives in a destination, whichever format wrote it: one
//! archive file (format 1) or pieces with a piece list (format 2). Everything that reads a
//! component back (restore, verify, the reuse check) opens it here.

use std::io::{self, Read};
use std::path::{Path, PathBuf};

use super::checked::ArchiveProblem;
use super::manifest::ComponentEntry;
use crate::archive::{self, pieces, ArchiveError, Hashing};
use crate::destination::stack_dest;

/// A component's stored stream.
#[derive(Debug, Clone)]
pub enum Source {
    /// One `*.tar.gz.age` file.
    Archive(PathBuf),
    /// Pieces in the destination's `pieces/` folder, in the order of an encrypted list.
    Pieces {
        /// The destination's root.
        dest: PathBuf,
        /// The component's piece list.
        list: PathBuf,
        /// (name, plaintext bytes, bytes of its file), from the manifest.
        pieces: Vec<(String, u64, u64)>,
    },
}

impl Source {
    /// Where component `c` of a snapshot of `stack` in `dest` is stored.
    pub fn of(c: &ComponentEntry, dest: &Path, stack: &str) -> Self {
        match &c.list {
            Some(list) => Self::Pieces {
                dest: dest.to_owned(),
                list: dest.join(list),
                pieces: c.pieces.clone(),
            },
            None => Self::Archive(stack_dest(dest, stack).join("archives").join(&c.archive)),
        }
    }

    /// The file people are shown: the archive, or the piece list.
    pub fn path(&self) -> &Path {
        match self {
            Self::Archive(p) => p,
            Self::Pieces { list, .. } => list,
        }
    }

    /// The plaintext tar stream. A piece that is missing, damaged or foreign shows as a
    /// read error naming it, before any of its bytes are given out.
    ///
    /// # Errors
    /// When an archive cannot be opened or decrypted.
    pub fn open(
        &self,
        identity: &age::x25519::Identity,
    ) -> Result<Box<dyn Read + Send>, ArchiveError> {
        self.open_span(identity, 0, None).map(|(stream, _)| stream)
    }

    /// The plaintext stream from the start of piece `first`, through the pieces that hold
    /// at least `need` bytes of it (all that follow when `None`), and how many pieces that
    /// is. An archive has no pieces: it is read whole from its start (0 pieces).
    ///
    /// # Errors
    /// When an archive cannot be opened or decrypted.
    pub fn open_span(
        &self,
        identity: &age::x25519::Identity,
        first: usize,
        need: Option<u64>,
    ) -> Result<(Box<dyn Read + Send>, usize), ArchiveError> {
        match self {
            Self::Archive(p) => Ok((Box::new(archive::open(p, identity)?), 0)),
            Self::Pieces { dest, pieces, .. } => {
                let mut plain = 0;
                let span: Vec<(String, u64)> = pieces
                    .iter()
                    .skip(first)
                    .take_while(|(_, bytes, _)| {
                        let more = need.is_none_or(|need| plain < need);
                        plain += bytes;
                        more
                    })
                    .map(|(name, bytes, _)| (name.clone(), *bytes))
                    .collect();
                let count = span.len();
                let reader = pieces::PieceReader::new(dest, identity, span, reader_threads());
                Ok((Box::new(reader), count))
            }
        }
    }

    /// Reads the whole stream: its SHA-256 and length.
    ///
    /// # Errors
    /// When it cannot be read whole.
    pub fn hash(&self, identity: &age::x25519::Identity) -> Result<(String, u64), ArchiveError> {
        let mut h = Hashing::new(self.open(identity)?);
        io::copy(&mut h, &mut io::sink()).map_err(|e| archive::damaged(self.path(), &e))?;
        let (sha, n, _) = h.into_parts();
        Ok((sha, n))
    }

    /// Whether a stream read back whole, `n` bytes with SHA-256 `sha`, is component `c`'s.
    /// An archive's checksum is its stream's SHA-256. A piece list's checksum is the
    /// SHA-256 of the list ([`pieces::list_digest`]): each piece was checked against its
    /// name as it was read, so the stream is the one the names pin (snapshots written
    /// before recorded the stream's SHA-256, which is accepted as well).
    pub fn stream_ok(&self, c: &ComponentEntry, sha: &str, n: u64) -> bool {
        n == c.bytes_in
            && match self {
                Self::Archive(_) => sha == c.sha256,
                Self::Pieces { pieces, .. } => {
                    sha == c.sha256
                        || pieces::list_digest(pieces.iter().map(|(name, _, _)| name.as_str()))
                            == c.sha256
                }
            }
    }

    /// Every stored file is there with the size the manifest recorded (a stat each).
    ///
    /// # Errors
    /// The first one missing or of another size.
    pub fn sizes_check(&self, c: &ComponentEntry) -> Result<(), ArchiveProblem> {
        let files: Vec<(PathBuf, u64)> = match self {
            Self::Archive(p) => vec![(p.clone(), c.bytes_stored)],
            Self::Pieces { dest, pieces, .. } => pieces
                .iter()
                .map(|(name, _, stored)| (dest.join(pieces::rel_path(name)), *stored))
                .collect(),
        };
        for (path, written) in files {
            let len = std::fs::metadata(&path)
                .map_err(|source| missing_or(&path, source))?
                .len();
            if len != written {
                return Err(ArchiveProblem::WrongSize { path, len, written });
            }
        }
        Ok(())
    }

    /// Checks that a piece list decrypts and names the manifest's pieces in order: the
    /// list is what stock tools restore from, so it must say what the manifest says. An
    /// archive has no list.
    ///
    /// # Errors
    /// What is wrong with the list.
    pub fn check_list(&self, identity: &age::x25519::Identity) -> Result<(), ArchiveProblem> {
        match self {
            Self::Archive(_) => Ok(()),
            Self::Pieces { list, pieces, .. } => check_list(list, pieces, identity),
        }
    }

    /// The quick check: [`Source::sizes_check`], then the archive's first block decrypts,
    /// or every piece's header opens with `identity`.
    ///
    /// # Errors
    /// The first thing found wrong.
    pub fn quick_check(
        &self,
        c: &ComponentEntry,
        identity: &age::x25519::Identity,
    ) -> Result<(), ArchiveProblem> {
        self.sizes_check(c)?;
        match self {
            Self::Archive(path) => {
                let mut r = archive::open(path, identity)?;
                let mut first = vec![0u8; 512.min(c.bytes_in as usize)];
                r.read_exact(&mut first)
                    .map_err(|e| archive::damaged(path, &e).into())
            }
            Self::Pieces { dest, pieces, .. } => {
                for (name, _, _) in pieces {
                    let path = dest.join(pieces::rel_path(name));
                    let opens = pieces::header_opens(&path, identity).map_err(|source| {
                        ArchiveProblem::Unreadable {
                            path: path.clone(),
                            source,
                        }
                    })?;
                    if !opens {
                        return Err(ArchiveError::Decrypt { path }.into());
                    }
                }
                Ok(())
            }
        }
    }
}

fn check_list(
    list: &Path,
    pieces: &[(String, u64, u64)],
    identity: &age::x25519::Identity,
) -> Result<(), ArchiveProblem> {
    let names = pieces::read_list(list, identity).map_err(|source| missing_or(list, source))?;
    if names.len() != pieces.len() || names.iter().zip(pieces).any(|(a, (b, _, _))| a != b) {
        return Err(ArchiveProblem::Mismatch {
            path: list.to_owned(),
        });
    }
    Ok(())
}

fn missing_or(path: &Path, source: io::Error) -> ArchiveProblem {
    if source.kind() == io::ErrorKind::NotFound {
        ArchiveProblem::Missing {
            path: path.to_owned(),
        }
    } else {
        ArchiveProblem::Unreadable {
            path: path.to_owned(),
            source,
        }
    }
}

/// Workers that read pieces back: decrypting and decompressing is the work.
fn reader_threads() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get().min(4))
}
