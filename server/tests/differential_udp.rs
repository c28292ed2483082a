//! Differential UDP tests: the same datagrams go to evcached and to memcached 1.6.18 (both
//! with `-U -1`), and the reply datagrams must match: the 8-byte frame header (request id,
//! sequence number, datagram count, reserved) and the payload, after the normalisation of
//! `support/normalize.rs` (CAS ids, versions). Covers single- and multi-datagram replies,
//! one message per response object, noreply, errors, and the datagrams memcached drops.

mod support;

use std::net::UdpSocket;
use std::time::Duration;

use support::normalize::{normalize, CasMap};
use support::{escape, Kind, Server};

/// How long the socket must stay quiet to end the collection of a reply.
const QUIET: Duration = Duration::from_millis(300);

/// One request: a name and the raw datagram body (header added by `frame`, unless `raw`).
struct UdpCase {
    name: &'static str,
    body: Vec<u8>,
    /// Send `body` as the whole datagram (no header added).
    raw: bool,
}

fn case(name: &'static str, body: &[u8]) -> UdpCase {
    UdpCase {
        name,
        body: body.to_vec(),
        raw: false,
    }
}

fn cases() -> Vec<UdpCase> {
    let big = format!("set u_big 0 0 3000\r\n{}\r\n", "b".repeat(3000));
    let many_keys: String = (0..150).map(|i| format!(" u_k{i:03}")).collect();
    vec![
        case("get-miss", b"get u_nope\r\n"),
        case("set", b"set u_a 5 0 1\r\nx\r\n"),
        case("set-b", b"set u_b 0 0 2\r\nyy\r\n"),
        case("get-one", b"get u_a\r\n"),
        case("multiget-objects", b"get u_a u_nope u_b\r\n"),
        case("gets-cas", b"gets u_a u_b\r\n"),
        case("set-big", big.as_bytes()),
        case("get-big-three-datagrams", b"get u_big\r\n"),
        case("get-big-and-small", b"get u_a u_big u_b\r\n"),
        case("many-misses", format!("get{many_keys}\r\n").as_bytes()),
        case("noreply-set", b"set u_c 0 0 1 noreply\r\nz\r\n"),
        case("get-after-noreply", b"get u_c\r\n"),
        case("incr", b"set u_n 0 0 1\r\n5\r\n"),
        case("incr-2", b"incr u_n 10\r\n"),
        case("delete", b"delete u_n\r\n"),
        case("delete-miss", b"delete u_n\r\n"),
        case("unknown", b"bogus\r\n"),
        case("version", b"version\r\n"),
        case("bad-data-chunk", b"set u_d 0 0 1\r\nxyz\r\n"),
        case("two-commands", b"get u_a\r\nget u_b\r\n"),
        UdpCase {
            name: "total-not-one-dropped",
            body: frame(7, 0, 2, b"get u_a\r\n"),
            raw: true,
        },
        UdpCase {
            name: "too-short-dropped",
            body: vec![0, 1, 0, 0, 0, 1, 0, 0],
            raw: true,
        },
        UdpCase {
            name: "seq-nonzero-ok",
            body: frame(8, 3, 1, b"get u_a\r\n"),
            raw: true,
        },
        case("touch", b"touch u_a 100\r\n"),
        // Binary requests: memcached negotiates each datagram by its first byte, whatever
        // -B says; one response object (and message) per binary response.
        case(
            "bin-set",
            &bin(0x01, b"u_bin", &[0, 0, 0, 7, 0, 0, 0, 0], b"hello"),
        ),
        case("bin-get", &bin(0x00, b"u_bin", b"", b"")),
        case("bin-getk", &bin(0x0c, b"u_bin", b"", b"")),
        case("bin-get-miss", &bin(0x00, b"u_nope", b"", b"")),
        case(
            "bin-getq-miss-noop",
            &[bin(0x09, b"u_nope", b"", b""), bin(0x0a, b"", b"", b"")].concat(),
        ),
        case(
            "bin-get-noop",
            &[bin(0x00, b"u_bin", b"", b""), bin(0x0a, b"", b"", b"")].concat(),
        ),
        case(
            "bin-getq-hit-noop",
            &[bin(0x09, b"u_bin", b"", b""), bin(0x0a, b"", b"", b"")].concat(),
        ),
        case(
            "bin-getq-misses-get",
            &[
                bin(0x09, b"u_x", b"", b""),
                bin(0x09, b"u_y", b"", b""),
                bin(0x00, b"u_bin", b"", b""),
            ]
            .concat(),
        ),
        case(
            "bin-setq-noop",
            &[bin(0x11, b"u_q", &[0; 8], b"q"), bin(0x0a, b"", b"", b"")].concat(),
        ),
        case("bin-setq-alone", &bin(0x11, b"u_q", &[0; 8], b"q")),
        case("bin-deleteq-miss-alone", &bin(0x14, b"u_nope", b"", b"")),
        case("bin-append", &bin(0x0e, b"u_bin", b"", b" world")),
        case("bin-get-big", &bin(0x00, b"u_big", b"", b"")),
        case(
            "bin-incr-create",
            &bin(
                0x05,
                b"u_cnt",
                &[0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 5, 0, 0, 0, 0],
                b"",
            ),
        ),
        case(
            "bin-incr",
            &bin(
                0x05,
                b"u_cnt",
                &[0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 5, 0, 0, 0, 0],
                b"",
            ),
        ),
        case("bin-delete", &bin(0x04, b"u_bin", b"", b"")),
        case("bin-bad-opcode", &bin(0xee, b"", b"", b"")),
        case("text-after-binary", b"get u_cnt\r\n"),
        case("flush", b"flush_all\r\n"),
        case("get-after-flush", b"get u_a\r\n"),
    ]
}

