//! The backup key in a real Secret Service keyring (gnome-keyring on a private D-Bus session,
//! which `./dev test` starts), under a service name of the test's own.

use lifeboat_core::keys::{self, KeyError, KeySource, KEYRING_USER};

use crate::harness::skip;

#[test]
fn key_lives_in_the_os_keyring() {
    if std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_none() {
        return skip("no D-Bus session (./dev test runs the tests in one with gnome-keyring)");
    }
    let service = format!("lifeboat-test-{}", std::process::id());
    // Only this test reads these variables (std serialises its own env access).
    std::env::set_var("LIFEBOAT_KEYRING_SERVICE", &service);
    std::env::remove_var("LIFEBOAT_IDENTITY");
    let recipient = match keys::init(None) {
        Ok(r) => r,
        Err(KeyError::Keyring(reason)) => {
            return skip(&format!("no usable Secret Service: {reason}"))
        }
        Err(e) => panic!("{e}"),
    };
    assert!(
        matches!(keys::init(None), Err(KeyError::Exists { .. })),
        "init must not replace a key"
    );
    let (identity, source) = keys::load(None).unwrap();
    assert_eq!(source, KeySource::Keyring);
    assert_eq!(identity.to_public().to_string(), recipient.to_string());
    keyring::Entry::new(&service, KEYRING_USER)
        .unwrap()
        .delete_credential()
        .unwrap();
    assert!(matches!(keys::load(None), Err(KeyError::Missing)));
}
