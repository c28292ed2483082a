//! The load generator against a real memcached (Debian's, on a loopback ephemeral port,
//! killed by PID when each test ends), and against fake servers that misbehave.

use std::ffi::OsString;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::process::Command;
use std::time::Duration;

use evcached_loadgen::server::ServerProcess;
use evcached_loadgen::{prefill, run, Config, Pacing};

const MEMCACHED: &str = "/usr/bin/memcached";

fn memcached() -> ServerProcess {
    assert!(
        std::path::Path::new(MEMCACHED).exists(),
        "these tests need Debian's memcached (apt-get install memcached)"
    );
    ServerProcess::start(&[OsString::from(MEMCACHED)], &["-t", "1", "-m", "64"])
        .expect("memcached starts")
}

/// A small bounded run: a fixed number of requests, so no test depends on timing.
fn small(server: &ServerProcess) -> Config {
    Config {
        server: server.addr(),
        conns: 8,
        threads: 2,
        duration: None,
        requests: Some(2_000),
        keyspace: 500,
        key_size: 16,
        value_size: 100,
        drain_timeout: Duration::from_secs(20),
        ..Config::default()
    }
}

#[test]
fn prefilled_mix_hits_every_key() {
    let server = memcached();
    let cfg = Config {
        prefill: true,
        expect_hits: true,
        ..small(&server)
    };
    let filled = prefill(&cfg).unwrap();
    assert!(filled.ok(), "{filled}");
    assert_eq!(filled.stats.sets, 500);
    let report = run(&cfg).unwrap();
    assert!(report.ok(), "{report}");
    assert_eq!(report.stats.ops, 2_000);
    assert_eq!(report.stats.gets + report.stats.sets, 2_000);
    assert!(report.stats.gets > report.stats.sets, "9:1 mix: {report}");
    assert_eq!(report.stats.misses, 0);
    assert_eq!(report.stats.hits, report.stats.gets);
    assert_eq!(report.stats.latency.len(), 2_000);
}

#[test]
fn pipelined_multiget_and_bursts() {
    let server = memcached();
    let base = Config {
        prefill: true,
        expect_hits: true,
        get_weight: 1,
        set_weight: 0,
        keys_per_get: 16,
        ..small(&server)
    };
    assert!(prefill(&base).unwrap().ok());
    for burst in [false, true] {
        let cfg = Config {
            pacing: Pacing::Closed { depth: 16, burst },
            ..base.clone()
        };
        let report = run(&cfg).unwrap();
        assert!(report.ok(), "{report}");
        assert_eq!(report.stats.gets, 2_000);
        assert_eq!(report.stats.keys_requested, 32_000);
        assert_eq!(report.stats.hits, 32_000);
    }
}

#[test]
fn large_values_round_trip() {
    let server = memcached();
    let cfg = Config {
        prefill: true,
        expect_hits: true,
        value_size: 200_000,
        keyspace: 20,
        requests: Some(200),
        get_weight: 1,
        set_weight: 1,
        ..small(&server)
    };
    assert!(prefill(&cfg).unwrap().ok());
    let report = run(&cfg).unwrap();
    assert!(report.ok(), "{report}");
    assert_eq!(report.stats.ops, 200);
}

#[test]
fn open_loop_sends_on_schedule() {
    let server = memcached();
    let cfg = Config {
        prefill: true,
        expect_hits: true,
        pacing: Pacing::Open { rate: 4_000.0 },
        requests: Some(400),
        ..small(&server)
    };
    assert!(prefill(&cfg).unwrap().ok());
    let report = run(&cfg).unwrap();
    assert!(report.ok(), "{report}");
    assert_eq!(report.stats.ops, 400);
    // 400 requests at 4000/s take at least ~0.1 s of schedule: the loop did not rush.
    assert!(
        report.elapsed >= Duration::from_millis(90),
        "{:?}",
        report.elapsed
    );
}

#[test]
fn misses_fail_only_when_hits_are_expected() {
    let server = memcached();
    let cfg = Config {
        get_weight: 1,
        set_weight: 0,
        requests: Some(100),
        ..small(&server)
    };
    let report = run(&cfg).unwrap();
    assert!(report.ok(), "{report}");
    assert_eq!(report.stats.misses, 100);
    let strict = Config {
        expect_hits: true,
        ..cfg
    };
    let report = run(&strict).unwrap();
    assert!(!report.ok());
    assert_eq!(report.unexpected_misses(), 100);
}

/// A fake server that answers every request line with `reply`.
fn fake_server(reply: &'static [u8]) -> (std::net::SocketAddr, std::thread::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let handle = std::thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let mut writer = stream.try_clone().unwrap();
        let mut reader = BufReader::new(stream);
        let mut line = String::new();
        // Answer the first request, then wait for the client to hang up.
        if reader.read_line(&mut line).unwrap_or(0) > 0 {
            let _ = writer.write_all(reply);
        }
        while reader.read_line(&mut line).unwrap_or(0) > 0 {}
    });
    (addr, handle)
}

#[test]
fn protocol_errors_stop_the_run() {
    for reply in [
        &b"SERVER_ERROR out of memory\r\n"[..],
        b"STORED\r\n",
        b"VALUE other 0 1\r\nx\r\nEND\r\n",
        b"VALUE k00000000000001 0 3\r\nabc\r\nEND\r\n",
    ] {
        let (addr, handle) = fake_server(reply);
        let cfg = Config {
            server: addr,
            conns: 1,
            duration: None,
            requests: Some(10),
            get_weight: 1,
            set_weight: 0,
            key_size: 16,
            keyspace: 2,
            ..Config::default()
        };
        let report = run(&cfg).unwrap();
        assert_eq!(report.stats.errors, 1, "{report}");
        assert!(!report.ok());
        drop(report);
        handle.join().unwrap();
    }
}

#[test]
fn refused_connection_is_an_error() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let cfg = Config {
        server: addr,
        ..Config::default()
    };
    assert!(run(&cfg).is_err());
}

#[test]
fn binary_writes_json_and_exits_by_outcome() {
    let server = memcached();
    let bin = env!("CARGO_BIN_EXE_evcached-loadgen");
    let addr = server.addr().to_string();
    let common = [
        "--server",
        addr.as_str(),
        "--conns",
        "4",
        "--requests",
        "400",
        "--keyspace",
        "100",
        "--key-size",
        "10",
        "--json",
        "-",
    ];
    let out = Command::new(bin)
        .args(common)
        .arg("--prefill")
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["prefill"]["sets"], 100);
    assert_eq!(doc["run"]["ops"], 400);
    assert_eq!(doc["run"]["ok"], true);
    assert!(doc["run"]["latency_us"]["p99"].as_f64().unwrap() > 0.0);

    let fresh = memcached();
    let fresh_addr = fresh.addr().to_string();
    let out = Command::new(bin)
        .args(common)
        .args(["--server", fresh_addr.as_str(), "--expect-hits"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["run"]["ok"], false);

    let out = Command::new(bin).arg("--conns").arg("0").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn a_server_that_fails_to_start_is_reported() {
    let err = ServerProcess::start(&[OsString::from(MEMCACHED)], &["--no-such-flag"])
        .expect_err("memcached rejects an unknown flag");
    assert!(err.contains("exited"), "{err}");
    assert!(ServerProcess::start(&[OsString::from("/nonexistent/server")], &[]).is_err());
}
