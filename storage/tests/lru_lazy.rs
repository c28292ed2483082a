//! The segmented LRU moves items only at the tails: hits set bits, and nothing is
//! re-sorted until the class has met the memory limit.

use evcached_storage::*;

fn engine(memory_limit: u64) -> Engine {
    Engine::new(EngineConfig {
        memory_limit,
        background_threads: false,
        ..EngineConfig::default()
    })
}

/// `items:<class>:<name>` summed over classes.
fn item_stat(e: &Engine, name: &str) -> u64 {
    e.stats_items()
        .iter()
        .filter(|(k, _)| k.ends_with(&format!(":{name}")))
        .map(|(_, v)| v.parse::<u64>().unwrap())
        .sum()
}

#[test]
fn hits_move_nothing_while_the_class_has_room() {
    let e = engine(64 << 20);
    for i in 0..1000 {
        e.store(StoreMode::Set, format!("k{i}").as_bytes(), 0, 0, b"v")
            .unwrap();
    }
    for _ in 0..3 {
        for i in 0..1000 {
            assert!(e.get(format!("k{i}").as_bytes()).is_some());
        }
        e.run_maintenance();
    }
    assert_eq!(item_stat(&e, "number_hot"), 1000);
    for moves in ["moves_to_warm", "moves_to_cold", "moves_within_lru"] {
        assert_eq!(item_stat(&e, moves), 0, "{moves}");
    }
}

#[test]
fn items_hit_twice_outlive_unhit_ones_once_memory_is_full() {
    let e = engine(2 << 20);
    let value = vec![b'x'; 1000];
    let hot: Vec<String> = (0..50).map(|i| format!("hot{i}")).collect();
    for k in &hot {
        e.store(StoreMode::Set, k.as_bytes(), 0, 0, &value).unwrap();
    }
    // Two hits make them active; the stream of new items below is never read.
    for _ in 0..2 {
        for k in &hot {
            assert!(e.get(k.as_bytes()).is_some());
        }
    }
    for batch in 0..60 {
        for i in 0..100 {
            let k = format!("cold{batch}-{i}");
            e.store(StoreMode::Set, k.as_bytes(), 0, 0, &value).unwrap();
        }
        for k in &hot {
            assert!(e.get(k.as_bytes()).is_some(), "{k} lost in batch {batch}");
        }
        e.run_maintenance();
    }
    let s = e.stats();
    assert!(s.evictions > 3000, "evictions {}", s.evictions);
    assert!(item_stat(&e, "moves_to_warm") > 0);
    assert!(e.get(b"cold0-0").is_none());
}

#[test]
fn a_class_of_only_active_items_still_makes_room() {
    let e = engine(2 << 20);
    let value = vec![b'x'; 1000];
    let mut stored = 0;
    // Fill the class to the limit without evicting, then make every item active.
    while e.stats().evictions == 0 {
        let k = format!("k{stored}");
        e.store(StoreMode::Set, k.as_bytes(), 0, 0, &value).unwrap();
        stored += 1;
    }
    for _ in 0..2 {
        for i in 0..stored {
            e.get(format!("k{i}").as_bytes());
        }
    }
    for i in 0..stored {
        let k = format!("new{i}");
        e.store(StoreMode::Set, k.as_bytes(), 0, 0, &value).unwrap();
    }
    assert!(e.get(format!("new{}", stored - 1).as_bytes()).is_some());
    assert_eq!(item_stat(&e, "outofmemory"), 0);
}
