//! Differential tests for the binary protocol: each case is a byte stream of binary
//! requests sent on a fresh connection to memcached 1.6.18 and to evcached; the replies are
//! split into packets and must be identical except for CAS values, which are renumbered by
//! first appearance (the counter's absolute value depends on history). Cases normally end
//! with a NOOP whose reply marks the end; `close` cases read until the server hangs up.
//! The servers are flushed (text `flush_all`) before every case.

mod support;

use std::time::Duration;

use support::{escape, Client, Kind, Server};

const NOOP: u8 = 0x0a;

/// One request packet.
fn req(op: u8, key: &[u8], ext: &[u8], val: &[u8]) -> Vec<u8> {
    req_with(op, key, ext, val, 0xdead_beef, 0)
}

fn req_with(op: u8, key: &[u8], ext: &[u8], val: &[u8], opaque: u32, cas: u64) -> Vec<u8> {
    let body = (key.len() + ext.len() + val.len()) as u32;
    raw(
        0x80,
        op,
        key.len() as u16,
        ext.len() as u8,
        body,
        opaque,
        cas,
        &[ext, key, val].concat(),
    )
}

#[allow(clippy::too_many_arguments)]
fn raw(
    magic: u8,
    op: u8,
    kl: u16,
    el: u8,
    body: u32,
    opaque: u32,
    cas: u64,
    rest: &[u8],
) -> Vec<u8> {
    let mut v = vec![magic, op];
    v.extend_from_slice(&kl.to_be_bytes());
    v.push(el);
    v.push(0);
    v.extend_from_slice(&0u16.to_be_bytes());
    v.extend_from_slice(&body.to_be_bytes());
    v.extend_from_slice(&opaque.to_be_bytes());
    v.extend_from_slice(&cas.to_be_bytes());
    v.extend_from_slice(rest);
    v
}

/// Set/add/replace extras: flags, exptime.
fn sx(flags: u32, exp: u32) -> Vec<u8> {
    [flags.to_be_bytes(), exp.to_be_bytes()].concat()
}

/// Incr/decr extras: delta, initial, expiration.
fn ix(delta: u64, initial: u64, exp: u32) -> Vec<u8> {
    [
        &delta.to_be_bytes()[..],
        &initial.to_be_bytes(),
        &exp.to_be_bytes(),
    ]
    .concat()
}

fn t4(v: u32) -> Vec<u8> {
    v.to_be_bytes().to_vec()
}

fn noop() -> Vec<u8> {
    req(NOOP, b"", b"", b"")
}

struct Case {
    name: &'static str,
    bytes: Vec<u8>,
    close: bool,
}

fn case(name: &'static str, parts: Vec<Vec<u8>>) -> Case {
    let mut bytes = parts.concat();
    bytes.extend(noop());
    Case {
        name,
        bytes,
        close: false,
    }
}

fn closing(name: &'static str, parts: Vec<Vec<u8>>) -> Case {
    Case {
        name,
        bytes: parts.concat(),
        close: true,
    }
}

