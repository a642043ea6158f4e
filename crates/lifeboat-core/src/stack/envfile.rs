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
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {reason}")]
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
            let without_comment = match rest.find(" #") {
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
/// lines (advancing `next_line`). Returns the content between the quotes as compose-go's
/// dotenv reads it, in both kinds of quotes: a backslash before the quote character stands
/// for the quote itself; any other backslash is kept, with the character after it, for
/// [`unescape`] (double quotes) or as it is (single quotes).
fn quoted(
    first: &str,
    quote: char,
    lines: &[&str],
    next_line: &mut usize,
    start_line: usize,
) -> Result<String, EnvSyntaxError> {
    let mut content = String::new();
    let mut segment = first.to_owned();
    let mut escaped = false;
    loop {
        for c in segment.chars() {
            if c == quote {
                if escaped {
                    escaped = false;
                    content.push(c);
                    continue;
                }
                return Ok(content);
            }
            if c == '\\' && !escaped {
                escaped = true;
                continue;
            }
            if escaped {
                escaped = false;
                content.push('\\');
            }
            content.push(c);
        }
        if *next_line >= lines.len() {
            return Err(EnvSyntaxError {
                line: start_line,
                reason: format!("the {quote} quote opened here is never closed"),
            });
        }
        if escaped {
            escaped = false;
            content.push('\\');
        }
        content.push('\n');
        segment = lines[*next_line].trim_end_matches('\r').to_owned();
        *next_line += 1;
    }
}

/// The escapes compose-go's dotenv expands in double quotes: `\a \b \f \n \r \t \v \\ \"`,
/// `\0` and three octal digits, and `\$` for a literal `$` (written `$$` for the
/// interpolation that follows). Any other backslash stays as it is.
fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let chars: Vec<char> = s.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        i += 1;
        if c != '\\' || i == chars.len() {
            out.push(c);
            continue;
        }
        let next = chars[i];
        let simple = match next {
            'a' => Some('\u{7}'),
            'b' => Some('\u{8}'),
            'f' => Some('\u{c}'),
            'n' => Some('\n'),
            'r' => Some('\r'),
            't' => Some('\t'),
            'v' => Some('\u{b}'),
            '\\' => Some('\\'),
            '"' => Some('"'),
            _ => None,
        };
        if let Some(v) = simple {
            out.push(v);
            i += 1;
            continue;
        }
        if next == '$' {
            out.push_str("$$");
            i += 1;
            continue;
        }
        if next == '0' {
            // `\0` and up to three digits; only three octal digits make a character.
            let digits: String = chars[i + 1..]
                .iter()
                .take(3)
                .take_while(|d| d.is_ascii_digit())
                .collect();
            let value = (digits.len() == 3)
                .then(|| u32::from_str_radix(&digits, 8).ok())
                .flatten()
                .filter(|v| *v <= 255)
                .and_then(char::from_u32);
            match value {
                Some(v) => out.push(v),
                None => {
                    out.push('\\');
                    out.push('0');
                    out.push_str(&digits);
                }
            }
            i += 1 + digits.len();
            continue;
        }
        out.push('\\');
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

    /// Lines and the values compose-go's dotenv reads from them (from its own tests).
    #[test]
    fn reads_what_compose_go_reads() {
        let cases: [(&str, &str); 24] = [
            ("FOO =bar", "bar"),
            ("FOO= bar", "bar"),
            (r#"FOO="escaped\"bar""#, r#"escaped"bar"#),
            (r#"FOO="\"quoted\"""#, r#""quoted""#),
            (r#"FOO="'d'""#, "'d'"),
            (r"export OPTION_B='\n'", r"\n"),
            (r"FOO='Let\'s go!'", "Let's go!"),
            (r#"FOO="bar\nbaz""#, "bar\nbaz"),
            (r"FOO=a\tb", r"a\tb"),
            (r#"FOO="a\tb""#, "a\tb"),
            (
                r#"KEY="Z\aZ\bZ\fZ\nZ\rZ\tZ\vZ\\Z\0123Z""#,
                "Z\u{7}Z\u{8}Z\u{c}Z\nZ\rZ\tZ\u{b}Z\\ZSZ",
            ),
            ("FOO=bar ", "bar"),
            ("FOO=bar # this is foo", "bar"),
            ("FOO=bar #", "bar"),
            ("FOO=123#not-an-inline-comment", "123#not-an-inline-comment"),
            (r#"FOO="bar#baz" # comment"#, "bar#baz"),
            ("FOO='bar#baz' # comment", "bar#baz"),
            (r#"FOO="bar\n\ b\az""#, "bar\n\\ b\u{7}z"),
            (r#"FOO="bar\\\n\ b\az""#, "bar\\\n\\ b\u{7}z"),
            (r#"FOO="bar\\r\ b\az""#, "bar\\r\\ b\u{7}z"),
            (r#"FOO="bar\nbaz\\""#, "bar\nbaz\\"),
            (r#"KEY="\0123""#, "S"),
            (r#"KEY="\x07""#, r"\x07"),
            (r#"KEY="\u12e4""#, r"\u12e4"),
        ];
        for (line, want) in cases {
            let got = parse_ok(line);
            assert_eq!(got.len(), 1, "{line}");
            assert_eq!(got[0].1, want, "{line}");
        }
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
