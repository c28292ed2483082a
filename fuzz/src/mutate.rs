//! Input generation for the stable fuzzer: protocol-aware command sequences and byte-level
//! mutations of corpus entries (flips, dictionary insertions, splices, truncation).

use crate::rng::Rng;

/// Words the mutator inserts: every command, sub-command and interesting token.
pub const DICT: &[&[u8]] = &[
    b"get",
    b"gets",
    b"gat",
    b"gats",
    b"bget",
    b"set",
    b"add",
    b"replace",
    b"append",
    b"prepend",
    b"cas",
    b"incr",
    b"decr",
    b"delete",
    b"touch",
    b"flush_all",
    b"version",
    b"verbosity",
    b"quit",
    b"shutdown",
    b"graceful",
    b"cache_memlimit",
    b"stats",
    b"items",
    b"slabs",
    b"sizes",
    b"settings",
    b"conns",
    b"reset",
    b"detail",
    b"dump",
    b"on",
    b"off",
    b"reassign",
    b"automove",
    b"lru_crawler",
    b"crawl",
    b"metadump",
    b"enable",
    b"disable",
    b"sleep",
    b"tocrawl",
    b"all",
    b"lru",
    b"tune",
    b"mode",
    b"flat",
    b"segmented",
    b"temp_ttl",
    b"mn",
    b"mg",
    b"ms",
    b"md",
    b"ma",
    b"me",
    b"noreply",
    b"HTTP/1.1",
    b"GET / HTTP/1.0",
    b"\r\n",
    b"\n",
    b"\r",
    b" ",
    b"  ",
    b"\t",
    b"\0",
    b"0",
    b"1",
    b"-1",
    b"2",
    b"10",
    b"250",
    b"251",
    b"1024",
    b"2048",
    b"4294967295",
    b"4294967296",
    b"18446744073709551615",
    b"18446744073709551616",
    b"2147483647",
    b"2147483648",
    b"-2147483648",
    b"9999999999999999999999",
    b"0x10",
    b"+5",
    b"1e3",
    b"k",
    b"key",
    b"\x80",
    b"\x81",
    b"v t k O q s f",
];

const KEYS: &[&[u8]] = &[b"a", b"b", b"key", b"k1", b"k2", b"n", b"foo:bar", b"x"];
const NUMS: &[&[u8]] = &[
    b"0",
    b"1",
    b"2",
    b"3",
    b"5",
    b"-1",
    b"100",
    b"4294967295",
    b"4294967296",
    b"2147483647",
    b"-2147483649",
    b"18446744073709551615",
    b"abc",
    b"",
    b"00",
    b"1 ",
];

fn push_num(v: &mut Vec<u8>, rng: &mut Rng) {
    if rng.one_in(3) {
        v.extend_from_slice(rng.pick(NUMS));
    } else {
        v.extend_from_slice(rng.below(100).to_string().as_bytes());
    }
}

fn push_key(v: &mut Vec<u8>, rng: &mut Rng) {
    if rng.one_in(20) {
        let n = 240 + rng.below(20);
        v.extend(std::iter::repeat(b'k').take(n));
    } else {
        v.extend_from_slice(rng.pick(KEYS));
    }
}

