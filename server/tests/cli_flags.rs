//! The command line of the real binary: bad flags are rejected with memcached's message and
//! exit code (compared against memcached 1.6.18 itself), `-h`/`-V` print and exit 0.
//!
//! Each case runs `evcached <args>` and `memcached <args>`; both must exit (no server
//! starts) with the same code and the same stderr, where glibc's `memcached:` program-name
//! prefix (argv[0]) reads `evcached:`. Cases where evcached deliberately differs are unit-tested in
//! `src/settings/tests.rs` instead (e.g. `-p -5`, which memcached only rejects at bind time).

mod support;

use std::process::{Command, Output, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use support::{evcached_bin, memcached_or_skip, running_as_root};

/// Bound on how long a rejected command line may take to exit.
const EXIT_DEADLINE: Duration = Duration::from_secs(10);

/// Runs `program args`, killing it if it has not exited by the deadline (a started server).
fn run(program: &std::path::Path, args: &[&str]) -> (Option<i32>, String, String) {
    let mut child = Command::new(program)
        .args(args)
        .env_remove("MEMCACHED_PORT_FILENAME")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {}: {e}", program.display()));
    let deadline = Instant::now() + EXIT_DEADLINE;
    loop {
        if child.try_wait().expect("try_wait").is_some() {
            break;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let out = child.wait_with_output().expect("wait");
            panic!(
                "{} {args:?} did not exit: stderr {:?}",
                program.display(),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        thread::sleep(Duration::from_millis(10));
    }
    let Output {
        status,
        stdout,
        stderr,
    } = child.wait_with_output().expect("wait");
    (
        status.code(),
        String::from_utf8_lossy(&stdout).into_owned(),
        String::from_utf8_lossy(&stderr).into_owned(),
    )
}

/// Command lines memcached rejects at start-up (checked by hand against 1.6.18).
const REJECTED: &[&[&str]] = &[
    &["-c", "0"],
    &["-c", "abc"],
    &["-t", "0"],
    &["-t", "abc"],
    &["-R", "0"],
    &["-f", "1"],
    &["-f", "abc"],
    &["-n", "0"],
    &["-B", "foo"],
    &["-I", "512"],
    &["-I", "2g"],
    &["-I", "40m"],
    &["-m", "4096", "-I", "1025m"],
    &["-I", "300k"],
    &["-I", "1000k"],
    &["-I", "3000", "-o", "slab_chunk_max=1000"],
    &["-m", "0"],
    &["-m", "1"],
    &["-p", "70000"],
    &["-U", "70000"],
    &["-D", ""],
    &["-N", "abc"],
    &["-x"],
    &["--bogus"],
    &["-p"],
    &["--daemon=1"],
    &["--port"],
    &["--disable-"],
    &["-o", "bogus"],
    &["-o", ",,modern"],
    &["-o", "modern,bogus=1"],
    &["-o", "hashpower"],
    &["-o", "hashpower=5"],
    &["-o", "hashpower=33"],
    &["-o", "slab_automove=3"],
    &["-o", "slab_automove_ratio=2"],
    &["-o", "slab_automove_ratio"],
    &["-o", "slab_automove_window=1"],
    &["-o", "tail_repair_time=5"],
    &["-o", "tail_repair_time"],
    &["-o", "hash_algorithm=foo"],
    &["-o", "hash_algorithm"],
    &["-o", "lru_crawler_sleep=2000000"],
    &["-o", "lru_crawler_sleep"],
    &["-o", "lru_crawler_tocrawl=abc"],
    &["-o", "hot_lru_pct=90"],
    &["-o", "warm_lru_pct=0"],
    &["-o", "hot_max_factor=0"],
    &["-o", "warm_max_factor=abc"],
    &["-o", "temporary_ttl"],
    &["-o", "idle_timeout"],
    &["-o", "watcher_logbuf_size=abc"],
    &["-o", "worker_logbuf_size"],
    &["-o", "read_buf_mem_limit=-1"],
    &["-o", "slab_chunk_max=2000000"],
    &["-o", "slab_chunk_max=100"],
    &["-o", "hot_lru_pct=50,warm_lru_pct=40"],
    &["-o", "no_lru_maintainer,temporary_ttl=5"],
    &["-o", "slab_sizes=40"],
    &["-o", "slab_sizes=200-100"],
    &["-o", "slab_sizes=abc"],
    &["-o", "slab_page_size=2"],
];

fn with_user<'a>(args: &[&'a str]) -> Vec<&'a str> {
    let mut v = Vec::new();
    if running_as_root() {
        v.extend(["-u", "root"]);
    }
    v.extend_from_slice(args);
    v
}

