//! `.env` files as `docker compose` reads them: `KEY=value` lines, `export KEY=value`,
//! comments, single quotes (literal), double quotes (escapes, may span lines), unquoted
//! values with ` #` comments, and `${VAR}` expansion from earlier lines and the environment.
//!
//! Values read here are secrets more often than not: they are kept in memory only as long as
//! interpolation needs them and never logged.

use super::interpolate::{interpolate, Issue};

/// One variable defined in an env file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvEntry {
    /// The variable's name.
    pub key: String,
    /// Its value after unquoting and expansion.
    pub value: String,
    /// The 1-based line where the definition starts.
    pub line: usize,
    /// The 1-based line where it ends (later than `line` for a multi-line quoted value).
    pub last_line: usize,
}

/// A line that could not be read as a variable definition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvSyntaxError {
    /// The 1-based line.
    pub line: usize,
    /// What is wrong with it.
    pub reason: String,
}

/// Parses env-file text. `outer` looks up variables that are not defined earlier in the file
/// (the process environment, as compose does); interpolation problems go to `issues`.
///
/// # Errors
/// A line that is neither blank, a comment nor `KEY=value`, or a quote that is never closed.
pub fn parse(
    text: &str,
    outer: &dyn Fn(&str) -> Option<String>,
    issues: &mut Vec<Issue>,
) -> Result<Vec<EnvEntry>, EnvSyntaxError> {
    let mut entries: Vec<EnvEntry> = Vec::new();
    let lines: Vec<&str> = text.split('\n').collect();
    let mut i = 0;
    while i < lines.len() {
        let line_no = i + 1;
        let raw = lines[i].trim_end_matches('\r');
        i += 1;
        let trimmed = raw.trim_start();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let body = trimmed
            .strip_prefix("export ")
            .map_or(trimmed, str::trim_start);
        let Some(eq) = body.find('=') else {
            let key = body.trim();
            if is_key(key) {
                // A bare name takes its value from the environment, if set there.
                if let Some(value) = outer(key) {
                    entries.push(EnvEntry {
                        key: key.to_owned(),
                        value,
                        line: line_no,
                        last_line: line_no,
                    });
                }
                continue;
            }
            return Err(EnvSyntaxError {
                line: line_no,
                reason: "expected KEY=value".into(),
            });
        };
        let key = body[..eq].trim();
        if !is_key(key) {
            return Err(EnvSyntaxError {
                line: line_no,
                reason: format!("{key:?} is not a valid variable name"),
            });
        }
        let rest = body[eq + 1..].trim_start();
        let lookup = |name: &str| {
            entries
                .iter()
                .rev()
                .find(|e| e.key == name)
                .map(|e| e.value.clone())
                .or_else(|| outer(name))
        };
        let value = if let Some(after) = rest.strip_prefix('\'') {
            quoted(after, '\'', &lines, &mut i, line_no)?
        } else if let Some(after) = rest.strip_prefix('"') {
            let content = quoted(after, '"', &lines, &mut i, line_no)?;
            interpolate(&unescape(&content), &lookup, issues)
        } else {
            let without_comment = match rest.find(" #").or_else(|| rest.find("\t#")) {
                Some(pos) => &rest[..pos],
                None => rest,
            };
            interpolate(without_comment.trim_end(), &lookup, issues)
        };
        entries.push(EnvEntry {
            key: key.to_owned(),
            value,
            line: line_no,
            last_line: i,
        });
    }
    Ok(entries)
}

fn is_key(key: &str) -> bool {
    !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
        && !key.starts_with(|c: char| c.is_ascii_digit())
}

/// Reads a quoted value starting right after its opening quote, possibly over several
/// lines (advancing `next_line`). Returns the raw content between the quotes.
fn quoted(
    first: &str,
    quote: char,
    lines: &[&str],
    next_line: &mut usize,
    start_line: usize,
) -> Result<String, EnvSyntaxError> {
    let mut content = String::new();
    let mut segment = first.to_owned();
    loop {
        let mut escaped = false;
        for (idx, c) in segment.char_indices() {
            if quote == '"' && c == '\\' && !escaped {
                escaped = true;
                continue;
            }
            if c == quote && !escaped {
                content.push_str(&segment[..idx]);
                return Ok(content);
            }
            escaped = false;
        }
        content.push_str(&segment);
        if *next_line >= lines.len() {
            return Err(EnvSyntaxError {
                line: start_line,
                reason: format!("the {quote} quote opened here is never closed"),
            });
        }
        content.push('\n');
        segment = lines[*next_line].trim_end_matches('\r').to_owned();
        *next_line += 1;
    }
}

fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            Some('t') => out.push('\t'),
            Some('"') => out.push('"'),
            Some('\\') => out.push('\\'),
            Some('$') => out.push_str("$$"),
            Some(other) => {
                out.push('\\');
                out.push(other);
            }
            None => out.push('\\'),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_ok(text: &str) -> Vec<(String, String)> {
        let outer = |k: &str| (k == "FROM_ENV").then(|| "outside".to_owned());
        let mut issues = Vec::new();
        parse(text, &outer, &mut issues)
            .expect("parses")
            .into_iter()
            .map(|e| (e.key, e.value))
            .collect()
    }

    #[test]
    fn compose_dotenv_forms() {
        let text = "# comment\n\nA=1\nexport B=two words\nC='single $A # kept'\nD=\"dq \\\"x\\\" \\n ${A}\"\nE=val # comment\nF=val#nocomment\nG=\nH=${A}-${FROM_ENV}\nFROM_ENV\nI=\"line1\nline2\"\nJ=after\r\n";
        let got = parse_ok(text);
        let want = [
            ("A", "1"),
            ("B", "two words"),
            ("C", "single $A # kept"),
            ("D", "dq \"x\" \n 1"),
            ("E", "val"),
            ("F", "val#nocomment"),
            ("G", ""),
            ("H", "1-outside"),
            ("FROM_ENV", "outside"),
            ("I", "line1\nline2"),
            ("J", "after"),
        ];
        let want: Vec<(String, String)> = want
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        assert_eq!(got, want);
    }

    #[test]
    fn errors_name_the_line() {
        let mut issues = Vec::new();
        let err = parse("A=1\nthis is not ok\n", &|_| None, &mut issues).unwrap_err();
        assert_eq!(err.line, 2);
        let err = parse("A=1\nB=\"open\nC=2\n", &|_| None, &mut issues).unwrap_err();
        assert_eq!(err.line, 2);
        assert!(err.reason.contains("never closed"));
    }
}
