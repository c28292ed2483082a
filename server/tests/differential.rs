//! Differential tests: the corpus in `tests/corpus/` is sent byte for byte to evcached and to
//! the reference memcached 1.6.18, and the replies must match after normalisation (see
//! `support/normalize.rs` for the rules: CAS ids, versions, time/pid/allocator stats).
//!
//! Every group file runs on a fresh server pair started with the same flags; each case gets
//! its own connection. The corpus runs against every event backend the binary offers
//! (native and portable). `memcached_against_itself` validates the harness and the corpus
//! (it must pass whatever evcached does): a case whose reply is not deterministic fails
//! there.

mod support;

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;

use support::corpus::{self, Case, Group, Mode, Piece};
use support::normalize::{normalize, CasMap};
use support::{escape, Client, Kind, Server};

/// Sent after every step of a `Sentinel` case; its reply marks the end of the step's reply.
const SENTINEL: &[u8] = b"set zz_sentinel_zz 0 0 1\r\n.\r\nget zz_sentinel_zz\r\n";
/// The end of the sentinel's reply.
const SENTINEL_REPLY: &[u8] = b"STORED\r\nVALUE zz_sentinel_zz 0 1\r\n.\r\nEND\r\n";
/// How long `close` cases wait for the server to hang up.
const CLOSE_DEADLINE: Duration = Duration::from_secs(5);
/// How long the line must stay quiet to end a `quiet` case's read.
const QUIET: Duration = Duration::from_millis(300);

/// What one step produced on one server, after normalisation.
#[derive(Debug, Clone, PartialEq, Eq)]
struct StepResult {
    bytes: Vec<u8>,
    closed: bool,
    timed_out: bool,
}

/// A line diff of two replies (`-` reference only, `+` target only), at most 24 lines, for
/// readable reports on long replies such as stats.
fn line_diff(a: &[u8], b: &[u8]) -> String {
    let la: Vec<&[u8]> = a.split_inclusive(|&c| c == b'\n').collect();
    let lb: Vec<&[u8]> = b.split_inclusive(|&c| c == b'\n').collect();
    // Longest common subsequence table over lines (replies are at most a few thousand lines).
    let (n, m) = (la.len(), lb.len());
    if n * m > 25_000_000 {
        return format!("{} vs {} lines differ", n, m);
    }
    let mut lcs = vec![vec![0u32; m + 1]; n + 1];
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            lcs[i][j] = if la[i] == lb[j] {
                lcs[i + 1][j + 1] + 1
            } else {
                lcs[i + 1][j].max(lcs[i][j + 1])
            };
        }
    }
    let (mut i, mut j) = (0, 0);
    let mut out = Vec::new();
    while i < n || j < m {
        if i < n && j < m && la[i] == lb[j] {
            i += 1;
            j += 1;
        } else if j < m && (i == n || lcs[i][j + 1] >= lcs[i + 1][j]) {
            out.push(format!("+ {}", escape(lb[j])));
            j += 1;
        } else {
            out.push(format!("- {}", escape(la[i])));
            i += 1;
        }
    }
    let more = out.len().saturating_sub(24);
    out.truncate(24);
    if more > 0 {
        out.push(format!("... {more} more differing lines"));
    }
    out.iter().map(|l| format!("\n        {l}")).collect()
}

impl StepResult {
    fn show(&self) -> String {
        let mut s = escape(&self.bytes);
        if self.closed {
            s.push_str(" <closed>");
        }
        if self.timed_out {
            s.push_str(" <timed out>");
        }
        s
    }
}

fn corpus_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("corpus")
}

/// Last CAS id per key seen in raw replies (for `{cas:KEY}`).
fn record_cas(raw: &[u8], seen: &mut HashMap<String, String>) {
    for line in raw.split(|&b| b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let words: Vec<&[u8]> = line.split(|&b| b == b' ').collect();
        if let [b"VALUE", key, _flags, _len, cas] = words.as_slice() {
            seen.insert(
                String::from_utf8_lossy(key).into_owned(),
                String::from_utf8_lossy(cas).into_owned(),
            );
        }
    }
}

/// Runs one case on one server and returns the normalised result of every step.
fn run_case(server: &Server, case: &Case) -> Vec<StepResult> {
    let mut client = Client::connect(server.port);
    let mut cas_seen: HashMap<String, String> = HashMap::new();
    let mut cas_map = CasMap::default();
    let mut results = Vec::new();
    for step in &case.steps {
        let mut request = Vec::new();
        for piece in step {
            match piece {
                Piece::Bytes(b) => request.extend_from_slice(b),
                Piece::Cas(key) => request
                    .extend_from_slice(cas_seen.get(key).map_or("0", String::as_str).as_bytes()),
            }
        }
        // A step that stops mid-line (a request split across writes) cannot be followed by
        // the sentinel, which would become part of it: read until quiet instead.
        let mode = match case.mode {
            Mode::Sentinel if !request.ends_with(b"\n") => Mode::Quiet,
            m => m,
        };
        let reply = match mode {
            Mode::Sentinel => {
                request.extend_from_slice(SENTINEL);
                client.send(&request);
                let mut r = client.read_until(SENTINEL_REPLY);
                if r.bytes.ends_with(SENTINEL_REPLY) {
                    r.bytes.truncate(r.bytes.len() - SENTINEL_REPLY.len());
                }
                r
            }
            Mode::Close => {
                client.send(&request);
                client.read_to_close(CLOSE_DEADLINE)
            }
            Mode::Quiet => {
                client.send(&request);
                client.read_quiet(QUIET)
            }
        };
        record_cas(&reply.bytes, &mut cas_seen);
        let closed = reply.closed;
        results.push(StepResult {
            bytes: normalize(&reply.bytes, &mut cas_map),
            closed,
            timed_out: reply.timed_out,
        });
        if closed {
            return results;
        }
    }
    if case.mode == Mode::Quiet {
        // The server is left waiting for more input; just hang up.
        return results;
    }
    // End every case with `quit` and wait for the hang-up, so the next case starts on a
    // server that has finished with this connection.
    client.send(b"quit\r\n");
    let r = client.read_to_close(CLOSE_DEADLINE);
    results.push(StepResult {
        bytes: r.bytes,
        closed: r.closed,
        timed_out: r.timed_out,
    });
    results
}

