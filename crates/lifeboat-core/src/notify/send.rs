//! Sending to one channel: HTTP (ntfy's JSON publishing, Gotify's message API, a webhook,
//! health-check pings) through `ureq` with the system's TLS and roots, and mail through
//! `lettre`. Every attempt has a time limit; every failure is a sentence that says which
//! step failed (the name did not resolve, the connection was refused, TLS, a 401 …).

use std::time::Duration;

use age::secrecy::{ExposeSecret, SecretString};
use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::{host_of, Channel, ChannelKind, Message, PingEvent, SmtpSecurity};
use crate::alerts::Severity;

/// The most a channel may take to answer.
const LIMIT: Duration = Duration::from_secs(10);

/// Why a message did not go out.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SendError {
    /// The server's name does not resolve.
    #[error(
        "the name {host} does not resolve (DNS): check the address and this machine's network"
    )]
    Dns {
        /// The host.
        host: String,
    },
    /// Nothing listens there.
    #[error("{host} refused the connection: is the server running, and is the port right?")]
    Refused {
        /// The host (and port).
        host: String,
    },
    /// No answer in time.
    #[error("{host} did not answer within {} s", LIMIT.as_secs())]
    Timeout {
        /// The host.
        host: String,
    },
    /// The TLS handshake failed.
    #[error("the TLS connection to {host} failed: {reason}")]
    Tls {
        /// The host.
        host: String,
        /// The TLS library's words.
        reason: String,
    },
    /// The server answered with an error status.
    #[error("{host} answered {status}{hint}")]
    Status {
        /// The host.
        host: String,
        /// "401 Unauthorized".
        status: String,
        /// What that usually means, and the server's own words.
        hint: String,
    },
    /// The mail server refused.
    #[error("the mail server {host} refused: {reason}")]
    Smtp {
        /// The host.
        host: String,
        /// Its words.
        reason: String,
    },
    /// The channel needs a secret that is not stored.
    #[error("this channel needs its {0}, which is not stored: add the channel again with it")]
    NoSecret(&'static str),
    /// The secret could not be read.
    #[error("{0}")]
    Secret(String),
    /// Anything else.
    #[error("{host}: {reason}")]
    Other {
        /// The host.
        host: String,
        /// What happened.
        reason: String,
    },
}

