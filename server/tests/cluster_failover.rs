//! Failover of a 3-backend nutcracker pool when one backend dies (killed by PID): keys on the
//! live backends keep working; without ejection the dead backend's keys fail with
//! `SERVER_ERROR`; with `auto_eject_hosts` they remap to the ring without the dead server
//! while it is ejected, and the proxy probes it again after `server_retry_timeout`.

mod cluster_support;

use std::io;
use std::thread;
use std::time::{Duration, Instant};

use cluster_support::{Conn, Pool, PoolOptions, Ring};

/// Upper bound on any wait in these tests, so a broken proxy fails instead of hanging.
const HANG_GUARD: Duration = Duration::from_secs(60);
/// The backend the tests kill.
const DEAD: usize = 1;

/// Sets `count` keys through the proxy and returns them.
fn fill(pool: &Pool, count: usize) -> io::Result<Vec<String>> {
    let mut proxy = pool.proxy_conn();
    let keys: Vec<String> = (0..count).map(|i| format!("failover:{i}")).collect();
    for key in &keys {
        assert_eq!(proxy.set(key, 0, key.as_bytes())?, "STORED");
    }
    Ok(keys)
}

/// Sends one request on a fresh proxy connection and returns the first reply line, or the
/// error (a closed connection counts as an error reply).
fn one_shot(pool: &Pool, request: &[u8]) -> io::Result<String> {
    let mut conn = Conn::connect(pool.proxy.port)?;
    conn.call(request)
}

/// Checks that every key the ring gives a live backend still reads back through the proxy.
fn live_keys_intact(pool: &Pool, keys: &[String]) -> io::Result<usize> {
    let mut proxy = pool.proxy_conn();
    let mut checked = 0;
    for key in keys.iter().filter(|k| pool.ring.pick(k.as_bytes()) != DEAD) {
        let item = proxy.get(key)?.unwrap_or_else(|| panic!("{key} lost"));
        assert_eq!(item.value, key.as_bytes());
        checked += 1;
    }
    Ok(checked)
}

