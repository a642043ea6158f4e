//! Merging compose documents (`-f a.yml -f b.yml`, override files, `extends:`) with the
//! compose specification's rules: mappings merge key by key, `volumes` merge by target,
//! `environment` and `labels` merge by variable, lists such as `ports` are appended, and
//! other values are replaced.

use serde_norway::{Mapping, Value};

/// Merges compose document `over` into `base`.
pub(super) fn merge_top(base: &mut Mapping, over: Mapping) {
    for (key, value) in over {
        match (key.as_str(), base.get_mut(&key)) {
            (Some("services"), Some(Value::Mapping(existing))) => {
                if let Value::Mapping(services) = value {
                    for (name, svc) in services {
                        match existing.get_mut(&name) {
                            Some(current) => merge_service(current, svc),
                            None => {
                                existing.insert(name, svc);
                            }
                        }
                    }
                }
            }
            (_, Some(current @ Value::Mapping(_))) if value.is_mapping() => {
                deep_merge(current, value)
            }
            _ => {
                base.insert(key, value);
            }
        }
    }
}

/// Merges service definition `over` into `base`.
pub(super) fn merge_service(base: &mut Value, over: Value) {
    let (Value::Mapping(b), Value::Mapping(o)) = (&mut *base, &over) else {
        *base = over;
        return;
    };
    for (key, value) in o.clone() {
        let k = key.as_str().unwrap_or_default().to_owned();
        let Some(current) = b.get_mut(&key) else {
            b.insert(key, value);
            continue;
        };
        match k.as_str() {
            "volumes" => merge_by(current, value, volume_target),
            "environment" | "labels" | "annotations" | "extra_hosts" | "sysctls" => {
                let mut merged = as_map(current);
                for (k, v) in as_map(&value) {
                    merged.insert(k, v);
                }
                *current = Value::Mapping(merged);
            }
            "ports" | "expose" | "dns" | "dns_search" | "env_file" | "cap_add" | "cap_drop"
            | "devices" | "tmpfs" | "secrets" | "configs" | "security_opt" | "external_links"
            | "links" | "volumes_from" | "profiles" => {
                let mut list = seq(current);
                for item in seq(&value) {
                    if !list.contains(&item) {
                        list.push(item);
                    }
                }
                *current = Value::Sequence(list);
            }
            "command" | "entrypoint" | "healthcheck" => *current = value,
            _ if current.is_mapping() && value.is_mapping() => deep_merge(current, value),
            _ => *current = value,
        }
    }
}

fn deep_merge(base: &mut Value, over: Value) {
    match (base, over) {
        (Value::Mapping(b), Value::Mapping(o)) => {
            for (k, v) in o {
                match b.get_mut(&k) {
                    Some(existing) if existing.is_mapping() && v.is_mapping() => {
                        deep_merge(existing, v)
                    }
                    _ => {
                        b.insert(k, v);
                    }
                }
            }
        }
        (b, o) => *b = o,
    }
}

fn seq(v: &Value) -> Vec<Value> {
    match v {
        Value::Sequence(s) => s.clone(),
        Value::Null => Vec::new(),
        other => vec![other.clone()],
    }
}

/// `environment:`/`labels:` as a mapping, whichever form they were written in.
pub(super) fn as_map(v: &Value) -> Mapping {
    match v {
        Value::Mapping(m) => m.clone(),
        Value::Sequence(items) => items
            .iter()
            .filter_map(Value::as_str)
            .map(|s| match s.split_once('=') {
                Some((k, v)) => (Value::from(k), Value::from(v)),
                None => (Value::from(s), Value::Null),
            })
            .collect(),
        _ => Mapping::new(),
    }
}

/// Replaces items of `base` whose key equals an item of `over`'s, appends the rest.
fn merge_by(base: &mut Value, over: Value, key: fn(&Value) -> Option<String>) {
    let mut list = seq(base);
    for item in seq(&over) {
        let k = key(&item);
        match list.iter().position(|i| k.is_some() && key(i) == k) {
            Some(pos) => list[pos] = item,
            None => list.push(item),
        }
    }
    *base = Value::Sequence(list);
}

fn volume_target(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => {
            let parts: Vec<&str> = s.split(':').collect();
            Some(match parts.as_slice() {
                [t] => (*t).to_owned(),
                [a, b] if b.starts_with('/') => (*b).to_owned(),
                [a, _] => (*a).to_owned(),
                [_, b, ..] => (*b).to_owned(),
                _ => return None,
            })
        }
        Value::Mapping(m) => m.get("target").and_then(Value::as_str).map(str::to_owned),
        _ => None,
    }
}
