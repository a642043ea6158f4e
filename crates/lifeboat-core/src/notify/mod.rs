//! Notification channels beside the desktop's notifications, for servers where nobody
//! watches a screen: ntfy, Gotify, a generic webhook (JSON, optionally signed with
//! HMAC-SHA256), email over SMTP, and health-check pings in the Healthchecks.io / Uptime
//! Kuma style (a start ping when a backup starts, success or failure with the reason when it
//! ends, so the monitoring service shouts when the pings stop).
//!
//! The channels (never a secret) are kept in the catalog's app state; a channel's token,
//! password or signing key in the keyring, or where there is none (a server) in a 0600 file
//! in Lifeboat's folder ([`secret`]). Each channel chooses its level: failures only, also
//! warnings (stale backups, a full drive, growth, no successful drill), or everything (also
//! successes). Sending never fails or holds up a backup: each attempt has a 10 s limit and
//! its error is a sentence for the log and for `lifeboat notify test`.

pub mod secret;
mod send;

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::alerts::{Alert, AlertCode, Severity};
use crate::catalog::{BackupResult, Catalog, CatalogError};
use crate::scheduler::TickEvent;

pub use send::SendError;

const CHANNELS: &str = "notify_channels";

/// One place notifications go.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct Channel {
    /// Its name, chosen by the person ("phone", "mail"): letters, digits, `-` and `_`.
    pub name: String,
    /// Where and how.
    pub kind: ChannelKind,
    /// Which alerts it gets (pings ignore it: they follow every backup).
    #[serde(default)]
    pub level: ChannelLevel,
    /// Only these stacks (by name); all when empty.
    #[serde(default)]
    pub stacks: Vec<String>,
}

/// A channel's service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ChannelKind {
    /// An ntfy topic: `https://ntfy.sh/my-topic` or a self-hosted server's; the secret, if
    /// any, is an access token.
    Ntfy {
        /// The topic's URL.
        url: String,
    },
    /// A Gotify server; the secret is an application token.
    Gotify {
        /// The server's URL.
        url: String,
    },
    /// A URL that gets a JSON body per event; the secret, if any, signs it
    /// (`X-Lifeboat-Signature: sha256=HEX`, HMAC-SHA256 of the body).
    Webhook {
        /// The URL.
        url: String,
    },
    /// Mail over SMTP; the secret, if any, is the password of `user`.
    Email {
        /// The mail server.
        server: String,
        /// Its port (587 for STARTTLS, 465 for TLS).
        port: u16,
        /// How the connection is protected.
        security: SmtpSecurity,
        /// The sender address.
        from: String,
        /// The recipients.
        to: Vec<String>,
        /// The login, if the server wants one.
        user: Option<String>,
    },
    /// A health-check URL (Healthchecks.io style: `URL/start`, `URL`, `URL/fail`; an Uptime
    /// Kuma push URL gets `?status=up|down&msg=…`).
    Ping {
        /// The check's URL.
        url: String,
    },
}

impl ChannelKind {
    /// `ntfy`, `gotify`, `webhook`, `email` or `ping`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Ntfy { .. } => "ntfy",
            Self::Gotify { .. } => "gotify",
            Self::Webhook { .. } => "webhook",
            Self::Email { .. } => "email",
            Self::Ping { .. } => "ping",
        }
    }

    /// Where it goes by host (and port) only: what a screen may show, since a topic, a
    /// path or a ping id can work as a password.
    pub fn host(&self) -> String {
        match self {
            Self::Ntfy { url }
            | Self::Gotify { url }
            | Self::Webhook { url }
            | Self::Ping { url } => host_of(url),
            Self::Email { server, port, .. } => format!("{server}:{port}"),
        }
    }

    /// Where it sends, for lists (a URL without its query, or `user@server:port → to`).
    pub fn target(&self) -> String {
        match self {
            Self::Ntfy { url }
            | Self::Gotify { url }
            | Self::Webhook { url }
            | Self::Ping { url } => url.split('?').next().unwrap_or(url).to_owned(),
            Self::Email {
                server, port, to, ..
            } => format!("{server}:{port} → {}", to.join(", ")),
        }
    }
}

