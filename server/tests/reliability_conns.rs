//! Many connections, `-c` maxconns, EMFILE back-off, and connections that vanish in the
//! middle of a response: evcached beside memcached 1.6.18 in the same run.

mod reliability_support;
mod support;

use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::process::Command;
use std::time::{Duration, Instant};

use reliability_support::*;
use support::{escape, Client};

/// The first `n` bytes the server sends on a fresh connection after `version`
/// (`VERSION ...` when served, the maxconns error when refused).
fn probe(port: u16) -> Vec<u8> {
    let mut c = Client::connect(port);
    c.send(b"version\r\n");
    c.read_until(b"\r\n").bytes
}

#[test]
fn many_connections_are_held_and_served() {
    let limit = raise_own_nofile();
    let wanted = scale(2000, 10_000);
    let n = wanted.min(limit.saturating_sub(200) as usize);
    if n < wanted {
        eprintln!("note: this process may open {limit} files; holding {n} connections");
    }
    let maxconns = (n + 100).to_string();
    for server in both("many_connections", &["-c", &maxconns, "-t", "4"]) {
        let label = server.kind.label();
        let pid = server.pid();
        let mut ctl = server.connect();
        let base_conns = stat(&mut ctl, "curr_connections");
        let base_fds = fd_count(pid);
        let base_rss = rss_kib(pid);
        let start = Instant::now();
        let mut conns: Vec<TcpStream> = (0..n)
            .map(|i| {
                TcpStream::connect(("127.0.0.1", server.port))
                    .unwrap_or_else(|e| panic!("{label}: connect #{i}: {e}"))
            })
            .collect();
        // Every connection is served while all are open: one request on each, then read.
        for c in &mut conns {
            c.write_all(b"version\r\n").expect("send");
        }
        for (i, c) in conns.iter_mut().enumerate() {
            c.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
            let mut buf = [0u8; 64];
            let got = c.read(&mut buf).unwrap_or(0);
            assert!(
                buf[..got].starts_with(b"VERSION "),
                "{label}: connection #{i} of {n} got {:?}",
                escape(&buf[..got])
            );
        }
        let served = start.elapsed();
        assert!(
            wait_for(Duration::from_secs(10), || stat(
                &mut ctl,
                "curr_connections"
            ) == base_conns + n as u64),
            "{label}: curr_connections is not {} with {n} clients",
            base_conns + n as u64
        );
        let held_fds = fd_count(pid);
        assert!(
            held_fds >= base_fds + n,
            "{label}: {held_fds} fds for {n} connections"
        );
        let rss = rss_kib(pid);
        drop(conns);
        assert!(
            wait_for(Duration::from_secs(20), || stat(
                &mut ctl,
                "curr_connections"
            ) == base_conns),
            "{label}: curr_connections did not return to {base_conns} after the clients left"
        );
        assert!(
            wait_for(Duration::from_secs(20), || fd_count(pid) == base_fds),
            "{label}: {} fds open after the clients left, {base_fds} before",
            fd_count(pid)
        );
        figure("connections held and served", &label, n);
        figure(
            "RSS per held connection (KiB)",
            &label,
            format!("{:.1}", (rss.saturating_sub(base_rss)) as f64 / n as f64),
        );
        figure("connect+serve all (ms)", &label, served.as_millis());
    }
}

