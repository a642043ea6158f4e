//! For servers without a desktop: `lifeboat notify` (channels to phone, mail, webhooks and
//! health checks), `lifeboat hooks` (commands around a stack's backups and restores) and
//! `lifeboat service` (a systemd unit for `lifeboat schedule run`).

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use age::secrecy::SecretString;
use clap::Subcommand;
use lifeboat_core::hooks::Hooks;
use lifeboat_core::notify::{self, Channel, ChannelKind, ChannelLevel, SmtpSecurity};
use lifeboat_core::{Catalog, LoadOptions};
use serde::Serialize;

use crate::verbs::{finish, finish_json, print_json, Result};

#[derive(Subcommand)]
#[allow(clippy::large_enum_variant)] // parsed once per run
pub enum NotifyAction {
    /// Add (or replace) a channel. Its token or password, if it has one, is read from the
    /// terminal or one line of standard input with --secret (never from the command line).
    /// Adding a channel again replaces it whole, its secret too: give --secret again.
    Add {
        /// The channel's name ("phone", "mail").
        name: String,
        /// An ntfy topic URL (https://ntfy.sh/my-backups).
        #[arg(long, group = "kind")]
        ntfy: Option<String>,
        /// A Gotify server URL (its application token is the secret).
        #[arg(long, group = "kind")]
        gotify: Option<String>,
        /// A URL that gets a JSON body per event (the secret, if any, signs it).
        #[arg(long, group = "kind")]
        webhook: Option<String>,
        /// A health-check URL (Healthchecks.io, Uptime Kuma push): pinged at every backup's
        /// start and end.
        #[arg(long, group = "kind")]
        ping: Option<String>,
        /// A mail server, HOST or HOST:PORT (587 unless given).
        #[arg(long, group = "kind", requires_all = ["from", "to"])]
        smtp: Option<String>,
        /// How the mail connection is protected.
        #[arg(long, value_enum, default_value = "starttls")]
        security: SecurityArg,
        /// The sender address.
        #[arg(long)]
        from: Option<String>,
        /// The recipients (comma-separated).
        #[arg(long, value_delimiter = ',')]
        to: Vec<String>,
        /// The mail server's login (its password is the secret).
        #[arg(long)]
        user: Option<String>,
        /// Which alerts: failures only, also warnings (stale, full, growth, no drill), or
        /// all (also successes).
        #[arg(long, value_enum, default_value = "warnings")]
        level: LevelArg,
        /// Only these stacks (by name, comma-separated); all by default.
        #[arg(long, value_delimiter = ',')]
        stacks: Vec<String>,
        /// Read the channel's token, password or signing key.
        #[arg(long)]
        secret: bool,
    },
    /// List the channels (their secrets are never shown).
    List,
    /// Remove a channel and its secret.
    Remove {
        /// The channel's name.
        name: String,
    },
    /// Send a test message through one channel, or all, and say what failed.
    Test {
        /// The channel's name; every channel when left out.
        name: Option<String>,
    },
}

#[derive(Clone, Copy, clap::ValueEnum)]
pub enum SecurityArg {
    Starttls,
    Tls,
    None,
}

#[derive(Clone, Copy, clap::ValueEnum)]
pub enum LevelArg {
    Failures,
    Warnings,
    All,
}

fn read_secret(what: &str) -> Result<SecretString> {
    let v = if std::io::stdin().is_terminal() {
        rpassword::prompt_password(format!("The {what}: "))?
    } else {
        let mut line = String::new();
        std::io::stdin().read_line(&mut line)?;
        line.trim_end_matches(['\r', '\n']).to_owned()
    };
    if v.is_empty() {
        return Err(format!("no {what} was given; nothing was saved").into());
    }
    Ok(SecretString::from(v))
}

#[derive(Serialize)]
struct Listed<'a> {
    #[serde(flatten)]
    channel: &'a Channel,
    has_secret: bool,
}

