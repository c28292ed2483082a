//! Client-side consistent hashing: pymemcache's `HashClient` (rendezvous hashing over the
//! server list) spreads keys over three backends with no proxy, reads them back, and each key
//! is found on exactly the backend the client chose.
//!
//! Needs a Python 3 with pymemcache (`python3-pymemcache` on Debian, or
//! `pip install pymemcache`); `$EVCACHED_PYTHON` picks the interpreter.

mod cluster_support;

use std::collections::HashMap;
use std::io;
use std::process::{Command, Stdio};

use cluster_support::procs::{Backend, Scratch};
use cluster_support::Conn;

/// Sets `count` keys through a HashClient over `ports`, reads them back with `get_many`, and
/// prints `key port` for each key (the server the client's hasher chose).
const SCRIPT: &str = r#"
import sys
from pymemcache.client.hash import HashClient

count = int(sys.argv[1])
servers = [("127.0.0.1", int(p)) for p in sys.argv[2:]]
client = HashClient(servers, connect_timeout=5, timeout=10, default_noreply=False)
keys = ["hash:%d" % i for i in range(count)]
values = {k: bytes((i * 7 + j) % 256 for j in range(1 + i % 500)) for i, k in enumerate(keys)}
for k in keys:
    assert client.set(k, values[k]), k
got = {}
for start in range(0, count, 100):
    got.update(client.get_many(keys[start:start + 100]))
assert got == values, "HashClient read back different values"
for k in keys:
    print(k, client.hasher.get_node(k).rsplit(":", 1)[1])
"#;

/// A Python interpreter that can import pymemcache.
fn python() -> String {
    let candidates = std::env::var("EVCACHED_PYTHON")
        .map(|p| vec![p])
        .unwrap_or_else(|_| vec!["python3".into(), "/usr/bin/python3".into()]);
    candidates
        .into_iter()
        .find(|py| {
            Command::new(py)
                .args(["-c", "import pymemcache"])
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        })
        .expect("no python3 with pymemcache: apt-get install python3-pymemcache")
}

#[test]
fn pymemcache_hash_client_spreads_keys_over_three_backends_and_reads_them_back() -> io::Result<()> {
    let dir = Scratch::new("hashclient");
    let backends: Vec<Backend> = (0..3)
        .map(|i| Backend::start(&format!("evcached-{i}"), dir.path()))
        .collect();
    let count = 2_000;
    let mut cmd = Command::new(python());
    cmd.args(["-c", SCRIPT, &count.to_string()]);
    cmd.args(backends.iter().map(|b| b.port.to_string()));
    let out = cmd.output()?;
    assert!(
        out.status.success(),
        "HashClient script failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );

    let port_index: HashMap<u16, usize> = backends
        .iter()
        .enumerate()
        .map(|(i, b)| (b.port, i))
        .collect();
    let mut chosen = vec![0u64; backends.len()];
    let mut conns: Vec<Conn> = backends
        .iter()
        .map(|b| Conn::connect(b.port))
        .collect::<io::Result<_>>()?;
    let stdout = String::from_utf8(out.stdout).expect("utf-8 output");
    for line in stdout.lines() {
        let (key, port) = line.split_once(' ').expect("`key port` lines");
        let owner = port_index[&port.parse::<u16>().expect("port")];
        chosen[owner] += 1;
        for (b, conn) in conns.iter_mut().enumerate() {
            assert_eq!(conn.get(key)?.is_some(), b == owner, "{key} on backend {b}");
        }
    }
    let stored: Vec<u64> = conns
        .iter_mut()
        .map(|c| c.stat("curr_items"))
        .collect::<io::Result<_>>()?;
    eprintln!("HashClient placed {count} keys as {chosen:?}; backends hold {stored:?}");
    assert_eq!(chosen.iter().sum::<u64>(), count);
    assert_eq!(stored, chosen);
    assert!(stored.iter().all(|&n| n > 0));
    Ok(())
}
