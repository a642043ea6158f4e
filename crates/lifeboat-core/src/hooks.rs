//! A stack's hooks: commands its owner runs before and after a backup or a restore (stop a
//! cron job, flush a cache, copy the snapshot offsite, tell a chat room). Each runs with
//! `sh -c` in the stack's folder, with what it is about in its environment
//! (`LIFEBOAT_EVENT`, `LIFEBOAT_STACK`, `LIFEBOAT_STACK_DIR`, `LIFEBOAT_DESTINATION`, and
//! after the run `LIFEBOAT_RESULT`, `LIFEBOAT_SNAPSHOT`, `LIFEBOAT_ERROR`), within a time
//! limit. A failing pre-hook stops what it guards, with its output; a post-hook always runs
//! (after success, failure or cancel) and its failure is reported, never undoing the run.
//!
//! The hook's environment is Lifeboat's own, without the key's location or passphrase;
//! the stack's `.env` values are never put in it (a hook that wants them reads the file).

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use ts_rs::TS;

/// The longest a hook may run when its stack sets no limit.
pub const DEFAULT_TIMEOUT_SECS: u64 = 300;

/// Of a hook's output, at most this many bytes (the end) are kept for its report.
const OUTPUT_KEPT: usize = 4096;

/// Variables of Lifeboat's environment a hook never gets.
const WITHHELD: [&str; 3] = [
    "LIFEBOAT_IDENTITY",
    "LIFEBOAT_PASSPHRASE",
    "LIFEBOAT_RECOVERY_PASSPHRASE",
];

/// A stack's hooks, as saved with its settings.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(default)]
pub struct Hooks {
    /// Before a backup; failing stops it.
    pub pre_backup: Option<String>,
    /// After a backup, whatever its result.
    pub post_backup: Option<String>,
    /// Before a restore; failing stops it.
    pub pre_restore: Option<String>,
    /// After a restore, whatever its result.
    pub post_restore: Option<String>,
    /// Seconds each hook may run; none for [`DEFAULT_TIMEOUT_SECS`].
    pub timeout_secs: Option<u64>,
}

impl Hooks {
    /// Whether no hook is set.
    pub fn is_empty(&self) -> bool {
        [
            &self.pre_backup,
            &self.post_backup,
            &self.pre_restore,
            &self.post_restore,
        ]
        .iter()
        .all(|h| h.as_deref().is_none_or(|c| c.trim().is_empty()))
    }

    /// The command for `event`, if one is set.
    pub fn command(&self, event: HookEvent) -> Option<&str> {
        match event {
            HookEvent::PreBackup => self.pre_backup.as_deref(),
            HookEvent::PostBackup => self.post_backup.as_deref(),
            HookEvent::PreRestore => self.pre_restore.as_deref(),
            HookEvent::PostRestore => self.post_restore.as_deref(),
        }
        .filter(|c| !c.trim().is_empty())
    }

    fn timeout(&self) -> Duration {
        Duration::from_secs(self.timeout_secs.unwrap_or(DEFAULT_TIMEOUT_SECS).max(1))
    }
}

/// When a hook runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HookEvent {
    /// Before a backup.
    PreBackup,
    /// After a backup.
    PostBackup,
    /// Before a restore.
    PreRestore,
    /// After a restore.
    PostRestore,
}

impl HookEvent {
    /// `pre-backup`, `post-backup`, `pre-restore` or `post-restore`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::PreBackup => "pre-backup",
            Self::PostBackup => "post-backup",
            Self::PreRestore => "pre-restore",
            Self::PostRestore => "post-restore",
        }
    }
}

/// How the run a post-hook follows ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunResult {
    /// It succeeded, with this snapshot.
    Ok {
        /// The snapshot written or restored.
        snapshot: String,
    },
    /// It failed, for this reason.
    Failed(String),
    /// It was cancelled.
    Cancelled,
}

/// What a hook is about: the stack and, after the run, how it ended.
#[derive(Debug, Clone)]
pub struct HookContext {
    /// The stack's name.
    pub stack: String,
    /// The stack's folder (the hook's working directory).
    pub dir: PathBuf,
    /// The backup destination, when known.
    pub destination: Option<PathBuf>,
    /// For a post-hook: how the run ended.
    pub result: Option<RunResult>,
}

