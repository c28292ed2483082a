//! Integration tests of the network layer against the real binary, on every backend:
//! pipelining, value sizes, binary safety, many connections, maxconns, back-pressure,
//! partial input, line limits, idle timeout and graceful shutdown.

mod net_common;

use std::io::Write;
use std::time::Duration;

use net_common::{Client, Server};

/// Deterministic bytes covering every value 0..=255 (binary-safe payloads).
fn payload(n: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

fn pipeline_1000_in_one_write(backend: &str) {
    let srv = Server::start(backend, &[]);
    let mut c = srv.connect();
    let mut req = Vec::new();
    let mut expect = Vec::new();
    for i in 0..1000 {
        let v = i.to_string();
        req.extend_from_slice(format!("set k{i} {i} 0 {}\r\n{v}\r\n", v.len()).as_bytes());
        expect.extend_from_slice(b"STORED\r\n");
    }
    for i in 0..1000 {
        let v = i.to_string();
        req.extend_from_slice(format!("get k{i}\r\n").as_bytes());
        expect
            .extend_from_slice(format!("VALUE k{i} {i} {}\r\n{v}\r\nEND\r\n", v.len()).as_bytes());
    }
    c.roundtrip(&req, &expect);
}

fn values_from_0_bytes_to_the_item_limit(backend: &str) {
    let srv = Server::start(backend, &[]);
    let mut c = srv.connect();
    // 1048513 is the largest value a 4-byte key with zero flags fits in -I 1m.
    for (i, n) in [
        0usize, 1, 2, 100, 16383, 16384, 16385, 65536, 524_288, 1_048_513,
    ]
    .into_iter()
    .enumerate()
    {
        let v = payload(n, i as u64 + 1);
        let mut req = format!("set abcd 0 0 {n}\r\n").into_bytes();
        req.extend_from_slice(&v);
        req.extend_from_slice(b"\r\nget abcd\r\n");
        let mut expect = format!("STORED\r\nVALUE abcd 0 {n}\r\n").into_bytes();
        expect.extend_from_slice(&v);
        expect.extend_from_slice(b"\r\nEND\r\n");
        c.roundtrip(&req, &expect);
    }
    // One byte more is refused and its data swallowed; the old value is gone.
    let mut req = b"set abcd 0 0 1048514\r\n".to_vec();
    req.extend_from_slice(&payload(1_048_514, 9));
    req.extend_from_slice(b"\r\nget abcd\r\n");
    c.roundtrip(&req, b"SERVER_ERROR object too large for cache\r\nEND\r\n");
}

fn values_are_binary_safe(backend: &str) {
    let srv = Server::start(backend, &[]);
    let mut c = srv.connect();
    // Every byte value, including "\r\n" inside the data and NUL.
    let mut v: Vec<u8> = (0..=255u8).collect();
    v.extend_from_slice(b"\r\nEND\r\n\0\r\n");
    let mut req = format!("set bin 4294967295 0 {}\r\n", v.len()).into_bytes();
    req.extend_from_slice(&v);
    req.extend_from_slice(b"\r\ngets bin\r\n");
    c.send(&req);
    let got = c.read_until(b"\r\nEND\r\n");
    let head = format!("STORED\r\nVALUE bin 4294967295 {} ", v.len());
    assert!(
        got.starts_with(head.as_bytes()),
        "{:?}",
        String::from_utf8_lossy(&got)
    );
    let body_start = got
        .iter()
        .skip(head.len())
        .position(|&b| b == b'\n')
        .unwrap()
        + head.len()
        + 1;
    assert_eq!(&got[body_start..body_start + v.len()], &v[..]);
}

fn input_split_byte_by_byte(backend: &str) {
    let srv = Server::start(backend, &[]);
    let mut c = srv.connect();
    let req = b"set split 3 0 5\r\nab\r\nc\r\nget split\r\n";
    for b in req {
        c.send(&[*b]);
        std::thread::sleep(Duration::from_millis(2));
    }
    let expect = b"STORED\r\nVALUE split 3 5\r\nab\r\nc\r\nEND\r\n";
    assert_eq!(c.read_exact(expect.len()), expect);
}

fn large_values_arriving_in_pieces(backend: &str) {
    let srv = Server::start(backend, &[]);
    let mut c = srv.connect();
    let v = payload(300_000, 77);
    let mut req = b"set slow 5 0 300000\r\n".to_vec();
    req.extend_from_slice(&v);
    req.extend_from_slice(b"\r\nget slow\r\n");
    // Pieces that split the header, the value and the trailing CRLF.
    for piece in req.chunks(40_009) {
        c.send(piece);
        std::thread::sleep(Duration::from_millis(20));
    }
    let mut expect = b"STORED\r\nVALUE slow 5 300000\r\n".to_vec();
    expect.extend_from_slice(&v);
    expect.extend_from_slice(b"\r\nEND\r\n");
    c.roundtrip(b"", &expect);
    // A bad terminator after a streamed value is a bad data chunk; the rest is a command.
    let mut req = b"set slow 0 0 20000\r\n".to_vec();
    req.extend_from_slice(&payload(20_000, 3));
    c.send(&req);
    std::thread::sleep(Duration::from_millis(20));
    c.roundtrip(
        b"XXversion\r\n",
        b"CLIENT_ERROR bad data chunk\r\nVERSION 1.6.18\r\n",
    );
}

fn five_hundred_concurrent_connections(backend: &str) {
    let srv = Server::start(backend, &[]);
    let mut clients: Vec<Client> = (0..500).map(|_| srv.connect()).collect();
    for (i, c) in clients.iter_mut().enumerate() {
        c.send(
            format!(
                "set c{i} 0 0 {}\r\n{i}\r\nget c{i}\r\n",
                i.to_string().len()
            )
            .as_bytes(),
        );
    }
    for (i, c) in clients.iter_mut().enumerate() {
        let v = i.to_string();
        let expect = format!("STORED\r\nVALUE c{i} 0 {}\r\n{v}\r\nEND\r\n", v.len());
        assert_eq!(c.read_exact(expect.len()), expect.as_bytes());
    }
    let mut c = srv.connect();
    c.send(b"stats\r\n");
    let stats = String::from_utf8(c.read_until(b"END\r\n")).unwrap();
    assert!(stats.contains("STAT curr_connections 501\r\n"), "{stats}");
}

fn maxconns_rejects_with_memcached_error(backend: &str) {
    let srv = Server::start(backend, &["-c", "4"]);
    let mut held: Vec<Client> = (0..4).map(|_| srv.connect()).collect();
    for c in held.iter_mut() {
        c.roundtrip(b"version\r\n", b"VERSION 1.6.18\r\n");
    }
    let mut extra = srv.connect();
    let expect = b"ERROR Too many open connections\r\n";
    assert_eq!(extra.read_exact(expect.len()), expect);
    assert!(extra.is_closed());
    // Closing one frees a slot.
    drop(held.pop());
    let deadline = std::time::Instant::now() + net_common::IO_TIMEOUT;
    loop {
        let mut c = srv.connect();
        c.send(b"version\r\n");
        let got = c.read_until(b"\r\n");
        if got == b"VERSION 1.6.18\r\n" {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "slot never freed");
        std::thread::sleep(Duration::from_millis(20));
    }
    held[0].send(b"stats\r\n");
    let stats = String::from_utf8(held[0].read_until(b"END\r\n")).unwrap();
    assert!(
        !stats.contains("STAT rejected_connections 0\r\n"),
        "{stats}"
    );
}

fn emfile_pauses_accept_until_a_connection_closes(backend: &str) {
    let srv = Server::start_with_nofile(backend, 48, &["-t", "1"]);
    // More clients than descriptors: the kernel queues the surplus in the backlog while
    // accept is paused.
    let mut clients: Vec<Client> = (0..60).map(|_| srv.connect()).collect();
    for c in clients.iter_mut() {
        c.send(b"version\r\n");
    }
    // The first client is surely accepted; the others are classified by a short read
    // (a slow answer only moves a client to the second group, which waits fully).
    let mut first = clients.remove(0);
    assert_eq!(first.read_exact(16), b"VERSION 1.6.18\r\n");
    let mut served = vec![first];
    let mut waiting = Vec::new();
    for mut c in clients {
        c.s.set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        let mut buf = [0u8; 16];
        match std::io::Read::read(&mut c.s, &mut buf) {
            Ok(16) => served.push(c),
            _ => waiting.push(c),
        }
    }
    assert!(!waiting.is_empty(), "the descriptor limit was not reached");
    // Free descriptors: every queued client must then be accepted and answered.
    let mut probe = served.pop().unwrap();
    drop(served);
    for c in waiting.iter_mut() {
        c.s.set_read_timeout(Some(net_common::IO_TIMEOUT)).unwrap();
        assert_eq!(c.read_exact(16), b"VERSION 1.6.18\r\n");
    }
    probe.send(b"stats\r\n");
    let stats = String::from_utf8(probe.read_until(b"END\r\n")).unwrap();
    assert!(!stats.contains("STAT listen_disabled_num 0\r\n"), "{stats}");
    assert!(stats.contains("STAT accepting_conns 1\r\n"), "{stats}");
}

fn hundred_thousand_requests_without_reading(backend: &str) {
    let srv = Server::start(backend, &[]);
    let mut c = srv.connect();
    c.roundtrip(b"set p 0 0 1\r\n5\r\n", b"STORED\r\n");
    const N: usize = 100_000;
    let mut w = c.s.try_clone().unwrap();
    let writer = std::thread::spawn(move || {
        let req = b"get p\r\n".repeat(N);
        w.write_all(&req).unwrap();
    });
    // Let the server hit its output limit before we start reading.
    std::thread::sleep(Duration::from_millis(500));
    let one = b"VALUE p 0 1\r\n5\r\nEND\r\n";
    let got = c.read_exact(one.len() * N);
    writer.join().unwrap();
    assert!(got.chunks(one.len()).all(|ch| ch == one));
}

fn overlong_line_and_http_close_the_connection(backend: &str) {
    let srv = Server::start(backend, &[]);
    let mut c = srv.connect();
    c.send(
        &b"version"
            .iter()
            .copied()
            .chain(std::iter::repeat(b' ').take(3000))
            .collect::<Vec<_>>(),
    );
    assert!(c.is_closed());
    let mut c = srv.connect();
    c.send(b"GET / HTTP/1.1\r\n");
    assert!(c.is_closed());
    // A long multiget line is not a reason to close.
    let mut c = srv.connect();
    let mut line = b"get".to_vec();
    for i in 0..2000 {
        line.extend_from_slice(format!(" key{i}").as_bytes());
    }
    line.extend_from_slice(b"\r\n");
    c.roundtrip(&line, b"END\r\n");
}

fn quit_flushes_then_closes(backend: &str) {
    let srv = Server::start(backend, &[]);
    let mut c = srv.connect();
    c.send(b"version\r\nquit\r\nversion\r\n");
    assert_eq!(c.read_exact(16), b"VERSION 1.6.18\r\n");
    assert!(c.is_closed());
}

fn half_closed_client_gets_its_replies(backend: &str) {
    let srv = Server::start(backend, &[]);
    let mut c = srv.connect();
    let mut req = Vec::new();
    for i in 0..200 {
        req.extend_from_slice(format!("set h{i} 0 0 1\r\nx\r\nget h{i}\r\n").as_bytes());
    }
    c.send(&req);
    c.s.shutdown(std::net::Shutdown::Write).unwrap();
    let mut expect = Vec::new();
    for i in 0..200 {
        expect.extend_from_slice(format!("STORED\r\nVALUE h{i} 0 1\r\nx\r\nEND\r\n").as_bytes());
    }
    assert_eq!(c.read_exact(expect.len()), expect);
    assert!(c.is_closed());
}

fn fairness_yields_after_r_requests(backend: &str) {
    let srv = Server::start(backend, &["-R", "2"]);
    let mut c = srv.connect();
    let req = b"version\r\n".repeat(100);
    c.roundtrip(&req, &b"VERSION 1.6.18\r\n".repeat(100));
    c.send(b"stats\r\n");
    let stats = String::from_utf8(c.read_until(b"END\r\n")).unwrap();
    assert!(!stats.contains("STAT conn_yields 0\r\n"), "{stats}");
}

fn idle_timeout_closes_silent_clients(backend: &str) {
    let srv = Server::start(backend, &["-o", "idle_timeout=1"]);
    let mut c = srv.connect();
    c.roundtrip(b"version\r\n", b"VERSION 1.6.18\r\n");
    assert!(c.is_closed());
    let mut c = srv.connect();
    c.send(b"stats\r\n");
    let stats = String::from_utf8(c.read_until(b"END\r\n")).unwrap();
    assert!(stats.contains("STAT idle_kicks 1\r\n"), "{stats}");
}

fn sigterm_stops_gracefully(backend: &str) {
    let mut srv = Server::start(backend, &[]);
    let mut c = srv.connect();
    c.roundtrip(b"version\r\n", b"VERSION 1.6.18\r\n");
    let st = srv.signal_and_wait("TERM");
    assert!(st.success(), "{st}");
    assert!(c.is_closed());
}

fn shutdown_command_needs_dash_a(backend: &str) {
    let srv = Server::start(backend, &[]);
    let mut c = srv.connect();
    c.roundtrip(b"shutdown\r\n", b"ERROR: shutdown not enabled\r\n");
    let mut srv = Server::start(backend, &["-A"]);
    let mut c = srv.connect();
    c.roundtrip(
        b"shutdown bogus\r\n",
        b"CLIENT_ERROR invalid shutdown mode\r\n",
    );
    c.send(b"shutdown\r\n");
    assert!(c.is_closed());
    assert!(srv.wait_exit().success());
}

/// Every descriptor the server holds (listeners, clients, event queues, wakers, pipes)
/// is close-on-exec, so nothing leaks into child processes.
/// `O_CLOEXEC` as `/proc/<pid>/fdinfo` shows it (octal flags).
#[cfg(target_os = "linux")]
const CLOEXEC: u32 = 0o2_000_000;

#[cfg(target_os = "linux")]
fn fd_flags(path: &str) -> Option<u32> {
    let info = std::fs::read_to_string(path).ok()?;
    let flags = info.lines().find_map(|l| l.strip_prefix("flags:"))?.trim();
    u32::from_str_radix(flags, 8).ok()
}

#[cfg(target_os = "linux")]
fn descriptors_are_close_on_exec(backend: &str) {
    let srv = Server::start(backend, &["-U", "-1"]);
    let mut clients: Vec<Client> = (0..3).map(|_| srv.connect()).collect();
    for c in clients.iter_mut() {
        c.roundtrip(b"version\r\n", b"VERSION 1.6.18\r\n");
    }
    let pid = srv.pid();
    let mut checked = 0;
    for entry in std::fs::read_dir(format!("/proc/{pid}/fd")).unwrap() {
        let fd: u32 = entry
            .unwrap()
            .file_name()
            .to_string_lossy()
            .parse()
            .unwrap();
        if fd <= 2 {
            continue;
        }
        let Some(flags) = fd_flags(&format!("/proc/{pid}/fdinfo/{fd}")) else {
            continue; // closed meanwhile
        };
        // Descriptors this test process leaks to its children are inherited, not the
        // server's own.
        if fd_flags(&format!("/proc/self/fdinfo/{fd}")).is_some_and(|f| f & CLOEXEC == 0) {
            continue;
        }
        assert_ne!(
            flags & CLOEXEC,
            0,
            "fd {fd} is not close-on-exec (flags {flags:o})"
        );
        checked += 1;
    }
    assert!(checked >= 6, "only {checked} descriptors seen");
}

#[cfg(not(target_os = "linux"))]
fn descriptors_are_close_on_exec(_backend: &str) {}

per_backend!(
    descriptors_are_close_on_exec,
    pipeline_1000_in_one_write,
    values_from_0_bytes_to_the_item_limit,
    values_are_binary_safe,
    input_split_byte_by_byte,
    large_values_arriving_in_pieces,
    five_hundred_concurrent_connections,
    maxconns_rejects_with_memcached_error,
    emfile_pauses_accept_until_a_connection_closes,
    hundred_thousand_requests_without_reading,
    overlong_line_and_http_close_the_connection,
    quit_flushes_then_closes,
    half_closed_client_gets_its_replies,
    fairness_yields_after_r_requests,
    idle_timeout_closes_silent_clients,
    sigterm_stops_gracefully,
    shutdown_command_needs_dash_a,
);