#[test]
fn rejected_flags_match_memcached() {
    let Some(memcached) = memcached_or_skip("rejected_flags_match_memcached") else {
        return;
    };
    let evcached = evcached_bin();
    let mut failures = Vec::new();
    for args in REJECTED {
        let args = with_user(args);
        let (want_code, _, want_err) = run(&memcached, &args);
        let (got_code, _, got_err) = run(&evcached, &args);
        // glibc prefixes getopt errors with argv[0]; evcached says "evcached".
        let want_err = want_err.replace(&format!("{}: ", memcached.display()), "evcached: ");
        assert_ne!(
            want_code,
            Some(0),
            "memcached accepted {args:?}; fix the case list"
        );
        if (want_code, &want_err) != (got_code, &got_err) {
            failures.push(format!(
                "{args:?}:\n  memcached: {want_code:?} {want_err:?}\n  evcached:  {got_code:?} {got_err:?}"
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} command lines differ:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn root_needs_a_user() {
    if !running_as_root() {
        eprintln!("not root: the -u requirement does not apply");
        return;
    }
    let (code, _, err) = run(&evcached_bin(), &["-p", "0"]);
    assert_eq!(
        (code, err.as_str()),
        (Some(64), "can't run as root without the -u switch\n")
    );
}

#[test]
fn help_and_version_exit_zero() {
    let bin = evcached_bin();
    let (code, out, err) = run(&bin, &["-h"]);
    assert_eq!(code, Some(0), "stderr: {err}");
    assert!(
        out.starts_with("evcached "),
        "help starts with the version line: {out:?}"
    );
    for flag in [
        "-p, --port=<num>",
        "-U, --udp-port=<num>",
        "-l, --listen=<addr>",
        "-o, --extended",
    ] {
        assert!(out.contains(flag), "help lacks {flag}");
    }
    assert_eq!(run(&bin, &["--help"]).1, out);
    let (code, out, _) = run(&bin, &["-V"]);
    assert_eq!(code, Some(0));
    assert_eq!(out, format!("evcached {}\n", env!("CARGO_PKG_VERSION")));
    let (code, out, _) = run(&bin, &["-i"]);
    assert_eq!(code, Some(0));
    assert!(out.contains("BSD"));
}

#[test]
fn unsupported_features_refuse_to_start() {
    let bin = evcached_bin();
    for flag in [
        &["-S"][..],
        &["-Z"],
        &["-Y", "/nonexistent"],
        &["-e", "/nonexistent"],
    ] {
        let (code, _, err) = run(&bin, &with_user(flag));
        assert_eq!(code, Some(64), "{flag:?}: {err}");
        assert!(err.contains("not supported"), "{flag:?}: {err}");
    }
}

/// The port file lists the same listeners, in the same words, as memcached's.
#[test]
fn port_file_matches_memcached() {
    if memcached_or_skip("port_file_matches_memcached").is_none() {
        return;
    }
    // The harness already passes `-l 127.0.0.1`; a second `-l` adds to the list (only where
    // the host has IPv6 loopback).
    let v6 = std::net::TcpListener::bind("[::1]:0").is_ok();
    let args: &[&str] = if v6 {
        &["-U", "-1", "-l", "[::1]"]
    } else {
        &["-U", "-1"]
    };
    let shape = |kind: support::Kind| -> Vec<String> {
        let server = support::Server::start(kind, args).unwrap_or_else(|e| panic!("{e}"));
        server
            .port_lines
            .iter()
            .map(|l| {
                let (name, port) = l.rsplit_once(' ').expect("`<kind>: <port>` line");
                assert!(
                    port.parse::<u16>().is_ok_and(|p| p > 0),
                    "bad port in {l:?}"
                );
                name.to_string()
            })
            .collect()
    };
    let want = shape(support::Kind::Memcached);
    let expected: &[&str] = if v6 {
        &["TCP INET:", "TCP INET6:", "UDP INET:", "UDP INET6:"]
    } else {
        &["TCP INET:", "UDP INET:"]
    };
    assert_eq!(want, expected);
    assert_eq!(shape(support::Kind::Evcached(None)), want);
}

/// `-u` as root drops to the user's uid and gid and clears the supplementary groups, as
/// memcached does (compared through /proc with memcached 1.6.18 started the same way).
#[cfg(target_os = "linux")]
#[test]
fn user_switch_matches_memcached() {
    use std::os::unix::fs::PermissionsExt;
    if !running_as_root() {
        eprintln!("not root: -u does not switch identity");
        return;
    }
    let Some(memcached) = memcached_or_skip("user_switch_matches_memcached") else {
        return;
    };
    let identity = |program: &std::path::Path| -> Vec<String> {
        // memcached writes the port file as the new user: a directory anyone may write.
        let scratch = support::Scratch::new("user");
        std::fs::set_permissions(scratch.path(), std::fs::Permissions::from_mode(0o1777))
            .expect("chmod scratch");
        let port_file = scratch.path().join("ports");
        let mut child = Command::new(program)
            .args(["-p", "-1", "-U", "0", "-l", "127.0.0.1", "-u", "nobody"])
            .env("MEMCACHED_PORT_FILENAME", &port_file)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn");
        let deadline = Instant::now() + support::START_DEADLINE;
        while !port_file.exists() && Instant::now() < deadline {
            thread::sleep(Duration::from_millis(10));
        }
        let status = std::fs::read_to_string(format!("/proc/{}/status", child.id()));
        // Child::kill signals exactly this PID.
        let _ = child.kill();
        let _ = child.wait();
        assert!(
            port_file.exists(),
            "{} wrote no port file",
            program.display()
        );
        status
            .expect("read /proc/<pid>/status")
            .lines()
            .filter(|l| ["Uid:", "Gid:", "Groups:"].iter().any(|p| l.starts_with(p)))
            .map(|l| l.trim_end().to_string())
            .collect()
    };
    let want = identity(&memcached);
    let got = identity(&evcached_bin());
    assert_eq!(want.len(), 3, "memcached's /proc status: {want:?}");
    assert_eq!(got, want);
    assert_eq!(got[2], "Groups:", "supplementary groups dropped");
}