/// Polls a nutcracker counter (aggregated every 100 ms) until it is non-zero.
fn eventually(counter: impl Fn() -> u64) -> u64 {
    let start = Instant::now();
    loop {
        let value = counter();
        if value > 0 {
            return value;
        }
        assert!(start.elapsed() < HANG_GUARD, "counter stayed 0");
        thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn without_ejection_live_keys_survive_and_dead_keys_get_server_error() -> io::Result<()> {
    let mut pool = Pool::start(PoolOptions::default());
    let keys = fill(&pool, 300)?;
    let dead_keys: Vec<&String> = keys
        .iter()
        .filter(|k| pool.ring.pick(k.as_bytes()) == DEAD)
        .collect();
    assert!(!dead_keys.is_empty(), "the killed backend owns keys");
    pool.backends[DEAD].kill();

    let live = live_keys_intact(&pool, &keys)?;
    let mut seen = Vec::new();
    for key in dead_keys.iter().take(20) {
        let get = one_shot(&pool, format!("get {key}\r\n").as_bytes());
        let set = one_shot(
            &pool,
            &cluster_support::client::storage("set", key, 0, b"x", ""),
        );
        for reply in [&get, &set] {
            match reply {
                Ok(line) => assert!(line.starts_with("SERVER_ERROR"), "{key}: {line}"),
                Err(e) => assert_eq!(e.kind(), io::ErrorKind::UnexpectedEof, "{key}: {e}"),
            }
        }
        seen.push(format!("get {get:?}, set {set:?}"));
    }
    seen.dedup();
    // Nothing was remapped: the live backends never saw the dead backend's keys.
    for b in (0..pool.backends.len()).filter(|&b| b != DEAD) {
        let mut direct = pool.backend_conn(b);
        for key in &dead_keys {
            assert_eq!(direct.get(key)?, None, "{key} appeared on backend {b}");
        }
    }
    assert_eq!(live_keys_intact(&pool, &keys)?, live);
    let errors = eventually(|| pool.proxy.pool_counter("forward_error"));
    assert_eq!(
        pool.proxy.pool_counter("server_ejects"),
        0,
        "ejection is off"
    );
    eprintln!(
        "no ejection: {errors} forward errors, {live} live keys intact; the dead backend's {} keys answer {seen:?}",
        dead_keys.len()
    );
    Ok(())
}

#[test]
fn with_ejection_dead_backend_keys_remap_to_the_remaining_ring() -> io::Result<()> {
    let retry = Duration::from_millis(1_500);
    let mut pool = Pool::start(PoolOptions {
        eject: true,
        retry_ms: retry.as_millis() as u64,
        failure_limit: 1,
        ..PoolOptions::default()
    });
    let keys = fill(&pool, 300)?;
    let mut live_mask = vec![true; pool.backends.len()];
    live_mask[DEAD] = false;
    let remaining = Ring::new(&pool.names(), &live_mask);
    let dead_keys: Vec<String> = keys
        .iter()
        .filter(|k| pool.ring.pick(k.as_bytes()) == DEAD)
        .cloned()
        .collect();
    assert!(!dead_keys.is_empty(), "the killed backend owns keys");
    // Consistent hashing: removing a server moves only that server's keys.
    for key in &keys {
        let before = pool.ring.pick(key.as_bytes());
        if before != DEAD {
            assert_eq!(remaining.pick(key.as_bytes()), before, "{key} stays put");
        }
    }

    pool.backends[DEAD].kill();
    let killed = Instant::now();

    // Write the first dead key until the proxy has ejected the server and stores it elsewhere.
    let probe = &dead_keys[0];
    let set = cluster_support::client::storage("set", probe, 1, b"remapped", "");
    let mut failures = 0;
    let remap = loop {
        assert!(killed.elapsed() < HANG_GUARD, "never remapped");
        match one_shot(&pool, &set) {
            Ok(line) if line == "STORED" => break killed.elapsed(),
            other => {
                failures += 1;
                eprintln!("after {:?}: {other:?}", killed.elapsed());
                thread::sleep(Duration::from_millis(5));
            }
        }
    };
    let new_owner = remaining.pick(probe.as_bytes());
    let direct = pool.backend_conn(new_owner).get(probe)?;
    assert_eq!(
        direct.map(|i| i.value),
        Some(b"remapped".to_vec()),
        "{probe} remapped"
    );

    // While ejected, every dead key is a miss (its data died with the server) and can be
    // written again; each lands where the remaining ring says.
    let mut rewritten = 0;
    for key in &dead_keys {
        let reply = loop {
            assert!(killed.elapsed() < HANG_GUARD, "{key} never stored");
            let mut proxy = pool.proxy_conn();
            let get = proxy.get(key);
            if let Ok(None) | Ok(Some(_)) = get {
                if let Ok(line) = proxy.set(key, 2, b"again") {
                    break line;
                }
            }
            // The proxy re-probed the dead server (retry window over); try again.
            failures += 1;
        };
        assert_eq!(reply, "STORED");
        let owner = remaining.pick(key.as_bytes());
        let item = pool
            .backend_conn(owner)
            .get(key)?
            .expect("on the new owner");
        assert_eq!(item.value, b"again");
        rewritten += 1;
    }
    let live = live_keys_intact(&pool, &keys)?;

    // After server_retry_timeout the proxy tries the dead server again: one request fails
    // and the server is ejected anew.
    let mut stored_since = 0u32;
    let reprobe = loop {
        assert!(killed.elapsed() < HANG_GUARD, "dead server never re-probed");
        match one_shot(&pool, &set) {
            Ok(line) if line == "STORED" => stored_since += 1,
            other => break (killed.elapsed(), other),
        }
        thread::sleep(Duration::from_millis(20));
    };
    eprintln!(
        "ejection (server_retry_timeout {retry:?}, server_failure_limit 1): first write to a \
         dead key stored on {} after {remap:?} and {failures} failed request(s); {rewritten} \
         dead keys rewritten, {live} live keys intact; re-probe failure at {:?}: {:?} after \
         {stored_since} more successful writes",
        pool.backends[new_owner].name, reprobe.0, reprobe.1
    );
    let ejects = eventually(|| pool.proxy.pool_counter("server_ejects"));
    eprintln!("nutcracker counted {ejects} ejection(s)");
    match reprobe.1 {
        Ok(line) => assert!(line.starts_with("SERVER_ERROR"), "{line}"),
        Err(e) => assert_eq!(e.kind(), io::ErrorKind::UnexpectedEof, "{e}"),
    }
    Ok(())
}
