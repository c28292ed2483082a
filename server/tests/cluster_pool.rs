//! A 3-backend pool behind nutcracker (twemproxy 0.5.0, ketama, `fnv1a_64`): byte-exact
//! values through the proxy, keys spread over every backend exactly where the ring says,
//! fragmented multi-gets, every storage command twemproxy forwards, and deep pipelining.
//!
//! Backends are `evcached` unless `EVCACHED_CLUSTER_BACKEND` names another binary (e.g.
//! `memcached`, to check the tests themselves).

mod cluster_support;

use std::collections::HashMap;
use std::io;

use cluster_support::client::storage;
use cluster_support::{value, Item, Pool, PoolOptions};

/// Sets `items` through `conn`, pipelining `batch` commands per write, and checks each reply.
fn set_all(
    conn: &mut cluster_support::Conn,
    items: &[(String, Vec<u8>)],
    batch: usize,
) -> io::Result<()> {
    for chunk in items.chunks(batch) {
        let mut req = Vec::new();
        for (i, (key, val)) in chunk.iter().enumerate() {
            req.extend(storage("set", key, i as u32, val, ""));
        }
        conn.send(&req)?;
        for (key, _) in chunk {
            assert_eq!(conn.line()?, "STORED", "set {key}");
        }
    }
    Ok(())
}

/// Each backend's `curr_items`, read directly from the backend.
fn items_per_backend(pool: &Pool) -> io::Result<Vec<u64>> {
    (0..pool.backends.len())
        .map(|i| pool.backend_conn(i).stat("curr_items"))
        .collect()
}

/// Size of value number `i`: 1 B to 100 KB, mostly small, every tenth up to 100 KB.
fn size_of(i: usize) -> usize {
    match i % 100 {
        0 => 100 * 1024,
        1 => 1,
        n if n % 10 == 2 => 1 + (i * 7919) % (100 * 1024),
        _ => 1 + (i * 131) % 2_000,
    }
}

#[test]
fn values_from_1b_to_100kb_round_trip_byte_exact_and_spread_over_all_backends() -> io::Result<()> {
    let pool = Pool::start(PoolOptions::default());
    let items: Vec<(String, Vec<u8>)> = (0..3_000)
        .map(|i| (format!("bulk:{i}"), value(i, size_of(i))))
        .collect();
    let mut proxy = pool.proxy_conn();
    set_all(&mut proxy, &items, 50)?;

    for (c, chunk) in items.chunks(25).enumerate() {
        let keys: Vec<&str> = chunk.iter().map(|(k, _)| k.as_str()).collect();
        let got = proxy.get_multi(&keys, false)?;
        let want: Vec<Item> = chunk
            .iter()
            .enumerate()
            .map(|(i, (k, v))| Item {
                key: k.clone(),
                flags: ((c * 25 + i) % 50) as u32,
                value: v.clone(),
                cas: None,
            })
            .collect();
        assert_eq!(got.len(), want.len(), "chunk {c}: one VALUE per key");
        for (g, w) in got.iter().zip(&want) {
            assert!(
                g == w,
                "{} came back different ({} bytes)",
                w.key,
                w.value.len()
            );
        }
    }

    let per_backend = items_per_backend(&pool)?;
    eprintln!(
        "distribution of {} keys over {:?}: {per_backend:?}",
        items.len(),
        pool.names()
    );
    assert_eq!(per_backend.iter().sum::<u64>(), items.len() as u64);
    assert!(
        per_backend.iter().all(|&n| n > 0),
        "every backend holds keys: {per_backend:?}"
    );
    Ok(())
}

