//! Row counts of a logical dump, counted from the dump itself while it streams in: what a
//! drill expects to find after loading it. `pg_dumpall` writes each table's rows as a
//! `COPY … FROM stdin;` block, one line per row, ended by `\.`, and switches databases with
//! `\connect`; `mysqldump` writes `USE` lines and extended `INSERT INTO … VALUES (…),(…);`
//! statements, one tuple per row, on one line (MySQL, older MariaDB) or one tuple per line
//! after a `VALUES` line (MariaDB 10.11 and later). Counting the dump (rather than the live database a moment
//! apart) makes the counts exactly those of the data the snapshot holds.

use std::collections::BTreeMap;

use super::manifest::Recipe;

/// Lines longer than this are not looked at for a `COPY`, `\connect` or `USE` (the rows of
/// a `COPY` block are counted whatever their length).
const HEAD: usize = 64 * 1024;

/// Counts the rows of a dump fed to it in any slices.
#[derive(Debug)]
pub struct DumpRows {
    kind: Kind,
    head: Vec<u8>,
    /// The head no longer grows: the line is too long to be a statement looked at.
    overlong: bool,
    database: String,
    counts: BTreeMap<(String, String), u64>,
    /// Postgres: the table whose `COPY` block this is, and its rows so far.
    copy: Option<(String, u64)>,
    /// MySQL: the table whose `INSERT` statement this is, and the tuple scanner's state.
    insert: Option<(String, Tuples)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Pg,
    Mysql,
}

#[derive(Debug, Default)]
struct Tuples {
    depth: u32,
    quote: Option<u8>,
    escaped: bool,
    rows: u64,
    /// The statement's `;` was seen.
    ended: bool,
}

impl DumpRows {
    /// A counter for dumps made by `recipe`, when Lifeboat knows how to count them.
    pub fn for_recipe(recipe: Recipe) -> Option<Self> {
        let kind = match recipe {
            Recipe::PgDumpall => Kind::Pg,
            Recipe::MysqlDump => Kind::Mysql,
            _ => return None,
        };
        Some(Self {
            kind,
            head: Vec::new(),
            overlong: false,
            database: String::new(),
            counts: BTreeMap::new(),
            copy: None,
            insert: None,
        })
    }

    /// Counts `bytes`, the next part of the dump.
    pub fn feed(&mut self, bytes: &[u8]) {
        for &b in bytes {
            // An INSERT statement runs to its `;`, over as many lines as it takes.
            if let Some((_, t)) = self.insert.as_mut() {
                t.byte(b);
                if t.ended {
                    self.end_insert();
                }
                continue;
            }
            if b == b'\n' {
                self.end_line();
                continue;
            }
            if self.head.len() < HEAD {
                self.head.push(b);
                if self.kind == Kind::Mysql && self.copy.is_none() {
                    self.maybe_insert();
                }
            } else {
                self.overlong = true;
            }
        }
    }

    /// A MySQL `INSERT INTO `t` VALUES ` head: from here on the statement's tuples are
    /// counted.
    fn maybe_insert(&mut self) {
        if !self.head.ends_with(b" VALUES ") {
            return;
        }
        self.start_insert();
    }

    /// Starts counting the tuples of the `INSERT` statement whose head is `self.head`.
    fn start_insert(&mut self) {
        let Some(rest) = self.head.strip_prefix(b"INSERT INTO ") else {
            return;
        };
        let table = leading_ident(rest);
        self.head.clear();
        self.insert = Some((table, Tuples::default()));
    }

    /// The `INSERT` statement ended: its tuples are the table's rows.
    fn end_insert(&mut self) {
        if let Some((table, t)) = self.insert.take() {
            *self
                .counts
                .entry((self.database.clone(), table))
                .or_default() += t.rows;
        }
    }

    fn end_line(&mut self) {
        let line = std::mem::take(&mut self.head);
        let overlong = std::mem::replace(&mut self.overlong, false);
        if let Some((table, rows)) = self.copy.as_mut() {
            if !overlong && line == b"\\." {
                let done = (self.database.clone(), std::mem::take(table));
                *self.counts.entry(done).or_default() += *rows;
                self.copy = None;
            } else {
                *rows += 1;
            }
            return;
        }
        if overlong {
            return;
        }
        match self.kind {
            Kind::Pg => {
                if let Some(rest) = line.strip_prefix(b"\\connect ") {
                    self.database = pg_connect_target(rest);
                } else if let Some(rest) = line.strip_prefix(b"COPY ") {
                    if line.ends_with(b" FROM stdin;") {
                        let end = find(rest, b" (")
                            .or_else(|| find(rest, b" FROM stdin;"))
                            .unwrap_or(rest.len());
                        let table = String::from_utf8_lossy(&rest[..end]).into_owned();
                        self.counts
                            .entry((self.database.clone(), table.clone()))
                            .or_default();
                        self.copy = Some((table, 0));
                    }
                }
            }
            Kind::Mysql => {
                if line.starts_with(b"INSERT INTO ") && line.ends_with(b" VALUES") {
                    // MariaDB's one tuple per line: the statement goes on below.
                    self.head = line;
                    self.start_insert();
                } else if let Some(rest) = line.strip_prefix(b"USE ") {
                    let rest = rest.strip_suffix(b";").unwrap_or(rest);
                    self.database = ident(rest);
                } else if let Some(rest) = line.strip_prefix(b"CREATE TABLE ") {
                    // A table without rows has no INSERT line; it is still expected.
                    let name = leading_ident(rest);
                    if !name.is_empty() && !self.database.is_empty() {
                        self.counts
                            .entry((self.database.clone(), name))
                            .or_default();
                    }
                }
            }
        }
    }

