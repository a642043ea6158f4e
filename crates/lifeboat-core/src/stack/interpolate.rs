//! Variable interpolation as `docker compose` does it: `$VAR`, `${VAR}`, `${VAR:-default}`,
//! `${VAR-default}`, `${VAR:?message}`, `${VAR?message}`, `${VAR:+replacement}`,
//! `${VAR+replacement}`, nesting inside the default, and `$$` for a literal dollar.
//!
//! Compose refuses to start when a required variable is missing; Lifeboat only inspects, so
//! every problem becomes an [`Issue`] and the result is what compose would see with the
//! variable blank.

/// Something interpolation noticed. None of these stop loading a stack.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Issue {
    /// `$NAME` or `${NAME}` was used but `NAME` is set nowhere; it became an empty string.
    Unset(String),
    /// `${NAME:?message}` or `${NAME?message}` with `NAME` missing (or empty, for `:?`).
    Required {
        /// The variable's name.
        name: String,
        /// The message the compose file gives.
        message: String,
    },
    /// A `${` without its closing `}` or with an invalid name; it was kept as written.
    Syntax(String),
}

/// Interpolates `input`, looking variables up with `lookup`; problems are pushed to `issues`.
pub fn interpolate(
    input: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
    issues: &mut Vec<Issue>,
) -> String {
    if !input.contains('$') {
        return input.to_owned();
    }
    let chars: Vec<char> = input.chars().collect();
    let mut out = String::with_capacity(input.len());
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c != '$' {
            out.push(c);
            i += 1;
            continue;
        }
        match chars.get(i + 1) {
            Some('$') => {
                out.push('$');
                i += 2;
            }
            Some('{') => match braced_end(&chars, i + 2) {
                Some(end) => {
                    let body: String = chars[i + 2..end].iter().collect();
                    out.push_str(&expand_braced(&body, lookup, issues));
                    i = end + 1;
                }
                None => {
                    let rest: String = chars[i..].iter().collect();
                    issues.push(Issue::Syntax(rest.clone()));
                    out.push_str(&rest);
                    i = chars.len();
                }
            },
            Some(&n) if n == '_' || n.is_ascii_alphabetic() => {
                let start = i + 1;
                let mut end = start;
                while end < chars.len() && (chars[end] == '_' || chars[end].is_ascii_alphanumeric())
                {
                    end += 1;
                }
                let name: String = chars[start..end].iter().collect();
                out.push_str(&value_or_unset(&name, lookup, issues));
                i = end;
            }
            _ => {
                out.push('$');
                i += 1;
            }
        }
    }
    out
}

/// The index of the `}` closing a `${` whose body starts at `from`, counting nested `${`.
fn braced_end(chars: &[char], from: usize) -> Option<usize> {
    let mut depth = 0usize;
    let mut i = from;
    while i < chars.len() {
        match chars[i] {
            '$' if chars.get(i + 1) == Some(&'$') => i += 1,
            '$' if chars.get(i + 1) == Some(&'{') => {
                depth += 1;
                i += 1;
            }
            '}' if depth == 0 => return Some(i),
            '}' => depth -= 1,
            _ => {}
        }
        i += 1;
    }
    None
}

fn value_or_unset(
    name: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
    issues: &mut Vec<Issue>,
) -> String {
    match lookup(name) {
        Some(v) => v,
        None => {
            issues.push(Issue::Unset(name.to_owned()));
            String::new()
        }
    }
}