#[test]
fn maxconns_refuses_with_memcached_error_and_recovers() {
    for server in both("maxconns", &["-c", "64", "-t", "2"]) {
        let label = server.kind.label();
        let mut held = Vec::new();
        let mut refused = 0;
        for _ in 0..100 {
            let mut c = server.connect();
            c.send(b"version\r\n");
            let r = c.read_until(b"\r\n");
            if r.bytes.starts_with(b"VERSION ") {
                held.push(c);
            } else {
                assert_eq!(
                    r.bytes, b"ERROR Too many open connections\r\n",
                    "{label}: refusal text"
                );
                let rest = c.read_to_close(Duration::from_secs(10));
                assert!(rest.closed, "{label}: refused connection left open");
                refused += 1;
            }
        }
        assert!(
            refused > 0,
            "{label}: -c 64 refused none of 100 connections"
        );
        assert!(!held.is_empty(), "{label}: accepted nothing");
        // Held connections keep working; freeing one lets a new client in.
        for c in &mut held {
            c.request(b"version\r\n", b"\r\n");
        }
        let accepted = held.len();
        held.pop();
        let ok = wait_for(Duration::from_secs(10), || {
            probe(server.port).starts_with(b"VERSION ")
        });
        assert!(ok, "{label}: no connection accepted after one closed");
        let mut c = held.pop().expect("one left");
        let rejected = stat(&mut c, "rejected_connections");
        assert!(
            rejected >= refused,
            "{label}: rejected_connections {rejected} < {refused}"
        );
        figure("-c 64: connections accepted of 100", &label, accepted);
    }
}

/// CPU ticks (user + system) the process has used.
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let after = stat.rsplit(')').next().unwrap_or("");
    let f: Vec<&str> = after.split_whitespace().collect();
    // Fields after the command: state is [0]; utime and stime are fields 14 and 15 of
    // the whole line, i.e. [11] and [12] here.
    f.get(11).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0)
        + f.get(12).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0)
}

/// Connects with a bounded wait (memcached shrinks its listen backlog to 0 during
/// EMFILE back-off, so a connect may hang until the kernel gives up).
fn connect_bounded(port: u16) -> Option<TcpStream> {
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let s = TcpStream::connect_timeout(&addr, Duration::from_secs(3)).ok()?;
    s.set_read_timeout(Some(Duration::from_millis(50))).ok()?;
    Some(s)
}

/// Sends `version` and waits up to `wait` for the reply: Some(true) served, Some(false)
/// closed, None nothing yet.
fn served(s: &mut TcpStream, wait: Duration) -> Option<bool> {
    let deadline = Instant::now() + wait;
    let mut got = Vec::new();
    let mut buf = [0u8; 64];
    while Instant::now() < deadline {
        match s.read(&mut buf) {
            Ok(0) => return Some(false),
            Ok(n) => {
                got.extend_from_slice(&buf[..n]);
                if got.ends_with(b"\r\n") {
                    return Some(got.starts_with(b"VERSION "));
                }
            }
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(_) => return Some(false),
        }
    }
    None
}

#[test]
fn emfile_backs_off_and_resumes_accepting() {
    if Command::new("prlimit").arg("--version").output().is_err() {
        eprintln!("*** SKIPPING emfile test: no prlimit(1) (util-linux) ***");
        return;
    }
    for server in both("emfile", &["-c", "1024", "-t", "2"]) {
        let label = server.kind.label();
        let pid = server.pid();
        let mut ctl = server.connect();
        ctl.request(b"version\r\n", b"\r\n");
        // Leave room for 4 more descriptors: the other clients wait while accept fails
        // with EMFILE.
        let limit = fd_count(pid) + 4;
        let status = Command::new("prlimit")
            .args([
                "--pid",
                &pid.to_string(),
                &format!("--nofile={limit}:{limit}"),
            ])
            .status()
            .expect("prlimit");
        assert!(status.success(), "prlimit failed");
        let mut clients = Vec::new();
        let mut no_connect = 0;
        for _ in 0..24 {
            match connect_bounded(server.port) {
                Some(mut s) => {
                    s.write_all(b"version\r\n").expect("send");
                    clients.push(s);
                }
                None => no_connect += 1,
            }
        }
        let ticks0 = cpu_ticks(pid);
        std::thread::sleep(Duration::from_millis(1000));
        let spin = cpu_ticks(pid) - ticks0;
        let mut answered = Vec::new();
        let mut waiting = Vec::new();
        let mut lost = no_connect;
        for mut s in clients {
            match served(&mut s, Duration::from_millis(50)) {
                Some(true) => answered.push(s),
                Some(false) => lost += 1,
                None => waiting.push(s),
            }
        }
        let first = answered.len();
        assert!(
            !waiting.is_empty() || lost > 0,
            "{label}: all 24 clients were served under a {limit}-descriptor limit"
        );
        // The connection opened before the limit keeps being served during the back-off.
        ctl.request(b"version\r\n", b"\r\n");
        drop(answered);
        // Descriptors were freed above: the waiting clients must now be accepted and
        // served without any new connection arriving.
        let mut late = 0;
        for mut s in waiting {
            match served(&mut s, Duration::from_secs(10)) {
                Some(true) => late += 1,
                _ => lost += 1,
            }
        }
        figure(
            "EMFILE: served at once / after freeing / never (of 24)",
            &label,
            format!("{first} / {late} / {lost}"),
        );
        figure("EMFILE: CPU ticks in 1 s of back-off", &label, spin);
        if matches!(server.kind, support::Kind::Evcached(_)) {
            assert_eq!(
                lost, 0,
                "{label}: waiting clients were dropped or never served"
            );
        }
        ctl.request(b"version\r\n", b"\r\n");
    }
}

