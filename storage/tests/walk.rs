//! The resumable item walk (`Engine::walk_items` with a `WalkCursor`): complete across many
//! small batches, exactly once for untouched items, and the documented behaviour for
//! items stored or deleted while the walk is paused between batches.

use std::collections::HashMap;

use evcached_storage::{Engine, EngineConfig, StoreMode, WalkCursor};

fn engine() -> Engine {
    Engine::new(EngineConfig {
        background_threads: false,
        ..EngineConfig::default()
    })
}

/// Value sizes spread over several slab classes.
fn value(i: usize) -> Vec<u8> {
    vec![b'v'; 10 + (i % 7) * 150]
}

/// Walks to the end in batches of `batch`, running `between` after every batch with the
/// keys listed so far; returns how often each key was listed and the number of batches.
fn walk(
    e: &Engine,
    classes: Option<&[u8]>,
    batch: usize,
    mut between: impl FnMut(&HashMap<Vec<u8>, usize>),
) -> (HashMap<Vec<u8>, usize>, usize) {
    let mut cursor = WalkCursor::new(classes);
    let mut seen: HashMap<Vec<u8>, usize> = HashMap::new();
    let mut batches = 0;
    while !cursor.is_done() {
        let n = e.walk_items(&mut cursor, batch, |it| {
            *seen.entry(it.key().to_vec()).or_default() += 1;
        });
        assert!(n <= batch, "a batch of {batch} visited {n}");
        batches += 1;
        assert!(batches < 1_000_000, "the walk does not end");
        between(&seen);
    }
    (seen, batches)
}

#[test]
fn lists_every_item_once_across_small_batches() {
    let e = engine();
    for i in 0..5000 {
        e.store(StoreMode::Set, format!("k{i}").as_bytes(), 0, 0, &value(i))
            .unwrap();
    }
    let (seen, batches) = walk(&e, None, 7, |_| {});
    assert_eq!(seen.len(), 5000);
    assert!(seen.values().all(|&c| c == 1), "an item was listed twice");
    assert!(batches >= 5000 / 7, "{batches} batches");
    // A finished cursor stays finished.
    let mut c = WalkCursor::new(None);
    while !c.is_done() {
        e.walk_items(&mut c, 1000, |_| {});
    }
    assert_eq!(e.walk_items(&mut c, 1000, |_| panic!("past the end")), 0);
    assert!(c.is_done());
}

#[test]
fn class_filter_and_expired_items() {
    let e = engine();
    for i in 0..300 {
        e.store(StoreMode::Set, format!("k{i}").as_bytes(), 0, 0, &value(i))
            .unwrap();
    }
    e.store(StoreMode::Set, b"gone", 0, -1, b"x").unwrap();
    let class = e.get(b"k0").unwrap().slab_class();
    let (seen, _) = walk(&e, Some(&[class, 0, 200]), 5, |_| {});
    let want: Vec<Vec<u8>> = (0..300)
        .filter(|i| i % 7 == 0)
        .map(|i| format!("k{i}").into_bytes())
        .collect();
    assert_eq!(seen.len(), want.len());
    assert!(want.iter().all(|k| seen.get(k) == Some(&1)));
    let (all, _) = walk(&e, None, 64, |_| {});
    assert!(!all.contains_key(b"gone".as_slice()), "expired item listed");
    assert_eq!(all.len(), 300);
}

#[test]
fn stores_and_deletes_between_batches() {
    let e = engine();
    let n = 4000;
    for i in 0..n {
        e.store(StoreMode::Set, format!("k{i}").as_bytes(), 0, 0, &value(i))
            .unwrap();
    }
    let mut round = 0usize;
    let mut deleted_unlisted = Vec::new();
    let (seen, _) = walk(&e, None, 13, |seen| {
        round += 1;
        // A new item every batch: listed at most once, maybe not at all.
        let i = n + round;
        e.store(StoreMode::Set, format!("k{i}").as_bytes(), 0, 0, &value(i))
            .unwrap();
        // Every 5th batch, delete one original key the walk has not listed yet.
        if round % 5 == 0 {
            if let Some(k) = (0..n)
                .rev()
                .map(|i| format!("k{i}").into_bytes())
                .find(|k| !seen.contains_key(k) && !deleted_unlisted.contains(k))
            {
                e.delete(&k, 0);
                deleted_unlisted.push(k);
            }
        }
    });
    assert!(!deleted_unlisted.is_empty());
    for k in &deleted_unlisted {
        assert!(
            !seen.contains_key(k),
            "deleted before its turn, still listed"
        );
    }
    // Every original key not deleted: exactly once; every key at most once.
    for i in 0..n {
        let k = format!("k{i}").into_bytes();
        if !deleted_unlisted.contains(&k) {
            assert_eq!(seen.get(&k), Some(&1), "key k{i}");
        }
    }
    assert!(seen.values().all(|&c| c == 1));
}

#[test]
fn a_page_moved_mid_walk_lists_its_items_at_most_twice() {
    let e = engine();
    let v = vec![b'v'; 30];
    let n = 30_000; // ~2.3 pages of one class
    for i in 0..n {
        e.store(StoreMode::Set, format!("k{i}").as_bytes(), 0, 0, &v)
            .unwrap();
    }
    // Free chunks in every page, so the rebalancer can rescue items.
    for i in (0..n).step_by(2) {
        e.delete(format!("k{i}").as_bytes(), 0);
    }
    let class = e.get(b"k1").unwrap().slab_class();
    let mut cursor = WalkCursor::new(Some(&[class]));
    let mut seen: HashMap<Vec<u8>, usize> = HashMap::new();
    // Past the class's first page (the one a reassign drains): 60% of the items.
    while seen.len() < n / 2 * 6 / 10 {
        e.walk_items(&mut cursor, 50, |it| {
            *seen.entry(it.key().to_vec()).or_default() += 1;
        });
    }
    e.slabs_reassign(i32::from(class), 0).unwrap();
    e.run_maintenance();
    let s = e.stats();
    assert_eq!(s.slabs_moved, 1);
    assert!(s.slab_reassign_rescues > 0);
    while !cursor.is_done() {
        e.walk_items(&mut cursor, 50, |it| {
            *seen.entry(it.key().to_vec()).or_default() += 1;
        });
    }
    // The drained page was walked before it moved, so every item linked at the start was
    // listed; rescued ones may show up again from their new chunk, never more.
    for i in (1..n).step_by(2) {
        let c = seen.get(format!("k{i}").as_bytes()).copied().unwrap_or(0);
        assert!((1..=2).contains(&c), "k{i} listed {c} times");
    }
    assert_eq!(seen.len(), n / 2);
}