/// Runs `lifeboat notify …`.
pub fn notify(action: NotifyAction, json: bool) -> ExitCode {
    finish_json(
        json,
        (|| {
            let catalog = Catalog::open_default()?;
            match action {
                NotifyAction::Add {
                    name,
                    ntfy,
                    gotify,
                    webhook,
                    ping,
                    smtp,
                    security,
                    from,
                    to,
                    user,
                    level,
                    stacks,
                    secret,
                } => {
                    let kind = if let Some(url) = ntfy {
                        ChannelKind::Ntfy { url }
                    } else if let Some(url) = gotify {
                        ChannelKind::Gotify { url }
                    } else if let Some(url) = webhook {
                        ChannelKind::Webhook { url }
                    } else if let Some(url) = ping {
                        ChannelKind::Ping { url }
                    } else if let Some(server) = smtp {
                        let security = match security {
                            SecurityArg::Starttls => SmtpSecurity::Starttls,
                            SecurityArg::Tls => SmtpSecurity::Tls,
                            SecurityArg::None => SmtpSecurity::None,
                        };
                        let (host, port) = match server.rsplit_once(':') {
                            Some((h, p)) => (
                                h.to_owned(),
                                p.parse()
                                    .map_err(|_| format!("{p:?} is not a port number"))?,
                            ),
                            None => (
                                server,
                                if security == SmtpSecurity::Tls {
                                    465
                                } else {
                                    587
                                },
                            ),
                        };
                        ChannelKind::Email {
                            server: host,
                            port,
                            security,
                            from: from.unwrap_or_default(),
                            to,
                            user,
                        }
                    } else {
                        return Err(
                            "say where: --ntfy, --gotify, --webhook, --ping or --smtp".into()
                        );
                    };
                    let what = match &kind {
                        ChannelKind::Email { .. } => "mail password",
                        ChannelKind::Webhook { .. } => "signing key",
                        ChannelKind::Gotify { .. } => "application token",
                        _ => "access token",
                    };
                    let secret = if secret {
                        Some(read_secret(what)?)
                    } else {
                        None
                    };
                    let channel = Channel {
                        name: name.clone(),
                        kind,
                        level: match level {
                            LevelArg::Failures => ChannelLevel::Failures,
                            LevelArg::Warnings => ChannelLevel::Warnings,
                            LevelArg::All => ChannelLevel::All,
                        },
                        stacks,
                    };
                    let place = notify::save(&catalog, channel, secret.as_ref())?;
                    if json {
                        return print_json(&serde_json::json!({
                            "saved": name,
                            "secret_in": place.as_ref().map(ToString::to_string),
                        }));
                    }
                    println!("Channel {name} saved.");
                    if let Some(p) = place {
                        println!("  its {what} is kept in {p}");
                    }
                    println!("  `lifeboat notify test {name}` sends a test message.");
                    Ok(())
                }
                NotifyAction::List => {
                    let all = notify::channels(&catalog)?;
                    if json {
                        let listed: Vec<_> = all
                            .iter()
                            .map(|c| Listed {
                                channel: c,
                                has_secret: notify::secret::get(&c.name).ok().flatten().is_some(),
                            })
                            .collect();
                        return print_json(&listed);
                    }
                    if all.is_empty() {
                        println!("No notification channels: `lifeboat notify add NAME --ntfy URL` adds one.");
                    }
                    for c in &all {
                        let level = match c.level {
                            ChannelLevel::Failures => "failures",
                            ChannelLevel::Warnings => "failures and warnings",
                            ChannelLevel::All => "everything",
                        };
                        let level = if matches!(c.kind, ChannelKind::Ping { .. }) {
                            "every backup's start and end"
                        } else {
                            level
                        };
                        let stacks = if c.stacks.is_empty() {
                            String::new()
                        } else {
                            format!(" · only {}", c.stacks.join(", "))
                        };
                        println!(
                            "{}: {} {} · {level}{stacks}",
                            c.name,
                            c.kind.as_str(),
                            c.kind.target()
                        );
                    }
                    Ok(())
                }
                NotifyAction::Remove { name } => {
                    notify::remove(&catalog, &name)?;
                    if !json {
                        println!("Channel {name} removed, with its secret.");
                    }
                    Ok(())
                }
                NotifyAction::Test { name } => {
                    let sent = notify::test(&catalog, name.as_deref())?;
                    if sent.is_empty() {
                        return Err("there are no notification channels to test; `lifeboat notify add` adds one".into());
                    }
                    let failed = sent.iter().filter(|d| d.result.is_err()).count();
                    if json {
                        let rows: Vec<_> = sent
                            .iter()
                            .map(|d| {
                                serde_json::json!({
                                    "channel": d.channel,
                                    "ok": d.result.is_ok(),
                                    "error": d.result.as_ref().err().map(ToString::to_string),
                                })
                            })
                            .collect();
                        print_json(&rows)?;
                    } else {
                        for d in &sent {
                            match &d.result {
                                Ok(()) => println!("{}: sent", d.channel),
                                Err(e) => println!("{}: NOT sent: {e}", d.channel),
                            }
                        }
                    }
                    if failed > 0 {
                        return Err(crate::verbs::Reported(format!(
                            "{failed} of {} channel(s) could not be reached",
                            sent.len()
                        ))
                        .into());
                    }
                    Ok(())
                }
            }
        })(),
    )
}

