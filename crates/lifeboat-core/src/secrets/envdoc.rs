//! An env file as a document: read as it is, edited one definition at a time, written back
//! atomically. A file written without changes is byte for byte the file that was read; an
//! edit replaces only the lines of the one definition it changes.

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::stack::{parse_env, EnvEntry};

/// Why an env file could not be read, edited or written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EnvDocError {
    /// Reading or writing failed.
    #[error("{path}: {reason}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What the system said.
        reason: String,
    },
    /// The file is not text compose can read.
    #[error("{path}, line {line}: {reason}; fix that line first, Lifeboat will not rewrite a file it cannot read")]
    Syntax {
        /// The file.
        path: PathBuf,
        /// The 1-based line.
        line: usize,
        /// What is wrong.
        reason: String,
    },
    /// A name that is not a variable name.
    #[error(
        "{0:?} is not a valid variable name (letters, digits and _, not starting with a digit)"
    )]
    BadKey(String),
    /// A value compose could not read back.
    #[error("the value contains a character an env file cannot hold (a NUL byte)")]
    BadValue,
}

/// An env file's text and where it lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvDoc {
    /// The file.
    pub path: PathBuf,
    text: String,
}

impl EnvDoc {
    /// Reads `path`.
    ///
    /// # Errors
    /// When it cannot be read, is not UTF-8, or compose could not parse it.
    pub fn load(path: &Path) -> Result<Self, EnvDocError> {
        let bytes = std::fs::read(path).map_err(|e| EnvDocError::Io {
            path: path.to_owned(),
            reason: e.to_string(),
        })?;
        let text = String::from_utf8(bytes).map_err(|_| EnvDocError::Io {
            path: path.to_owned(),
            reason: "not UTF-8 text".into(),
        })?;
        let doc = Self {
            path: path.to_owned(),
            text,
        };
        doc.entries()?;
        Ok(doc)
    }

    /// A document with `text`, to be saved to `path` (any text file, saved atomically).
    pub fn from_text(path: &Path, text: String) -> Self {
        Self {
            path: path.to_owned(),
            text,
        }
    }

    /// An empty document for a file that does not exist yet.
    pub fn new(path: &Path) -> Self {
        Self {
            path: path.to_owned(),
            text: String::new(),
        }
    }

    /// The text, as it would be written.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The definitions, values unquoted but not expanded from the environment.
    ///
    /// # Errors
    /// When compose could not parse the text.
    pub fn entries(&self) -> Result<Vec<EnvEntry>, EnvDocError> {
        parse_env(&self.text, &|_| None, &mut Vec::new()).map_err(|e| EnvDocError::Syntax {
            path: self.path.clone(),
            line: e.line,
            reason: e.reason,
        })
    }

    /// The value of the last definition of `key` (the one compose uses).
    ///
    /// # Errors
    /// When compose could not parse the text.
    pub fn get(&self, key: &str) -> Result<Option<String>, EnvDocError> {
        Ok(self
            .entries()?
            .into_iter()
            .rev()
            .find(|e| e.key == key)
            .map(|e| e.value))
    }

    /// Sets `key` to `value`: the lines of its last definition are replaced (keeping an
    /// `export ` prefix and the line ending), or a line is appended. Nothing else changes.
    ///
    /// # Errors
    /// A bad name or value, or text compose could not parse.
    pub fn set(&mut self, key: &str, value: &str) -> Result<(), EnvDocError> {
        if !is_key(key) {
            return Err(EnvDocError::BadKey(key.to_owned()));
        }
        if value.contains('\0') {
            return Err(EnvDocError::BadValue);
        }
        let existing = self.entries()?.into_iter().rev().find(|e| e.key == key);
        let crlf = self.text.contains("\r\n");
        match existing {
            Some(e) => {
                let lines: Vec<&str> = self.text.split_inclusive('\n').collect();
                let first = lines[e.line - 1];
                let indent_len = first.len() - first.trim_start().len();
                let export = first.trim_start().starts_with("export ");
                let ending = line_ending(lines[e.last_line - 1]);
                let mut out = String::with_capacity(self.text.len() + value.len());
                for l in &lines[..e.line - 1] {
                    out.push_str(l);
                }
                out.push_str(&first[..indent_len]);
                if export {
                    out.push_str("export ");
                }
                out.push_str(key);
                out.push('=');
                out.push_str(&quote(value));
                out.push_str(ending);
                for l in &lines[e.last_line..] {
                    out.push_str(l);
                }
                self.text = out;
            }
            None => {
                let nl = if crlf { "\r\n" } else { "\n" };
                if !self.text.is_empty() && !self.text.ends_with('\n') {
                    self.text.push_str(nl);
                }
                self.text.push_str(key);
                self.text.push('=');
                self.text.push_str(&quote(value));
                self.text.push_str(nl);
            }
        }
        // What was written must read back as the same value.
        debug_assert_eq!(self.get(key).ok().flatten().as_deref(), Some(value));
        Ok(())
    }