/// After this many cases of a group time out on the target, the rest of the group is
/// reported as not run (each timeout costs the full reply deadline).
const MAX_TIMEOUTS_PER_GROUP: usize = 3;

/// Checks that `server` answers the sentinel on a fresh connection.
fn preflight(server: &Server) -> Result<(), String> {
    let mut c = Client::connect(server.port);
    c.send(SENTINEL);
    let r = c.read_until(SENTINEL_REPLY);
    if r.bytes == SENTINEL_REPLY {
        // Hang up cleanly so the first case (e.g. `stats conns`) does not see this one.
        c.send(b"quit\r\n");
        c.read_to_close(CLOSE_DEADLINE);
        Ok(())
    } else {
        Err(format!(
            "got {:?} (closed {}, timed out {})",
            escape(&r.bytes),
            r.closed,
            r.timed_out
        ))
    }
}

/// Runs every group on `reference` and `target` servers; returns one report per differing
/// case.
fn compare(reference: Kind, target: Kind) -> (usize, Vec<String>) {
    let groups: Vec<Group> = corpus::load_dir(&corpus_dir());
    let mut failures = Vec::new();
    let mut total = 0;
    for group in &groups {
        let args: Vec<&str> = group.args.iter().map(String::as_str).collect();
        let a = Server::start(reference.clone(), &args).unwrap_or_else(|e| panic!("{e}"));
        let b = Server::start(target.clone(), &args).unwrap_or_else(|e| panic!("{e}"));
        for server in [&a, &b] {
            if let Err(e) = preflight(server) {
                panic!(
                    "{} ({}): the sentinel exchange fails: {e}",
                    server.kind.label(),
                    group.name
                );
            }
        }
        let mut timeouts = 0;
        for case in &group.cases {
            total += 1;
            if timeouts >= MAX_TIMEOUTS_PER_GROUP {
                failures.push(format!(
                    "[{}] {} ({}): not run, {} stopped answering in this group",
                    case.name,
                    case.origin,
                    group.name,
                    target.label()
                ));
                continue;
            }
            let want = run_case(&a, case);
            let got = run_case(&b, case);
            if got.iter().any(|r| r.timed_out) && !want.iter().any(|r| r.timed_out) {
                timeouts += 1;
            }
            if std::env::var_os("EVCACHED_CORPUS_DUMP").is_some() {
                // Debug aid for corpus authors: show what the reference answered.
                let shown: Vec<String> = want.iter().map(StepResult::show).collect();
                eprintln!("[{}] {}", case.name, shown.join(" | "));
            }
            if want != got {
                let mut report = format!("[{}] {} ({})", case.name, case.origin, group.name);
                for (i, (w, g)) in want.iter().zip(got.iter()).enumerate() {
                    if w != g {
                        let detail = if w.bytes.len() + g.bytes.len() > 600 {
                            format!(
                                "\n      - {} / + {} (closed {}/{}, timed out {}/{}):{}",
                                reference.label(),
                                target.label(),
                                w.closed,
                                g.closed,
                                w.timed_out,
                                g.timed_out,
                                line_diff(&w.bytes, &g.bytes)
                            )
                        } else {
                            format!(
                                "\n      {}: {}\n      {}: {}",
                                reference.label(),
                                w.show(),
                                target.label(),
                                g.show()
                            )
                        };
                        report.push_str(&format!("\n    step {i}:{detail}"));
                    }
                }
                if want.len() != got.len() {
                    report.push_str(&format!(
                        "\n    steps run: {} {} vs {} {}",
                        reference.label(),
                        want.len(),
                        target.label(),
                        got.len()
                    ));
                }
                failures.push(report);
            }
        }
    }
    (total, failures)
}

fn assert_same(test: &str, target: Kind) {
    if support::memcached_or_skip(test).is_none() {
        return;
    }
    let label = target.label();
    let (total, failures) = compare(Kind::Memcached, target);
    assert!(
        failures.is_empty(),
        "{} of {total} corpus cases differ between memcached and {label}:\n{}",
        failures.len(),
        failures.join("\n")
    );
    eprintln!("{total} corpus cases identical on memcached and {label}");
}

#[test]
fn corpus_is_large_and_well_formed() {
    let groups = corpus::load_dir(&corpus_dir());
    let mut names = std::collections::HashSet::new();
    let mut count = 0;
    for g in &groups {
        for c in &g.cases {
            assert!(
                names.insert(c.name.clone()),
                "duplicate case name {} at {}",
                c.name,
                c.origin
            );
            assert!(
                c.steps.iter().any(|s| !s.is_empty()),
                "empty case {}",
                c.name
            );
            count += 1;
        }
    }
    assert!(
        count >= 150,
        "the corpus has {count} cases; at least 150 are required"
    );
}

#[test]
fn memcached_against_itself() {
    assert_same("memcached_against_itself", Kind::Memcached);
}

#[test]
fn evcached_native_matches_memcached() {
    assert_same("evcached_native_matches_memcached", Kind::Evcached(None));
}

#[test]
fn evcached_portable_matches_memcached() {
    assert_same(
        "evcached_portable_matches_memcached",
        Kind::Evcached(Some("portable")),
    );
}