/// How an SMTP connection is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "lowercase")]
pub enum SmtpSecurity {
    /// Plain connection upgraded with STARTTLS (required).
    Starttls,
    /// TLS from the first byte.
    Tls,
    /// No encryption: only for a relay on this machine or a trusted network.
    None,
}

/// Which alerts a channel gets.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, TS,
)]
#[serde(rename_all = "lowercase")]
pub enum ChannelLevel {
    /// Failed backups and drills, and scheduled backups that could not start.
    Failures,
    /// Also warnings: stale backups, a nearly full destination, growth, no successful drill.
    #[default]
    Warnings,
    /// Also successes.
    All,
}

impl ChannelLevel {
    /// Whether an alert of `severity` goes to a channel of this level.
    pub fn allows(self, severity: Severity) -> bool {
        match self {
            Self::Failures => severity == Severity::Error,
            Self::Warnings => severity >= Severity::Warning,
            Self::All => true,
        }
    }
}

/// Why a channel could not be saved.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ChannelError {
    /// The catalog failed.
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    /// The secret could not be stored.
    #[error(transparent)]
    Secret(#[from] secret::SecretError),
    /// Something about the channel is wrong, in a sentence.
    #[error("{0}")]
    Invalid(String),
    /// No channel has that name.
    #[error("there is no notification channel named {0:?} (`lifeboat notify list` shows them)")]
    Unknown(String),
}

/// The channels, in the order they were added.
///
/// # Errors
/// When the catalog fails.
pub fn channels(catalog: &Catalog) -> Result<Vec<Channel>, CatalogError> {
    catalog.app_json(CHANNELS)
}

/// Adds (or replaces, by name) a channel, with its secret if it has one. Says where the
/// secret went.
///
/// # Errors
/// An invalid name or URL, or when the catalog or the secret's store fails.
pub fn save(
    catalog: &Catalog,
    channel: Channel,
    secret: Option<&age::secrecy::SecretString>,
) -> Result<Option<secret::Place>, ChannelError> {
    validate(&channel)?;
    let place = match secret {
        Some(s) => Some(secret::put(&channel.name, s)?),
        None => {
            secret::forget(&channel.name);
            None
        }
    };
    let mut all = channels(catalog)?;
    match all.iter_mut().find(|c| c.name == channel.name) {
        Some(c) => *c = channel,
        None => all.push(channel),
    }
    catalog.set_app_json(CHANNELS, &all)?;
    Ok(place)
}

/// Removes a channel and its secret.
///
/// # Errors
/// When there is no such channel or the catalog fails.
pub fn remove(catalog: &Catalog, name: &str) -> Result<(), ChannelError> {
    let mut all = channels(catalog)?;
    let before = all.len();
    all.retain(|c| c.name != name);
    if all.len() == before {
        return Err(ChannelError::Unknown(name.to_owned()));
    }
    catalog.set_app_json(CHANNELS, &all)?;
    secret::forget(name);
    Ok(())
}

fn validate(c: &Channel) -> Result<(), ChannelError> {
    let bad = |s: String| Err(ChannelError::Invalid(s));
    if c.name.is_empty()
        || c.name.len() > 40
        || !c
            .name
            .chars()
            .all(|ch| ch.is_ascii_alphanumeric() || ch == '-' || ch == '_')
    {
        return bad(format!(
            "{:?} cannot name a channel: use up to 40 letters, digits, - and _",
            c.name
        ));
    }
    match &c.kind {
        ChannelKind::Ntfy { url }
        | ChannelKind::Gotify { url }
        | ChannelKind::Webhook { url }
        | ChannelKind::Ping { url } => {
            if !(url.starts_with("https://") || url.starts_with("http://")) {
                return bad(format!(
                    "{url:?} is not a web address (it starts with https:// or http://)"
                ));
            }
            if let ChannelKind::Ntfy { url } = &c.kind {
                if send::ntfy_topic(url).is_none() {
                    return bad(format!(
                        "{url:?} names no topic: an ntfy URL ends with the topic, as in https://ntfy.sh/my-backups"
                    ));
                }
            }
        }
        ChannelKind::Email {
            server, from, to, ..
        } => {
            if server.trim().is_empty() {
                return bad("a mail channel needs its SMTP server".into());
            }
            for a in std::iter::once(from).chain(to) {
                if a.parse::<lettre::Address>().is_err() {
                    return bad(format!("{a:?} is not a mail address"));
                }
            }
            if to.is_empty() {
                return bad("a mail channel needs at least one recipient".into());
            }
        }
    }
    Ok(())
}