/// The corpus (each entry is one case).
fn corpus() -> Vec<Case> {
    let s = |k: &[u8], v: &[u8]| req(0x01, k, &sx(0, 0), v);
    let big = vec![b'x'; 1_048_600];
    let mid: Vec<u8> = (0..700_000u32).map(|i| (i % 251) as u8).collect();
    vec![
        case("version", vec![req(0x0b, b"", b"", b"")]),
        case("noop", vec![]),
        case(
            "set-get",
            vec![
                req(0x01, b"k", &sx(5, 0), b"val"),
                req(0x00, b"k", b"", b""),
            ],
        ),
        case("set-getk", vec![s(b"k", b"v"), req(0x0c, b"k", b"", b"")]),
        case("get-miss", vec![req(0x00, b"nope", b"", b"")]),
        case("getk-miss", vec![req(0x0c, b"nope", b"", b"")]),
        case("getq-miss-hidden", vec![req(0x09, b"nope", b"", b"")]),
        case("getkq-miss-hidden", vec![req(0x0d, b"nope", b"", b"")]),
        case("getq-hit", vec![s(b"q", b"v"), req(0x09, b"q", b"", b"")]),
        case("getkq-hit", vec![s(b"q", b"v"), req(0x0d, b"q", b"", b"")]),
        case(
            "getq-pipeline",
            vec![
                s(b"p1", b"a"),
                req(0x09, b"p1", b"", b""),
                req(0x09, b"p2", b"", b""),
                req(0x0d, b"p1", b"", b""),
            ],
        ),
        case("empty-value", vec![s(b"e", b""), req(0x00, b"e", b"", b"")]),
        case(
            "binary-value",
            vec![s(b"bv", b"\x00\r\n\xff"), req(0x00, b"bv", b"", b"")],
        ),
        case(
            "flags-max",
            vec![
                req(0x01, b"f", &sx(u32::MAX, 0), b"x"),
                req(0x00, b"f", b"", b""),
            ],
        ),
        case("setq-silent", vec![req(0x11, b"q", &sx(0, 0), b"v")]),
        case(
            "addq-exists",
            vec![s(b"a", b"1"), req(0x12, b"a", &sx(0, 0), b"v")],
        ),
        case(
            "replaceq-missing",
            vec![req(0x13, b"nope", &sx(0, 0), b"v")],
        ),
        case("add-new", vec![req(0x02, b"a", &sx(0, 0), b"1")]),
        case(
            "add-exists",
            vec![s(b"a", b"1"), req(0x02, b"a", &sx(0, 0), b"2")],
        ),
        case("replace-missing", vec![req(0x03, b"nope", &sx(0, 0), b"1")]),
        case(
            "replace-hit",
            vec![
                s(b"r", b"1"),
                req(0x03, b"r", &sx(3, 0), b"2"),
                req(0x00, b"r", b"", b""),
            ],
        ),
        case("append-missing", vec![req(0x0e, b"nope", b"", b"x")]),
        case(
            "append-prepend",
            vec![
                s(b"a", b"1"),
                req(0x0e, b"a", b"", b"x"),
                req(0x0f, b"a", b"", b"y"),
                req(0x00, b"a", b"", b""),
            ],
        ),
        case(
            "appendq-prependq",
            vec![
                s(b"a", b"1"),
                req(0x19, b"a", b"", b"x"),
                req(0x1a, b"nope", b"", b"y"),
            ],
        ),
        case("delete-missing", vec![req(0x04, b"nope", b"", b"")]),
        case(
            "delete-hit",
            vec![
                s(b"d", b"1"),
                req(0x04, b"d", b"", b""),
                req(0x00, b"d", b"", b""),
            ],
        ),
        case(
            "deleteq",
            vec![
                s(b"d", b"1"),
                req(0x14, b"d", b"", b""),
                req(0x14, b"nope", b"", b""),
            ],
        ),
        case(
            "incr-create",
            vec![
                req(0x05, b"n", &ix(1, 5, 0), b""),
                req(0x00, b"n", b"", b""),
            ],
        ),
        case(
            "incr-steps",
            vec![
                req(0x05, b"n", &ix(1, 5, 0), b""),
                req(0x05, b"n", &ix(10, 5, 0), b""),
                req(0x06, b"n", &ix(100, 5, 0), b""),
            ],
        ),
        case(
            "incr-no-create",
            vec![req(0x05, b"m", &ix(1, 5, u32::MAX), b"")],
        ),
        case(
            "incr-wrap",
            vec![
                req(0x05, b"w", &ix(1, u64::MAX, 0), b""),
                req(0x05, b"w", &ix(1, 0, 0), b""),
            ],
        ),
        case(
            "incr-non-numeric",
            vec![s(b"t", b"abc"), req(0x05, b"t", &ix(1, 0, 0), b"")],
        ),
        case(
            "incrq-decrq",
            vec![
                s(b"n", b"10"),
                req(0x15, b"n", &ix(1, 0, 0), b""),
                req(0x16, b"n", &ix(3, 0, 0), b""),
                req(0x00, b"n", b"", b""),
            ],
        ),
        case("decr-create", vec![req(0x06, b"dc", &ix(1, 7, 0), b"")]),
        case(
            "touch",
            vec![
                req(0x01, b"t", &sx(7, 0), b"xyz"),
                req(0x1c, b"t", &t4(100), b""),
            ],
        ),
        case("touch-miss", vec![req(0x1c, b"nope", &t4(1), b"")]),
        case(
            "gat-gatk",
            vec![
                req(0x01, b"t", &sx(7, 0), b"xyz"),
                req(0x1d, b"t", &t4(100), b""),
                req(0x23, b"t", &t4(100), b""),
            ],
        ),
        case(
            "gat-miss",
            vec![
                req(0x1d, b"nope", &t4(1), b""),
                req(0x23, b"nope", &t4(1), b""),
            ],
        ),
        case(
            "gatq-gatkq-miss",
            vec![
                req(0x1e, b"nope", &t4(1), b""),
                req(0x24, b"nope", &t4(1), b""),
            ],
        ),
        case(
            "gatq-hit",
            vec![
                s(b"g", b"v"),
                req(0x1e, b"g", &t4(0), b""),
                req(0x24, b"g", &t4(0), b""),
            ],
        ),
        case(
            "flush",
            vec![
                s(b"f", b"1"),
                req(0x08, b"", b"", b""),
                req(0x00, b"f", b"", b""),
            ],
        ),
        case(
            "flushq",
            vec![
                s(b"f", b"1"),
                req(0x18, b"", b"", b""),
                req(0x00, b"f", b"", b""),
            ],
        ),
        case("flush-extras", vec![req(0x08, b"", &t4(0), b"")]),
        case("quitq-silent", vec![req(0x17, b"", b"", b"")]),
        closing("quit", vec![req(0x07, b"", b"", b""), noop()]),
        case("unknown-opcode", vec![req(0x50, b"", b"", b"abcd")]),
        case("unknown-opcode-key", vec![req(0x45, b"kk", b"", b"")]),
        // memcached skips extras and key, then `bodylen` more bytes: 4 bytes of padding.
        case(
            "verbosity-unknown",
            vec![req(0x1b, b"", &t4(1), b""), vec![0; 4]],
        ),
        case("sasl-list", vec![req(0x20, b"", b"", b"")]),
        case("sasl-auth", vec![req(0x21, b"PLAIN", b"", b"\x00a\x00b")]),
        case("sasl-step", vec![req(0x22, b"PLAIN", b"", b"xy")]),
        closing(
            "bad-magic",
            vec![raw(0x81, NOOP, 0, 0, 0, 0, 0, b""), noop()],
        ),
        closing(
            "bad-magic-text",
            vec![
                b"\x80\x00".to_vec(),
                b"\x00\x01\x00\x00\x00\x00\x00\x00\x00\x01".to_vec(),
                vec![0; 12],
                b"k".to_vec(),
                vec![0x00; 24],
            ],
        ),
        closing(
            "keylen-over-body",
            vec![raw(0x80, 0x00, 3, 0, 2, 0, 0, b"abc")],
        ),
        closing(
            "extlen-over-body",
            vec![raw(0x80, 0x00, 1, 4, 3, 0, 0, b"abcd")],
        ),
        closing("get-with-extras", vec![req(0x00, b"abc", b"1234", b"")]),
        closing("get-with-value", vec![req(0x00, b"abc", b"", b"zz")]),
        closing("get-empty-key", vec![req(0x00, b"", b"", b"")]),
        closing("version-with-key", vec![req(0x0b, b"k", b"", b"")]),
        closing("noop-with-body", vec![req(NOOP, b"", b"", b"x")]),
        closing("set-no-extras", vec![req(0x01, b"a", b"", b"v")]),
        closing("set-short-extras", vec![req(0x01, b"a", b"1234", b"v")]),
        closing("set-empty-key", vec![req(0x01, b"", &sx(0, 0), b"v")]),
        closing("delete-extras", vec![req(0x04, b"a", b"1234", b"")]),
        closing("incr-short-extras", vec![req(0x05, b"a", &[0; 8], b"")]),
        closing("append-extras", vec![req(0x0e, b"a", &sx(0, 0), b"v")]),
        closing("touch-no-extras", vec![req(0x1c, b"a", b"", b"")]),
        closing("flush-bad-extras", vec![req(0x08, b"", b"123", b"")]),
        closing("stat-extras", vec![req(0x10, b"", b"1234", b"")]),
        closing("long-key", vec![req(0x00, &[b'k'; 251], b"", b"")]),
        case(
            "key-250",
            vec![
                req(0x01, &[b'k'; 250], &sx(0, 0), b"v"),
                req(0x00, &[b'k'; 250], b"", b""),
            ],
        ),
        case(
            "too-large",
            vec![
                req(0x01, b"big", &sx(0, 0), &big),
                req(0x00, b"big", b"", b""),
            ],
        ),
        case(
            "too-large-drops-old",
            vec![
                s(b"big", b"old"),
                req(0x01, b"big", &sx(0, 0), &big),
                req(0x00, b"big", b"", b""),
            ],
        ),
        case("cas-ok", vec![s(b"c", b"1"), req(0x00, b"c", b"", b"")]),
        case(
            "cas-mismatch",
            vec![
                s(b"c", b"1"),
                req_with(0x01, b"c", &sx(0, 0), b"2", 1, 999_999),
            ],
        ),
        case(
            "cas-missing",
            vec![req_with(0x01, b"nope", &sx(0, 0), b"2", 1, 999_999)],
        ),
        case(
            "cas-delete-mismatch",
            vec![s(b"c", b"1"), req_with(0x04, b"c", b"", b"", 1, 999_999)],
        ),
        case(
            "cas-add",
            vec![s(b"c", b"1"), req_with(0x02, b"c", &sx(0, 0), b"2", 1, 5)],
        ),
        case(
            "cas-incr-mismatch",
            vec![
                s(b"c", b"1"),
                req_with(0x05, b"c", &ix(1, 0, 0), b"", 1, 999_999),
            ],
        ),
        case(
            "cas-append-mismatch",
            vec![s(b"c", b"1"), req_with(0x0e, b"c", b"", b"x", 1, 999_999)],
        ),
        case(
            "opaque-echo",
            vec![
                req_with(NOOP, b"", b"", b"", 1, 0),
                req_with(0x0b, b"", b"", b"", 2, 0),
                req_with(0x00, b"nope", b"", b"", 3, 0),
            ],
        ),
        case("stat-unknown", vec![req(0x10, b"bogus", b"", b"")]),
        case("stat-reset", vec![req(0x10, b"reset", b"", b"")]),
        case(
            "stat-detail-on-off",
            vec![
                req(0x10, b"detail on", b"", b""),
                req(0x10, b"detail off", b"", b""),
            ],
        ),
        case("stat-detail-bad", vec![req(0x10, b"detail", b"", b"")]),
        case(
            "stat-text-only-groups",
            vec![
                req(0x10, b"conns", b"", b""),
                req(0x10, b"cachedump 1 1", b"", b""),
            ],
        ),
        case(
            "stat-prefixes",
            vec![
                req(0x10, b"resetx", b"", b""),
                req(0x10, b"detailx", b"", b""),
                req(0x10, b"detail offx", b"", b""),
                req(0x10, b"itemsx", b"", b""),
            ],
        ),
        case(
            "stat-sizes-switches",
            vec![
                req(0x10, b"sizes_enable", b"", b""),
                req(0x10, b"sizes_disable", b"", b""),
                req(0x10, b"sizes", b"", b""),
            ],
        ),
        case(
            "large-value",
            vec![
                req(0x01, b"lv", &sx(9, 0), &mid),
                req(0x00, b"lv", b"", b""),
                req(0x0c, b"lv", b"", b""),
            ],
        ),
        case(
            "append-over-limit",
            vec![
                req(0x01, b"ao", &sx(0, 0), &mid),
                req(0x0e, b"ao", b"", &mid),
                req(0x00, b"ao", b"", b""),
            ],
        ),
        case(
            "incr-grows",
            vec![
                s(b"g", b"99"),
                req(0x05, b"g", &ix(1, 0, 0), b""),
                req(0x00, b"g", b"", b""),
            ],
        ),
        case(
            "set-negative-exptime",
            vec![
                req(0x01, b"ne", &sx(0, u32::MAX), b"v"),
                req(0x00, b"ne", b"", b""),
            ],
        ),
        case(
            "touch-expire",
            vec![
                s(b"te", b"v"),
                req(0x1c, b"te", &t4(u32::MAX), b""),
                req(0x00, b"te", b"", b""),
            ],
        ),
        case(
            "flush-delayed",
            vec![
                s(b"fd", b"v"),
                req(0x08, b"", &t4(100), b""),
                req(0x00, b"fd", b"", b""),
            ],
        ),
        case(
            "vbucket-datatype-ignored",
            vec![
                {
                    let mut r = req(0x01, b"vb", &sx(0, 0), b"v");
                    r[5] = 1;
                    r[7] = 9;
                    r
                },
                req(0x00, b"vb", b"", b""),
            ],
        ),
        case(
            "getk-chunked-pipeline",
            vec![
                req(0x01, b"c1", &sx(0, 0), &mid),
                req(0x0d, b"c1", b"", b""),
                req(0x0d, b"c2", b"", b""),
                req(0x0d, b"c1", b"", b""),
            ],
        ),
        case(
            "pipeline-mixed",
            vec![
                s(b"m1", b"a"),
                s(b"m2", b"b"),
                req(0x0d, b"m1", b"", b""),
                req(0x0d, b"mx", b"", b""),
                req(0x0d, b"m2", b"", b""),
                req(0x14, b"m1", b"", b""),
                req(0x09, b"m1", b"", b""),
            ],
        ),
    ]
}