#[test]
fn each_key_lives_on_the_backend_the_ring_picks_with_the_proxy_value() -> io::Result<()> {
    let pool = Pool::start(PoolOptions::default());
    let items: Vec<(String, Vec<u8>)> = (0..2_000)
        .map(|i| (format!("ring:{i}"), value(i, 1 + i % 300)))
        .collect();
    let mut proxy = pool.proxy_conn();
    set_all(&mut proxy, &items, 100)?;

    // Where each key really is: ask every backend directly for every key.
    let keys: Vec<&str> = items.iter().map(|(k, _)| k.as_str()).collect();
    let mut found: HashMap<String, Vec<(usize, Vec<u8>)>> = HashMap::new();
    for b in 0..pool.backends.len() {
        let mut direct = pool.backend_conn(b);
        for chunk in keys.chunks(100) {
            for item in direct.get_multi(chunk, false)? {
                found.entry(item.key).or_default().push((b, item.value));
            }
        }
    }
    let mut predicted = vec![0usize; pool.backends.len()];
    for (key, val) in &items {
        let owner = pool.ring.pick(key.as_bytes());
        predicted[owner] += 1;
        let through_proxy = proxy
            .get(key)?
            .expect("key readable through the proxy")
            .value;
        assert_eq!(&through_proxy, val, "{key} through the proxy");
        let copies = found.get(key).map(Vec::as_slice).unwrap_or_default();
        assert_eq!(copies.len(), 1, "{key} is on exactly one backend");
        assert_eq!(copies[0].0, owner, "{key} is where the ketama ring puts it");
        assert_eq!(copies[0].1, through_proxy, "{key}: backend and proxy agree");
    }
    eprintln!("ring placement of {} keys: {predicted:?}", items.len());
    assert!(predicted.iter().all(|&n| n > 0));
    Ok(())
}

#[test]
fn hundred_key_multi_get_is_split_across_backends_and_reassembled_in_order() -> io::Result<()> {
    let pool = Pool::start(PoolOptions::default());
    let mut proxy = pool.proxy_conn();
    // 100 keys taken so that each backend owns about a third: sequential short keys can
    // cluster under fnv1a_64, and the point here is a fragmented request.
    let backends = pool.backends.len();
    let mut taken = vec![0usize; backends];
    let stored: Vec<(String, Vec<u8>)> = (0..)
        .map(|n| format!("multi:{n}"))
        .filter(|k| {
            let owner = pool.ring.pick(k.as_bytes());
            taken[owner] += 1;
            taken[owner] <= 100usize.div_ceil(backends)
        })
        .take(100)
        .enumerate()
        .map(|(i, k)| (k, value(i, 10 + i * 37)))
        .collect();
    set_all(&mut proxy, &stored, 100)?;

    let owners: Vec<usize> = stored
        .iter()
        .map(|(k, _)| pool.ring.pick(k.as_bytes()))
        .collect();
    for b in 0..pool.backends.len() {
        assert!(owners.contains(&b), "the 100 keys span backend {b}");
    }
    let item_of = |i: usize| Item {
        key: stored[i].0.clone(),
        flags: i as u32 % 100,
        value: stored[i].1.clone(),
        cas: None,
    };

    // All 100 keys plus a repeat, every one a hit: reassembled exactly in request order.
    let mut request: Vec<String> = stored.iter().map(|(k, _)| k.clone()).collect();
    request.push(stored[7].0.clone());
    let hits_before: Vec<u64> = (0..pool.backends.len())
        .map(|b| pool.backend_conn(b).stat("get_hits"))
        .collect::<io::Result<_>>()?;
    let got = proxy.get_multi(&request, false)?;
    let want: Vec<Item> = (0..100).chain([7]).map(item_of).collect();
    assert_eq!(got.len(), 101, "one VALUE per requested key");
    assert!(got == want, "request order, byte-exact values and flags");
    // Each backend served exactly the keys the ring gives it (the repeated key counts twice).
    for (b, before) in hits_before.iter().enumerate() {
        let hits = pool.backend_conn(b).stat("get_hits")? - before;
        let expected =
            owners.iter().filter(|&&o| o == b).count() as u64 + u64::from(owners[7] == b);
        eprintln!("backend {b} served {hits} of the multi-get's 101 hits");
        assert_eq!(hits, expected, "backend {b} hits");
    }

    // With misses interleaved, twemproxy 0.5.0 fills each requested slot with the next VALUE
    // of that key's backend reply, so hits can move up into a miss's slot: every hit still
    // comes back once with its own key, value and flags, but in the order of
    // per-backend replies rather than strictly the request's.
    let mut request: Vec<String> = Vec::new();
    for (i, (key, _)) in stored.iter().enumerate() {
        request.push(key.clone());
        if i % 10 == 0 {
            request.push(format!("multi:missing:{i}"));
        }
    }
    let mut got = proxy.get_multi(&request, false)?;
    got.sort_by(|a, b| a.key.cmp(&b.key));
    let mut want: Vec<Item> = (0..100).map(item_of).collect();
    want.sort_by(|a, b| a.key.cmp(&b.key));
    assert_eq!(got.len(), 100, "misses omitted");
    assert!(got == want, "each hit once, byte-exact");
    Ok(())
}