    /// Every table seen, as (database, table, rows), in order.
    pub fn finish(mut self) -> Vec<(String, String, u64)> {
        if self.insert.is_some() {
            self.end_insert();
        } else if !self.head.is_empty() {
            self.end_line();
        }
        self.counts
            .into_iter()
            .map(|((d, t), n)| (d, t, n))
            .collect()
    }
}

impl Tuples {
    fn byte(&mut self, b: u8) {
        if let Some(q) = self.quote {
            if self.escaped {
                self.escaped = false;
            } else if b == b'\\' {
                self.escaped = true;
            } else if b == q {
                self.quote = None;
            }
            return;
        }
        match b {
            b'\'' | b'"' => self.quote = Some(b),
            b'(' => {
                if self.depth == 0 {
                    self.rows += 1;
                }
                self.depth += 1;
            }
            b')' => self.depth = self.depth.saturating_sub(1),
            b';' if self.depth == 0 => self.ended = true,
            _ => {}
        }
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// The MySQL identifier `raw` starts with (backquoted, spaces and doubled backquotes
/// allowed, or a bare word), without its backquotes.
fn leading_ident(raw: &[u8]) -> String {
    if raw.first() != Some(&b'`') {
        return ident(raw.split(|&c| c == b' ').next().unwrap_or(raw));
    }
    let mut out = Vec::new();
    let mut i = 1;
    while i < raw.len() {
        if raw[i] == b'`' {
            if raw.get(i + 1) == Some(&b'`') {
                out.push(b'`');
                i += 2;
                continue;
            }
            break;
        }
        out.push(raw[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A MySQL identifier without its backquotes (a doubled backquote is one).
fn ident(raw: &[u8]) -> String {
    let s = String::from_utf8_lossy(raw);
    let s = s.trim();
    s.strip_prefix('`')
        .and_then(|x| x.strip_suffix('`'))
        .map_or_else(|| s.to_owned(), |x| x.replace("``", "`"))
}

/// The database a `\connect` line of `pg_dumpall` goes to: `\connect NAME`, `\connect
/// "NAME"` or `\connect -reuse-previous=on "dbname='NAME'"`.
fn pg_connect_target(rest: &[u8]) -> String {
    let s = String::from_utf8_lossy(rest);
    if let Some(i) = s.find("dbname='") {
        let tail = &s[i + "dbname='".len()..];
        let mut out = String::new();
        let mut chars = tail.chars().peekable();
        while let Some(c) = chars.next() {
            if c == '\'' {
                if chars.peek() == Some(&'\'') {
                    chars.next();
                    out.push('\'');
                    continue;
                }
                break;
            }
            if c == '\\' {
                if let Some(n) = chars.next() {
                    out.push(n);
                }
                continue;
            }
            out.push(c);
        }
        return out;
    }
    let s = s.trim();
    s.strip_prefix('"')
        .and_then(|x| x.strip_suffix('"'))
        .map_or_else(|| s.to_owned(), |x| x.replace("\"\"", "\""))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn count(recipe: Recipe, dump: &[u8], slice: usize) -> Vec<(String, String, u64)> {
        let mut c = DumpRows::for_recipe(recipe).unwrap();
        for part in dump.chunks(slice) {
            c.feed(part);
        }
        c.finish()
    }

    #[test]
    fn counts_copy_blocks_per_database_in_any_slices() {
        let dump = b"--\n-- PostgreSQL database cluster dump\n--\n\\connect template1\n\
            \\connect app\nCREATE TABLE public.items (id integer, name text);\n\
            COPY public.items (id, name) FROM stdin;\n1\tone\n2\ttwo\\nlines\n3\t\\\\.\n\\.\n\
            COPY public.\"Empty\" (id) FROM stdin;\n\\.\n\
            \\connect -reuse-previous=on \"dbname='it''s'\"\n\
            COPY public.items (id) FROM stdin;\n7\n\\.\n-- PostgreSQL database cluster dump complete\n";
        let want = vec![
            ("app".to_owned(), "public.\"Empty\"".to_owned(), 0),
            ("app".to_owned(), "public.items".to_owned(), 3),
            ("it's".to_owned(), "public.items".to_owned(), 1),
        ];
        for slice in [1, 3, 7, 4096] {
            assert_eq!(count(Recipe::PgDumpall, dump, slice), want, "slice {slice}");
        }
    }

    #[test]
    fn counts_mysql_tuples_with_quotes_and_parentheses_in_values() {
        let dump = b"-- MariaDB dump\nUSE `shop`;\nCREATE TABLE `orders` (\n  `id` int\n);\n\
            INSERT INTO `orders` VALUES (1,'a (b), c'),(2,'it\\'s ('),(3,NULL);\n\
            INSERT INTO `orders` VALUES (4,\"x)\");\nCREATE TABLE `empty` (\n  `id` int\n);\n\
            USE `other`;\nINSERT INTO `t` VALUES (1);\n\
            CREATE TABLE `odd ``name` (\n  `id` int\n);\n\
            INSERT INTO `odd ``name` VALUES\n(1,'x;y'),\n(2,'(\\n');\n\
            INSERT INTO `odd ``name` VALUES\n(3,NULL);\n-- Dump completed\n";
        let want = vec![
            ("other".to_owned(), "odd `name".to_owned(), 3),
            ("other".to_owned(), "t".to_owned(), 1),
            ("shop".to_owned(), "empty".to_owned(), 0),
            ("shop".to_owned(), "orders".to_owned(), 4),
        ];
        for slice in [1, 5, 4096] {
            assert_eq!(count(Recipe::MysqlDump, dump, slice), want, "slice {slice}");
        }
    }
}