    /// Writes the document to its file: a dated copy of the old file first (into
    /// `history_dir`, mode 0600), then a new file beside it (the old file's mode, or 0600 for
    /// a new file), synced, renamed over the old one. Returns the copy's path, if one was made.
    ///
    /// # Errors
    /// When writing fails; the old file is then untouched.
    pub fn save(&self, history_dir: &Path) -> Result<Option<PathBuf>, EnvDocError> {
        let io = |path: &Path, e: std::io::Error| EnvDocError::Io {
            path: path.to_owned(),
            reason: e.to_string(),
        };
        let old = std::fs::read(&self.path).ok();
        if old.as_deref() == Some(self.text.as_bytes()) {
            return Ok(None);
        }
        let mut copy = None;
        if let Some(old) = &old {
            std::fs::create_dir_all(history_dir).map_err(|e| io(history_dir, e))?;
            set_private(history_dir, 0o700).map_err(|e| io(history_dir, e))?;
            // Copies of secrets must never be committed with the stack.
            if let Some(top) = history_dir.parent() {
                let gi = top.join(".gitignore");
                if !gi.exists() {
                    let _ = std::fs::write(&gi, "# Lifeboat's own files: never commit them\n*\n");
                }
            }
            let name = self
                .path
                .file_name()
                .map_or_else(|| "env".into(), |n| n.to_string_lossy().into_owned());
            let stamp = stamp();
            let mut dest = history_dir.join(format!("{name}.{stamp}"));
            let mut n = 1;
            while dest.exists() {
                dest = history_dir.join(format!("{name}.{stamp}-{n}"));
                n += 1;
            }
            write_new(&dest, old, 0o600).map_err(|e| io(&dest, e))?;
            copy = Some(dest);
        }
        let mode = file_mode(&self.path).unwrap_or(0o600);
        let dir = self.path.parent().unwrap_or(Path::new("."));
        let tmp = dir.join(format!(
            ".{}.lifeboat-{}.tmp",
            self.path
                .file_name()
                .map_or_else(|| "env".into(), |n| n.to_string_lossy().into_owned()),
            std::process::id()
        ));
        let _ = std::fs::remove_file(&tmp);
        if let Err(e) = write_new(&tmp, self.text.as_bytes(), mode) {
            let _ = std::fs::remove_file(&tmp);
            return Err(io(&self.path, e));
        }
        crate::archive::commit(&tmp, &self.path).map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            io(&self.path, e)
        })?;
        Ok(copy)
    }
}

/// UTC now as `20261123T014501Z`.
fn stamp() -> String {
    crate::time::stamp(crate::time::unix_now())
}

fn line_ending(line: &str) -> &'static str {
    if line.ends_with("\r\n") {
        "\r\n"
    } else if line.ends_with('\n') {
        "\n"
    } else {
        ""
    }
}

/// Whether `key` is a variable name compose accepts.
pub fn is_key(key: &str) -> bool {
    let mut chars = key.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.' || c == '-')
}

/// The shortest form compose (compose-go's dotenv rules) reads back as exactly `value`:
/// bare when only safe characters, single quotes when there is no `'`, backslash or line
/// break (a backslash before the closing quote would escape it), else double quotes with
/// escapes (and `$$` so nothing is interpolated).
pub fn quote(value: &str) -> String {
    let safe = |c: char| c.is_ascii_alphanumeric() || "_-./:@+=,%^~".contains(c);
    if !value.is_empty() && value.chars().all(safe) {
        return value.to_owned();
    }
    if !value.contains(['\'', '\\', '\n', '\r']) {
        return format!("'{value}'");
    }
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '$' => out.push_str("$$"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(unix)]
pub(crate) fn file_mode(p: &Path) -> Option<u32> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p)
        .ok()
        .map(|m| m.permissions().mode() & 0o7777)
}
#[cfg(not(unix))]
pub(crate) fn file_mode(_p: &Path) -> Option<u32> {
    None
}