/// What `lifeboat hooks STACK_DIR` changes.
#[derive(clap::Args)]
pub struct HookArgs {
    /// Before each backup (`sh -c`, in the stack's folder); its failure stops the backup.
    #[arg(long, value_name = "CMD")]
    pub pre_backup: Option<String>,
    /// After each backup, whatever its result (LIFEBOAT_RESULT: ok, failed, cancelled).
    #[arg(long, value_name = "CMD")]
    pub post_backup: Option<String>,
    /// Before each restore; its failure stops the restore.
    #[arg(long, value_name = "CMD")]
    pub pre_restore: Option<String>,
    /// After each restore, whatever its result.
    #[arg(long, value_name = "CMD")]
    pub post_restore: Option<String>,
    /// Seconds each hook may run before it is stopped (300 unless set).
    #[arg(long, value_name = "SECS")]
    pub timeout: Option<u64>,
    /// Remove every hook first.
    #[arg(long)]
    pub clear: bool,
}

/// Runs `lifeboat hooks STACK_DIR [--pre-backup CMD …]`: sets what is given (an empty
/// command removes that hook), then shows the stack's hooks.
pub fn hooks(stack_dir: &Path, args: HookArgs, json: bool) -> ExitCode {
    finish_json(
        json,
        (|| {
            let catalog = Catalog::open_default()?;
            let project = lifeboat_core::stack::load(stack_dir, &LoadOptions::default())?;
            let stack = lifeboat_core::settings::add_stack(&catalog, &project)?;
            let mut settings = catalog.settings(stack.id)?;
            let h = &mut settings.hooks;
            if args.clear {
                *h = Hooks::default();
            }
            let set = |slot: &mut Option<String>, v: Option<String>| {
                if let Some(v) = v {
                    *slot = (!v.trim().is_empty()).then_some(v);
                }
            };
            let changed = args.clear
                || args.pre_backup.is_some()
                || args.post_backup.is_some()
                || args.pre_restore.is_some()
                || args.post_restore.is_some()
                || args.timeout.is_some();
            set(&mut h.pre_backup, args.pre_backup);
            set(&mut h.post_backup, args.post_backup);
            set(&mut h.pre_restore, args.pre_restore);
            set(&mut h.post_restore, args.post_restore);
            if let Some(t) = args.timeout {
                h.timeout_secs = Some(t);
            }
            if changed {
                catalog.save_settings(stack.id, &settings)?;
            }
            let h = &settings.hooks;
            if json {
                return print_json(h);
            }
            if h.is_empty() {
                println!("{}: no hooks.", stack.name);
                return Ok(());
            }
            println!("{}:", stack.name);
            for (what, cmd) in [
                ("before a backup", &h.pre_backup),
                ("after a backup", &h.post_backup),
                ("before a restore", &h.pre_restore),
                ("after a restore", &h.post_restore),
            ] {
                if let Some(c) = cmd {
                    println!("  {what}: {c}");
                }
            }
            println!(
                "  each may run {} s",
                h.timeout_secs
                    .unwrap_or(lifeboat_core::hooks::DEFAULT_TIMEOUT_SECS)
            );
            Ok(())
        })(),
    )
}

