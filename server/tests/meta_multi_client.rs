//! Meta protocol flows that need more than one connection: the stale-while-revalidate
//! handshake (one client wins the right to recache, the others see `Z`), recache (`R`),
//! vivify-on-miss (`N`) and quiet pipelines, run step by step on two connections to
//! memcached 1.6.18 and to evcached; every reply must be identical.

mod support;

use std::time::Duration;

use support::{escape, Client, Kind, Server};

/// One request on connection 0 or 1, and the bytes its reply ends with.
struct Step {
    conn: usize,
    send: &'static [u8],
    until: &'static [u8],
}

const fn s(conn: usize, send: &'static [u8], until: &'static [u8]) -> Step {
    Step { conn, send, until }
}

fn script() -> Vec<Step> {
    vec![
        s(0, b"ms mm_a 2 T100\r\nhi\r\n", b"\r\n"),
        // Invalidate: the next fetch wins (W) and sees the stale item (X).
        s(0, b"md mm_a I T30\r\n", b"\r\n"),
        s(1, b"mg mm_a v c t\r\n", b"hi\r\n"),
        // Everyone else sees that a winner exists (Z) while it is stale.
        s(0, b"mg mm_a v\r\n", b"hi\r\n"),
        s(1, b"mg mm_a v\r\n", b"hi\r\n"),
        // The winner writes back with the CAS it got: the item is fresh again.
        s(1, b"ms mm_a 3 T100\r\nnew\r\n", b"\r\n"),
        s(0, b"mg mm_a v\r\n", b"new\r\n"),
        // Recache: below the threshold one client wins, the next sees Z.
        s(0, b"ms mm_r 1 T10\r\nx\r\n", b"\r\n"),
        s(1, b"mg mm_r R30 v\r\n", b"x\r\n"),
        s(0, b"mg mm_r R30 v\r\n", b"x\r\n"),
        // Vivify on miss: the first client wins and fills, the second sees Z until then.
        s(0, b"mg mm_v N30 v s\r\n", b"\r\n\r\n"),
        s(1, b"mg mm_v N30 v s\r\n", b"\r\n\r\n"),
        s(0, b"ms mm_v 4\r\nfill\r\n", b"\r\n"),
        s(1, b"mg mm_v v\r\n", b"fill\r\n"),
        // Quiet pipeline on one connection while the other writes.
        s(
            1,
            b"ms mm_q1 1 q\r\na\r\nmg mm_q2 v q\r\nmg mm_q1 v q k\r\nmn\r\n",
            b"MN\r\n",
        ),
        s(0, b"md mm_q1 q\r\nmd mm_q1 q\r\nmn\r\n", b"MN\r\n"),
        // Arithmetic from both sides with CAS.
        s(0, b"ma mm_n N0 J10 v\r\n", b"\r\n10\r\n"),
        s(1, b"ma mm_n v D5\r\n", b"\r\n15\r\n"),
        s(0, b"ma mm_n MD v D20\r\n", b"\r\n0\r\n"),
    ]
}

/// Runs the script; returns every step's reply with `c<digits>` CAS tokens masked.
fn run(server: &Server) -> Vec<String> {
    let mut conns = [Client::connect(server.port), Client::connect(server.port)];
    let mut out = Vec::new();
    for step in script() {
        let c = &mut conns[step.conn];
        c.send(step.send);
        let r = c.read_until_within(step.until, Duration::from_secs(5));
        let text = escape(&r.bytes);
        let masked: Vec<String> = text
            .split(' ')
            .map(|w| {
                let digits = w.strip_prefix('c').unwrap_or("");
                if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
                    "c*".to_string()
                } else {
                    w.to_string()
                }
            })
            .collect();
        out.push(format!("[{}] {}", step.conn, masked.join(" ")));
    }
    out
}

#[test]
fn two_clients_see_what_memcached_clients_see() {
    if support::memcached_or_skip("two_clients_see_what_memcached_clients_see").is_none() {
        return;
    }
    let mc = Server::start(Kind::Memcached, &[]).unwrap_or_else(|e| panic!("{e}"));
    let want = run(&mc);
    for kind in [Kind::Evcached(None), Kind::Evcached(Some("portable"))] {
        let ev = Server::start(kind, &[]).unwrap_or_else(|e| panic!("{e}"));
        let got = run(&ev);
        assert_eq!(got, want, "{}", ev.kind.label());
    }
    // The script exercised the win/stale tokens (a sanity check on the reference).
    let all = want.join("\n");
    assert!(
        all.contains(" W") && all.contains(" Z") && all.contains(" X"),
        "{all}"
    );
}
