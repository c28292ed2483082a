//! Shutdown: SIGTERM, SIGINT and the `shutdown` command (`-A`; `shutdown graceful`) stop
//! the server, let a response in flight finish, and exit 0 within seconds. evcached beside
//! memcached 1.6.18 (whose figures are reported, not asserted).

mod reliability_support;
mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::thread;
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;
use reliability_support::*;
use support::{escape, Kind};

fn kinds() -> Vec<Kind> {
    let mut v = vec![Kind::Evcached(None)];
    if support::memcached_or_skip("shutdown").is_some() {
        v.push(Kind::Memcached);
    }
    v
}

const VALUE: usize = 512 * 1024;

/// Starts `kind`, stores a 512 KiB value and begins a 8 MiB response on a client that
/// reads it; sends `stop` once the first bytes arrived. Returns (response complete,
/// exit code, time from the stop to the exit).
fn stop_during_response(kind: &Kind, stop: impl FnOnce(&Proc)) -> (bool, Option<i32>, Duration) {
    let mut p = Proc::start(
        kind,
        &["-p", "-1", "-U", "0", "-l", "127.0.0.1", "-A"],
        |_| {},
    );
    let mut c = p.connect();
    let mut set = format!("set big 0 0 {VALUE}\r\n").into_bytes();
    set.extend(std::iter::repeat(b'b').take(VALUE));
    set.extend_from_slice(b"\r\n");
    c.request(&set, b"STORED\r\n");
    let mut s = TcpStream::connect(("127.0.0.1", p.port)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    // 8 MiB: more than the socket buffers hold, so most of it is still in the server.
    s.write_all(format!("get{}\r\n", " big".repeat(16)).as_bytes())
        .unwrap();
    let mut first = [0u8; 1024];
    let n = s.read(&mut first).expect("first bytes");
    let expected = 16 * (format!("VALUE big 0 {VALUE}\r\n").len() + VALUE + 2) + 5;
    let reader = thread::spawn(move || {
        let mut got = n;
        let mut buf = vec![0u8; 65536];
        thread::sleep(Duration::from_millis(100)); // the stop arrives mid-response
        while let Ok(k) = s.read(&mut buf) {
            if k == 0 {
                break;
            }
            got += k;
        }
        got
    });
    let t = Instant::now();
    stop(&p);
    let exit = wait_exit(&mut p.child, Duration::from_secs(20));
    let took = t.elapsed();
    let got = reader.join().unwrap_or(0);
    let (code, took) = match exit {
        Some((code, _)) => (code, took),
        None => (None, took),
    };
    (got == expected, code, took)
}

#[test]
fn signals_finish_in_flight_responses_and_exit_zero() {
    for kind in kinds() {
        for sig in [Signal::SIGTERM, Signal::SIGINT] {
            let (complete, code, took) = stop_during_response(&kind, |p| signal(p.pid(), sig));
            figure(
                &format!("{sig:?} during a 8 MiB response: complete, exit code, ms to exit"),
                &kind.label(),
                format!("{complete}, {code:?}, {}", took.as_millis()),
            );
            if matches!(kind, Kind::Evcached(_)) {
                assert_eq!(code, Some(0), "{sig:?}: exit code");
                assert!(complete, "{sig:?}: the response in flight was cut");
            }
        }
    }
}

#[test]
fn shutdown_command_needs_a_and_exits_zero() {
    for kind in kinds() {
        let label = kind.label();
        // Without -A: refused, server keeps running.
        let p = Proc::start(&kind, &["-p", "-1", "-U", "0", "-l", "127.0.0.1"], |_| {});
        let mut c = p.connect();
        let r = c.request(b"shutdown\r\n", b"\r\n");
        assert_eq!(
            r,
            b"ERROR: shutdown not enabled\r\n",
            "{label}: {}",
            escape(&r)
        );
        c.request(b"version\r\n", b"\r\n");
        drop(p);
        for cmd in [&b"shutdown\r\n"[..], b"shutdown graceful\r\n"] {
            let (complete, code, took) = stop_during_response(&kind, |p| {
                let mut c = p.connect();
                c.send(cmd);
                let r = c.read_to_close(Duration::from_secs(10));
                assert!(r.closed, "{label}: connection open after {}", escape(cmd));
            });
            figure(
                &format!(
                    "`{}` during a 8 MiB response: complete, exit code, ms to exit",
                    escape(cmd.trim_ascii_end())
                ),
                &label,
                format!("{complete}, {code:?}, {}", took.as_millis()),
            );
            if matches!(kind, Kind::Evcached(_)) {
                assert_eq!(code, Some(0), "{label}: {} exit code", escape(cmd));
                assert!(
                    complete,
                    "{label}: {} cut the response in flight",
                    escape(cmd)
                );
            }
        }
    }
}