/// A reply packet with its CAS renumbered.
type Packet = (Vec<u8>, usize);

fn split(bytes: &[u8], cas_ids: &mut Vec<u64>) -> (Vec<Packet>, Vec<u8>) {
    let mut out = Vec::new();
    let mut i = 0;
    while i + 24 <= bytes.len() {
        let body = u32::from_be_bytes(bytes[i + 8..i + 12].try_into().unwrap()) as usize;
        if i + 24 + body > bytes.len() {
            break;
        }
        let cas = u64::from_be_bytes(bytes[i + 16..i + 24].try_into().unwrap());
        let ord = if cas == 0 {
            0
        } else {
            match cas_ids.iter().position(|&c| c == cas) {
                Some(p) => p + 1,
                None => {
                    cas_ids.push(cas);
                    cas_ids.len()
                }
            }
        };
        let mut p = bytes[i..i + 24 + body].to_vec();
        p[16..24].fill(0);
        out.push((p, ord));
        i += 24 + body;
    }
    (out, bytes[i..].to_vec())
}

/// Runs one case; returns (packets, trailing bytes, closed).
fn run(server: &Server, c: &Case) -> (Vec<Packet>, Vec<u8>, bool) {
    let mut f = Client::connect(server.port);
    f.request(b"flush_all\r\n", b"OK\r\n");
    let mut client = Client::connect(server.port);
    client.send(&c.bytes);
    let reply = if c.close {
        client.read_to_close(Duration::from_secs(5))
    } else {
        // The NOOP reply (opcode 0x0a, opaque 0xdeadbeef, empty body) ends the stream.
        let mut end = vec![
            0x81, NOOP, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xde, 0xad, 0xbe, 0xef,
        ];
        end.extend_from_slice(&[0; 8]);
        client.read_until_within(&end, Duration::from_secs(5))
    };
    let mut ids = Vec::new();
    let (p, rest) = split(&reply.bytes, &mut ids);
    (p, rest, reply.closed)
}