/// One random but mostly well-formed command (with its data block for stores).
fn command(v: &mut Vec<u8>, rng: &mut Rng) {
    match rng.below(14) {
        0..=3 => {
            let cmd: &[u8] = rng.pick(&[
                &b"set"[..],
                b"add",
                b"replace",
                b"append",
                b"prepend",
                b"cas",
            ]);
            v.extend_from_slice(cmd);
            v.push(b' ');
            push_key(v, rng);
            v.push(b' ');
            push_num(v, rng);
            v.push(b' ');
            push_num(v, rng);
            let len = if rng.one_in(10) {
                rng.below(3000)
            } else {
                rng.below(20)
            };
            v.push(b' ');
            let declared = if rng.one_in(8) {
                len + rng.below(3)
            } else {
                len
            };
            v.extend_from_slice(declared.to_string().as_bytes());
            if cmd == b"cas" {
                v.push(b' ');
                push_num(v, rng);
            }
            if rng.one_in(4) {
                v.extend_from_slice(b" noreply");
            }
            v.extend_from_slice(b"\r\n");
            for i in 0..len {
                v.push(b'a' + (i % 26) as u8);
            }
            v.extend_from_slice(if rng.one_in(10) { b"xx" } else { b"\r\n" });
        }
        4..=6 => {
            let cmd: &[u8] = rng.pick(&[&b"get"[..], b"gets", b"gat", b"gats", b"bget"]);
            v.extend_from_slice(cmd);
            if cmd.starts_with(b"gat") {
                v.push(b' ');
                push_num(v, rng);
            }
            for _ in 0..1 + rng.below(4) {
                v.push(b' ');
                push_key(v, rng);
            }
            v.extend_from_slice(b"\r\n");
        }
        7 => {
            v.extend_from_slice(rng.pick(&[&b"incr "[..], b"decr "]));
            push_key(v, rng);
            v.push(b' ');
            push_num(v, rng);
            v.extend_from_slice(b"\r\n");
        }
        8 => {
            v.extend_from_slice(rng.pick(&[&b"delete "[..], b"touch "]));
            push_key(v, rng);
            if rng.one_in(2) {
                v.push(b' ');
                push_num(v, rng);
            }
            v.extend_from_slice(b"\r\n");
        }
        9 => {
            let s: &[u8] = rng.pick(&[
                &b"stats"[..],
                b"stats items",
                b"stats slabs",
                b"stats sizes",
                b"stats settings",
                b"stats detail on",
                b"stats detail dump",
                b"stats reset",
                b"stats conns",
                b"version",
                b"verbosity 1",
                b"flush_all",
                b"flush_all 0",
                b"flush_all noreply",
                b"mn",
                b"lru_crawler crawl all",
                b"lru_crawler metadump all",
                b"slabs automove 1",
                b"cache_memlimit 100",
                b"lru mode flat",
                b"quit",
            ]);
            v.extend_from_slice(s);
            v.extend_from_slice(b"\r\n");
        }
        _ => {
            // A junk or partial line.
            for _ in 0..rng.below(6) {
                v.extend_from_slice(rng.pick(DICT));
                if rng.one_in(2) {
                    v.push(b' ');
                }
            }
            if !rng.one_in(5) {
                v.extend_from_slice(b"\r\n");
            }
        }
    }
}

/// A fresh command sequence.
pub fn generate(rng: &mut Rng) -> Vec<u8> {
    let mut v = Vec::new();
    for _ in 0..1 + rng.below(12) {
        command(&mut v, rng);
    }
    if rng.one_in(30) {
        // An over-long line without a newline.
        let n = 2000 + rng.below(200);
        v.extend(std::iter::repeat(b'z').take(n));
    }
    v
}

/// A mutated copy of `base`, sometimes spliced with `other`.
pub fn mutate(base: &[u8], other: &[u8], rng: &mut Rng, max_len: usize) -> Vec<u8> {
    let mut v = base.to_vec();
    for _ in 0..1 + rng.below(4) {
        let len = v.len();
        match rng.below(10) {
            0 if len > 0 => {
                let i = rng.below(len);
                v[i] ^= 1 << rng.below(8);
            }
            1 if len > 0 => {
                let i = rng.below(len);
                v[i] = rng.next_u64() as u8;
            }
            2 | 3 => {
                let i = rng.below(len + 1);
                let w = rng.pick(DICT);
                v.splice(i..i, w.iter().copied());
            }
            4 if len > 0 => {
                let a = rng.below(len);
                let b = (a + 1 + rng.below(16)).min(len);
                v.drain(a..b);
            }
            5 if len > 0 => {
                let a = rng.below(len);
                let b = (a + 1 + rng.below(64)).min(len);
                let piece = v[a..b].to_vec();
                let i = rng.below(len + 1);
                v.splice(i..i, piece);
            }
            6 if !other.is_empty() => {
                let cut = rng.below(len + 1);
                let from = rng.below(other.len());
                v.truncate(cut);
                v.extend_from_slice(&other[from..]);
            }
            7 => {
                let i = rng.below(len + 1);
                let mut cmd = Vec::new();
                command(&mut cmd, rng);
                v.splice(i..i, cmd);
            }
            8 if len > 0 => {
                v.truncate(rng.below(len));
            }
            _ => {
                let i = rng.below(len + 1);
                let n = rng.below(8);
                let bytes: Vec<u8> = (0..n).map(|_| rng.next_u64() as u8).collect();
                v.splice(i..i, bytes);
            }
        }
    }
    v.truncate(max_len);
    v
}