#[derive(Subcommand)]
pub enum ServiceAction {
    /// Write a systemd unit for `lifeboat schedule run`, enable it and start it.
    Install {
        /// For your user's session (systemctl --user) instead of system-wide as root.
        #[arg(long)]
        user: bool,
    },
    /// Print the unit `install` would write (for those who manage their units themselves).
    Unit {
        /// The user's unit.
        #[arg(long)]
        user: bool,
    },
    /// Say whether the service is installed, enabled and running.
    Status {
        /// The user's service.
        #[arg(long)]
        user: bool,
    },
    /// Stop and disable the service and remove its unit.
    Uninstall {
        /// The user's service.
        #[arg(long)]
        user: bool,
    },
}

/// The unit's name.
const UNIT: &str = "lifeboat.service";

/// Lifeboat's settings carried from the installing shell into the unit: paths and
/// addresses, never a secret (no passphrase; the key itself stays where it is).
const CARRIED: [&str; 8] = [
    "LIFEBOAT_HOME",
    "LIFEBOAT_IDENTITY",
    "LIFEBOAT_DESTINATION",
    "LIFEBOAT_KEYRING_SERVICE",
    "LIFEBOAT_NO_KEYRING",
    "LIFEBOAT_LOG",
    "LIFEBOAT_TICK_SECS",
    "DOCKER_HOST",
];

/// The [`CARRIED`] settings of this shell, paths made absolute (a relative path would mean
/// something else to systemd).
fn carried() -> Vec<(String, String)> {
    CARRIED
        .iter()
        .filter_map(|k| {
            let v = std::env::var(k).ok().filter(|v| !v.is_empty())?;
            let v = if k.ends_with("_HOME")
                || k.ends_with("_IDENTITY")
                || k.ends_with("_DESTINATION")
            {
                std::path::absolute(&v).map_or(v, |p| p.display().to_string())
            } else {
                v
            };
            Some(((*k).to_owned(), v))
        })
        .collect()
}

fn unit_path(user: bool) -> Result<PathBuf> {
    if user {
        let config = std::env::var_os("XDG_CONFIG_HOME")
            .map(PathBuf::from)
            .or_else(|| dirs::home_dir().map(|h| h.join(".config")))
            .ok_or("no home folder to put the user's unit in")?;
        Ok(config.join("systemd/user").join(UNIT))
    } else {
        Ok(PathBuf::from("/etc/systemd/system").join(UNIT))
    }
}

/// Quotes a value for a unit file's `Environment=` / `ExecStart=`.
fn unit_quote(v: &str) -> String {
    let escaped = v
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('%', "%%")
        .replace('$', "$$");
    format!("\"{escaped}\"")
}

/// The unit file's text for `exe`.
pub fn unit_text(exe: &Path, user: bool, env: &[(String, String)]) -> String {
    let mut t = String::from(
        "# Written by `lifeboat service install`; `lifeboat service uninstall` removes it.\n\
         [Unit]\n\
         Description=Lifeboat: scheduled backups and restore drills of Docker Compose stacks\n",
    );
    if !user {
        t.push_str("Wants=network-online.target\nAfter=network-online.target docker.service\n");
    }
    t.push_str("\n[Service]\nType=simple\n");
    t.push_str(&format!(
        "ExecStart={} schedule run\n",
        unit_quote(&exe.display().to_string())
    ));
    for (k, v) in env {
        t.push_str(&format!(
            "Environment={}\n",
            unit_quote(&format!("{k}={v}"))
        ));
    }
    t.push_str(
        "Restart=on-failure\n\
         RestartSec=60\n\
         TimeoutStopSec=300\n\
         Nice=10\n\
         IOSchedulingClass=best-effort\n\
         IOSchedulingPriority=7\n\
         StandardOutput=journal\n\
         StandardError=journal\n\
         SyslogIdentifier=lifeboat\n\
         \n[Install]\n",
    );
    t.push_str(if user {
        "WantedBy=default.target\n"
    } else {
        "WantedBy=multi-user.target\n"
    });
    t
}