/// Runs every forwarded command against `key` (owned by one backend) through `c`.
fn exercise_commands(c: &mut cluster_support::Conn, key: &str) -> io::Result<()> {
    let missing = format!("{key}:absent");
    assert_eq!(c.call(&storage("add", key, 1, b"one", ""))?, "STORED");
    assert_eq!(c.call(&storage("add", key, 1, b"uno", ""))?, "NOT_STORED");
    assert_eq!(c.call(&storage("replace", key, 2, b"two", ""))?, "STORED");
    assert_eq!(
        c.call(&storage("replace", &missing, 2, b"x", ""))?,
        "NOT_STORED"
    );
    assert_eq!(c.call(&storage("append", key, 9, b"+a", ""))?, "STORED");
    assert_eq!(c.call(&storage("prepend", key, 9, b"p-", ""))?, "STORED");
    assert_eq!(
        c.call(&storage("append", &missing, 0, b"x", ""))?,
        "NOT_STORED"
    );
    let item = c
        .get_multi(&[key], true)?
        .pop()
        .expect("gets finds the key");
    assert_eq!((item.flags, item.value.as_slice()), (2, &b"p-two+a"[..]));
    let cas = item.cas.expect("gets returns a cas id");
    let stale = format!("cas {key} 3 0 1 {}\r\nX\r\n", cas + 1);
    assert_eq!(c.call(stale.as_bytes())?, "EXISTS");
    let fresh = format!("cas {key} 3 0 1 {cas}\r\nY\r\n");
    assert_eq!(c.call(fresh.as_bytes())?, "STORED");
    let absent = format!("cas {missing} 3 0 1 {cas}\r\nZ\r\n");
    assert_eq!(c.call(absent.as_bytes())?, "NOT_FOUND");

    assert_eq!(c.call(&storage("set", key, 0, b"10", ""))?, "STORED");
    assert_eq!(c.call(format!("incr {key} 5\r\n").as_bytes())?, "15");
    assert_eq!(c.call(format!("decr {key} 20\r\n").as_bytes())?, "0");
    assert_eq!(
        c.call(format!("incr {missing} 1\r\n").as_bytes())?,
        "NOT_FOUND"
    );
    assert_eq!(
        c.call(format!("touch {key} 3600\r\n").as_bytes())?,
        "TOUCHED"
    );
    assert_eq!(
        c.call(format!("touch {missing} 3600\r\n").as_bytes())?,
        "NOT_FOUND"
    );
    assert_eq!(c.call(format!("delete {key}\r\n").as_bytes())?, "DELETED");
    assert_eq!(c.call(format!("delete {key}\r\n").as_bytes())?, "NOT_FOUND");
    assert_eq!(c.call(&storage("set", key, 0, b"text", ""))?, "STORED");
    assert_eq!(
        c.call(format!("incr {key} 1\r\n").as_bytes())?,
        "CLIENT_ERROR cannot increment or decrement non-numeric value"
    );

    // The noreply forms: no reply at all, so the next reply seen is the final get's.
    let mut quiet = Vec::new();
    quiet.extend(storage("set", key, 4, b"5", " noreply"));
    quiet.extend(storage("add", key, 4, b"lost", " noreply"));
    quiet.extend(storage("replace", key, 5, b"7", " noreply"));
    quiet.extend(storage("append", key, 0, b"0", " noreply"));
    quiet.extend(storage("prepend", key, 0, b"1", " noreply"));
    quiet.extend(format!("incr {key} 30 noreply\r\n").into_bytes());
    quiet.extend(format!("decr {key} 8 noreply\r\n").into_bytes());
    quiet.extend(format!("touch {key} 3600 noreply\r\n").into_bytes());
    quiet.extend(format!("delete {missing} noreply\r\n").into_bytes());
    c.send(&quiet)?;
    let item = c.get_multi(&[key], true)?.pop().expect("key after noreply");
    assert_eq!((item.flags, item.value.as_slice()), (5, &b"192"[..]));
    let cas = item.cas.expect("cas id");
    c.send(format!("cas {key} 6 0 2 {cas} noreply\r\nok\r\n").as_bytes())?;
    let item = c.get(key)?.expect("key after cas noreply");
    assert_eq!((item.flags, item.value.as_slice()), (6, &b"ok"[..]));
    c.send(format!("delete {key} noreply\r\n").as_bytes())?;
    assert_eq!(c.get(key)?, None);
    assert_eq!(c.call(&storage("set", key, 7, b"final", ""))?, "STORED");
    Ok(())
}