fn compare(target: Kind) -> (usize, Vec<String>) {
    let a = Server::start(Kind::Memcached, &[]).unwrap_or_else(|e| panic!("{e}"));
    let b = Server::start(target, &[]).unwrap_or_else(|e| panic!("{e}"));
    let cases = corpus();
    let mut failures = Vec::new();
    for c in &cases {
        let want = run(&a, c);
        let got = run(&b, c);
        if want != got {
            let show = |r: &(Vec<Packet>, Vec<u8>, bool)| {
                let pk: Vec<String> =
                    r.0.iter()
                        .map(|(p, o)| format!("{} cas#{o}", escape(p)))
                        .collect();
                format!("{pk:?} rest {:?} closed {}", escape(&r.1), r.2)
            };
            failures.push(format!(
                "[{}]\n  memcached: {}\n  evcached:  {}",
                c.name,
                show(&want),
                show(&got)
            ));
        }
    }
    (cases.len(), failures)
}

fn assert_same(test: &str, target: Kind) {
    if support::memcached_or_skip(test).is_none() {
        return;
    }
    let (total, failures) = compare(target);
    assert!(
        failures.is_empty(),
        "{} of {total} binary cases differ:\n{}",
        failures.len(),
        failures.join("\n")
    );
    eprintln!("{total} binary cases identical on memcached and evcached");
}