fn systemctl(user: bool, args: &[&str]) -> Result<String> {
    let mut cmd = Command::new("systemctl");
    if user {
        cmd.arg("--user");
    }
    let out = cmd
        .args(args)
        .output()
        .map_err(|e| format!("systemctl could not run ({e}): is systemd installed?"))?;
    let text = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    if out.status.success()
        || args.first() == Some(&"is-active")
        || args.first() == Some(&"is-enabled")
    {
        return Ok(text);
    }
    let err = String::from_utf8_lossy(&out.stderr).trim().to_owned();
    Err(format!(
        "`systemctl {}{}` failed: {err}",
        if user { "--user " } else { "" },
        args.join(" ")
    )
    .into())
}

/// Runs `lifeboat service …`.
pub fn service(action: ServiceAction) -> ExitCode {
    finish((|| match action {
        ServiceAction::Unit { user } => {
            print!("{}", unit_text(&std::env::current_exe()?, user, &carried()));
            Ok(())
        }
        ServiceAction::Install { user } => {
            let path = unit_path(user)?;
            if !user && !rustix::process::geteuid().is_root() {
                return Err("a system-wide service is installed as root (sudo lifeboat service install), or use --user for your session".into());
            }
            let exe = std::env::current_exe()?;
            let env = carried();
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
            }
            std::fs::write(&path, unit_text(&exe, user, &env))
                .map_err(|e| format!("{}: {e}", path.display()))?;
            println!("Wrote {}.", path.display());
            if !user && std::env::var_os("LIFEBOAT_IDENTITY").is_none() {
                println!(
                    "  Note: a system service has no keyring session; if the backup key is only \
                     in your keyring, keep it in a file (`lifeboat key init --identity FILE`, or \
                     `lifeboat key import-recovery --identity FILE`) and install with \
                     LIFEBOAT_IDENTITY=FILE set."
                );
            }
            systemctl(user, &["daemon-reload"])?;
            systemctl(user, &["enable", "--now", UNIT])?;
            let active = systemctl(user, &["is-active", UNIT])?;
            println!(
                "The service is enabled and {active}; it starts at {}.",
                if user { "your login" } else { "boot" }
            );
            println!(
                "  Its log: journalctl {}-u lifeboat (one line per backup and drill).",
                if user { "--user " } else { "" }
            );
            Ok(())
        }
        ServiceAction::Status { user } => {
            let path = unit_path(user)?;
            if !path.exists() {
                println!(
                    "Not installed ({} does not exist): `lifeboat service install{}` installs it.",
                    path.display(),
                    if user { " --user" } else { "" }
                );
                return Err(crate::verbs::Reported("the service is not installed".into()).into());
            }
            let enabled = systemctl(user, &["is-enabled", UNIT])?;
            let active = systemctl(user, &["is-active", UNIT])?;
            println!("{}: {enabled}, {active}", path.display());
            if active != "active" {
                return Err(crate::verbs::Reported(format!("the service is {active}")).into());
            }
            Ok(())
        }
        ServiceAction::Uninstall { user } => {
            let path = unit_path(user)?;
            if !path.exists() {
                println!("Not installed; nothing to remove.");
                return Ok(());
            }
            // Stopping it cancels a running backup, which starts the services it stopped
            // again before the process ends (SIGTERM; the unit allows 5 minutes for it).
            let _ = systemctl(user, &["disable", "--now", UNIT]);
            std::fs::remove_file(&path).map_err(|e| format!("{}: {e}", path.display()))?;
            let _ = systemctl(user, &["daemon-reload"]);
            println!("Stopped, disabled and removed {}.", path.display());
            Ok(())
        }
    })())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unit_values_are_quoted_for_systemd() {
        assert_eq!(unit_quote("a b"), "\"a b\"");
        assert_eq!(unit_quote("50%$HOME\"x\\"), "\"50%%$$HOME\\\"x\\\\\"");
        let t = unit_text(
            Path::new("/opt/life boat/lifeboat"),
            true,
            &[("LIFEBOAT_HOME".into(), "/srv/lb".into())],
        );
        assert!(
            t.contains("ExecStart=\"/opt/life boat/lifeboat\" schedule run\n"),
            "{t}"
        );
        assert!(t.contains("Environment=\"LIFEBOAT_HOME=/srv/lb\"\n"), "{t}");
        assert!(t.contains("WantedBy=default.target"), "{t}");
    }
}
