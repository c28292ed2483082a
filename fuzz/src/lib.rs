//! Fuzz targets for evcached's protocol layer and connection state machine, and a small
//! mutational fuzzer that runs them on the stable toolchain.
//!
//! Every target takes arbitrary bytes, delivers them to a fresh server state in several
//! chunkings (one chunk, byte by byte, pseudo-random cuts derived from the input) and
//! panics when a rule is broken:
//!
//! * nothing panics inside the server code;
//! * no unbounded buffering (a command may only ask for its line plus one value; a line
//!   without a newline is bounded; a connection stops reading while its output is over
//!   the limit);
//! * the replies are the same whatever the chunking (see [`session::check_against`] for
//!   the one memcached-compatible exception: a connection closed for an over-long line
//!   or an HTTP request).
//!
//! Targets are listed in [`TARGETS`]; adding one (e.g. for the binary or meta protocol
//! once they exist) is one entry with the server flags it needs and a seed directory
//! under `fuzz/corpus/`. The same functions back the libFuzzer targets in
//! `fuzz/libfuzzer/` (nightly, `cargo fuzz`) for long coverage-guided runs.

pub mod conn;
pub mod mutate;
pub mod rng;
pub mod runner;
pub mod session;

use std::ffi::OsString;

use evcached::server::Shared;
use evcached::settings::{self, Parsed};

/// One fuzz target.
pub struct Target {
    /// Name used on the command line and for the corpus and artifact directories.
    pub name: &'static str,
    /// What it exercises.
    pub about: &'static str,
    /// Seed corpus directory under `fuzz/corpus/`.
    pub corpus: &'static str,
    /// Runs one input; panics on a broken rule. Returns a signature of the replies'
    /// shape, which the fuzzer uses to keep inputs that reach new behaviour.
    pub run: fn(&[u8]) -> u64,
}

/// Every target, in the order `cargo xtask fuzz` runs them.
pub const TARGETS: &[Target] = &[
    Target {
        name: "ascii",
        about: "text protocol parser (Session::step) under -B ascii, three chunkings",
        corpus: "ascii",
        run: ascii,
    },
    Target {
        name: "negotiate",
        about: "protocol negotiation under -B auto (first byte 0x80 = binary) with a small -I",
        corpus: "auto",
        run: negotiate,
    },
    Target {
        name: "binary",
        about: "binary protocol parser under -B binary, three chunkings",
        corpus: "binary",
        run: binary,
    },
    Target {
        name: "conn",
        about: "connection state machine (Conn::drive over a socket pair) against the parser",
        corpus: "ascii",
        run: connection,
    },
];

/// Looks a target up by name.
pub fn target(name: &str) -> Option<&'static Target> {
    TARGETS.iter().find(|t| t.name == name)
}

/// A fresh server state (engine without background threads) for the given flags.
pub fn shared(args: &[&str]) -> Shared {
    let args: Vec<OsString> = args.iter().map(OsString::from).collect();
    let settings = match settings::parse(args) {
        Ok(Parsed::Run(s)) => *s,
        _ => panic!("fuzz settings rejected"),
    };
    Shared::detached(settings).expect("detached server state")
}

const ASCII_ARGS: &[&str] = &["-B", "ascii", "-m", "8", "-o", "hashpower=12"];
const AUTO_ARGS: &[&str] = &[
    "-B",
    "auto",
    "-m",
    "2",
    "-I",
    "4k",
    "-o",
    "slab_chunk_max=2048,hashpower=12",
];

const BINARY_ARGS: &[&str] = &["-B", "binary", "-m", "8", "-o", "hashpower=12"];

/// Compares the parser's replies for one chunk and random chunks against byte-by-byte.
fn session_check(args: &[&str], input: &[u8]) -> u64 {
    use session::{check_against, cuts, deliver};
    let reference = deliver(&shared(args), input, &cuts(input.len(), Some(0)));
    let one = deliver(&shared(args), input, &cuts(input.len(), None));
    check_against(&reference, &one, "one chunk");
    let seed = rng::hash(input) | 1;
    let random = deliver(&shared(args), input, &cuts(input.len(), Some(seed)));
    check_against(&reference, &random, "random chunks");
    signature(&reference)
}