/// What is sent: an alert and, for a backup, its figures.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Message {
    /// The stack's name.
    pub stack: String,
    /// What it is about: `backup_failed`, `stale`, `succeeded`, `test`, …
    pub event: String,
    /// `ok`, `failed` or `warning`.
    pub result: String,
    /// `error`, `warning` or `info`.
    pub severity: Severity,
    /// One line.
    pub title: String,
    /// The reason and what to do.
    pub message: String,
    /// The backup's duration, for backup events.
    pub duration_ms: Option<i64>,
    /// The bytes the backup read, for backup events.
    pub bytes: Option<i64>,
    /// The snapshot written, for a successful backup.
    pub snapshot: Option<String>,
    /// Unix seconds.
    pub at: i64,
}

impl Message {
    /// The message for `alert`; a backup's figures come from its stack's last run.
    pub fn of(catalog: &Catalog, alert: &Alert) -> Self {
        let stack = catalog
            .stack(alert.stack_id)
            .map(|s| s.name)
            .unwrap_or_default();
        let run = matches!(alert.code, AlertCode::BackupFailed | AlertCode::Succeeded)
            .then(|| catalog.backups(alert.stack_id, 1).ok()?.into_iter().next())
            .flatten();
        Self {
            stack,
            event: alert.code.as_str().to_owned(),
            result: match alert.severity {
                Severity::Error => "failed",
                Severity::Warning => "warning",
                Severity::Info => "ok",
            }
            .to_owned(),
            severity: alert.severity,
            title: alert.summary.clone(),
            message: alert.body.clone(),
            duration_ms: run.as_ref().map(|r| r.duration_ms),
            bytes: run.as_ref().map(|r| r.bytes_in),
            snapshot: run
                .filter(|r| r.result == BackupResult::Ok)
                .and_then(|r| r.snapshot),
            at: crate::time::unix_now(),
        }
    }

    fn test(channel: &str) -> Self {
        Self {
            stack: String::new(),
            event: "test".into(),
            result: "ok".into(),
            severity: Severity::Info,
            title: "Lifeboat test notification".into(),
            message: format!(
                "This is a test of the channel {channel:?}: when a backup fails, the message comes here."
            ),
            duration_ms: None,
            bytes: None,
            snapshot: None,
            at: crate::time::unix_now(),
        }
    }
}

/// How one channel's delivery went.
#[derive(Debug)]
pub struct Delivery {
    /// The channel.
    pub channel: String,
    /// Sent, or why not.
    pub result: Result<(), SendError>,
}

fn for_stack(c: &Channel, stack: &str) -> bool {
    c.stacks.is_empty() || c.stacks.iter().any(|s| s == stack)
}

/// Sends `alert` to every channel whose level and stacks take it (pings excepted: they
/// follow backups, [`ping`]). Each failure is logged and returned; none is raised.
pub fn deliver(catalog: &Catalog, alert: &Alert) -> Vec<Delivery> {
    let Ok(all) = channels(catalog) else {
        return Vec::new();
    };
    let msg = Message::of(catalog, alert);
    all.iter()
        .filter(|c| !matches!(c.kind, ChannelKind::Ping { .. }))
        .filter(|c| c.level.allows(alert.severity) && for_stack(c, &msg.stack))
        .map(|c| attempt(c, &send::Payload::Alert(&msg)))
        .collect()
}

/// Sends what a scheduler tick said (`said`, as [`crate::alerts::after_tick`] chose it) to
/// the channels, and a success message for each scheduled backup that succeeded to the
/// channels that want everything (whether or not the desktop says successes).
pub fn after_tick(catalog: &Catalog, events: &[TickEvent], said: &[Alert]) -> Vec<Delivery> {
    let mut out: Vec<Delivery> = said.iter().flat_map(|a| deliver(catalog, a)).collect();
    let successes = crate::alerts::from_events(
        events,
        crate::alerts::Levels {
            success: true,
            ..crate::alerts::Levels::default()
        },
    );
    for a in successes.iter().filter(|a| a.code == AlertCode::Succeeded) {
        if !said
            .iter()
            .any(|s| s.code == AlertCode::Succeeded && s.stack_id == a.stack_id)
        {
            out.extend(deliver(catalog, a));
        }
    }
    out
}