/// One way a client disappears while a large response is being sent.
#[derive(Clone, Copy, Debug)]
enum Vanish {
    /// Abortive close (SO_LINGER 0: the kernel sends RST) without reading.
    Reset,
    /// Half-close after the request; reads the whole response, then closes.
    HalfClose,
    /// Reads a little, then closes normally with most of the response unread.
    ReadSomeThenClose,
}

#[test]
fn vanishing_clients_are_closed_and_counted_down() {
    let per_kind = scale(60, 600);
    for server in both("vanishing", &["-c", "4096", "-t", "4"]) {
        let label = server.kind.label();
        let pid = server.pid();
        let mut ctl = server.connect();
        let value = vec![b'v'; 256 * 1024];
        let mut set = b"set big 0 0 262144\r\n".to_vec();
        set.extend_from_slice(&value);
        set.extend_from_slice(b"\r\n");
        ctl.request(&set, b"\r\n");
        let base_conns = stat(&mut ctl, "curr_connections");
        let base_fds = fd_count(pid);
        let request = b"get big big big big\r\n";
        let full_len = 4 * (b"VALUE big 0 262144\r\n".len() + 262_144 + 2) + 5;
        let mut half_closed = Vec::new();
        for i in 0..per_kind * 3 {
            let how = [Vanish::Reset, Vanish::HalfClose, Vanish::ReadSomeThenClose][i % 3];
            let mut s = TcpStream::connect(("127.0.0.1", server.port)).expect("connect");
            s.write_all(request).expect("send");
            match how {
                Vanish::Reset => {
                    socket2::SockRef::from(&s)
                        .set_linger(Some(Duration::ZERO))
                        .expect("SO_LINGER 0");
                    drop(s);
                }
                Vanish::HalfClose => {
                    s.shutdown(Shutdown::Write).expect("half-close");
                    half_closed.push(s);
                }
                Vanish::ReadSomeThenClose => {
                    let mut buf = [0u8; 4096];
                    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
                    let _ = s.read(&mut buf);
                    drop(s);
                }
            }
        }
        // Half-closed clients still get their whole response, then the server closes.
        for (i, mut s) in half_closed.into_iter().enumerate() {
            s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
            let mut got = Vec::new();
            let _ = s.read_to_end(&mut got);
            assert_eq!(
                got.len(),
                full_len,
                "{label}: half-closed client #{i} got a short response"
            );
            assert!(got.ends_with(b"END\r\n"));
        }
        let start = Instant::now();
        assert!(
            wait_for(Duration::from_secs(20), || stat(
                &mut ctl,
                "curr_connections"
            ) == base_conns),
            "{label}: curr_connections {} did not return to {base_conns}",
            stat(&mut ctl, "curr_connections")
        );
        assert!(
            wait_for(Duration::from_secs(20), || fd_count(pid) == base_fds),
            "{label}: {} fds open, {base_fds} at the start",
            fd_count(pid)
        );
        figure(
            "vanished mid-response: back to baseline (ms)",
            &label,
            start.elapsed().as_millis(),
        );
        ctl.request(b"version\r\n", b"\r\n");
    }
}