/// A hook that did not succeed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HookError {
    /// The shell could not be started.
    #[error("the {event} hook could not start: {reason}")]
    Spawn {
        /// Which hook.
        event: &'static str,
        /// Why.
        reason: String,
    },
    /// It exited with a failure.
    #[error("the {event} hook failed ({status}){}", tail(output))]
    Failed {
        /// Which hook.
        event: &'static str,
        /// "exit code 3" or "killed by signal 9".
        status: String,
        /// The end of what it printed.
        output: String,
    },
    /// It ran past its time limit and was stopped.
    #[error(
        "the {event} hook ran longer than {secs} s and was stopped{}",
        tail(output)
    )]
    TimedOut {
        /// Which hook.
        event: &'static str,
        /// The limit.
        secs: u64,
        /// The end of what it printed.
        output: String,
    },
}

fn tail(output: &str) -> String {
    let t = output.trim();
    if t.is_empty() {
        String::new()
    } else {
        format!("; it printed: {t}")
    }
}

/// A hook that ran to success.
#[derive(Debug, Clone)]
pub struct HookRun {
    /// The end of what it printed.
    pub output: String,
    /// How long it ran.
    pub duration: Duration,
}

/// Runs the hook for `event`, if the stack has one (`Ok(None)` when not).
///
/// # Errors
/// When it cannot start, fails or runs too long ([`HookError`]).
pub fn run(
    hooks: &Hooks,
    event: HookEvent,
    ctx: &HookContext,
) -> Result<Option<HookRun>, HookError> {
    let Some(command) = hooks.command(event) else {
        return Ok(None);
    };
    run_command(command, event, ctx, hooks.timeout()).map(Some)
}

fn run_command(
    command: &str,
    event: HookEvent,
    ctx: &HookContext,
    limit: Duration,
) -> Result<HookRun, HookError> {
    let name = event.as_str();
    let spawn_err = |e: std::io::Error| HookError::Spawn {
        event: name,
        reason: e.to_string(),
    };
    let (mut reader, writer) = std::io::pipe().map_err(spawn_err)?;
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg(command)
        .current_dir(&ctx.dir)
        .stdin(Stdio::null())
        .stdout(writer.try_clone().map_err(spawn_err)?)
        .stderr(writer)
        .env("LIFEBOAT_EVENT", name)
        .env("LIFEBOAT_STACK", &ctx.stack)
        .env("LIFEBOAT_STACK_DIR", &ctx.dir);
    for v in WITHHELD {
        cmd.env_remove(v);
    }
    if let Some(d) = &ctx.destination {
        cmd.env("LIFEBOAT_DESTINATION", d);
    }
    if let Some(r) = &ctx.result {
        let (result, snapshot, error) = match r {
            RunResult::Ok { snapshot } => ("ok", snapshot.as_str(), ""),
            RunResult::Failed(e) => ("failed", "", e.as_str()),
            RunResult::Cancelled => ("cancelled", "", ""),
        };
        cmd.env("LIFEBOAT_RESULT", result)
            .env("LIFEBOAT_SNAPSHOT", snapshot)
            .env("LIFEBOAT_ERROR", error);
    }
    #[cfg(unix)]
    std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
    let started = Instant::now();
    let mut child = cmd.spawn().map_err(spawn_err)?;
    // The pipe's write ends live in `cmd` until it goes: then EOF comes when the hook and
    // whatever it started have closed theirs.
    drop(cmd);
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut kept: Vec<u8> = Vec::new();
        let mut buf = [0u8; 8192];
        while let Ok(n) = reader.read(&mut buf) {
            if n == 0 {
                break;
            }
            kept.extend_from_slice(&buf[..n]);
            if kept.len() > 2 * OUTPUT_KEPT {
                kept.drain(..kept.len() - OUTPUT_KEPT);
            }
        }
        let _ = tx.send(kept);
    });
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Some(status),
            Ok(None) if started.elapsed() >= limit => break None,
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            Err(e) => return Err(spawn_err(e)),
        }
    };
    if status.is_none() {
        kill_group(&mut child);
    }
    // What the hook left running in the background may hold the pipe: wait a little, then
    // report what came.
    let output = rx
        .recv_timeout(Duration::from_secs(2))
        .map(|k| {
            let from = k.len().saturating_sub(OUTPUT_KEPT);
            String::from_utf8_lossy(&k[from..]).into_owned()
        })
        .unwrap_or_default();
    let Some(status) = status else {
        return Err(HookError::TimedOut {
            event: name,
            secs: limit.as_secs(),
            output,
        });
    };
    if status.success() {
        return Ok(HookRun {
            output,
            duration: started.elapsed(),
        });
    }
    let status = match status.code() {
        Some(c) => format!("exit code {c}"),
        None => {
            #[cfg(unix)]
            let s = std::os::unix::process::ExitStatusExt::signal(&status)
                .map_or_else(|| "killed".to_owned(), |s| format!("killed by signal {s}"));
            #[cfg(not(unix))]
            let s = "killed".to_owned();
            s
        }
    };
    Err(HookError::Failed {
        event: name,
        status,
        output,
    })
}

