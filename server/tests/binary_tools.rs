//! libmemcached's command-line tools (Debian's `libmemcached-tools`: `memccapable`,
//! `memccp`, `memccat`, ...; other distributions name them `memcapable`, `memcp`, ...)
//! work against evcached over the binary protocol. `memccapable` is libmemcached's
//! conformance check (ASCII and binary); it must pass every check on evcached exactly as
//! on memcached 1.6.18. Without the tools the tests skip loudly (fail under CI).

mod support;

use std::path::PathBuf;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use support::{Kind, Scratch, Server};

/// The tool's path under either naming scheme.
fn tool(names: &[&str]) -> Option<PathBuf> {
    let dirs = ["/usr/bin", "/usr/local/bin", "/opt/homebrew/bin"];
    dirs.iter()
        .flat_map(|d| names.iter().map(move |n| PathBuf::from(d).join(n)))
        .find(|p| p.is_file())
}

fn tool_or_skip(test: &str, names: &[&str]) -> Option<PathBuf> {
    let t = tool(names);
    if t.is_none() {
        let ci = std::env::var_os("CI").is_some_and(|v| !v.is_empty() && v != "false");
        assert!(
            !ci,
            "{test}: {names:?} not installed but CI is set (apt-get install libmemcached-tools)"
        );
        eprintln!("\n*** SKIPPING {test}: {names:?} not installed (libmemcached-tools) ***\n");
    }
    t
}

/// Runs `cmd`, killing it after `limit`. Its output is drained by reader threads while it
/// runs (a full pipe would block it).
fn run(cmd: &mut Command, limit: Duration) -> Output {
    use std::io::Read;
    let mut child = cmd
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn tool");
    let drain = |r: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut v = Vec::new();
            if let Some(mut r) = r {
                let _ = r.read_to_end(&mut v);
            }
            v
        })
    };
    let out = drain(
        child
            .stdout
            .take()
            .map(|r| Box::new(r) as Box<dyn Read + Send>),
    );
    let err = drain(
        child
            .stderr
            .take()
            .map(|r| Box::new(r) as Box<dyn Read + Send>),
    );
    let start = Instant::now();
    let status = loop {
        if let Some(st) = child.try_wait().expect("wait") {
            break st;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{cmd:?} timed out");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Output {
        status,
        stdout: out.join().expect("stdout reader"),
        stderr: err.join().expect("stderr reader"),
    }
}

/// memccapable's per-check lines (`<name> [pass]`), and whether it reported success.
fn capable(bin: &PathBuf, port: u16) -> (Vec<String>, bool) {
    let out = run(
        Command::new(bin).args(["-h", "127.0.0.1", "-p", &port.to_string(), "-t", "5"]),
        Duration::from_secs(120),
    );
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let lines: Vec<String> = text
        .lines()
        .filter(|l| l.ends_with(']'))
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect();
    (
        lines,
        out.status.success() && text.contains("All tests passed"),
    )
}

fn capable_matches(test: &str, target: Kind) {
    let Some(bin) = tool_or_skip(test, &["memccapable", "memcapable"]) else {
        return;
    };
    if support::memcached_or_skip(test).is_none() {
        return;
    }
    let mc = Server::start(Kind::Memcached, &[]).unwrap_or_else(|e| panic!("{e}"));
    let (want, mc_ok) = capable(&bin, mc.port);
    assert!(mc_ok, "memcached fails memccapable: {want:?}");
    let ev = Server::start(target, &[]).unwrap_or_else(|e| panic!("{e}"));
    let (got, ok) = capable(&bin, ev.port);
    assert_eq!(got, want, "memccapable checks differ from memcached's");
    assert!(ok, "memccapable reports failures: {got:?}");
    assert!(
        want.len() >= 50,
        "memccapable ran only {} checks",
        want.len()
    );
    eprintln!(
        "memccapable: {} of {} checks pass on evcached and memcached",
        got.len(),
        want.len()
    );
}

#[test]
fn memccapable_passes_on_native_backend() {
    capable_matches("memccapable_passes_on_native_backend", Kind::Evcached(None));
}

#[test]
fn memccapable_passes_on_portable_backend() {
    capable_matches(
        "memccapable_passes_on_portable_backend",
        Kind::Evcached(Some("portable")),
    );
}

#[test]
fn memccp_memccat_round_trip_with_binary_protocol() {
    let test = "memccp_memccat_round_trip_with_binary_protocol";
    let (Some(cp), Some(cat), Some(rm)) = (
        tool_or_skip(test, &["memccp", "memcp"]),
        tool_or_skip(test, &["memccat", "memcat"]),
        tool_or_skip(test, &["memcrm", "memrm"]),
    ) else {
        return;
    };
    let ev = Server::evcached(&[]);
    let servers = format!("--servers=127.0.0.1:{}", ev.port);
    let scratch = Scratch::new("tools");
    let small = scratch.path().join("small.txt");
    let large = scratch.path().join("large.bin");
    std::fs::write(&small, b"hello binary protocol\n").unwrap();
    let data: Vec<u8> = (0..300_000u32).map(|i| (i * 7 % 251) as u8).collect();
    std::fs::write(&large, &data).unwrap();
    let limit = Duration::from_secs(30);
    for (file, content) in [
        (&small, &b"hello binary protocol\n"[..]),
        (&large, &data[..]),
    ] {
        let out = run(
            Command::new(&cp).args([&servers, "--binary"]).arg(file),
            limit,
        );
        assert!(out.status.success(), "memccp failed: {out:?}");
        // Keys are the file names.
        let key = file.file_name().unwrap();
        let out = run(
            Command::new(&cat).args([&servers, "--binary"]).arg(key),
            limit,
        );
        assert!(out.status.success(), "memccat failed: {out:?}");
        // memccat prints the value and a newline.
        assert_eq!(out.stdout.len(), content.len() + 1);
        assert!(
            out.stdout[..content.len()] == *content,
            "memccat returned different bytes"
        );
    }
    let out = run(
        Command::new(&rm).args([&servers, "--binary", "small.txt"]),
        limit,
    );
    assert!(out.status.success(), "memcrm failed: {out:?}");
    let out = run(
        Command::new(&cat).args([&servers, "--binary", "small.txt"]),
        limit,
    );
    assert!(!out.status.success(), "memccat found a removed key");
}
