//! A real notification service for tests: owns `org.freedesktop.Notifications` on the
//! session bus (the name a desktop's notification daemon owns) and records every
//! notification it is sent, so a test can check what a user would have seen.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// One notification as the service received it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    /// The sending application's name.
    pub app_name: String,
    /// The one-line summary.
    pub summary: String,
    /// The body.
    pub body: String,
    /// Action keys and labels, alternating.
    pub actions: Vec<String>,
    /// The urgency hint (0 low, 1 normal, 2 critical), when given.
    pub urgency: Option<u8>,
}

struct Service {
    received: Arc<Mutex<Vec<Received>>>,
    next_id: u32,
}

#[zbus::interface(name = "org.freedesktop.Notifications")]
impl Service {
    #[allow(clippy::too_many_arguments)]
    fn notify(
        &mut self,
        app_name: String,
        _replaces_id: u32,
        _app_icon: String,
        summary: String,
        body: String,
        actions: Vec<String>,
        hints: HashMap<String, zbus::OwnedVariant>,
        _expire_timeout: i32,
    ) -> u32 {
        let urgency = hints.get("urgency").and_then(|v| u8::try_from(v).ok());
        self.received
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(Received {
                app_name,
                summary,
                body,
                actions,
                urgency,
            });
        self.next_id += 1;
        self.next_id
    }

    fn get_capabilities(&self) -> Vec<String> {
        vec!["body".into(), "actions".into()]
    }

    fn get_server_information(&self) -> (String, String, String, String) {
        (
            "lifeboat-testkit".into(),
            "lifeboat".into(),
            "1".into(),
            "1.2".into(),
        )
    }

    fn close_notification(&self, _id: u32) {}
}

/// The running service; it leaves the bus when dropped.
pub struct NotificationService {
    received: Arc<Mutex<Vec<Received>>>,
    _conn: zbus::Connection,
    _rt: tokio::runtime::Runtime,
}

impl NotificationService {
    /// Starts the service on the session bus (`DBUS_SESSION_BUS_ADDRESS`).
    ///
    /// # Errors
    /// When there is no session bus or another service owns the name.
    pub fn start() -> Result<Self, String> {
        if std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_none() {
            return Err("no D-Bus session bus (DBUS_SESSION_BUS_ADDRESS is not set)".into());
        }
        let received = Arc::new(Mutex::new(Vec::new()));
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| e.to_string())?;
        let service = Service {
            received: received.clone(),
            next_id: 0,
        };
        let conn = rt
            .block_on(
                zbus::connection::Builder::session()
                    .name("org.freedesktop.Notifications")
                    .serve_at("/org/freedesktop/Notifications", service)
                    .build(),
            )
            .map_err(|e| format!("cannot own org.freedesktop.Notifications: {e}"))?;
        Ok(Self {
            received,
            _conn: conn,
            _rt: rt,
        })
    }

    /// What was received so far.
    pub fn received(&self) -> Vec<Received> {
        self.received
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Waits up to `timeout` for at least `n` notifications.
    pub fn wait_for(&self, n: usize, timeout: Duration) -> Vec<Received> {
        let end = Instant::now() + timeout;
        loop {
            let got = self.received();
            if got.len() >= n || Instant::now() > end {
                return got;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}
