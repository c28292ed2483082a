//! `lru_crawler metadump` streams in bounded batches: a client that reads its dump slowly
//! costs the server about one batch of memory, not the whole listing, and another client
//! on the same (only) worker thread is served while the dump is in progress.

mod reliability_support;
mod support;

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use reliability_support::{figure, rss_kib, scale};
use support::{Client, Server};

/// Items loaded before the dump (about 90 bytes of dump line each).
const ITEMS: usize = 200_000;
/// Largest RSS growth (KiB) allowed while the dump is in progress: a few batches plus
/// allocator slack, far below the listing's size (about 18 MB for 200k items).
const RSS_GROWTH_MAX_KIB: u64 = 4 * 1024;

fn key(i: usize) -> String {
    format!("dumpkey{i:07}")
}

/// Stores `n` items with pipelined `noreply` sets, then waits for a `mn` sync.
fn load(port: u16, n: usize) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    let mut batch = Vec::new();
    for i in 0..n {
        batch.extend_from_slice(format!("set {} 0 0 8 noreply\r\nvalue123\r\n", key(i)).as_bytes());
        if batch.len() > 256 * 1024 || i + 1 == n {
            s.write_all(&batch).expect("send sets");
            batch.clear();
        }
    }
    s.write_all(b"mn\r\n").expect("send mn");
    let mut got = Vec::new();
    let mut buf = [0u8; 1024];
    while !got.ends_with(b"MN\r\n") {
        let r = s.read(&mut buf).expect("read MN");
        assert!(
            r > 0,
            "closed while loading: {:?}",
            String::from_utf8_lossy(&got)
        );
        got.extend_from_slice(&buf[..r]);
    }
    assert_eq!(got, b"MN\r\n", "a noreply set failed");
}

/// One set and one get of a fresh key on the second connection.
fn round_trip(c: &mut Client, i: usize) {
    let k = format!("other{i}");
    c.send(format!("set {k} 0 0 1\r\nx\r\n").as_bytes());
    assert_eq!(c.read_until(b"\r\n").bytes, b"STORED\r\n");
    c.send(format!("get {k}\r\n").as_bytes());
    let want = format!("VALUE {k} 0 1\r\nx\r\nEND\r\n");
    assert_eq!(c.read_until(b"END\r\n").bytes, want.as_bytes());
}

#[test]
fn metadump_streams_with_bounded_memory_while_others_are_served() {
    let items = scale(ITEMS, 1_000_000);
    let server = Server::evcached(&["-t", "1", "-m", "1024"]);
    let pid = server.pid();
    load(server.port, items);
    let mut other = server.connect();
    round_trip(&mut other, 0);
    let base = rss_kib(pid);

    let mut dump = TcpStream::connect(("127.0.0.1", server.port)).expect("connect");
    dump.set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    dump.write_all(b"lru_crawler metadump all\r\n").unwrap();
    let mut got: Vec<u8> = Vec::new();
    let mut buf = vec![0u8; 16 * 1024];
    let r = dump.read(&mut buf).expect("first dump bytes");
    got.extend_from_slice(&buf[..r]);

    // The dump client stops reading; the other client on the same worker is served
    // meanwhile, round trip after round trip, while the dump is not finished.
    let mut trips = 1;
    for _ in 0..50 {
        round_trip(&mut other, trips);
        trips += 1;
    }
    let mut peak = rss_kib(pid);
    // Then the dump client reads slowly (16 KB pieces), with a round trip of the other
    // client every 16 pieces, until END.
    let mut reads = 0usize;
    while !got.ends_with(b"END\r\n") {
        let r = dump.read(&mut buf).expect("dump bytes");
        assert!(r > 0, "the server closed the dump connection");
        got.extend_from_slice(&buf[..r]);
        reads += 1;
        if reads % 16 == 0 && !got.ends_with(b"END\r\n") {
            round_trip(&mut other, trips);
            trips += 1;
            peak = peak.max(rss_kib(pid));
        }
    }
    let growth = peak.saturating_sub(base);
    figure(
        "metadump_stream",
        &format!(
            "evcached RSS growth during a {} B metadump (KiB)",
            got.len()
        ),
        growth,
    );
    assert!(
        growth <= RSS_GROWTH_MAX_KIB,
        "RSS grew {growth} KiB during a {} byte dump",
        got.len()
    );
    // The 50 round trips above ran while the dump had most of its bytes still to send.
    assert!(got.len() > 4 * 1024 * 1024, "a {} byte dump", got.len());

    // Every loaded key exactly once; the other client's keys at most once.
    let body = got.strip_suffix(b"END\r\n").expect("END");
    let mut count: HashMap<&[u8], usize> = HashMap::new();
    for line in body.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
        let k = line
            .strip_prefix(b"key=")
            .and_then(|l| l.split(|&b| b == b' ').next())
            .unwrap_or_else(|| panic!("bad line {:?}", String::from_utf8_lossy(line)));
        *count.entry(k).or_default() += 1;
    }
    for i in 0..items {
        assert_eq!(count.get(key(i).as_bytes()), Some(&1), "{}", key(i));
    }
    assert!(count.values().all(|&c| c == 1), "a key listed twice");

    // The dump connection is back to commands after END.
    dump.write_all(b"version\r\n").unwrap();
    let r = dump.read(&mut buf).expect("version reply");
    assert!(buf[..r].starts_with(b"VERSION "));
}

