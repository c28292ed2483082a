//! A standard client, Python's pymemcache, works against evcached unchanged.
//!
//! `tests/clients/pymemcache_check.py` exercises the client's API (get/set/multi-get, add,
//! replace, append/prepend, cas, incr/decr, touch, delete, stats, version, flush_all,
//! binary and near-limit values, the too-large error, noreply pipelines) and checks every
//! answer. It runs against memcached too, which shows the checks describe memcached's
//! behaviour, then against evcached on each event backend. pymemcache comes from `.ci/run`;
//! without it (or without python3) the tests skip loudly, except under CI where they fail.

mod support;

use std::path::PathBuf;
use std::process::Command;

use support::{Kind, Server};

fn script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/clients/pymemcache_check.py")
}

/// True when `python3 -c 'import pymemcache'` works; otherwise skip (or fail under CI).
fn pymemcache_available(test: &str) -> bool {
    let ok = Command::new("python3")
        .args(["-c", "import pymemcache"])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if !ok {
        let ci = std::env::var_os("CI").is_some_and(|v| !v.is_empty() && v != "false");
        assert!(
            !ci,
            "{test}: python3 with pymemcache is required under CI (.ci/run installs it)"
        );
        eprintln!("\n*** SKIPPING {test}: python3 -c 'import pymemcache' failed ***\n");
    }
    ok
}

fn run_against(test: &str, kind: Kind) {
    if !pymemcache_available(test) {
        return;
    }
    let server = Server::start(kind.clone(), &["-t", "2"]).unwrap_or_else(|e| panic!("{e}"));
    let out = Command::new("timeout")
        .arg("120")
        .arg("python3")
        .arg(script())
        .arg(server.port.to_string())
        .output()
        .expect("run python3");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stdout.starts_with("OK "),
        "pymemcache against {} failed ({}):\n{stdout}\n{stderr}\nserver stderr:\n{}",
        kind.label(),
        out.status,
        server.stderr()
    );
}

#[test]
fn pymemcache_against_memcached() {
    if support::memcached_or_skip("pymemcache_against_memcached").is_none() {
        return;
    }
    run_against("pymemcache_against_memcached", Kind::Memcached);
}

#[test]
fn pymemcache_against_evcached_native() {
    run_against("pymemcache_against_evcached_native", Kind::Evcached(None));
}

#[test]
fn pymemcache_against_evcached_portable() {
    run_against(
        "pymemcache_against_evcached_portable",
        Kind::Evcached(Some("portable")),
    );
}
