//! Retention: which snapshots to keep (the last N, and the newest of each of the last N
//! hours, days, weeks, months and years, as restic and borg count them), then deleting the
//! other manifests with their piece lists, the archives no remaining manifest refers to,
//! and the pieces no remaining snapshot refers to (see [`super::markers`] for how a backup
//! running meanwhile is kept safe). Periods are in UTC.

use std::collections::{BTreeSet, HashSet};
use std::path::Path;

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use super::manifest::{Manifest, ManifestError};
use super::markers::{self, Marker};
use super::stack_dest;
use super::verify::{all_manifests, id_of_manifest, stacks_to_read, DestinationError};
use crate::archive::pieces;
pub use crate::settings::Keep;

/// What pruning did (or, with `dry_run`, would do).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct PruneReport {
    /// Snapshots kept.
    pub kept: Vec<String>,
    /// Snapshots removed.
    pub removed: Vec<String>,
    /// Archive files removed (format 1).
    #[ts(type = "number")]
    pub archives_removed: u64,
    /// Pieces removed: no remaining snapshot refers to them.
    #[ts(type = "number")]
    pub pieces_removed: u64,
    /// Why pieces no snapshot needs were left in place, if they were (a backup was writing
    /// to the destination, or a manifest could not be read).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pieces_left: Option<String>,
    /// Bytes freed.
    #[ts(type = "number")]
    pub bytes_freed: u64,
    /// Nothing was deleted.
    pub dry_run: bool,
    /// Snapshots whose manifest could not be read: left in place, and with them every
    /// archive of their stack.
    pub damaged: Vec<String>,
}