#[test]
fn commands_pipelined_behind_a_metadump_run_after_end() {
    let server = Server::evcached(&["-t", "1"]);
    load(server.port, 5000);
    let mut c = server.connect();
    c.send(b"lru_crawler metadump all\r\nget dumpkey0000001\r\n");
    let reply = c.read_until_within(b"END\r\nVALUE", Duration::from_secs(30));
    let text = reply.bytes;
    let lines = text
        .split(|&b| b == b'\n')
        .filter(|l| l.starts_with(b"key="))
        .count();
    assert_eq!(lines, 5000);
    assert_eq!(
        c.read_until(b"END\r\n").bytes,
        b" dumpkey0000001 0 8\r\nvalue123\r\nEND\r\n"
    );
}

#[test]
fn sigterm_during_a_metadump_finishes_it_then_exits_zero() {
    use reliability_support::{signal, wait_exit, Proc};
    let mut p = Proc::start(
        &support::Kind::Evcached(None),
        &["-p", "-1", "-U", "0", "-l", "127.0.0.1", "-t", "1"],
        |_| {},
    );
    let items = 100_000;
    load(p.port, items);
    let mut dump = TcpStream::connect(("127.0.0.1", p.port)).expect("connect");
    dump.set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    dump.write_all(b"lru_crawler metadump all\r\n").unwrap();
    let mut got = vec![0u8; 16 * 1024];
    let n = dump.read(&mut got).expect("first dump bytes");
    got.truncate(n);
    // Stopped mid-dump (most of its ~9 MB are still to come): the dump still ends in END.
    signal(p.pid(), nix::sys::signal::Signal::SIGTERM);
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match dump.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(k) => got.extend_from_slice(&buf[..k]),
        }
    }
    assert!(
        got.ends_with(b"END\r\n"),
        "the dump was cut at {} bytes",
        got.len()
    );
    let lines = got
        .split(|&b| b == b'\n')
        .filter(|l| l.starts_with(b"key="))
        .count();
    assert_eq!(lines, items);
    let exit = wait_exit(&mut p.child, Duration::from_secs(20));
    assert_eq!(exit.map(|e| e.0), Some(Some(0)));
}

#[test]
fn metadump_after_flush_all_walks_empty_batches_to_end() {
    let server = Server::evcached(&["-t", "1"]);
    load(server.port, 200_000);
    let mut c = server.connect();
    c.send(b"flush_all\r\n");
    assert_eq!(c.read_until(b"\r\n").bytes, b"OK\r\n");
    // Every chunk is still cut but none is live: batches with no lines, then END.
    c.send(b"lru_crawler metadump all\r\nversion\r\n");
    assert_eq!(c.read_until(b"END\r\n").bytes, b"END\r\n");
    assert!(c.read_until(b"\r\n").bytes.starts_with(b"VERSION "));
}
