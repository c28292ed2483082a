//! The differential corpus: a readable file format for request byte streams.
//!
//! One file per group (`tests/corpus/*.txt`); every group runs on a fresh server pair.
//!
//! ```text
//! # comment
//! @args -I 2m            extra server flags for this group (optional, once)
//!
//! === case-name          a case; optional mode after the name: `close` or `quiet`
//! > set foo 0 0 3        request bytes; `> ` lines get "\r\n" appended
//! > bar
//! >n get foo             `>n ` lines get a bare "\n"
//! >> partial             `>> ` lines get nothing appended
//! ---                    step boundary: send, read the reply, then send the next step
//! > cas foo 0 0 1 {cas:foo}
//! ```
//!
//! In request text: `\r \n \t \\ \s` (space) `\{` and `\xHH` escapes; `{rep:N:TEXT}` repeats
//! TEXT N times; `{cas:KEY}` is the CAS id this server last returned for KEY in this case
//! (`0` if none).
//!
//! Modes: by default the harness appends a sentinel request after each step and reads up to
//! its reply, so it knows the step's reply is complete (a step that ends mid-line is read
//! until quiet instead, since the sentinel would become part of its line). `close` cases expect the server to
//! close the connection (the harness reads until EOF). `quiet` cases leave the server waiting
//! (e.g. for the rest of a data block): the harness reads until the line goes quiet.

use std::fs;
use std::path::Path;

/// How the harness knows a step's reply is complete.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Append the sentinel request and read through its reply.
    Sentinel,
    /// Read until the server closes the connection.
    Close,
    /// Read until nothing more arrives for a short while.
    Quiet,
}

/// A piece of a request: literal bytes or a CAS substitution.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece {
    /// Bytes sent as they are.
    Bytes(Vec<u8>),
    /// The last CAS id seen for this key.
    Cas(String),
}

/// One case: a name, a mode and the steps to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Case {
    /// Unique name within the corpus.
    pub name: String,
    /// How replies are collected.
    pub mode: Mode,
    /// Requests, one per round trip.
    pub steps: Vec<Vec<Piece>>,
    /// `file:line` of the case header.
    pub origin: String,
}

/// A group of cases sharing one server pair.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    /// The file stem.
    pub name: String,
    /// Extra server flags.
    pub args: Vec<String>,
    /// The cases, in file order.
    pub cases: Vec<Case>,
}

/// Loads every `*.txt` file in `dir`, sorted by name.
pub fn load_dir(dir: &Path) -> Vec<Group> {
    let mut files: Vec<_> = fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("read {}: {e}", dir.display()))
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "txt"))
        .collect();
    files.sort();
    files
        .iter()
        .map(|p| {
            let text =
                fs::read_to_string(p).unwrap_or_else(|e| panic!("read {}: {e}", p.display()));
            let name = p.file_stem().unwrap().to_string_lossy().into_owned();
            parse_group(&name, &text).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
        })
        .collect()
}

/// Parses one group file.
pub fn parse_group(name: &str, text: &str) -> Result<Group, String> {
    let mut group = Group {
        name: name.to_string(),
        args: Vec::new(),
        cases: Vec::new(),
    };
    for (idx, raw) in text.lines().enumerate() {
        let lineno = idx + 1;
        let at = |m: &str| format!("line {lineno}: {m}");
        if let Some(header) = raw.strip_prefix("=== ") {
            let mut words = header.split_whitespace();
            let case_name = words
                .next()
                .ok_or_else(|| at("case without a name"))?
                .to_string();
            let mode = match words.next() {
                None => Mode::Sentinel,
                Some("close") => Mode::Close,
                Some("quiet") => Mode::Quiet,
                Some(other) => return Err(at(&format!("unknown mode {other:?}"))),
            };
            group.cases.push(Case {
                name: case_name,
                mode,
                steps: vec![Vec::new()],
                origin: format!("{name}.txt:{lineno}"),
            });
            continue;
        }
        if let Some(args) = raw.strip_prefix("@args ") {
            group.args = args.split_whitespace().map(str::to_string).collect();
            continue;
        }
        let trimmed = raw.trim_end();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let case = group
            .cases
            .last_mut()
            .ok_or_else(|| at("request outside a case"))?;
        if trimmed == "---" {
            case.steps.push(Vec::new());
            continue;
        }
        let (body, end): (&str, &[u8]) = if let Some(b) = raw.strip_prefix(">> ") {
            (b, b"")
        } else if let Some(b) = raw.strip_prefix(">n ") {
            (b, b"\n")
        } else if let Some(b) = raw.strip_prefix("> ") {
            (b, b"\r\n")
        } else if raw == ">" {
            ("", b"\r\n")
        } else if raw == ">n" {
            ("", b"\n")
        } else {
            return Err(at(&format!("unrecognised line {raw:?}")));
        };
        let step = case.steps.last_mut().expect("a case has a step");
        parse_text(body, step).map_err(|e| at(&e))?;
        push_bytes(step, end);
    }
    Ok(group)
}