/// Where a backup is, for health-check pings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PingEvent {
    /// It starts.
    Start,
    /// It ended with a snapshot.
    Success,
    /// It failed (or was cancelled), for this reason.
    Fail(String),
}

/// Pings every health-check channel of `stack` about its backup.
pub fn ping(catalog: &Catalog, stack: &str, event: &PingEvent) -> Vec<Delivery> {
    let Ok(all) = channels(catalog) else {
        return Vec::new();
    };
    all.iter()
        .filter(|c| matches!(c.kind, ChannelKind::Ping { .. }) && for_stack(c, stack))
        .map(|c| attempt(c, &send::Payload::Ping { stack, event }))
        .collect()
}

/// Sends a test message through the channel `name`, or every channel.
///
/// # Errors
/// When there is no such channel or the catalog fails.
pub fn test(catalog: &Catalog, name: Option<&str>) -> Result<Vec<Delivery>, ChannelError> {
    let all = channels(catalog)?;
    let picked: Vec<&Channel> = all
        .iter()
        .filter(|c| name.is_none_or(|n| c.name == n))
        .collect();
    if let (Some(n), true) = (name, picked.is_empty()) {
        return Err(ChannelError::Unknown(n.to_owned()));
    }
    Ok(picked
        .into_iter()
        .map(|c| attempt(c, &send::Payload::Test(&Message::test(&c.name))))
        .collect())
}

fn attempt(c: &Channel, payload: &send::Payload<'_>) -> Delivery {
    let result = secret::get(&c.name)
        .map_err(|e| SendError::Secret(e.to_string()))
        .and_then(|s| send::send(c, s.as_ref(), payload));
    if let Err(e) = &result {
        tracing::warn!("the notification to {} could not be sent: {e}", c.name);
    }
    Delivery {
        channel: c.name.clone(),
        result,
    }
}

/// The host (and port) of `url`: what comes after the scheme, before any path or query.
pub(crate) fn host_of(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    rest.split(['/', '?']).next().unwrap_or(rest).to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_choose_by_severity() {
        use Severity::*;
        assert!(ChannelLevel::Failures.allows(Error));
        assert!(!ChannelLevel::Failures.allows(Warning));
        assert!(ChannelLevel::Warnings.allows(Warning));
        assert!(!ChannelLevel::Warnings.allows(Info));
        assert!(ChannelLevel::All.allows(Info));
        assert_eq!(ChannelLevel::default(), ChannelLevel::Warnings);
    }

    #[test]
    fn bad_channels_are_refused_with_a_sentence() {
        let ntfy = |name: &str, url: &str| Channel {
            name: name.into(),
            kind: ChannelKind::Ntfy { url: url.into() },
            level: ChannelLevel::default(),
            stacks: vec![],
        };
        let said = |c: Channel| validate(&c).unwrap_err().to_string();
        assert_eq!(
            said(ntfy("my phone", "https://ntfy.sh/x")),
            "\"my phone\" cannot name a channel: use up to 40 letters, digits, - and _"
        );
        assert_eq!(
            said(ntfy("phone", "ntfy.sh/x")),
            "\"ntfy.sh/x\" is not a web address (it starts with https:// or http://)"
        );
        assert!(said(ntfy("phone", "https://ntfy.sh/")).contains("names no topic"));
        assert!(validate(&ntfy("phone", "https://ntfy.sh/backups")).is_ok());
        let mail = Channel {
            name: "mail".into(),
            kind: ChannelKind::Email {
                server: "smtp.example.org".into(),
                port: 587,
                security: SmtpSecurity::Starttls,
                from: "lifeboat@example.org".into(),
                to: vec!["me at example.org".into()],
                user: None,
            },
            level: ChannelLevel::Failures,
            stacks: vec![],
        };
        assert_eq!(said(mail), "\"me at example.org\" is not a mail address");
    }
}