fn ascii(input: &[u8]) -> u64 {
    session_check(ASCII_ARGS, input)
}

fn binary(input: &[u8]) -> u64 {
    session_check(BINARY_ARGS, input)
}

fn negotiate(input: &[u8]) -> u64 {
    session_check(AUTO_ARGS, input)
}

/// The real connection in one chunk, random chunks and (for short inputs) byte by byte,
/// each against the parser's byte-by-byte reference. When that reference was closed early
/// (over-long line, HTTP request), what a bigger chunk does after the close point is
/// compared with the parser fed the same chunks instead.
fn connection(input: &[u8]) -> u64 {
    use session::{check_against, cuts};
    let reference = session::deliver(&shared(ASCII_ARGS), input, &cuts(input.len(), Some(0)));
    let closed_early = matches!(reference.end, session::End::TooLong | session::End::Abort);
    let seed = rng::hash(input) | 1;
    let mut plans = vec![
        ("connection, one chunk", None),
        ("connection, random chunks", Some(seed)),
    ];
    if input.len() <= 512 {
        plans.push(("connection, byte by byte", Some(0)));
    }
    for (what, plan) in plans {
        let c = cuts(input.len(), plan);
        let got = conn::deliver(&shared(ASCII_ARGS), input, &c);
        if closed_early {
            let same = session::deliver(&shared(ASCII_ARGS), input, &c);
            check_against(&same, &got, what);
        } else {
            check_against(&reference, &got, what);
        }
    }
    signature(&reference)
}

/// The shape of a transcript: which reply kinds occurred (first word of each line that
/// starts with a capital letter) and how it ended.
fn signature(t: &session::Transcript) -> u64 {
    if t.out.first() == Some(&0x81) {
        return binary_signature(t);
    }
    let mut kinds: Vec<&[u8]> = t
        .out
        .split(|&b| b == b'\n')
        .filter(|l| l.first().is_some_and(u8::is_ascii_uppercase))
        .map(|l| l.split(|&b| b == b' ' || b == b'\r').next().unwrap_or(l))
        .collect();
    kinds.sort_unstable();
    kinds.dedup();
    let mut h = rng::hash(format!("{:?}", t.end).as_bytes());
    for k in kinds {
        h = h.rotate_left(7) ^ rng::hash(k);
    }
    h
}

/// Binary replies: the set of (opcode, status) pairs and how it ended.
fn binary_signature(t: &session::Transcript) -> u64 {
    let mut kinds = Vec::new();
    let mut rest = &t.out[..];
    while rest.len() >= 24 {
        kinds.push([rest[1], rest[6], rest[7]]);
        let body = u32::from_be_bytes([rest[8], rest[9], rest[10], rest[11]]) as usize;
        rest = rest.get(24 + body..).unwrap_or(&[]);
    }
    kinds.sort_unstable();
    kinds.dedup();
    let mut h = rng::hash(format!("{:?}", t.end).as_bytes());
    for k in kinds {
        h = h.rotate_left(7) ^ rng::hash(&k);
    }
    h
}

/// Bytes shown with `\r`, `\n`, `\\` and `\xHH` escapes (long runs cut in the middle).
pub fn escape(bytes: &[u8]) -> String {
    let mut s = String::new();
    let shown: Vec<u8> = if bytes.len() > 600 {
        let mut v = bytes[..300].to_vec();
        v.extend_from_slice(format!("...<{} bytes>...", bytes.len() - 600).as_bytes());
        v.extend_from_slice(&bytes[bytes.len() - 300..]);
        v
    } else {
        bytes.to_vec()
    };
    for b in shown {
        match b {
            b'\r' => s.push_str("\\r"),
            b'\n' => s.push_str("\\n"),
            b'\\' => s.push_str("\\\\"),
            0x20..=0x7e => s.push(b as char),
            _ => s.push_str(&format!("\\x{b:02x}")),
        }
    }
    s
}
