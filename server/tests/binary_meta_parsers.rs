//! Property tests: any byte sequence fed to the meta and binary parsers, alone or through a
//! whole protocol session, parses, asks for more input, or yields an error, without
//! panicking and without asking to buffer more than a bounded amount.

use evcached::protocol::binary::{self, Header, Verdict, HEADER_LEN};
use evcached::protocol::meta::{base64, flags};
use evcached::protocol::{Ctx, Output, Progress, Session, ValueRef};
use evcached::server::Shared;
use evcached::settings::{BindingProtocol, Settings};
use evcached::stats::ThreadStats;
use proptest::prelude::*;

/// The most a binary request may ask to have buffered: header, extras, a 16-bit key
/// length, and a value that fits the item size limit.
fn binary_bound(item_max: usize) -> usize {
    HEADER_LEN + 255 + 65_535 + item_max
}

/// Meta-ish lines: a command, a key and flag words from a small alphabet, so the
/// interesting paths are reached often; plus raw bytes.
fn meta_line() -> impl Strategy<Value = Vec<u8>> {
    let cmd = prop::sample::select(vec!["mg", "ms", "md", "ma", "me", "mn", "mx"]);
    let word = prop::collection::vec(
        prop::sample::select(b"vfctskbOqhlTNRIEWXZMCFDJPLu0123456789+-=/aZ \xff".to_vec()),
        0..6,
    );
    (cmd, prop::collection::vec(word, 0..24), any::<bool>()).prop_map(|(c, words, data)| {
        let mut l = c.as_bytes().to_vec();
        for w in words {
            l.push(b' ');
            l.extend(w);
        }
        l.extend_from_slice(b"\r\n");
        if data {
            l.extend_from_slice(b"abc\r\n");
        }
        l
    })
}

/// Binary packets with plausible headers (random opcodes, lengths near the body) and
/// arbitrary bodies.
fn binary_packet() -> impl Strategy<Value = Vec<u8>> {
    (
        prop::sample::select(vec![0x80u8, 0x80, 0x80, 0x81, 0x00]),
        0u8..0x40,
        0u16..300,
        prop::sample::select(vec![0u8, 4, 8, 20, 255]),
        prop::collection::vec(any::<u8>(), 0..64),
        any::<u32>(),
        any::<bool>(),
    )
        .prop_map(|(magic, op, kl, el, body, opaque, exact)| {
            let bl = if exact {
                body.len() as u32
            } else {
                u32::from(kl) + u32::from(el) + body.len() as u32
            };
            let mut v = vec![magic, op];
            v.extend_from_slice(&kl.to_be_bytes());
            v.push(el);
            v.push(0);
            v.extend_from_slice(&[0, 0]);
            v.extend_from_slice(&bl.to_be_bytes());
            v.extend_from_slice(&opaque.to_be_bytes());
            v.extend_from_slice(&[0; 8]);
            v.extend(body);
            v
        })
}

/// Feeds `input` through a session in one buffer, as a connection would, and checks every
/// step's answer.
fn drive(shared: &Shared, mode: BindingProtocol, input: &[u8]) {
    let stats = ThreadStats::default();
    let mut ctx = Ctx::new(shared, &stats);
    let mut sess = Session::new(mode);
    let mut out: Output<ValueRef> = Output::new();
    let bound = binary_bound(shared.settings.item_size_max) + input.len();
    let mut pos = 0;
    let mut steps = 0;
    while pos < input.len() {
        steps += 1;
        assert!(steps <= input.len() + 1, "no progress");
        match sess.step(&input[pos..], &mut out, &mut ctx) {
            Progress::Consumed(n) | Progress::Partial(n) => {
                assert!(n > 0 && n <= input.len() - pos, "consumed {n}");
                pos += n;
            }
            Progress::NeedMore(n) => {
                assert!(n > input.len() - pos, "asks for {n} but has more");
                assert!(n <= bound, "asks to buffer {n} bytes");
                break;
            }
            // Close or abort: the input ends here.
            _ => break,
        }
    }
    let mut bytes = Vec::new();
    out.copy_pending(&mut bytes);
}

