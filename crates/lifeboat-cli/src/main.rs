//! `lifeboat`: Lifeboat's core from the command line, for servers, cron and scripts.
//! Every verb prints a readable report, or JSON with `--json`. Exit codes: 0 ok, 1 failed,
//! 2 bad usage.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand};
use lifeboat_core::inspect::{human_bytes, inspect_stack, InspectOptions, Inspection};
use lifeboat_core::{CancelToken, Catalog, LoadOptions};

mod progress;
mod restore;
mod schedule;
mod secrets;
mod servers;
mod verbs;

#[derive(Parser)]
#[command(
    name = "lifeboat",
    version,
    about = "Encrypted, consistent backups of Docker Compose stacks"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Show what a stack keeps on disk, its services' state, and what is at risk.
    Inspect {
        /// The folder with the compose file.
        stack_dir: PathBuf,
        /// Compose file to use instead of the default ones (repeatable, merged in order).
        #[arg(short = 'f', long = "file")]
        files: Vec<PathBuf>,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
        /// How many of the largest files to list.
        #[arg(long, default_value_t = 10)]
        largest: usize,
        /// Do not ask the Docker engine (files only).
        #[arg(long)]
        no_docker: bool,
    },
    /// Back up a stack: one encrypted archive per component plus a manifest.
    Backup {
        /// The folder with the compose file.
        stack_dir: PathBuf,
        /// The destination folder (an external drive, a NAS mount).
        #[arg(long = "to")]
        dest: PathBuf,
        /// Only these services (comma-separated; `secrets` for the secrets component).
        #[arg(long, value_delimiter = ',')]
        only: Vec<String>,
        /// Compose file to use instead of the default ones (repeatable).
        #[arg(short = 'f', long = "file")]
        files: Vec<PathBuf>,
        /// auto: dump databases, stop what must stop; hot: never stop anything; cold: stop
        /// every service whose data is backed up.
        #[arg(long, value_enum, default_value = "auto")]
        mode: ModeArg,
        /// In auto mode, also stop these services during the backup (comma-separated).
        #[arg(long, value_delimiter = ',')]
        stop: Vec<String>,
        /// Do not use the Docker engine (files only; running databases are refused).
        #[arg(long)]
        no_docker: bool,
        /// Identity file instead of the keyring (also: LIFEBOAT_IDENTITY).
        #[arg(long)]
        identity: Option<PathBuf>,
        /// Keep a snapshot that lacks something it meant to include (a volume Docker could
        /// not read, unreadable files), marked partial, instead of failing.
        #[arg(long)]
        allow_partial: bool,
        /// Back up a mount Lifeboat leaves out as the system's (`/`, `/var`, `/home`, `/srv`,
        /// …): the mount's host path or a folder above it (repeatable).
        #[arg(long)]
        include: Vec<PathBuf>,
        /// Go on with the backups of this stack's name that the destination holds from
        /// another folder (the stack was moved or copied here).
        #[arg(long)]
        adopt: bool,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// The stack's env files: list, get, set, generate, rotate, check.
    Secrets {
        /// The folder with the compose file.
        stack_dir: PathBuf,
        /// The env file, as `list` names it.
        #[arg(long, default_value = ".env", global = true)]
        file: String,
        /// Print JSON.
        #[arg(long, global = true)]
        json: bool,
        #[command(subcommand)]
        action: secrets::SecretsAction,
    },
    /// List the snapshots in a destination.
    Snapshots {
        /// The destination folder.
        #[arg(long = "to")]
        dest: PathBuf,
        /// Only this stack.
        #[arg(long)]
        stack: Option<String>,
        /// Identity file instead of the keyring.
        #[arg(long)]
        identity: Option<PathBuf>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Check that snapshots can be restored: quick (everything there and decrypts) or --deep
    /// (every archive read and hashed).
    Verify {
        /// The destination folder.
        #[arg(long = "to")]
        dest: PathBuf,
        /// Only this snapshot.
        snapshot: Option<String>,
        /// Read every piece and stream to its end and compare checksums, SQLite databases
        /// and dumps included.
        #[arg(long, conflicts_with = "read_subset")]
        deep: bool,
        /// Also read a random share of the pieces whole (`10%`), a part of a large
        /// destination at a time.
        #[arg(long, value_name = "PERCENT", value_parser = parse_percent)]
        read_subset: Option<u32>,
        /// Identity file instead of the keyring.
        #[arg(long)]
        identity: Option<PathBuf>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Prove a snapshot restorable: restore it into a sandbox, check every file, open every
    /// SQLite database and load every dump into a throwaway container, compare row counts
    /// with those recorded at backup time; the stack is never touched.
    Drill {
        /// The stack's folder (or name it with --stack).
        stack_dir: Option<PathBuf>,
        /// The destination folder that holds the backups.
        #[arg(long = "from")]
        from: PathBuf,
        /// The stack's name in the destination, instead of its folder.
        #[arg(long, conflicts_with = "stack_dir")]
        stack: Option<String>,
        /// The snapshot id (or its beginning); the latest by default.
        #[arg(long, default_value = "latest")]
        snapshot: String,
        /// Where to make the sandbox (it needs room for the whole snapshot); Lifeboat's data
        /// folder by default.
        #[arg(long)]
        scratch: Option<PathBuf>,
        /// Do not use the Docker engine (dumps are then reported as not checked).
        #[arg(long)]
        no_docker: bool,
        /// Identity file instead of the keyring.
        #[arg(long)]
        identity: Option<PathBuf>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Where every stack stands: its last backup and drill with their age and result, its
    /// next scheduled run, and what needs attention (exit 1 when something does).
    Status {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Delete snapshots no rule keeps, then the pieces no remaining snapshot refers to.
    Prune {
        /// The destination folder.
        #[arg(long = "to")]
        dest: PathBuf,
        /// The stack to prune (needed when the destination holds several).
        #[arg(long, conflicts_with = "all")]
        stack: Option<String>,
        /// Prune every stack in the destination.
        #[arg(long)]
        all: bool,
        /// Keep the newest N snapshots.
        #[arg(long, default_value_t = 0)]
        keep_last: u32,
        /// Keep the newest snapshot of each of the last N hours.
        #[arg(long, default_value_t = 0)]
        keep_hourly: u32,
        /// … of each of the last N days.
        #[arg(long, default_value_t = 0)]
        keep_daily: u32,
        /// … of each of the last N weeks.
        #[arg(long, default_value_t = 0)]
        keep_weekly: u32,
        /// … of each of the last N months.
        #[arg(long, default_value_t = 0)]
        keep_monthly: u32,
        /// … of each of the last N years.
        #[arg(long, default_value_t = 0)]
        keep_yearly: u32,
        /// Show what would be deleted; delete nothing.
        #[arg(long)]
        dry_run: bool,
        /// Identity file instead of the keyring.
        #[arg(long)]
        identity: Option<PathBuf>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Restore a snapshot (or part of it), with a plan first and the replaced files kept
    /// for `--undo`.
    Restore {
        /// The snapshot id (or its beginning), or `latest`.
        snapshot: Option<String>,
        /// The destination folder that holds the backups.
        #[arg(long = "from")]
        from: Option<PathBuf>,
        /// The stack, when the destination holds several.
        #[arg(long)]
        stack: Option<String>,
        /// Only these components (comma-separated): `secrets`, a service's name, or
        /// `service-NAME`.
        #[arg(long, value_delimiter = ',')]
        only: Vec<String>,
        /// Restore into this folder instead of the stack's own (side by side, or a new
        /// machine).
        #[arg(long)]
        into: Option<PathBuf>,
        /// Only this one file (as the snapshot names it, relative to the stack folder),
        /// written into the `--into` folder; reads only the pieces that hold it.
        #[arg(long, requires = "into", conflicts_with_all = ["only", "undo", "dry_run", "paths"])]
        file: Option<String>,
        /// Print the plan and change nothing.
        #[arg(long)]
        dry_run: bool,
        /// Do not ask for confirmation.
        #[arg(long)]
        yes: bool,
        /// List every added, changed and removed path in the plan.
        #[arg(long)]
        paths: bool,
        /// Put back what the last restore replaced.
        #[arg(long, conflicts_with_all = ["snapshot", "dry_run"])]
        undo: bool,
        /// Do not use the Docker engine.
        #[arg(long)]
        no_docker: bool,
        /// Identity file instead of the keyring.
        #[arg(long)]
        identity: Option<PathBuf>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Manage the backup key.
    Key {
        #[command(subcommand)]
        action: KeyAction,
    },
    /// When backups run on their own: set, show, off, pause, resume, and `run` (the
    /// scheduler for machines without the desktop app).
    Schedule {
        /// Print JSON.
        #[arg(long, global = true)]
        json: bool,
        #[command(subcommand)]
        action: schedule::ScheduleAction,
    },
    /// Where alerts go beside the desktop: ntfy, Gotify, webhooks, mail, health-check pings.
    Notify {
        /// Print JSON.
        #[arg(long, global = true)]
        json: bool,
        #[command(subcommand)]
        action: servers::NotifyAction,
    },
    /// Commands run before and after a stack's backups and restores: set them, or show
    /// them when no option is given. An empty command removes that hook.
    Hooks {
        /// The folder with the compose file.
        stack_dir: PathBuf,
        #[command(flatten)]
        hooks: servers::HookArgs,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Run `lifeboat schedule run` as a systemd service: install, status, uninstall.
    Service {
        #[command(subcommand)]
        action: servers::ServiceAction,
    },
}

#[derive(Subcommand)]
enum KeyAction {
    /// Create the backup key (in the system keyring, or in --identity FILE).
    Init {
        /// Write the key to this new file instead of the keyring.
        #[arg(long)]
        identity: Option<PathBuf>,
    },
    /// Print the key's public recipient (safe to share).
    Recipient {
        /// Identity file instead of the keyring.
        #[arg(long)]
        identity: Option<PathBuf>,
    },
    /// Write the key, encrypted with a passphrase you choose, into a destination folder. The
    /// passphrase is read from the terminal (or one line of standard input), never argv.
    ExportRecovery {
        /// The destination folder.
        #[arg(long = "to")]
        dest: PathBuf,
        /// Identity file instead of the keyring.
        #[arg(long)]
        identity: Option<PathBuf>,
    },
    /// Check that your recovery passphrase opens the destination's recovery file and that it
    /// holds the key in use (nothing is shown).
    TestPassphrase {
        /// The destination folder.
        #[arg(long = "from")]
        dest: PathBuf,
        /// Identity file instead of the keyring.
        #[arg(long)]
        identity: Option<PathBuf>,
    },
    /// Write a printable recovery kit (what Lifeboat is, where the backups are, the steps to
    /// recover) into the destination. It holds no secret.
    RecoveryKit {
        /// The destination folder.
        #[arg(long = "to")]
        dest: PathBuf,
        /// Identity file instead of the keyring.
        #[arg(long)]
        identity: Option<PathBuf>,
    },
    /// Recover the key from a destination's recovery file with its passphrase, into the
    /// keyring (or --identity FILE).
    ImportRecovery {
        /// The destination folder.
        #[arg(long = "from")]
        dest: PathBuf,
        /// Write the key to this new file instead of the keyring.
        #[arg(long)]
        identity: Option<PathBuf>,
    },
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum ModeArg {
    Auto,
    Hot,
    Cold,
}

/// Puts right what a crash (`kill -9`) interrupted ([`lifeboat_core::recovery`]).
fn recover_interrupted(runtime: &tokio::runtime::Runtime) {
    let Ok(catalog) = Catalog::open_default() else {
        return;
    };
    if !lifeboat_core::recovery::pending(&catalog) {
        return;
    }
    let engine =
        lifeboat_core::docker::BlockingEngine::connect(None, runtime.handle().clone()).ok();
    for line in lifeboat_core::recovery::after_crash(&catalog, engine.as_ref()) {
        eprintln!("lifeboat: {line}");
    }
}

fn main() -> ExitCode {
    quiet_on_closed_pipe();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("LIFEBOAT_LOG")
                .unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let runtime = match tokio_runtime() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("lifeboat: cannot start: {e}");
            return ExitCode::FAILURE;
        }
    };
    recover_interrupted(&runtime);
    match cli.command {
        Command::Inspect {
            stack_dir,
            files,
            json,
            largest,
            no_docker,
        } => inspect(&runtime, stack_dir, files, json, largest, no_docker),
        Command::Backup {
            stack_dir,
            dest,
            only,
            files,
            mode,
            stop,
            no_docker,
            identity,
            allow_partial,
            include,
            adopt,
            json,
        } => {
            let mode = match mode {
                ModeArg::Auto => lifeboat_core::backup::Mode::Auto,
                ModeArg::Hot => lifeboat_core::backup::Mode::Hot,
                ModeArg::Cold => lifeboat_core::backup::Mode::Cold,
            };
            let engine = engine(&runtime, no_docker, json);
            verbs::backup(
                &stack_dir,
                &dest,
                verbs::BackupArgs {
                    only,
                    files,
                    mode,
                    stop,
                    engine,
                    allow_partial,
                    include,
                    adopt,
                },
                identity.as_deref(),
                json,
            )
        }
        Command::Snapshots {
            dest,
            stack,
            identity,
            json,
        } => verbs::snapshots(&dest, stack.as_deref(), identity.as_deref(), json),
        Command::Verify {
            dest,
            snapshot,
            deep,
            read_subset,
            identity,
            json,
        } => verbs::verify(
            &dest,
            snapshot.as_deref(),
            (deep, read_subset),
            identity.as_deref(),
            json,
        ),
        Command::Drill {
            stack_dir,
            from,
            stack,
            snapshot,
            scratch,
            no_docker,
            identity,
            json,
        } => {
            let engine = engine(&runtime, no_docker, json);
            verbs::drill(
                verbs::DrillArgs {
                    stack_dir,
                    from,
                    stack,
                    snapshot,
                    scratch,
                    engine,
                },
                identity.as_deref(),
                json,
            )
        }
        Command::Status { json } => verbs::status(json),
        Command::Notify { json, action } => servers::notify(action, json),
        Command::Hooks {
            stack_dir,
            hooks,
            json,
        } => servers::hooks(&stack_dir, hooks, json),
        Command::Service { action } => servers::service(action),
        Command::Prune {
            dest,
            stack,
            all,
            keep_last,
            keep_hourly,
            keep_daily,
            keep_weekly,
            keep_monthly,
            keep_yearly,
            dry_run,
            identity,
            json,
        } => {
            let keep = lifeboat_core::backup::prune::Keep {
                last: keep_last,
                hourly: keep_hourly,
                daily: keep_daily,
                weekly: keep_weekly,
                monthly: keep_monthly,
                yearly: keep_yearly,
            };
            verbs::prune(
                &dest,
                verbs::PruneWhich { stack, all },
                &keep,
                dry_run,
                identity.as_deref(),
                json,
            )
        }
        Command::Secrets {
            stack_dir,
            file,
            json,
            action,
        } => secrets::run(&stack_dir, &file, action, json),
        Command::Schedule { json, action } => schedule::run_action(&runtime, action, json),
        Command::Restore {
            snapshot,
            from,
            stack,
            only,
            into,
            file,
            dry_run,
            yes,
            paths,
            undo,
            no_docker,
            identity,
            json,
        } => {
            if let (Some(file), Some(into)) = (file, &into) {
                return restore::one_file(restore::OneFileArgs {
                    snapshot,
                    from,
                    stack,
                    file,
                    into: into.clone(),
                    identity,
                    json,
                });
            }
            let engine = engine(&runtime, no_docker, json);
            restore::run(restore::RestoreArgs {
                snapshot,
                from,
                stack,
                only,
                into,
                dry_run,
                yes,
                undo,
                paths,
                identity,
                json,
                engine,
            })
        }
        Command::Key { action } => match action {
            KeyAction::Init { identity } => verbs::key_init(identity.as_deref()),
            KeyAction::Recipient { identity } => verbs::key_recipient(identity.as_deref()),
            KeyAction::ExportRecovery { dest, identity } => {
                verbs::key_export(&dest, identity.as_deref())
            }
            KeyAction::TestPassphrase { dest, identity } => {
                verbs::key_test(&dest, identity.as_deref())
            }
            KeyAction::RecoveryKit { dest, identity } => verbs::key_kit(&dest, identity.as_deref()),
            KeyAction::ImportRecovery { dest, identity } => {
                verbs::key_import(&dest, identity.as_deref())
            }
        },
    }
}

fn inspect(
    runtime: &tokio::runtime::Runtime,
    stack_dir: PathBuf,
    files: Vec<PathBuf>,
    json: bool,
    largest: usize,
    no_docker: bool,
) -> ExitCode {
    // -f paths are relative to where the command runs, as with docker compose.
    let cwd = std::env::current_dir().unwrap_or_default();
    let load = LoadOptions {
        files: files.iter().map(|f| cwd.join(f)).collect(),
        use_process_env: true,
    };
    let opts = InspectOptions {
        largest,
        use_docker: !no_docker,
        ..InspectOptions::default()
    };
    let result = runtime.block_on(async {
        let catalog = Catalog::open_default()?;
        let progress: Arc<dyn lifeboat_core::Progress> = if !json && std::io::stderr().is_terminal()
        {
            Arc::new(progress::Terminal::default())
        } else {
            Arc::new(lifeboat_core::job::NoProgress)
        };
        let out = inspect_stack(
            &catalog,
            &stack_dir,
            &load,
            opts,
            progress,
            &CancelToken::new(),
        )
        .await;
        progress::clear_line();
        Ok::<_, Box<dyn std::error::Error>>(out?)
    });
    match result {
        Ok((_, inspection)) => {
            if json {
                match serde_json::to_string_pretty(&inspection) {
                    Ok(s) => println!("{s}"),
                    Err(e) => {
                        eprintln!("lifeboat: cannot write JSON: {e}");
                        return ExitCode::FAILURE;
                    }
                }
            } else {
                print_inspection(&inspection);
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("lifeboat: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The Docker engine unless `--no-docker`; when none answers, says so (except for JSON)
/// and carries on without.
fn engine(
    runtime: &tokio::runtime::Runtime,
    no_docker: bool,
    json: bool,
) -> Option<lifeboat_core::docker::BlockingEngine> {
    if no_docker {
        return None;
    }
    lifeboat_core::docker::BlockingEngine::connect(None, runtime.handle().clone())
        .map_err(|e| {
            if !json {
                eprintln!("lifeboat: {e}");
            }
        })
        .ok()
}

fn tokio_runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
}

fn print_inspection(i: &Inspection) {
    println!("Stack {}  ({})", i.stack.name, i.stack.dir);
    println!("Compose files: {}", i.stack.compose_files.join(", "));
    for (what, list) in [
        ("Compose secrets files", &i.stack.secret_files),
        ("Compose configs files", &i.stack.config_files),
        ("Build contexts", &i.stack.build_contexts),
    ] {
        if !list.is_empty() {
            println!("{what}: {}", list.join(", "));
        }
    }
    if !i.docker.reachable {
        println!(
            "Docker: not reachable at {} (states unknown)",
            i.docker.host
        );
    }
    println!();
    print_service_table(i);
    print_mount_table(i);
    print!(
        "Total {} in {} files",
        human_bytes(i.total_bytes),
        i.total_files
    );
    if let Some(free) = i.free_bytes {
        print!(", {} free on its disk", human_bytes(free));
    }
    println!();
    if !i.largest_files.is_empty() {
        println!("\nLargest files:");
        for f in &i.largest_files {
            println!("  {:>10}  {}", human_bytes(f.bytes), f.path);
        }
    }
    if !i.warnings.is_empty() {
        println!("\nWarnings ({}):", i.warnings.len());
        for w in &i.warnings {
            let code = serde_json::to_value(w.code)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default();
            println!("  [{code}] {}", w.message);
            if let Some(r) = &w.remedy {
                println!(
                    "      run: {}",
                    r.command(std::path::Path::new(&i.stack.dir))
                );
            }
        }
    }
}

fn print_service_table(i: &Inspection) {
    let rows: Vec<[String; 6]> = i
        .services
        .iter()
        .map(|s| {
            let growth = match s.growth_bytes {
                Some(g) if g > 0 => format!("+{}", human_bytes(g as u64)),
                Some(g) if g < 0 => format!("-{}", human_bytes(g.unsigned_abs())),
                Some(_) => "±0".into(),
                None => "".into(),
            };
            let state = match &s.health {
                Some(h) => format!("{} ({h})", s.state),
                None => s.state.clone(),
            };
            let profiles = if s.profiles.is_empty() {
                String::new()
            } else {
                format!(" [{}]", s.profiles.join(","))
            };
            [
                format!("{}{profiles}", s.name),
                s.kind.as_str().to_owned(),
                state,
                match (s.fully_measured(), s.bytes) {
                    (true, b) => human_bytes(b),
                    (false, 0) => "not measured".into(),
                    (false, b) => format!("{}+", human_bytes(b)),
                },
                s.files.to_string(),
                growth,
            ]
        })
        .collect();
    print_table(
        &["SERVICE", "KIND", "STATE", "SIZE", "FILES", "GROWTH"],
        &rows,
    );
    println!();
}

fn print_mount_table(i: &Inspection) {
    let mut mounts: Vec<[String; 5]> = Vec::new();
    for s in &i.services {
        for m in &s.mounts {
            let source = m
                .mount
                .host_path
                .as_ref()
                .map(|p| p.display().to_string())
                .or_else(|| m.mount.volume_name.clone())
                .or_else(|| m.mount.source.clone())
                .unwrap_or_else(|| "(anonymous)".into());
            let size = match m.measured_by {
                lifeboat_core::inspect::SizeSource::None if m.system => "system".into(),
                lifeboat_core::inspect::SizeSource::None => "-".into(),
                _ => human_bytes(m.bytes),
            };
            let kind = format!(
                "{:?}{}",
                m.mount.kind,
                if m.mount.read_only { " ro" } else { "" }
            )
            .to_lowercase();
            mounts.push([s.name.clone(), kind, m.mount.target.clone(), source, size]);
        }
    }
    if !mounts.is_empty() {
        print_table(&["SERVICE", "TYPE", "TARGET", "SOURCE", "SIZE"], &mounts);
        println!();
    }
}

fn print_table<const N: usize>(header: &[&str; N], rows: &[[String; N]]) {
    let mut widths = header.map(|h| h.chars().count());
    for r in rows {
        for (w, c) in widths.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let parts: Vec<String> = cells
            .iter()
            .zip(widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        println!("{}", parts.join("  ").trim_end());
    };
    line(header.to_vec());
    for r in rows {
        line(r.iter().map(String::as_str).collect());
    }
}

/// `lifeboat inspect | head`: when the reader closes the pipe, stop quietly with the status a
/// shell gives a command killed by SIGPIPE (128 + 13), as `cat` and `grep` do, instead of
/// panicking with "failed printing to stdout".
fn quiet_on_closed_pipe() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let payload = info.payload();
        let msg = payload
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| payload.downcast_ref::<&str>().copied())
            .unwrap_or_default();
        if msg.starts_with("failed printing to stdout") && msg.contains("Broken pipe") {
            std::process::exit(141);
        }
        default(info);
    }));
}

/// `10%` or `10`: a share from 1 to 100 percent.
fn parse_percent(s: &str) -> Result<u32, String> {
    let n: u32 = s
        .trim_end_matches('%')
        .parse()
        .map_err(|_| format!("{s:?} is not a percentage such as 10%"))?;
    if (1..=100).contains(&n) {
        Ok(n)
    } else {
        Err(format!("{s}: give a share from 1% to 100%"))
    }
}