/// A binary request (opaque 0x0a0b0c0d, CAS 0).
fn bin(opcode: u8, key: &[u8], extras: &[u8], value: &[u8]) -> Vec<u8> {
    let body = (extras.len() + key.len() + value.len()) as u32;
    let mut d = vec![0x80, opcode];
    d.extend_from_slice(&(key.len() as u16).to_be_bytes());
    d.extend_from_slice(&[extras.len() as u8, 0, 0, 0]);
    d.extend_from_slice(&body.to_be_bytes());
    d.extend_from_slice(&[0x0a, 0x0b, 0x0c, 0x0d]);
    d.extend_from_slice(&[0; 8]);
    d.extend_from_slice(extras);
    d.extend_from_slice(key);
    d.extend_from_slice(value);
    d
}

/// Binary responses carry the CAS in header bytes 16..24: numbered by first appearance,
/// like the text protocol's (a response datagram starts with its header).
fn normalize_binary_cas(payload: &mut [u8], seen: &mut Vec<[u8; 8]>) {
    if payload.len() < 24 || payload[0] != 0x81 {
        return;
    }
    let cas: [u8; 8] = payload[16..24].try_into().expect("8 bytes");
    if cas == [0; 8] {
        return;
    }
    let n = match seen.iter().position(|c| *c == cas) {
        Some(i) => i + 1,
        None => {
            seen.push(cas);
            seen.len()
        }
    };
    payload[16..24].copy_from_slice(&(n as u64).to_be_bytes());
}

/// memcached's UDP frame: request id, sequence number, total datagrams, reserved (0).
fn frame(id: u16, seq: u16, total: u16, body: &[u8]) -> Vec<u8> {
    let mut d = Vec::with_capacity(8 + body.len());
    for v in [id, seq, total, 0] {
        d.extend_from_slice(&v.to_be_bytes());
    }
    d.extend_from_slice(body);
    d
}