fn expand_braced(
    body: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
    issues: &mut Vec<Issue>,
) -> String {
    let name_len = body
        .char_indices()
        .find(|&(_, c)| !(c == '_' || c.is_ascii_alphanumeric()))
        .map_or(body.len(), |(i, _)| i);
    let (name, rest) = body.split_at(name_len);
    let valid_name = name
        .chars()
        .next()
        .is_some_and(|c| c == '_' || c.is_ascii_alphabetic());
    if !valid_name {
        issues.push(Issue::Syntax(format!("${{{body}}}")));
        return format!("${{{body}}}");
    }
    if rest.is_empty() {
        return value_or_unset(name, lookup, issues);
    }
    let value = lookup(name);
    let set_nonempty = value.as_deref().is_some_and(|v| !v.is_empty());
    let (op, word) = if let Some(w) = rest.strip_prefix(":-") {
        (":-", w)
    } else if let Some(w) = rest.strip_prefix(":?") {
        (":?", w)
    } else if let Some(w) = rest.strip_prefix(":+") {
        (":+", w)
    } else if let Some(w) = rest.strip_prefix('-') {
        ("-", w)
    } else if let Some(w) = rest.strip_prefix('?') {
        ("?", w)
    } else if let Some(w) = rest.strip_prefix('+') {
        ("+", w)
    } else {
        issues.push(Issue::Syntax(format!("${{{body}}}")));
        return format!("${{{body}}}");
    };
    match op {
        ":-" if set_nonempty => value.unwrap_or_default(),
        "-" if value.is_some() => value.unwrap_or_default(),
        ":-" | "-" => interpolate(word, lookup, issues),
        ":+" if set_nonempty => interpolate(word, lookup, issues),
        "+" if value.is_some() => interpolate(word, lookup, issues),
        ":+" | "+" => String::new(),
        ":?" if set_nonempty => value.unwrap_or_default(),
        "?" if value.is_some() => value.unwrap_or_default(),
        _ => {
            let message = interpolate(word, lookup, issues);
            issues.push(Issue::Required {
                name: name.to_owned(),
                message,
            });
            String::new()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(input: &str) -> (String, Vec<Issue>) {
        let lookup = |k: &str| match k {
            "SET" => Some("value".to_owned()),
            "EMPTY" => Some(String::new()),
            "NESTED" => Some("inner".to_owned()),
            _ => None,
        };
        let mut issues = Vec::new();
        let out = interpolate(input, &lookup, &mut issues);
        (out, issues)
    }

    #[test]
    fn every_form() {
        let cases = [
            ("plain", "plain"),
            ("$SET", "value"),
            ("${SET}", "value"),
            ("a${SET}b$SET.c", "avaluebvalue.c"),
            ("${UNSET:-def}", "def"),
            ("${EMPTY:-def}", "def"),
            ("${EMPTY-def}", ""),
            ("${UNSET-def}", "def"),
            ("${SET:-def}", "value"),
            ("${SET:+x}", "x"),
            ("${EMPTY:+x}", ""),
            ("${EMPTY+x}", "x"),
            ("${UNSET+x}", ""),
            ("${UNSET:-${NESTED}}", "inner"),
            ("${UNSET:-${ALSO_UNSET:-deep}}", "deep"),
            (
                "${UNSET:-/mnt/docker-volumes}/data",
                "/mnt/docker-volumes/data",
            ),
            ("$$HOME", "$HOME"),
            ("$${SET}", "${SET}"),
            ("cost 5$", "cost 5$"),
            ("$1", "$1"),
            ("${SET:?needed}", "value"),
        ];
        for (input, want) in cases {
            let (got, issues) = run(input);
            assert_eq!(got, want, "input {input:?}");
            assert!(issues.is_empty(), "input {input:?} gave {issues:?}");
        }
    }

    #[test]
    fn missing_variables_are_issues_not_errors() {
        let (out, issues) = run("x${UNSET}y$OTHER");
        assert_eq!(out, "xy");
        assert_eq!(
            issues,
            vec![Issue::Unset("UNSET".into()), Issue::Unset("OTHER".into())]
        );

        let (out, issues) = run("${EMPTY:?must be set}");
        assert_eq!(out, "");
        assert_eq!(
            issues,
            vec![Issue::Required {
                name: "EMPTY".into(),
                message: "must be set".into()
            }]
        );
        let (_, issues) = run("${EMPTY?must be set}");
        assert!(issues.is_empty());
        let (_, issues) = run("${UNSET?gone}");
        assert_eq!(
            issues,
            vec![Issue::Required {
                name: "UNSET".into(),
                message: "gone".into()
            }]
        );
    }

    #[test]
    fn bad_syntax_is_kept_and_reported() {
        let (out, issues) = run("a ${UNCLOSED");
        assert_eq!(out, "a ${UNCLOSED");
        assert!(matches!(issues[0], Issue::Syntax(_)));
        let (out, issues) = run("${9BAD}");
        assert_eq!(out, "${9BAD}");
        assert!(matches!(issues[0], Issue::Syntax(_)));
    }
}
