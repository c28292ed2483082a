//! Memory bounded by `-m`: churn of random-size values (100 B to 50 KiB, several times
//! more data than `-m`) keeps RSS under `-m` plus a fixed overhead, every set succeeds
//! (evicting), and later rounds do not grow it. evcached beside memcached 1.6.18.

mod reliability_support;
mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use reliability_support::*;

/// `-m` in MiB for the churn test.
const LIMIT_MB: u64 = 32;
/// What evcached may use beyond `-m`: hash table, per-thread buffers and stacks, the
/// binary and allocator slack. Stated here and asserted.
const OVERHEAD_MB: u64 = 32;

/// xorshift, so both servers get the same sizes.
fn next(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

/// Stores `bytes` worth of values of random size; returns how many sets were refused.
fn churn(port: u16, round: u64, bytes: u64, seed: &mut u64) -> u64 {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let value = vec![b'm'; 50 * 1024];
    let mut sent = 0u64;
    let mut refused = 0u64;
    let mut i = 0u64;
    let mut reply = Vec::new();
    while sent < bytes {
        // A batch of 16 pipelined sets, then their 16 replies.
        let mut batch = Vec::new();
        for _ in 0..16 {
            let len = 100 + (next(seed) % (50 * 1024 - 100)) as usize;
            batch.extend_from_slice(format!("set r{round}k{i} 0 0 {len}\r\n").as_bytes());
            batch.extend_from_slice(&value[..len]);
            batch.extend_from_slice(b"\r\n");
            sent += len as u64;
            i += 1;
        }
        s.write_all(&batch).expect("send sets");
        let mut lines = 0;
        while lines < 16 {
            let mut buf = [0u8; 4096];
            let n = s.read(&mut buf).expect("read replies");
            assert!(n > 0, "server closed during churn");
            reply.extend_from_slice(&buf[..n]);
            while let Some(p) = reply.iter().position(|&b| b == b'\n') {
                let line: Vec<u8> = reply.drain(..=p).collect();
                if line != b"STORED\r\n" {
                    refused += 1;
                }
                lines += 1;
            }
        }
    }
    refused
}

#[test]
fn rss_stays_bounded_by_the_memory_limit_under_churn() {
    let rounds = scale(3, 10) as u64;
    let m = LIMIT_MB.to_string();
    for server in both("memory_churn", &["-m", &m, "-t", "2"]) {
        let label = server.kind.label();
        let pid = server.pid();
        let start_rss = rss_kib(pid);
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let mut after = Vec::new();
        let mut refused_total = 0;
        for round in 0..rounds {
            refused_total += churn(server.port, round, (3 * LIMIT_MB) << 20, &mut seed);
            after.push(rss_kib(pid));
        }
        let mut c = server.connect();
        let evictions = stat(&mut c, "evictions");
        let bytes = stat(&mut c, "bytes");
        figure(
            &format!("churn under -m {LIMIT_MB}: RSS MiB after each round (start)"),
            &label,
            format!(
                "{} ({}); evictions {evictions}; refused {refused_total}; stored bytes {} MiB",
                after
                    .iter()
                    .map(|k| (k / 1024).to_string())
                    .collect::<Vec<_>>()
                    .join(" "),
                start_rss / 1024,
                bytes >> 20
            ),
        );
        assert!(
            evictions > 0,
            "{label}: no evictions after {}x -m of data",
            3 * rounds
        );
        assert!(
            bytes <= LIMIT_MB << 20,
            "{label}: {bytes} bytes stored over -m"
        );
        if matches!(server.kind, support::Kind::Evcached(_)) {
            assert_eq!(
                refused_total, 0,
                "{label}: sets refused instead of evicting"
            );
            let peak = *after.iter().max().unwrap();
            assert!(
                peak <= (LIMIT_MB + OVERHEAD_MB) * 1024,
                "{label}: RSS {peak} KiB over -m {LIMIT_MB} MiB + {OVERHEAD_MB} MiB"
            );
            // Later rounds reuse the same pages: no growth beyond 2 MiB after round 2.
            let settled = after[1.min(after.len() - 1)];
            let last = *after.last().unwrap();
            assert!(
                last <= settled + 2048,
                "{label}: RSS grew from {settled} KiB to {last} KiB across rounds"
            );
        }
    }
}
