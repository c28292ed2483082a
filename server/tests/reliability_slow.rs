//! Slow and hostile clients: slowloris connections, over-long lines, stalled half-sent
//! values, a pipelining client that never reads, and `-o idle_timeout`; evcached beside
//! memcached 1.6.18 in the same run.

mod reliability_support;
mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use reliability_support::*;
use support::{escape, Client};

/// p50 and p99 of `n` sequential `get` round trips, in microseconds.
fn latencies(c: &mut Client, n: usize) -> (u64, u64) {
    let mut v: Vec<u64> = (0..n)
        .map(|_| {
            let t = Instant::now();
            let r = c.request(b"get probe\r\n", b"END\r\n");
            assert!(r.starts_with(b"VALUE probe 0 100\r\n"), "{:?}", escape(&r));
            t.elapsed().as_micros() as u64
        })
        .collect();
    v.sort_unstable();
    (v[n / 2], v[(n * 99) / 100])
}

#[test]
fn slowloris_connections_do_not_starve_a_normal_client() {
    raise_own_nofile();
    let loris = scale(500, 3000);
    let requests = scale(2000, 20_000);
    for server in both("slowloris", &["-c", "8192", "-t", "4"]) {
        let label = server.kind.label();
        let mut c = server.connect();
        let mut set = b"set probe 0 0 100\r\n".to_vec();
        set.extend_from_slice(&[b'p'; 100]);
        set.extend_from_slice(b"\r\n");
        c.request(&set, b"STORED\r\n");
        let (p50_base, p99_base) = latencies(&mut c, requests);

        let socks: Vec<TcpStream> = (0..loris)
            .map(|_| TcpStream::connect(("127.0.0.1", server.port)).expect("connect"))
            .collect();
        let stop = Arc::new(AtomicBool::new(false));
        let sent = Arc::new(AtomicUsize::new(0));
        let trickler = {
            let stop = stop.clone();
            let sent = sent.clone();
            thread::spawn(move || {
                // Each connection trickles a partial command, one byte per round, never
                // reaching a newline (and staying under the 2048-byte line limit).
                let line = b"set slow 0 0 10 ";
                let mut socks = socks;
                let mut round = 0usize;
                while !stop.load(Ordering::Relaxed) {
                    for s in &mut socks {
                        let b = line.get(round).copied().unwrap_or(b'9');
                        if s.write_all(&[b]).is_ok() {
                            sent.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                    round += 1;
                    thread::sleep(Duration::from_millis(20));
                }
                socks
            })
        };
        while sent.load(Ordering::Relaxed) < loris * 2 {
            thread::sleep(Duration::from_millis(5));
        }
        let (p50_load, p99_load) = latencies(&mut c, requests);
        stop.store(true, Ordering::Relaxed);
        let socks = trickler.join().expect("trickler");
        // The trickling connections were neither answered nor closed.
        let mut ctl = server.connect();
        let conns = stat(&mut ctl, "curr_connections");
        assert!(
            conns >= loris as u64,
            "{label}: only {conns} connections open"
        );
        drop(socks);
        figure(
            "slowloris p99 ratio (loaded/idle)",
            &label,
            format!(
                "{:.2} ({loris} slow conns; p50 {p50_base}->{p50_load} us, p99 {p99_base}->{p99_load} us)",
                p99_load as f64 / p99_base.max(1) as f64
            ),
        );
    }
}

#[test]
fn overlong_line_without_newline_is_closed_silently() {
    for server in both("overlong", &[]) {
        let label = server.kind.label();
        let mut c = server.connect();
        for _ in 0..8 {
            c.send(&[b'x'; 512]);
        }
        let r = c.read_to_close(Duration::from_secs(10));
        assert!(
            r.closed,
            "{label}: 4 KB without a newline left the connection open"
        );
        assert_eq!(r.bytes, b"", "{label}: replied {:?}", escape(&r.bytes));
        // A `gat` line gets no multiget exception.
        let mut c = server.connect();
        let mut line = b"gat 0 ".to_vec();
        line.extend(std::iter::repeat(b"k ").take(1500).flatten());
        c.send(&line);
        let r = c.read_to_close(Duration::from_secs(10));
        assert!(
            r.closed && r.bytes.is_empty(),
            "{label}: long gat line: {:?}",
            escape(&r.bytes)
        );
        // A long `get` line is allowed to grow and is answered.
        let mut c = server.connect();
        let mut line = b"get ".to_vec();
        line.extend(std::iter::repeat(b"k ").take(4000).flatten());
        c.send(&line);
        thread::sleep(Duration::from_millis(50));
        c.send(b"\r\n");
        assert_eq!(
            c.read_until(b"END\r\n").bytes,
            b"END\r\n",
            "{label}: long get line"
        );
    }
}

#[test]
fn endless_get_line_memory_is_bounded() {
    // memcached lets a `get` line without a newline grow without bound; evcached closes it
    // at 8 MiB. 12 MiB are offered.
    for server in both("endless_get", &[]) {
        let label = server.kind.label();
        let pid = server.pid();
        let before = rss_kib(pid);
        let mut s = TcpStream::connect(("127.0.0.1", server.port)).expect("connect");
        s.set_write_timeout(Some(Duration::from_secs(5))).unwrap();
        s.write_all(b"get ").unwrap();
        let chunk: Vec<u8> = std::iter::repeat(b"k ")
            .take(32 * 1024)
            .flatten()
            .copied()
            .collect();
        let mut offered = 4usize;
        let mut closed = false;
        while offered < 12 << 20 {
            if s.write_all(&chunk).is_err() {
                closed = true;
                break;
            }
            offered += chunk.len();
        }
        thread::sleep(Duration::from_millis(200));
        let grown = rss_kib(pid).saturating_sub(before);
        if !closed {
            s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
            let mut b = [0u8; 16];
            closed = matches!(s.read(&mut b), Ok(0) | Err(_));
        }
        figure(
            "12 MiB get line without newline: RSS growth (KiB), closed",
            &label,
            format!("{grown}, {closed}"),
        );
        if matches!(server.kind, support::Kind::Evcached(_)) {
            assert!(closed, "{label}: 12 MiB get line still open");
            assert!(
                grown < 40 * 1024,
                "{label}: RSS grew {grown} KiB for one line"
            );
        }
    }
}

#[test]
fn stalled_half_sent_values_cost_bounded_memory_that_is_released() {
    raise_own_nofile();
    let n = scale(40, 400);
    for server in both("stalled", &["-c", "4096", "-m", "64"]) {
        let label = server.kind.label();
        let pid = server.pid();
        let mut ctl = server.connect();
        let base_conns = stat(&mut ctl, "curr_connections");
        let mut rounds = Vec::new();
        for _round in 0..2 {
            let before = rss_kib(pid);
            let socks: Vec<TcpStream> = (0..n)
                .map(|i| {
                    let mut s = TcpStream::connect(("127.0.0.1", server.port)).expect("connect");
                    s.write_all(format!("set stalled{i} 0 0 524288\r\n").as_bytes())
                        .unwrap();
                    s.write_all(&vec![b's'; 262_144]).unwrap();
                    s
                })
                .collect();
            thread::sleep(Duration::from_millis(500));
            let during = rss_kib(pid);
            // The server keeps serving others.
            ctl.request(b"version\r\n", b"\r\n");
            drop(socks);
            assert!(
                wait_for(Duration::from_secs(20), || stat(
                    &mut ctl,
                    "curr_connections"
                ) == base_conns),
                "{label}: stalled connections not counted down"
            );
            let after = rss_kib(pid);
            rounds.push((before, during, after));
        }
        let per_conn = rounds[0].1.saturating_sub(rounds[0].0) / n as u64;
        figure(
            "stalled half-sent 512 KiB values: RSS KiB per conn (round 1), after rounds 1/2",
            &label,
            format!("{per_conn}, {} / {}", rounds[0].2, rounds[1].2),
        );
        if matches!(server.kind, support::Kind::Evcached(_)) {
            // Bounded: one read buffer sized for the value (at most twice -I) per connection.
            assert!(
                per_conn <= 2 * 1024 + 64,
                "{label}: {per_conn} KiB per stalled connection"
            );
            // Reused or released: a second round costs nothing new (2 MiB of slack).
            assert!(
                rounds[1].1 <= rounds[0].1 + 2048,
                "{label}: second round grew RSS to {} KiB from {} KiB",
                rounds[1].1,
                rounds[0].1
            );
        }
    }
}

#[test]
fn pipelining_client_that_does_not_read_gets_every_reply_in_order() {
    let total = scale(100_000, 1_000_000);
    for server in both("pipeline", &["-t", "2"]) {
        let label = server.kind.label();
        let pid = server.pid();
        let mut c = server.connect();
        for k in 0..10 {
            let mut set = format!("set p{k} 0 0 100\r\n").into_bytes();
            set.extend_from_slice(&[b'0' + k as u8; 100]);
            set.extend_from_slice(b"\r\n");
            c.request(&set, b"STORED\r\n");
        }
        let before = rss_kib(pid);
        let s = TcpStream::connect(("127.0.0.1", server.port)).expect("connect");
        let mut w = s.try_clone().unwrap();
        let written = Arc::new(AtomicUsize::new(0));
        let writer = {
            let written = written.clone();
            thread::spawn(move || {
                let mut batch = Vec::new();
                for i in 0..total {
                    batch.extend_from_slice(format!("get p{}\r\n", i % 10).as_bytes());
                    if batch.len() > 8192 || i + 1 == total {
                        w.write_all(&batch).expect("pipeline write");
                        written.fetch_add(batch.len(), Ordering::Relaxed);
                        batch.clear();
                    }
                }
            })
        };
        // Let the client fill every buffer while reading nothing.
        let mut last = 0;
        loop {
            thread::sleep(Duration::from_millis(300));
            let now = written.load(Ordering::Relaxed);
            if now == last || writer.is_finished() {
                break;
            }
            last = now;
        }
        let last = written.load(Ordering::Relaxed);
        let stalled_rss = rss_kib(pid);
        let mut r = s;
        r.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        let mut buf = vec![0u8; 1 << 16];
        let mut pending: Vec<u8> = Vec::new();
        let mut seen = 0usize;
        let reply_len = "VALUE p0 0 100\r\n".len() + 102 + 5;
        while seen < total {
            let n = r.read(&mut buf).expect("read replies");
            assert!(n > 0, "{label}: closed after {seen} replies");
            pending.extend_from_slice(&buf[..n]);
            let mut off = 0;
            while pending.len() - off >= reply_len {
                let k = seen % 10;
                let rep = &pending[off..off + reply_len];
                let head = format!("VALUE p{k} 0 100\r\n");
                assert!(
                    rep.starts_with(head.as_bytes())
                        && rep[head.len()] == b'0' + k as u8
                        && rep.ends_with(b"\r\nEND\r\n"),
                    "{label}: reply #{seen} out of order or damaged: {:?}",
                    escape(rep)
                );
                off += reply_len;
                seen += 1;
            }
            pending.drain(..off);
        }
        writer.join().expect("writer");
        figure(
            "pipelined gets without reading: RSS growth while stalled (KiB)",
            &label,
            format!(
                "{} ({} of {} request bytes accepted before the stall)",
                stalled_rss.saturating_sub(before),
                last,
                total * 8
            ),
        );
        if matches!(server.kind, support::Kind::Evcached(_)) {
            // Output is bounded (1 MiB limit) plus the read buffer: 16 MiB of slack.
            assert!(
                stalled_rss.saturating_sub(before) < 16 * 1024,
                "{label}: RSS grew by {} KiB",
                stalled_rss.saturating_sub(before)
            );
        }
    }
}

#[test]
fn idle_timeout_closes_idle_connections_only() {
    for server in both("idle_timeout", &["-o", "idle_timeout=2"]) {
        let label = server.kind.label();
        let mut idle = server.connect();
        idle.request(b"version\r\n", b"\r\n");
        let mut busy = server.connect();
        let start = Instant::now();
        let mut closed_at = None;
        while start.elapsed() < Duration::from_secs(15) {
            busy.request(b"version\r\n", b"\r\n");
            match closed_at {
                None => {
                    let r = idle.read_until_within(b"\r\n", Duration::from_millis(400));
                    if r.closed {
                        closed_at = Some(start.elapsed());
                    }
                }
                // The busy connection stays open for 3 s more than the idle one lived.
                Some(at) if start.elapsed() > at + Duration::from_secs(3) => break,
                Some(_) => thread::sleep(Duration::from_millis(400)),
            }
        }
        let closed_at =
            closed_at.unwrap_or_else(|| panic!("{label}: idle connection never closed"));
        let kicks = stat(&mut busy, "idle_kicks");
        assert!(kicks >= 1, "{label}: idle_kicks {kicks}");
        figure(
            "idle_timeout=2: idle connection closed after (ms)",
            &label,
            closed_at.as_millis(),
        );
    }
}