/// What goes out.
pub(super) enum Payload<'a> {
    /// An alert.
    Alert(&'a Message),
    /// A test message.
    Test(&'a Message),
    /// A health-check ping.
    Ping {
        /// The stack backed up.
        stack: &'a str,
        /// Start, success or failure.
        event: &'a PingEvent,
    },
}

/// `https://ntfy.example/topic` → (`https://ntfy.example`, `topic`).
pub(super) fn ntfy_topic(url: &str) -> Option<(&str, &str)> {
    let rest = url.split_once("://")?.1;
    let path_at = rest.find('/')?;
    let scheme_len = url.len() - rest.len();
    let (base, topic) = url.split_at(scheme_len + path_at);
    let topic = topic.trim_matches('/');
    (!topic.is_empty() && !topic.contains('/')).then_some((base, topic))
}

pub(super) fn send(
    channel: &Channel,
    secret: Option<&SecretString>,
    payload: &Payload<'_>,
) -> Result<(), SendError> {
    match (&channel.kind, payload) {
        (ChannelKind::Ping { url }, Payload::Ping { stack, event }) => ping(url, stack, event),
        (ChannelKind::Ping { url }, Payload::Test(_)) => ping(url, "", &PingEvent::Success),
        (ChannelKind::Ping { .. }, Payload::Alert(_)) => Ok(()),
        (_, Payload::Ping { .. }) => Ok(()),
        (kind, Payload::Alert(m) | Payload::Test(m)) => match kind {
            ChannelKind::Ntfy { url } => ntfy(url, secret, m),
            ChannelKind::Gotify { url } => gotify(url, secret, m),
            ChannelKind::Webhook { url } => webhook(url, secret, m),
            ChannelKind::Email {
                server,
                port,
                security,
                from,
                to,
                user,
            } => mail(
                server,
                *port,
                *security,
                from,
                to,
                user.as_deref(),
                secret,
                m,
            ),
            ChannelKind::Ping { .. } => Ok(()),
        },
    }
}

fn agent() -> ureq::Agent {
    let tls = ureq::tls::TlsConfig::builder()
        .provider(ureq::tls::TlsProvider::NativeTls)
        .root_certs(ureq::tls::RootCerts::PlatformVerifier)
        .build();
    ureq::Agent::config_builder()
        .tls_config(tls)
        .timeout_global(Some(LIMIT))
        .http_status_as_error(false)
        .user_agent(concat!("lifeboat/", env!("CARGO_PKG_VERSION")))
        .build()
        .into()
}

/// Whether an error's words are the resolver's (getaddrinfo's messages).
fn is_dns(words: &str) -> bool {
    [
        "failed to lookup address",
        "Name or service not known",
        "Temporary failure in name resolution",
        "No address associated with hostname",
    ]
    .iter()
    .any(|w| words.contains(w))
}

fn http_error(url: &str, e: ureq::Error) -> SendError {
    let host = host_of(url);
    match e {
        ureq::Error::HostNotFound => SendError::Dns {
            host: host.split(':').next().unwrap_or(&host).to_owned(),
        },
        ureq::Error::Timeout(_) => SendError::Timeout { host },
        ureq::Error::Io(io) if io.kind() == std::io::ErrorKind::ConnectionRefused => {
            SendError::Refused { host }
        }
        ureq::Error::Io(io) if io.kind() == std::io::ErrorKind::TimedOut => {
            SendError::Timeout { host }
        }
        ureq::Error::Io(io) if is_dns(&io.to_string()) => SendError::Dns {
            host: host.split(':').next().unwrap_or(&host).to_owned(),
        },
        ureq::Error::ConnectionFailed => SendError::Refused { host },
        ureq::Error::NativeTls(t) => SendError::Tls {
            host,
            reason: tls_reason(&t.to_string()),
        },
        ureq::Error::Tls(t) => SendError::Tls {
            host,
            reason: t.to_owned(),
        },
        other => SendError::Other {
            host,
            reason: other.to_string(),
        },
    }
}

/// Sends a request; a status other than 2xx is an error with what it usually means.
fn post(
    url: &str,
    headers: &[(&str, String)],
    content_type: &str,
    body: &[u8],
) -> Result<(), SendError> {
    let mut req = agent().post(url).header("Content-Type", content_type);
    for (k, v) in headers {
        req = req.header(*k, v);
    }
    let resp = req.send(body).map_err(|e| http_error(url, e))?;
    check(url, resp)
}

fn get(url: &str) -> Result<(), SendError> {
    let resp = agent().get(url).call().map_err(|e| http_error(url, e))?;
    check(url, resp)
}

fn check(url: &str, resp: ureq::http::Response<ureq::Body>) -> Result<(), SendError> {
    let status = resp.status();
    if status.is_success() {
        return Ok(());
    }
    let words = resp
        .into_body()
        .with_config()
        .limit(2048)
        .read_to_string()
        .unwrap_or_default();
    let meaning = match status.as_u16() {
        401 | 403 => ": the token or password is wrong or missing",
        404 => ": nothing is at that address; check the URL",
        413 => ": the message is too large for the server",
        429 => ": the server limits how often it may be sent to; try later",
        500..=599 => ": the server has a problem of its own",
        _ => "",
    };
    let words = words.trim();
    let hint = if words.is_empty() {
        meaning.to_owned()
    } else {
        format!(
            "{meaning} (it said: {})",
            words.chars().take(200).collect::<String>()
        )
    };
    Err(SendError::Status {
        host: host_of(url),
        status: format!(
            "{} {}",
            status.as_u16(),
            status.canonical_reason().unwrap_or("")
        )
        .trim_end()
        .to_owned(),
        hint,
    })
}

fn bearer(secret: Option<&SecretString>) -> Vec<(&'static str, String)> {
    secret
        .map(|s| vec![("Authorization", format!("Bearer {}", s.expose_secret()))])
        .unwrap_or_default()
}

fn text_of(m: &Message) -> String {
    let mut t = m.message.clone();
    if let (Some(ms), Some(bytes)) = (m.duration_ms, m.bytes) {
        t.push_str(&format!(
            "\n({:.1} s, {} read)",
            ms as f64 / 1000.0,
            crate::inspect::human_bytes(u64::try_from(bytes).unwrap_or(0))
        ));
    }
    t
}

fn ntfy(url: &str, secret: Option<&SecretString>, m: &Message) -> Result<(), SendError> {
    let Some((base, topic)) = ntfy_topic(url) else {
        return Err(SendError::Other {
            host: host_of(url),
            reason: "the URL names no topic".into(),
        });
    };
    let (priority, tags) = match m.severity {
        Severity::Error => (5, "rotating_light"),
        Severity::Warning => (4, "warning"),
        Severity::Info => (3, "white_check_mark"),
    };
    let body = serde_json::json!({
        "topic": topic,
        "title": m.title,
        "message": text_of(m),
        "priority": priority,
        "tags": [tags],
    });
    post(
        &format!("{base}/"),
        &bearer(secret),
        "application/json",
        body.to_string().as_bytes(),
    )
}

fn gotify(url: &str, secret: Option<&SecretString>, m: &Message) -> Result<(), SendError> {
    let token = secret.ok_or(SendError::NoSecret("application token"))?;
    let body = serde_json::json!({
        "title": m.title,
        "message": text_of(m),
        "priority": match m.severity { Severity::Error => 8, Severity::Warning => 5, Severity::Info => 2 },
    });
    post(
        &format!("{}/message", url.trim_end_matches('/')),
        &[("X-Gotify-Key", token.expose_secret().to_owned())],
        "application/json",
        body.to_string().as_bytes(),
    )
}

/// The signature header's value for `body` under `key`: `sha256=` and the HMAC in hex.
pub fn signature(key: &[u8], body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes a key of any length");
    mac.update(body);
    let hex: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("sha256={hex}")
}

fn webhook(url: &str, secret: Option<&SecretString>, m: &Message) -> Result<(), SendError> {
    let body = serde_json::to_vec(m).unwrap_or_default();
    let mut headers = vec![("X-Lifeboat-Event", m.event.clone())];
    if let Some(s) = secret {
        headers.push((
            "X-Lifeboat-Signature",
            signature(s.expose_secret().as_bytes(), &body),
        ));
    }
    post(url, &headers, "application/json", &body)
}

fn ping(url: &str, stack: &str, event: &PingEvent) -> Result<(), SendError> {
    let base = url.trim_end_matches('/');
    if base.contains("/api/push/") {
        // Uptime Kuma: one URL, the status in the query; it has no start ping.
        let (status, msg) = match event {
            PingEvent::Start => return Ok(()),
            PingEvent::Success => ("up", format!("{stack} backed up")),
            PingEvent::Fail(r) => ("down", r.clone()),
        };
        let sep = if base.contains('?') { '&' } else { '?' };
        let base = base.split("?status=").next().unwrap_or(base);
        return get(&format!(
            "{base}{sep}status={status}&msg={}",
            query_escape(&msg.chars().take(200).collect::<String>())
        ));
    }
    match event {
        PingEvent::Start => post(&format!("{base}/start"), &[], "text/plain", b""),
        PingEvent::Success => post(
            base,
            &[],
            "text/plain",
            format!("{stack} backed up").trim().as_bytes(),
        ),
        PingEvent::Fail(reason) => post(
            &format!("{base}/fail"),
            &[],
            "text/plain",
            reason.as_bytes(),
        ),
    }
}

fn query_escape(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[allow(clippy::too_many_arguments)]
fn mail(
    server: &str,
    port: u16,
    security: SmtpSecurity,
    from: &str,
    to: &[String],
    user: Option<&str>,
    secret: Option<&SecretString>,
    m: &Message,
) -> Result<(), SendError> {
    use lettre::transport::smtp::authentication::Credentials;
    use lettre::{Message as Mail, SmtpTransport, Transport};
    let host = format!("{server}:{port}");
    let bad = |reason: String| SendError::Other {
        host: host.clone(),
        reason,
    };
    let mut builder = Mail::builder()
        .from(
            from.parse()
                .map_err(|_| bad(format!("{from:?} is not a mail address")))?,
        )
        .subject(&m.title);
    for t in to {
        builder = builder.to(t
            .parse()
            .map_err(|_| bad(format!("{t:?} is not a mail address")))?);
    }
    let mut body = text_of(m);
    if !m.stack.is_empty() {
        body.push_str(&format!("\n\nStack: {}\nEvent: {}\n", m.stack, m.event));
    }
    body.push_str("\n-- \nLifeboat\n");
    let mail = builder.body(body).map_err(|e| bad(e.to_string()))?;
    let smtp_err = |e: lettre::transport::smtp::Error| smtp_error(&host, server, &e);
    let mut transport = match security {
        SmtpSecurity::Starttls => SmtpTransport::starttls_relay(server).map_err(smtp_err)?,
        SmtpSecurity::Tls => SmtpTransport::relay(server).map_err(smtp_err)?,
        SmtpSecurity::None => SmtpTransport::builder_dangerous(server),
    }
    .port(port)
    .timeout(Some(LIMIT));
    if let Some(u) = user {
        let pass = secret.ok_or(SendError::NoSecret("password"))?;
        transport = transport.credentials(Credentials::new(
            u.to_owned(),
            pass.expose_secret().to_owned(),
        ));
    }
    transport.build().send(&mail).map(|_| ()).map_err(smtp_err)
}

/// OpenSSL's words made short: an untrusted certificate says so, with OpenSSL's reason.
fn tls_reason(chain: &str) -> String {
    if chain.contains("certificate verify failed") {
        let why = chain
            .rsplit_once('(')
            .map(|(_, w)| w.trim_end_matches(')').trim())
            .filter(|w| !w.is_empty())
            .unwrap_or("not signed by a trusted authority");
        return format!(
            "its certificate is not trusted ({why}); install its CA on this machine, or use its real name"
        );
    }
    chain.to_owned()
}

fn smtp_error(host: &str, server: &str, e: &lettre::transport::smtp::Error) -> SendError {
    let mut chain = e.to_string();
    let mut src = std::error::Error::source(e);
    let mut io_kind = None;
    while let Some(s) = src {
        if let Some(io) = s.downcast_ref::<std::io::Error>() {
            io_kind = Some(io.kind());
        }
        let t = s.to_string();
        if !chain.contains(&t) {
            chain.push_str(": ");
            chain.push_str(&t);
        }
        src = s.source();
    }
    match io_kind {
        Some(std::io::ErrorKind::ConnectionRefused) => {
            return SendError::Refused {
                host: host.to_owned(),
            }
        }
        Some(std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock) => {
            return SendError::Timeout {
                host: host.to_owned(),
            }
        }
        _ => {}
    }
    if is_dns(&chain) {
        return SendError::Dns {
            host: server.to_owned(),
        };
    }
    if e.is_tls() || chain.contains("SSL routines") || chain.contains("certificate") {
        return SendError::Tls {
            host: host.to_owned(),
            reason: tls_reason(&chain),
        };
    }
    SendError::Smtp {
        host: host.to_owned(),
        reason: chain,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_ntfy_url_is_its_server_and_topic() {
        assert_eq!(
            ntfy_topic("https://ntfy.sh/my-backups"),
            Some(("https://ntfy.sh", "my-backups"))
        );
        assert_eq!(
            ntfy_topic("http://127.0.0.1:8080/t/"),
            Some(("http://127.0.0.1:8080", "t"))
        );
        assert_eq!(ntfy_topic("https://ntfy.sh"), None);
        assert_eq!(ntfy_topic("https://ntfy.sh/a/b"), None);
    }

    #[test]
    fn the_signature_is_rfc_4231s_hmac_sha256() {
        // RFC 4231, test case 2.
        assert_eq!(
            signature(b"Jefe", b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn a_closed_port_and_an_unknown_name_are_said_as_such() {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let e = post(
            &format!("http://127.0.0.1:{port}/x"),
            &[],
            "text/plain",
            b"",
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            format!("127.0.0.1:{port} refused the connection: is the server running, and is the port right?")
        );
        let e = get("http://lifeboat-test.invalid/x").unwrap_err();
        assert!(matches!(e, SendError::Dns { .. }), "{e:?}");
    }
}