#[test]
fn every_forwarded_storage_command_works_through_the_proxy_on_every_backend() -> io::Result<()> {
    let pool = Pool::start(PoolOptions::default());
    let mut proxy = pool.proxy_conn();
    for b in 0..pool.backends.len() {
        let key = (0..)
            .map(|i| format!("cmd:{i}"))
            .find(|k| pool.ring.pick(k.as_bytes()) == b)
            .expect("some key maps to each backend");
        exercise_commands(&mut proxy, &key)?;
        let direct = pool
            .backend_conn(b)
            .get(&key)?
            .expect("final value on its backend");
        assert_eq!((direct.flags, direct.value.as_slice()), (7, &b"final"[..]));
    }
    let version = proxy.call(b"version\r\n")?;
    assert!(version.starts_with("VERSION "), "{version}");
    Ok(())
}

#[test]
fn thousand_pipelined_requests_in_one_write_get_replies_in_order() -> io::Result<()> {
    let pool = Pool::start(PoolOptions::default());
    let mut proxy = pool.proxy_conn();
    // 250 rounds of set, get, delete, get: 1,000 requests over keys on every backend.
    let mut req = Vec::new();
    for i in 0..250 {
        let key = format!("pipe:{i}");
        req.extend(storage(
            "set",
            &key,
            i,
            &value(i as usize, 1 + i as usize),
            "",
        ));
        req.extend(format!("get {key}\r\ndelete {key}\r\nget {key}\r\n").into_bytes());
    }
    proxy.send(&req)?;
    for i in 0..250u32 {
        let key = format!("pipe:{i}");
        assert_eq!(proxy.line()?, "STORED", "set {key}");
        let got = proxy.values()?;
        let want = Item {
            key: key.clone(),
            flags: i,
            value: value(i as usize, 1 + i as usize),
            cas: None,
        };
        assert_eq!(got, vec![want], "get {key}");
        assert_eq!(proxy.line()?, "DELETED", "delete {key}");
        assert_eq!(proxy.values()?, Vec::new(), "get {key} after delete");
    }
    let per_backend: Vec<u64> = (0..pool.backends.len())
        .map(|b| pool.backend_conn(b).stat("cmd_set"))
        .collect::<io::Result<_>>()?;
    eprintln!("sets per backend from the pipeline: {per_backend:?}");
    assert!(per_backend.iter().all(|&n| n > 0));
    Ok(())
}

#[test]
fn commands_twemproxy_does_not_forward_close_the_connection() -> io::Result<()> {
    let pool = Pool::start(PoolOptions::default());
    let mut proxy = pool.proxy_conn();
    assert_eq!(proxy.set("kept", 0, b"v")?, "STORED");
    for cmd in [
        "flush_all\r\n",
        "stats\r\n",
        "verbosity 1\r\n",
        "gat 0 kept\r\n",
    ] {
        let mut conn = pool.proxy_conn();
        conn.send(cmd.as_bytes())?;
        let rest = conn.read_to_close()?;
        assert!(
            rest.is_empty(),
            "{cmd:?} got no reply, only a close: {rest:?}"
        );
    }
    // flush_all never reached a backend.
    let item = proxy.get("kept")?.expect("flush_all was not forwarded");
    assert_eq!(item.value, b"v");
    Ok(())
}
