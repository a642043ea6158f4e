//! What looks like a secret: variable names that say they hold one (`DB_PASSWORD`,
//! `API_TOKEN`) and literal values worth calling one (a URL with a password). Reading a
//! compose file marks hard-coded secrets with it, and the secrets checks look for leaked
//! values with it. A leaf of its own rather than part of `secrets`, because `stack` needs
//! it while loading and `secrets` is built on `stack`.

/// Whether a variable name says it holds a secret.
pub fn looks_secret(key: &str) -> bool {
    let k = key.to_ascii_uppercase();
    if k.ends_with("_FILE") || k.ends_with("_PATH") || k.ends_with("_URL_FILE") {
        return false;
    }
    [
        "PASSWORD",
        "PASSWD",
        "PASS",
        "SECRET",
        "TOKEN",
        "API_KEY",
        "APIKEY",
        "PRIVATE_KEY",
        "_KEY",
        "CREDENTIAL",
    ]
    .iter()
    .any(|w| k.contains(w) || k == w.trim_start_matches('_'))
}

/// Whether a literal value is worth calling a secret (not empty, not a reference, not a
/// boolean or a path).
pub fn literal_secret_value(key: &str, value: &str) -> bool {
    let v = value.trim();
    if v.is_empty() || v.contains('$') {
        return false;
    }
    if url_has_password(v) {
        return true;
    }
    looks_secret(key)
        && !matches!(
            v.to_ascii_lowercase().as_str(),
            "true" | "false" | "yes" | "no" | "none" | "null"
        )
        && !v.starts_with('/')
}

fn url_has_password(v: &str) -> bool {
    let Some((_, rest)) = v.split_once("://") else {
        return false;
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let Some((userinfo, _)) = authority.rsplit_once('@') else {
        return false;
    };
    userinfo
        .split_once(':')
        .is_some_and(|(_, pw)| !pw.is_empty() && !pw.contains('$'))
}

/// Whether a secret's value is long enough that finding it elsewhere (a shell history, a
/// copy) means it leaked, not that it is a common word.
pub fn findable(value: &str) -> bool {
    value.len() >= 8
}