fn udp_port(server: &Server) -> u16 {
    server
        .port_lines
        .iter()
        .find_map(|l| l.strip_prefix("UDP INET: "))
        .and_then(|p| p.trim().parse().ok())
        .unwrap_or_else(|| {
            panic!(
                "{}: no UDP port in {:?}",
                server.kind.label(),
                server.port_lines
            )
        })
}

/// Sends one datagram and collects every reply datagram until the socket is quiet; returns
/// each as (header words, normalised payload).
fn exchange(
    sock: &UdpSocket,
    port: u16,
    datagram: &[u8],
    cas: &mut CasMap,
    bin_cas: &mut Vec<[u8; 8]>,
) -> Vec<String> {
    sock.send_to(datagram, ("127.0.0.1", port))
        .expect("send_to");
    let mut out = Vec::new();
    let mut buf = vec![0u8; 65536];
    while let Ok((n, _)) = sock.recv_from(&mut buf) {
        if n < 8 {
            out.push(format!("short datagram {:?}", escape(&buf[..n])));
            continue;
        }
        let word = |i: usize| u16::from_be_bytes([buf[2 * i], buf[2 * i + 1]]);
        let mut payload = normalize(&buf[8..n], cas);
        if word(1) == 0 {
            normalize_binary_cas(&mut payload, bin_cas);
        }
        out.push(format!(
            "id={} seq={} total={} rsv={} {}",
            word(0),
            word(1),
            word(2),
            word(3),
            escape(&payload)
        ));
    }
    out
}

/// Runs every case on `server`, in order, from one client socket.
fn transcript(server: &Server) -> Vec<(String, Vec<String>)> {
    let port = udp_port(server);
    let sock = UdpSocket::bind("127.0.0.1:0").expect("bind udp");
    sock.set_read_timeout(Some(QUIET)).expect("timeout");
    let mut cas = CasMap::default();
    let mut bin_cas = Vec::new();
    cases()
        .into_iter()
        .enumerate()
        .map(|(i, c)| {
            let datagram = if c.raw {
                c.body.clone()
            } else {
                frame(100 + i as u16, 0, 1, &c.body)
            };
            (
                c.name.to_string(),
                exchange(&sock, port, &datagram, &mut cas, &mut bin_cas),
            )
        })
        .collect()
}

fn compare(target: Kind, extra: &[&str]) {
    let test = format!("udp {} {extra:?}", target.label());
    if support::memcached_or_skip(&test).is_none() {
        return;
    }
    let mut args = vec!["-U", "-1"];
    args.extend_from_slice(extra);
    let a = Server::start(Kind::Memcached, &args).unwrap_or_else(|e| panic!("{e}"));
    let b = Server::start(target.clone(), &args).unwrap_or_else(|e| panic!("{e}"));
    // Both servers at once: each exchange waits for the line to go quiet.
    let (want, got) = std::thread::scope(|s| {
        let other = s.spawn(|| transcript(&b));
        (transcript(&a), other.join().expect("transcript thread"))
    });
    let mut failures = Vec::new();
    for ((name, w), (_, g)) in want.iter().zip(got.iter()) {
        if w != g {
            failures.push(format!(
                "[{name}]\n    memcached: {w:?}\n    {}: {g:?}",
                target.label()
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} UDP cases differ:\n{}",
        failures.len(),
        want.len(),
        failures.join("\n")
    );
}

#[test]
fn udp_memcached_against_itself() {
    compare(Kind::Memcached, &[]);
}

#[test]
fn udp_evcached_native_matches_memcached() {
    compare(Kind::Evcached(None), &[]);
}

#[test]
fn udp_evcached_portable_matches_memcached() {
    compare(Kind::Evcached(Some("portable")), &[]);
}

/// `-B ascii` and `-B binary` restrict TCP connections only: over UDP memcached still
/// answers both protocols, and so must evcached.
#[test]
fn udp_protocol_flag_applies_to_tcp_only() {
    compare(Kind::Evcached(None), &["-B", "ascii"]);
    compare(Kind::Evcached(None), &["-B", "binary"]);
}