/// Why pruning refused or failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PruneError {
    /// No rule was given: that would delete every snapshot.
    #[error("say what to keep (--keep-last, --keep-daily, …): pruning with no rule would delete every snapshot")]
    NoRule,
    /// No manifest could be read (the wrong key).
    #[error(transparent)]
    Manifest(#[from] ManifestError),
    /// The destination is missing or holds no backups of the stack.
    #[error(transparent)]
    Destination(#[from] DestinationError),
    /// A backup of the stack is running.
    #[error("a backup of {0} is running; prune after it finishes")]
    Busy(String),
    /// Deleting failed.
    #[error("cannot delete {path}: {reason}")]
    Delete {
        /// The file.
        path: String,
        /// What the system said.
        reason: String,
    },
}

/// Maps a start time to its period (hour, day, …).
type Bucket = fn(i64) -> i64;

/// The snapshots (given newest first, with their start times) that `keep` keeps.
pub fn select(newest_first: &[(String, i64)], keep: &Keep) -> BTreeSet<String> {
    let mut kept = BTreeSet::new();
    for (id, _) in newest_first.iter().take(keep.last as usize) {
        kept.insert(id.clone());
    }
    let buckets: [(u32, Bucket); 5] = [
        (keep.hourly, |t| t.div_euclid(3600)),
        (keep.daily, |t| t.div_euclid(86_400)),
        // Weeks start on Monday; 1970-01-01 was a Thursday.
        (keep.weekly, |t| (t.div_euclid(86_400) + 3).div_euclid(7)),
        (keep.monthly, crate::time::month_number),
        (keep.yearly, crate::time::year),
    ];
    for (n, bucket) in buckets {
        let mut seen = HashSet::new();
        for (id, t) in newest_first {
            if seen.len() >= n as usize {
                break;
            }
            if seen.insert(bucket(*t)) {
                kept.insert(id.clone());
            }
        }
    }
    kept
}

/// Applies `keep` to the snapshots of `stack` (or of every stack) in `dest`.
///
/// # Errors
/// [`PruneError::NoRule`] without a rule; a manifest that does not decrypt stops pruning
/// before anything is deleted.
pub fn prune(
    dest: &Path,
    stack: Option<&str>,
    keep: &Keep,
    dry_run: bool,
    identity: &age::x25519::Identity,
) -> Result<PruneReport, PruneError> {
    if keep.is_empty() {
        return Err(PruneError::NoRule);
    }
    let mut report = PruneReport {
        dry_run,
        ..PruneReport::default()
    };
    for s in stacks_to_read(dest, stack)? {
        // The lock a backup of this stack holds: pruning meanwhile could delete an archive
        // the backup is about to refer to.
        let _lock = if dry_run { None } else { Some(lock(dest, &s)?) };
        prune_stack(dest, &s, keep, dry_run, identity, &mut report)?;
    }
    collect_pieces(dest, dry_run, identity, &mut report)?;
    Ok(report)
}

/// Deletes the pieces that no snapshot in `dest` refers to, of any stack (pieces are
/// shared), and leftovers of piece writes that died. Nothing is deleted while a backup
/// holds a marker, or when a manifest or piece list of this key cannot be read (what it
/// needs cannot be known). A piece that does not open with `identity` belongs to another
/// key's backups and is never touched.
fn collect_pieces(
    dest: &Path,
    dry_run: bool,
    identity: &age::x25519::Identity,
    report: &mut PruneReport,
) -> Result<(), PruneError> {
    let root = dest.join(pieces::DIR);
    if !root.is_dir() {
        return Ok(());
    }
    let marker = if dry_run {
        None
    } else {
        markers::clean_leftovers(dest);
        Some(
            Marker::take(dest, markers::Kind::Prune).map_err(|e| PruneError::Delete {
                path: dest.join(markers::DIR).display().to_string(),
                reason: e.to_string(),
            })?,
        )
    };
    if !markers::live(dest, markers::Kind::Backup, marker.as_ref()).is_empty() {
        report.pieces_left = Some(
            "a backup is writing to this destination, so pieces no snapshot needs any more \
             stay until the next prune"
                .into(),
        );
        return Ok(());
    }
    let referenced = match referenced_pieces(dest, identity, &report.removed) {
        Ok(r) => r,
        Err(why) => {
            report.pieces_left = Some(why);
            return Ok(());
        }
    };
    for fan in std::fs::read_dir(&root).into_iter().flatten().flatten() {
        for e in std::fs::read_dir(fan.path())
            .into_iter()
            .flatten()
            .flatten()
        {
            let name = e.file_name().to_string_lossy().into_owned();
            let path = e.path();
            let leftover = name.starts_with('.') && name.ends_with(".partial");
            let unused = pieces::is_piece_name(&name)
                && !referenced.contains(&name)
                && pieces::header_opens(&path, identity).unwrap_or(false);
            if !(leftover || unused) {
                continue;
            }
            if unused {
                report.pieces_removed += 1;
            }
            report.bytes_freed += e.metadata().map_or(0, |m| m.len());
            if !dry_run {
                delete(&path)?;
            }
        }
    }
    Ok(())
}

/// Every piece a remaining snapshot of any stack refers to, by its manifest or by its
/// piece list (a list is what stock tools restore from). `removed` are snapshots this
/// prune deletes (still there in a dry run). A manifest or list that opens with this key
/// but does not read whole makes the answer unknown: the sentence says so.
fn referenced_pieces(
    dest: &Path,
    identity: &age::x25519::Identity,
    removed: &[String],
) -> Result<HashSet<String>, String> {
    let mut referenced = HashSet::new();
    for stack in super::verify::stacks_in(dest) {
        let snapshots = stack_dest(dest, &stack).join("snapshots");
        for e in std::fs::read_dir(&snapshots)
            .into_iter()
            .flatten()
            .flatten()
        {
            let name = e.file_name().to_string_lossy().into_owned();
            let path = e.path();
            if removed.iter().any(|id| name.starts_with(&format!("{id}."))) {
                continue;
            }
            let ours = || pieces::header_opens(&path, identity).unwrap_or(true);
            if name.ends_with(".manifest.age") {
                match Manifest::read(&path, identity) {
                    Ok(m) => referenced.extend(
                        m.components
                            .into_iter()
                            .flat_map(|c| c.pieces.into_iter().map(|(n, _, _)| n)),
                    ),
                    Err(_) if !ours() => {}
                    Err(e) => return Err(unknown(&e.to_string())),
                }
            } else if name.ends_with(".list.age") {
                match pieces::read_list(&path, identity) {
                    Ok(names) => referenced.extend(names),
                    Err(_) if !ours() => {}
                    Err(e) => return Err(unknown(&format!("{}: {e}", path.display()))),
                }
            }
        }
    }
    Ok(referenced)
}

fn unknown(why: &str) -> String {
    format!(
        "{why}; what it refers to cannot be known, so no piece was deleted (`lifeboat verify` \
         says more)"
    )
}

/// Takes the lock a backup of stack `s` in `dest` holds.
fn lock(dest: &Path, s: &str) -> Result<std::fs::File, PruneError> {
    let lock_path = stack_dest(dest, s).join(".lock");
    let lock = std::fs::File::create(&lock_path).map_err(|e| PruneError::Delete {
        path: lock_path.display().to_string(),
        reason: e.to_string(),
    })?;
    if lock.try_lock().is_err() {
        return Err(PruneError::Busy(s.to_owned()));
    }
    Ok(lock)
}

/// Prunes stack `s`: its snapshots by the rules, then the archives no kept one names.
fn prune_stack(
    dest: &Path,
    s: &str,
    keep: &Keep,
    dry_run: bool,
    identity: &age::x25519::Identity,
    report: &mut PruneReport,
) -> Result<(), PruneError> {
    let mut snaps: Vec<(Manifest, std::path::PathBuf)> = Vec::new();
    let mut damaged = Vec::new();
    let mut first_error = None;
    for (_, path) in all_manifests(dest, Some(s)) {
        match Manifest::read(&path, identity) {
            Ok(m) => snaps.push((m, path)),
            Err(e) => {
                damaged.push(id_of_manifest(&path));
                first_error.get_or_insert(e);
            }
        }
    }
    // Nothing readable: the wrong key, not damage.
    if let (Some(e), true) = (first_error, snaps.is_empty()) {
        return Err(e.into());
    }
    snaps.sort_by(|a, b| b.0.snapshot.cmp(&a.0.snapshot));
    let order: Vec<(String, i64)> = snaps
        .iter()
        .map(|(m, _)| (m.snapshot.clone(), m.started))
        .collect();
    let kept = select(&order, keep);
    let mut referenced = HashSet::new();
    for (m, path) in &snaps {
        if kept.contains(&m.snapshot) {
            report.kept.push(m.snapshot.clone());
            referenced.extend(m.components.iter().map(|c| c.archive.clone()));
        } else {
            report.removed.push(m.snapshot.clone());
            if !dry_run {
                delete(path)?;
            }
        }
    }
    // Piece lists of removed snapshots, and of backups that died before their manifest
    // (the stack's lock is held: no backup of it is writing one now).
    let ids: Vec<String> = snaps
        .iter()
        .filter(|(m, _)| kept.contains(&m.snapshot))
        .map(|(m, _)| format!("{}.", m.snapshot))
        .chain(damaged.iter().map(|id| format!("{id}.")))
        .collect();
    let snapshots = stack_dest(dest, s).join("snapshots");
    for e in std::fs::read_dir(&snapshots)
        .into_iter()
        .flatten()
        .flatten()
    {
        let name = e.file_name().to_string_lossy().into_owned();
        if name.ends_with(".list.age") && !ids.iter().any(|id| name.starts_with(id)) {
            report.bytes_freed += e.metadata().map_or(0, |m| m.len());
            if !dry_run {
                delete(&e.path())?;
            }
        }
    }
    // A damaged manifest stays, and so does every archive of its stack: what it refers
    // to cannot be known, and its archives may be all that is left of it.
    if !damaged.is_empty() {
        report.damaged.extend(damaged);
        return Ok(());
    }
    // Archives no kept manifest names: those of removed snapshots, and leftovers.
    let archives = stack_dest(dest, s).join("archives");
    for e in std::fs::read_dir(&archives).into_iter().flatten().flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if !name.ends_with(".tar.gz.age") || referenced.contains(&name) {
            continue;
        }
        report.archives_removed += 1;
        report.bytes_freed += e.metadata().map_or(0, |m| m.len());
        if !dry_run {
            delete(&e.path())?;
        }
    }
    Ok(())
}