#[cfg(unix)]
pub(crate) fn set_private(p: &Path, mode: u32) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode))
}
#[cfg(not(unix))]
pub(crate) fn set_private(_p: &Path, _mode: u32) -> std::io::Result<()> {
    Ok(())
}

/// Creates `path` (must not exist) with `mode`, writes `bytes` and syncs.
fn write_new(path: &Path, bytes: &[u8], mode: u32) -> std::io::Result<()> {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(mode);
    }
    let mut f = opts.open(path)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    // The umask may have narrowed the mode; set it exactly.
    set_private(path, mode)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(text: &str) -> EnvDoc {
        EnvDoc {
            path: PathBuf::from("/x/.env"),
            text: text.to_owned(),
        }
    }

    #[test]
    fn an_edit_changes_only_its_lines() {
        let text = "# db\r\nexport A=1\r\nB=\"two\nlines\"\r\n  C='x' # note\r\nD=4";
        let mut d = doc(text);
        d.set("B", "new value").unwrap();
        assert_eq!(
            d.text(),
            "# db\r\nexport A=1\r\nB='new value'\r\n  C='x' # note\r\nD=4"
        );
        d.set("A", "it's $HOME\nok").unwrap();
        assert!(d
            .text()
            .starts_with("# db\r\nexport A=\"it's $$HOME\\nok\"\r\nB="));
        assert_eq!(d.get("A").unwrap().as_deref(), Some("it's $HOME\nok"));
        d.set("E", "5").unwrap();
        assert!(d.text().ends_with("D=4\r\nE=5\r\n"), "{:?}", d.text());
        d.set("C", "").unwrap();
        assert_eq!(d.get("C").unwrap().as_deref(), Some(""));
        assert!(d.text().contains("\r\n  C=''\r\n"), "{:?}", d.text());
    }

    proptest::proptest! {
        /// Whatever is set, compose's dotenv rules read back exactly, and the lines around
        /// it keep their values.
        #[test]
        fn set_reads_back_exactly(value in "(\\PC|[\\\\'\"$#\n\r\t ]){0,40}") {
            let mut d = doc("BEFORE=1\nK=old\nAFTER='two'\n");
            d.set("K", &value).unwrap();
            let e = d.entries().unwrap();
            let got: Vec<(&str, &str)> =
                e.iter().map(|e| (e.key.as_str(), e.value.as_str())).collect();
            proptest::prop_assert_eq!(
                got,
                vec![("BEFORE", "1"), ("K", value.as_str()), ("AFTER", "two")],
                "written as {}",
                d.text()
            );
        }
    }

    #[test]
    fn a_trailing_backslash_does_not_escape_the_closing_quote() {
        let mut d = doc("ADMIN_PASSWORD=x\nNEXT=kept\n");
        d.set("ADMIN_PASSWORD", "pa55word\\").unwrap();
        assert_eq!(d.text(), "ADMIN_PASSWORD=\"pa55word\\\\\"\nNEXT=kept\n");
        assert_eq!(
            d.get("NEXT").unwrap().as_deref(),
            Some("kept"),
            "{}",
            d.text()
        );
    }

    #[test]
    fn every_quoting_reads_back() {
        for v in [
            "plain",
            "with space",
            "it's",
            "q\"uote",
            "back\\slash",
            "$dollar",
            "${VAR}",
            "a\nb",
            "tab\tx",
            "#hash",
            " lead",
            "trail ",
            "",
        ] {
            let mut d = doc("");
            d.set("K", v).unwrap();
            assert_eq!(
                d.get("K").unwrap().as_deref(),
                Some(v),
                "{v:?} as {}",
                d.text()
            );
        }
        assert!(matches!(
            doc("").set("1X", "v"),
            Err(EnvDocError::BadKey(_))
        ));
    }
}