/// Runs `input` through a session the way a connection does when the bytes arrive in
/// pieces of the given sizes (buffering what is not consumed); returns every reply byte.
fn drive_chunked(mode: BindingProtocol, input: &[u8], cuts: &[usize]) -> Vec<u8> {
    let shared = shared();
    let stats = ThreadStats::default();
    let mut ctx = Ctx::new(&shared, &stats);
    let mut sess = Session::new(mode);
    let mut out: Output<ValueRef> = Output::new();
    let mut buf: Vec<u8> = Vec::new();
    let mut fed = 0;
    let mut cuts = cuts.iter().copied().chain(std::iter::repeat(input.len()));
    'feed: while fed < input.len() {
        let n = cuts.next().unwrap_or(1).clamp(1, input.len() - fed);
        buf.extend_from_slice(&input[fed..fed + n]);
        fed += n;
        while !buf.is_empty() {
            match sess.step(&buf, &mut out, &mut ctx) {
                Progress::Consumed(k) | Progress::Partial(k) => {
                    buf.drain(..k);
                }
                Progress::NeedMore(_) => break,
                _ => break 'feed,
            }
        }
    }
    let mut bytes = Vec::new();
    out.copy_pending(&mut bytes);
    bytes
}

fn shared() -> Shared {
    Shared::detached(Settings::default()).expect("detached server state")
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn meta_flag_parser_never_panics(
        key in prop::collection::vec(any::<u8>(), 0..300),
        words in prop::collection::vec(prop::collection::vec(any::<u8>(), 1..40), 0..30),
    ) {
        let refs: Vec<&[u8]> = words.iter().map(Vec::as_slice).collect();
        match flags::parse(&key, &refs) {
            Ok(f) => prop_assert!(f.key.len() <= key.len()),
            Err(e) => prop_assert!(e.starts_with("CLIENT_ERROR ")),
        }
    }

    #[test]
    fn base64_decoder_never_panics(src in prop::collection::vec(any::<u8>(), 0..400)) {
        let mut out = Vec::new();
        if base64::decode(&src, &mut out).is_some() {
            prop_assert!(!out.is_empty() && out.len() <= src.len() * 3 / 4);
            let mut enc = Vec::new();
            base64::encode(&out, &mut enc);
            let mut back = Vec::new();
            prop_assert!(base64::decode(&enc, &mut back).is_some());
            prop_assert_eq!(back, out);
        }
    }

    #[test]
    fn binary_header_checks_are_bounded(bytes in prop::collection::vec(any::<u8>(), 0..64)) {
        match Header::parse(&bytes) {
            None => prop_assert!(bytes.len() < HEADER_LEN),
            Some(h) => match binary::classify(&h) {
                Verdict::Valid { need, value } => {
                    prop_assert!(need <= HEADER_LEN + 255 + 250);
                    prop_assert!(need - HEADER_LEN + value <= h.bodylen as usize);
                }
                Verdict::BadMagic => prop_assert!(h.magic != binary::REQ_MAGIC),
                Verdict::Fatal(_) | Verdict::Unknown => {}
            },
        }
    }

    #[test]
    fn sessions_survive_any_bytes(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let s = shared();
        drive(&s, BindingProtocol::Auto, &bytes);
        drive(&s, BindingProtocol::Binary, &bytes);
        drive(&s, BindingProtocol::Ascii, &bytes);
    }

    #[test]
    fn sessions_survive_meta_lines(lines in prop::collection::vec(meta_line(), 1..12)) {
        let s = shared();
        drive(&s, BindingProtocol::Ascii, &lines.concat());
    }

    #[test]
    fn split_reads_give_the_same_replies(
        lines in prop::collection::vec(meta_line(), 1..8),
        packets in prop::collection::vec(binary_packet(), 1..8),
        cuts in prop::collection::vec(1usize..40, 0..64),
    ) {
        let text = lines.concat();
        prop_assert_eq!(
            drive_chunked(BindingProtocol::Ascii, &text, &cuts),
            drive_chunked(BindingProtocol::Ascii, &text, &[])
        );
        let bin = packets.concat();
        prop_assert_eq!(
            drive_chunked(BindingProtocol::Binary, &bin, &cuts),
            drive_chunked(BindingProtocol::Binary, &bin, &[])
        );
    }

    #[test]
    fn sessions_survive_binary_packets(packets in prop::collection::vec(binary_packet(), 1..12)) {
        let s = shared();
        let mut input = packets.concat();
        drive(&s, BindingProtocol::Auto, &input);
        input.insert(0, 0x80);
        drive(&s, BindingProtocol::Binary, &input);
    }
}