fn delete(path: &Path) -> Result<(), PruneError> {
    std::fs::remove_file(path).map_err(|e| PruneError::Delete {
        path: path.display().to_string(),
        reason: e.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snaps(times: &[i64]) -> Vec<(String, i64)> {
        let mut v: Vec<(String, i64)> = times.iter().map(|t| (format!("s{t}"), *t)).collect();
        v.sort_by_key(|s| std::cmp::Reverse(s.1));
        v
    }

    #[test]
    fn rules_keep_the_newest_per_period() {
        let h = 3600;
        let d = 86_400;
        // Two snapshots a day for 20 days, starting on Monday 2026-11-02 00:00 UTC.
        let monday = 1_793_577_600;
        let times: Vec<i64> = (0..20)
            .flat_map(|i| [monday + i * d + 2 * h, monday + i * d + 14 * h])
            .collect();
        let all = snaps(&times);
        let kept = select(
            &all,
            &Keep {
                last: 3,
                ..Keep::default()
            },
        );
        assert_eq!(kept.len(), 3);
        assert!(kept.contains(&all[0].0) && kept.contains(&all[2].0));

        let kept = select(
            &all,
            &Keep {
                daily: 7,
                ..Keep::default()
            },
        );
        assert_eq!(kept.len(), 7);
        // The newest of each day is the 14:00 one.
        assert!(kept
            .iter()
            .all(|id| (id[1..].parse::<i64>().unwrap() - monday) % d == 14 * h));

        let kept = select(
            &all,
            &Keep {
                weekly: 10,
                ..Keep::default()
            },
        );
        // 20 days from a Monday span three weeks; each keeps its newest (a Sunday, or the last day).
        let days: Vec<i64> = kept
            .iter()
            .map(|id| (id[1..].parse::<i64>().unwrap() - monday) / d)
            .collect();
        let mut days = days;
        days.sort();
        assert_eq!(days, [6, 13, 19]);

        let kept = select(
            &all,
            &Keep {
                last: 1,
                monthly: 2,
                ..Keep::default()
            },
        );
        // November's newest is also the last one; October has none: one snapshot.
        assert_eq!(kept.len(), 1);
        assert!(select(&all, &Keep::default()).is_empty());
    }
}