/// Stops a hook that ran too long, with everything it started.
fn kill_group(child: &mut std::process::Child) {
    #[cfg(unix)]
    if let Some(pid) = rustix::process::Pid::from_raw(child.id() as i32) {
        let _ = rustix::process::kill_process_group(pid, rustix::process::Signal::KILL);
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// The context of a hook for the stack in `dir`.
pub fn context(stack: &str, dir: &Path, destination: Option<&Path>) -> HookContext {
    HookContext {
        stack: stack.to_owned(),
        dir: dir.to_owned(),
        destination: destination.map(Path::to_owned),
        result: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx(dir: &Path) -> HookContext {
        context("chatbot", dir, Some(Path::new("/backups")))
    }

    fn hooks(pre: &str) -> Hooks {
        Hooks {
            pre_backup: Some(pre.into()),
            ..Hooks::default()
        }
    }

    #[test]
    fn a_hook_gets_its_stack_and_runs_in_its_folder() {
        let dir = tempfile::tempdir().unwrap();
        let run = run(
            &hooks("echo \"$LIFEBOAT_EVENT $LIFEBOAT_STACK $LIFEBOAT_DESTINATION\"; pwd"),
            HookEvent::PreBackup,
            &ctx(dir.path()),
        )
        .unwrap()
        .unwrap();
        let canon = dir.path().canonicalize().unwrap();
        assert_eq!(
            run.output,
            format!("pre-backup chatbot /backups\n{}\n", canon.display())
        );
    }

    #[test]
    fn a_post_hook_hears_how_the_run_ended() {
        let dir = tempfile::tempdir().unwrap();
        let h = Hooks {
            post_backup: Some(
                "echo \"$LIFEBOAT_RESULT|$LIFEBOAT_SNAPSHOT|$LIFEBOAT_ERROR\"".into(),
            ),
            ..Hooks::default()
        };
        for (result, said) in [
            (
                RunResult::Ok {
                    snapshot: "20261203-0200".into(),
                },
                "ok|20261203-0200|",
            ),
            (
                RunResult::Failed("the disk is full".into()),
                "failed||the disk is full",
            ),
            (RunResult::Cancelled, "cancelled||"),
        ] {
            let mut c = ctx(dir.path());
            c.result = Some(result);
            let out = run(&h, HookEvent::PostBackup, &c).unwrap().unwrap().output;
            assert_eq!(out.trim(), said);
        }
        assert!(run(&h, HookEvent::PreBackup, &ctx(dir.path()))
            .unwrap()
            .is_none());
    }

    #[test]
    fn a_failing_hook_says_its_exit_code_and_output() {
        let dir = tempfile::tempdir().unwrap();
        let e = run(
            &hooks("echo cannot reach the NAS >&2; exit 3"),
            HookEvent::PreBackup,
            &ctx(dir.path()),
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "the pre-backup hook failed (exit code 3); it printed: cannot reach the NAS"
        );
    }

    #[test]
    fn a_hook_past_its_limit_is_stopped_with_what_it_started() {
        let dir = tempfile::tempdir().unwrap();
        let marker = dir.path().join("survived");
        let h = Hooks {
            pre_backup: Some(format!(
                "echo started; (sleep 3; touch '{}') & sleep 30",
                marker.display()
            )),
            timeout_secs: Some(1),
            ..Hooks::default()
        };
        let t = Instant::now();
        let e = run(&h, HookEvent::PreBackup, &ctx(dir.path())).unwrap_err();
        assert!(t.elapsed() < Duration::from_secs(5), "{:?}", t.elapsed());
        assert_eq!(
            e.to_string(),
            "the pre-backup hook ran longer than 1 s and was stopped; it printed: started"
        );
        std::thread::sleep(Duration::from_secs(3));
        assert!(
            !marker.exists(),
            "the hook's background job was left running"
        );
    }

    #[test]
    fn blank_commands_are_no_hooks() {
        assert!(Hooks::default().is_empty());
        assert!(hooks("  ").is_empty());
        assert!(!hooks("true").is_empty());
        assert_eq!(hooks(" ").command(HookEvent::PreBackup), None);
    }
}
