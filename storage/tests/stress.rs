//! Multi-threaded stress: mixed operations on many threads while the hash table grows and
//! pages move between classes. Values are self-describing, so a torn or misplaced value is
//! detected; memory must stay within the limit (plus the one-page-per-class allowance).

use std::sync::Arc;
use std::thread;

use evcached_storage::*;

/// A value for `key` with generation `g`: "<key>|<g>|" then a byte pattern seeded by g.
fn make(key: &[u8], g: u32, len: usize) -> Vec<u8> {
    let mut v = Vec::with_capacity(len + 32);
    v.extend_from_slice(key);
    v.extend_from_slice(format!("|{g}|").as_bytes());
    let mut x = g;
    while v.len() < len {
        x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
        v.push(b'a' + (x >> 16) as u8 % 26);
    }
    v
}

fn verify(key: &[u8], v: &[u8]) {
    assert!(v.starts_with(key), "value of another key");
    let rest = &v[key.len()..];
    let end = rest[1..]
        .iter()
        .position(|&b| b == b'|')
        .expect("generation")
        + 1;
    let g: u32 = std::str::from_utf8(&rest[1..end]).unwrap().parse().unwrap();
    assert_eq!(v, make(key, g, v.len()).as_slice(), "torn value");
}

#[test]
fn mixed_ops_many_threads() {
    let limit = 16u64 << 20;
    let e = Arc::new(Engine::new(EngineConfig {
        memory_limit: limit,
        hashpower_init: 12,
        slab_automove: 2,
        ..EngineConfig::default()
    }));
    // Enough items to start a hash table expansion that runs while the workers do.
    for n in 0..10_000 {
        let k = format!("key:{n}").into_bytes();
        e.store(StoreMode::Set, &k, 0, 0, &make(&k, 0, 50)).unwrap();
    }
    let threads: Vec<_> = (0..4u32)
        .map(|t| {
            let e = e.clone();
            thread::spawn(move || {
                let mut x = t.wrapping_mul(2_654_435_761);
                for i in 0..8_000u32 {
                    x ^= x << 13;
                    x ^= x >> 17;
                    x ^= x << 5;
                    let k = format!("key:{}", x % 20_000).into_bytes();
                    let len = [20usize, 100, 700, 3000, 20_000, 600_000][(x >> 8) as usize % 6];
                    match (x >> 4) % 8 {
                        0..=2 => {
                            let _ = e.store(StoreMode::Set, &k, 0, 0, &make(&k, i, len));
                        }
                        3..=5 => {
                            if let Some(it) = e.get(&k) {
                                verify(&k, &it.value_vec());
                            }
                        }
                        6 => {
                            e.delete(&k, 0);
                        }
                        _ => {
                            if i % 100 == 0 {
                                let _ = e.slabs_reassign(-1, 0);
                            }
                            let _ = e.store(StoreMode::Add, &k, 0, 0, &make(&k, i, len));
                        }
                    }
                }
            })
        })
        .collect();
    for t in threads {
        t.join().expect("worker");
    }
    e.run_maintenance();
    let s = e.stats();
    assert!(s.hash_power_level > 12, "the table grew while threads ran");
    let classes = e
        .stats_slabs()
        .iter()
        .filter(|(k, _)| k.ends_with(":total_pages"))
        .count();
    assert!(e.total_malloced() <= limit + classes as u64 * (1 << 20));
    // Every item left is intact.
    for n in 0..20_000 {
        let k = format!("key:{n}").into_bytes();
        if let Some(it) = e.get(&k) {
            verify(&k, &it.value_vec());
        }
    }
    e.shutdown();
}

#[test]
fn refs_survive_replacement_and_delete() {
    let e = Arc::new(Engine::new(EngineConfig {
        memory_limit: 8 << 20,
        background_threads: false,
        ..EngineConfig::default()
    }));
    e.store(StoreMode::Set, b"k", 0, 0, &make(b"k", 0, 5000))
        .unwrap();
    let held = e.get(b"k").unwrap();
    let w = {
        let e = e.clone();
        thread::spawn(move || {
            for g in 1..2000 {
                e.store(StoreMode::Set, b"k", 0, 0, &make(b"k", g, 5000))
                    .unwrap();
                if g % 3 == 0 {
                    e.delete(b"k", 0);
                }
            }
        })
    };
    for _ in 0..2000 {
        verify(b"k", &held.value_vec());
        if let Some(it) = e.get(b"k") {
            verify(b"k", &it.value_vec());
        }
    }
    w.join().unwrap();
    assert_eq!(held.value_vec(), make(b"k", 0, 5000));
}

#[test]
fn no_lost_updates_during_expansion_and_page_moves() {
    // Ample memory, no deletes: every key must end with its owner's last write, while the
    // hash table grows (from 2^12 buckets) and pages move out of the item classes.
    let e = Arc::new(Engine::new(EngineConfig {
        memory_limit: 64 << 20,
        hashpower_init: 12,
        ..EngineConfig::default()
    }));
    let per_thread = 5_000u32;
    let threads: Vec<_> = (0..4u32)
        .map(|t| {
            let e = e.clone();
            thread::spawn(move || {
                for round in 0..3u32 {
                    for i in 0..per_thread {
                        let k = format!("t{t}:{i}").into_bytes();
                        let v = make(&k, round, 40 + (i as usize % 300));
                        e.store(StoreMode::Set, &k, 0, 0, &v).unwrap();
                        if i % 1000 == 0 {
                            let _ = e.slabs_reassign(-1, 0);
                        }
                    }
                }
            })
        })
        .collect();
    for t in threads {
        t.join().expect("writer");
    }
    // Stop the background threads before counting: a page move still running would rescue
    // (unlink + relink) or evict items between the lookups below and `curr_items`.
    e.shutdown();
    e.run_maintenance();
    let s = e.stats();
    assert!(s.hash_power_level >= 14);
    assert_eq!(s.evictions, 0);
    // Page moves evict what they cannot rescue into free chunks (memcached's
    // slab_reassign_evictions_nomem); nothing else may go missing.
    let mut missing = 0;
    for t in 0..4 {
        for i in 0..per_thread {
            let k = format!("t{t}:{i}").into_bytes();
            match e.get(&k) {
                Some(it) => {
                    let v = it.value_vec();
                    verify(&k, &v);
                    assert_eq!(v, make(&k, 2, 40 + (i as usize % 300)), "last write wins");
                }
                None => missing += 1,
            }
        }
    }
    assert!(
        missing <= s.slab_reassign_evictions_nomem + s.slab_reassign_busy_deletes,
        "{missing} missing, {} evicted by page moves",
        s.slab_reassign_evictions_nomem
    );
    assert_eq!(e.curr_items(), u64::from(per_thread) * 4 - missing);
}