fn push_bytes(step: &mut Vec<Piece>, bytes: &[u8]) {
    if bytes.is_empty() {
        return;
    }
    if let Some(Piece::Bytes(last)) = step.last_mut() {
        last.extend_from_slice(bytes);
    } else {
        step.push(Piece::Bytes(bytes.to_vec()));
    }
}

/// Decodes escapes and macros of one request line into `step`.
fn parse_text(text: &str, step: &mut Vec<Piece>) -> Result<(), String> {
    let mut chars = text.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        match c {
            '\\' => {
                let (_, e) = chars.next().ok_or("dangling backslash")?;
                let byte = match e {
                    'r' => b'\r',
                    'n' => b'\n',
                    't' => b'\t',
                    's' => b' ',
                    '\\' => b'\\',
                    '{' => b'{',
                    'x' => {
                        let hex: String = [chars.next(), chars.next()]
                            .iter()
                            .map(|c| c.map(|(_, c)| c).unwrap_or(' '))
                            .collect();
                        u8::from_str_radix(&hex, 16).map_err(|_| format!("bad \\x{hex}"))?
                    }
                    other => return Err(format!("unknown escape \\{other}")),
                };
                push_bytes(step, &[byte]);
            }
            '{' => {
                let rest = &text[i + 1..];
                let close = rest.find('}').ok_or("unclosed {")?;
                let inner = &rest[..close];
                for _ in 0..close + 1 {
                    chars.next();
                }
                if let Some(key) = inner.strip_prefix("cas:") {
                    step.push(Piece::Cas(key.to_string()));
                } else if let Some(spec) = inner.strip_prefix("rep:") {
                    let (n, what) = spec.split_once(':').ok_or("rep needs N:TEXT")?;
                    let n: usize = n.parse().map_err(|_| format!("bad rep count {n:?}"))?;
                    let mut unit = Vec::new();
                    parse_text(what, &mut unit)?;
                    let unit: Vec<u8> = unit
                        .into_iter()
                        .flat_map(|p| match p {
                            Piece::Bytes(b) => b,
                            Piece::Cas(_) => Vec::new(),
                        })
                        .collect();
                    push_bytes(step, &unit.repeat(n));
                } else {
                    return Err(format!("unknown macro {{{inner}}}"));
                }
            }
            _ => {
                let mut buf = [0u8; 4];
                push_bytes(step, c.encode_utf8(&mut buf).as_bytes());
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_lines_escapes_and_macros() {
        let g = parse_group(
            "g",
            "@args -m 8\n# c\n=== a\n> set k 0 0 1\n>> x\\r\\n\n>n get\\sk\n---\n> cas k 0 0 1 {cas:k}\n\
             === b close\n> {rep:3:ab}\\x00\\{\n>\n",
        )
        .unwrap();
        assert_eq!(g.args, vec!["-m", "8"]);
        assert_eq!(g.cases.len(), 2);
        let a = &g.cases[0];
        assert_eq!(a.mode, Mode::Sentinel);
        assert_eq!(
            a.steps[0],
            vec![Piece::Bytes(b"set k 0 0 1\r\nx\r\nget k\n".to_vec())]
        );
        assert_eq!(
            a.steps[1],
            vec![
                Piece::Bytes(b"cas k 0 0 1 ".to_vec()),
                Piece::Cas("k".into()),
                Piece::Bytes(b"\r\n".to_vec())
            ]
        );
        assert_eq!(g.cases[1].mode, Mode::Close);
        assert_eq!(
            g.cases[1].steps[0],
            vec![Piece::Bytes(b"ababab\x00{\r\n\r\n".to_vec())]
        );
        assert!(parse_group("g", "> x\n").is_err());
        assert!(parse_group("g", "=== a\n> {rep:x:y}\n").is_err());
        assert!(parse_group("g", "=== a wat\n").is_err());
    }
}