/// Stat names (packet keys) the build-specific features add on memcached's side.
fn build_specific(name: &[u8]) -> bool {
    name.starts_with(b"ext_") || name.starts_with(b"ssl_") || name == b"slab_automove_freeratio"
}

/// The names a binary `stat <group>` returns, in order (values vary with time and pid).
fn stat_names(port: u16, group: &[u8]) -> Vec<Vec<u8>> {
    let mut c = Client::connect(port);
    let mut bytes = req(0x10, group, b"", b"");
    bytes.extend(noop());
    c.send(&bytes);
    let mut end = vec![
        0x81, NOOP, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xde, 0xad, 0xbe, 0xef,
    ];
    end.extend_from_slice(&[0; 8]);
    let reply = c.read_until_within(&end, Duration::from_secs(5));
    let (packets, _) = split(&reply.bytes, &mut Vec::new());
    packets
        .iter()
        .map(|(p, _)| {
            let kl = usize::from(u16::from_be_bytes([p[2], p[3]]));
            p[24..24 + kl].to_vec()
        })
        .filter(|n| !build_specific(n))
        .collect()
}

#[test]
fn binary_stat_names_match_memcached() {
    if support::memcached_or_skip("binary_stat_names_match_memcached").is_none() {
        return;
    }
    let a = Server::start(Kind::Memcached, &[]).unwrap_or_else(|e| panic!("{e}"));
    let b = Server::start(Kind::Evcached(None), &[]).unwrap_or_else(|e| panic!("{e}"));
    for group in [&b""[..], b"settings", b"sizes", b"items", b"slabs"] {
        let want = stat_names(a.port, group);
        let got = stat_names(b.port, group);
        assert_eq!(
            got.iter().map(|n| escape(n)).collect::<Vec<_>>(),
            want.iter().map(|n| escape(n)).collect::<Vec<_>>(),
            "binary stat {:?} names differ",
            escape(group)
        );
    }
}

#[test]
fn binary_corpus_is_large_enough() {
    assert!(corpus().len() >= 80);
}

#[test]
fn binary_evcached_native_matches_memcached() {
    assert_same(
        "binary_evcached_native_matches_memcached",
        Kind::Evcached(None),
    );
}

#[test]
fn binary_evcached_portable_matches_memcached() {
    assert_same(
        "binary_evcached_portable_matches_memcached",
        Kind::Evcached(Some("portable")),
    );
}
