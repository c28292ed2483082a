//! Operation semantics and every error path, with a hand-driven clock.

use evcached_storage::*;

fn engine() -> Engine {
    Engine::new(EngineConfig {
        background_threads: false,
        ..EngineConfig::default()
    })
}

fn val(e: &Engine, k: &[u8]) -> Option<Vec<u8>> {
    e.get(k).map(|i| i.value_vec())
}

#[test]
fn set_get_add_replace_append_prepend() {
    let e = engine();
    assert!(matches!(
        e.store(StoreMode::Set, b"a", 7, 0, b"1").unwrap(),
        StoreResult::Stored(_)
    ));
    assert_eq!(
        e.store(StoreMode::Add, b"a", 0, 0, b"2").unwrap(),
        StoreResult::NotStored
    );
    assert_eq!(
        e.store(StoreMode::Replace, b"zz", 0, 0, b"2").unwrap(),
        StoreResult::NotStored
    );
    assert_eq!(
        e.store(StoreMode::Append, b"zz", 0, 0, b"2").unwrap(),
        StoreResult::NotStored
    );
    assert_eq!(
        e.store(StoreMode::Prepend, b"zz", 0, 0, b"2").unwrap(),
        StoreResult::NotStored
    );
    e.store(StoreMode::Append, b"a", 99, 0, b"z").unwrap();
    e.store(StoreMode::Prepend, b"a", 77, 0, b"y").unwrap();
    let it = e.get(b"a").unwrap();
    assert_eq!(it.value_vec(), b"y1z");
    assert_eq!(it.flags(), 7, "append/prepend keep the old flags");
    e.store(StoreMode::Replace, b"a", 0, 0, b"r").unwrap();
    assert_eq!(val(&e, b"a").unwrap(), b"r");
    // The old reference still sees the old value (zero copy, refcounted).
    assert_eq!(it.value_vec(), b"y1z");
    assert_eq!(e.get(b"missing").map(|_| ()), None);
    let s = e.stats();
    assert_eq!((s.get_hits, s.get_misses, s.cmd_get), (2, 1, 3));
}

#[test]
fn cas_semantics() {
    let e = engine();
    assert_eq!(
        e.store(StoreMode::Cas(1), b"c", 0, 0, b"x").unwrap(),
        StoreResult::NotFound
    );
    let StoreResult::Stored(c1) = e.store(StoreMode::Set, b"c", 0, 0, b"x").unwrap() else {
        panic!()
    };
    assert_eq!(e.get(b"c").unwrap().cas(), c1);
    assert_eq!(
        e.store(StoreMode::Cas(0), b"c", 0, 0, b"y").unwrap(),
        StoreResult::Exists
    );
    assert_eq!(
        e.store(StoreMode::Cas(c1 + 100), b"c", 0, 0, b"y").unwrap(),
        StoreResult::Exists
    );
    let StoreResult::Stored(c2) = e.store(StoreMode::Cas(c1), b"c", 0, 0, b"y").unwrap() else {
        panic!()
    };
    assert!(c2 > c1);
    assert!(e.touch(b"c", 100));
    assert_eq!(e.get(b"c").unwrap().cas(), c2, "touch keeps the CAS");
    let s = e.stats();
    assert_eq!((s.cas_misses, s.cas_hits, s.cas_badval), (1, 1, 2));
}

#[test]
fn cas_disabled_reads_zero() {
    let e = Engine::new(EngineConfig {
        cas_enabled: false,
        background_threads: false,
        ..EngineConfig::default()
    });
    assert_eq!(e.item_header_size(), 28);
    e.store(StoreMode::Set, b"k", 0, 0, b"v").unwrap();
    assert_eq!(e.get(b"k").unwrap().cas(), 0);
    // memcached -C: `cas` never matches (not even 0) and says EXISTS; a missing key is
    // still NOT_FOUND.
    for c in [0, 1] {
        let r = e.store(StoreMode::Cas(c), b"k", 0, 0, b"w").unwrap();
        assert!(matches!(r, StoreResult::Exists), "{r:?}");
    }
    assert!(matches!(
        e.store(StoreMode::Cas(1), b"nope", 0, 0, b"w").unwrap(),
        StoreResult::NotFound
    ));
    assert_eq!(e.get(b"k").unwrap().value_vec(), b"v");
}

#[test]
fn cas_zero_never_matches() {
    let e = engine();
    e.store(StoreMode::Set, b"k", 0, 0, b"v").unwrap();
    let r = e.store(StoreMode::Cas(0), b"k", 0, 0, b"w").unwrap();
    assert!(matches!(r, StoreResult::Exists), "{r:?}");
}

#[test]
fn expiry_rules() {
    let e = engine();
    e.store(StoreMode::Set, b"rel", 0, 10, b"x").unwrap();
    e.store(StoreMode::Set, b"never", 0, 0, b"x").unwrap();
    e.store(StoreMode::Set, b"neg", 0, -1, b"x").unwrap();
    e.store(StoreMode::Set, b"past", 0, 2_592_001, b"x")
        .unwrap();
    let abs = e.unix_time() + 20;
    e.store(StoreMode::Set, b"abs", 0, abs, b"x").unwrap();
    e.store(StoreMode::Set, b"wrap", 0, 4_294_967_296, b"x")
        .unwrap();
    assert!(e.get(b"neg").is_none());
    assert!(e.get(b"past").is_none());
    assert!(e.get(b"rel").is_some());
    e.advance_clock(9);
    assert!(e.get(b"rel").is_some());
    e.advance_clock(1);
    assert!(e.get(b"rel").is_none(), "expired when exptime <= now");
    assert!(e.get(b"abs").is_some());
    e.advance_clock(10);
    assert!(e.get(b"abs").is_none());
    e.advance_clock(100_000);
    assert!(e.get(b"never").is_some());
    assert!(e.get(b"wrap").is_some(), "2^32 truncates to 0 = never");
    assert_eq!(e.stats().get_expired, 4);
    // touch / gat
    e.store(StoreMode::Set, b"t", 0, 5, b"x").unwrap();
    assert!(e.gat(b"t", 100).is_some());
    e.advance_clock(50);
    assert!(e.get(b"t").is_some());
    assert!(!e.touch(b"nope", 1));
    let s = e.stats();
    assert_eq!((s.touch_hits, s.touch_misses, s.cmd_touch), (1, 1, 2));
}

#[test]
fn flush_all_now_and_delayed() {
    let e = engine();
    e.store(StoreMode::Set, b"a", 0, 0, b"1").unwrap();
    e.flush_all(0);
    assert!(e.get(b"a").is_none());
    e.store(StoreMode::Set, b"b", 0, 0, b"2").unwrap();
    assert!(
        e.get(b"b").is_some(),
        "items stored after the flush survive"
    );
    e.advance_clock(5);
    e.flush_all(10);
    assert!(e.get(b"b").is_some());
    e.advance_clock(10);
    assert!(e.get(b"b").is_none());
    assert!(e.stats().get_flushed >= 2);
    e.flush_all(-1);
    assert_eq!(e.stats().cmd_flush, 3);
}

#[test]
fn flush_all_without_cas_takes_the_whole_second() {
    // memcached -C: the flush point is the current second itself (no CAS ids to tell
    // apart what was stored before or after the flush within it).
    let e = Engine::new(EngineConfig {
        background_threads: false,
        cas_enabled: false,
        ..EngineConfig::default()
    });
    e.advance_clock(3);
    e.store(StoreMode::Set, b"a", 0, 0, b"1").unwrap();
    e.flush_all(0);
    assert!(e.get(b"a").is_none());
    e.store(StoreMode::Set, b"b", 0, 0, b"2").unwrap();
    assert!(e.get(b"b").is_none(), "stored in the flush's second");
    e.advance_clock(1);
    e.store(StoreMode::Set, b"c", 0, 0, b"3").unwrap();
    assert!(e.get(b"c").is_some(), "stored a second later");
    // A delayed flush covers its whole target second too.
    e.flush_all(5);
    e.advance_clock(4);
    assert!(e.get(b"c").is_some());
    e.store(StoreMode::Set, b"d", 0, 0, b"4").unwrap();
    e.advance_clock(1);
    assert!(e.get(b"c").is_none());
    assert!(
        e.get(b"d").is_none(),
        "stored a second before the flush point"
    );
    e.store(StoreMode::Set, b"e", 0, 0, b"5").unwrap();
    assert!(e.get(b"e").is_none(), "stored in the flush point's second");
}

#[test]
fn incr_decr_rules() {
    let e = engine();
    e.store(StoreMode::Set, b"n", 3, 0, b"10").unwrap();
    assert_eq!(e.incr_decr(b"n", 1, false, 0).unwrap().value, 9);
    let it = e.get(b"n").unwrap();
    assert_eq!(it.value_vec(), b"9 ", "shorter result is space padded");
    assert_eq!(it.flags(), 3);
    assert_eq!(e.incr_decr(b"n", 100, false, 0).unwrap().value, 0);
    assert_eq!(
        e.incr_decr(b"n", u64::MAX, true, 0).unwrap().value,
        u64::MAX
    );
    assert_eq!(
        e.incr_decr(b"n", 2, true, 0).unwrap().value,
        1,
        "incr wraps"
    );
    e.store(StoreMode::Set, b"z", 0, 0, b"007").unwrap();
    assert_eq!(e.incr_decr(b"z", 1, true, 0).unwrap().value, 8);
    assert_eq!(val(&e, b"z").unwrap(), b"8  ");
    e.store(StoreMode::Set, b"g", 0, 0, b"99").unwrap();
    let r = e.incr_decr(b"g", 1, true, 0).unwrap();
    assert_eq!(val(&e, b"g").unwrap(), b"100");
    assert_eq!(e.get(b"g").unwrap().cas(), r.cas);
    assert_eq!(
        e.incr_decr(b"g", 1, true, r.cas + 5),
        Err(DeltaError::Exists)
    );
    e.store(StoreMode::Set, b"t", 0, 0, b"hi").unwrap();
    assert_eq!(e.incr_decr(b"t", 1, true, 0), Err(DeltaError::NonNumeric));
    e.store(StoreMode::Set, b"e", 0, 0, b"").unwrap();
    assert_eq!(e.incr_decr(b"e", 1, true, 0), Err(DeltaError::NonNumeric));
    assert_eq!(
        e.incr_decr(b"nothere", 1, true, 0),
        Err(DeltaError::NotFound)
    );
    assert_eq!(
        e.incr_decr(b"nothere", 1, false, 0),
        Err(DeltaError::NotFound)
    );
    let s = e.stats();
    assert_eq!((s.incr_misses, s.decr_misses), (1, 1));
    assert_eq!((s.incr_hits, s.decr_hits), (4, 2));
}

#[test]
fn delete_paths() {
    let e = engine();
    assert_eq!(e.delete(b"x", 0), DeleteResult::NotFound);
    e.store(StoreMode::Set, b"x", 0, 0, b"1").unwrap();
    let c = e.get(b"x").unwrap().cas();
    assert_eq!(e.delete(b"x", c + 1), DeleteResult::Exists);
    assert_eq!(e.delete(b"x", c), DeleteResult::Deleted);
    assert_eq!(e.delete(b"x", 0), DeleteResult::NotFound);
    let s = e.stats();
    assert_eq!((s.delete_hits, s.delete_misses), (1, 2));
}

#[test]
fn too_large_and_failed_set_unlinks() {
    let e = engine();
    e.store(StoreMode::Set, b"abcd", 0, 0, b"small").unwrap();
    // memcached's size arithmetic: 48 + 8 + 5 + 1048513 + 2 = 1 MiB exactly.
    let ok = vec![b'x'; 1_048_513];
    assert!(matches!(
        e.store(StoreMode::Set, b"abcd", 0, 0, &ok).unwrap(),
        StoreResult::Stored(_)
    ));
    let got = e.get(b"abcd").unwrap();
    assert!(got.is_chunked());
    assert_eq!(got.value_len(), ok.len());
    assert_eq!(got.value_vec(), ok);
    drop(got);
    let big = vec![b'x'; 1_048_514];
    assert_eq!(
        e.store(StoreMode::Set, b"abcd", 0, 0, &big),
        Err(StoreError::TooLarge)
    );
    assert!(
        e.get(b"abcd").is_none(),
        "a refused set unlinks the old item"
    );
    e.store(StoreMode::Set, b"keep", 0, 0, b"v").unwrap();
    assert_eq!(
        e.store(StoreMode::Add, b"keep", 0, 0, &big),
        Err(StoreError::TooLarge)
    );
    assert!(e.get(b"keep").is_some(), "a refused add keeps it");
    assert_eq!(e.stats().store_too_large, 2);
    // An append whose result would pass -I is refused like memcached's: NOT_STORED.
    let half = vec![b'h'; 600_000];
    e.store(StoreMode::Set, b"ap", 0, 0, &half).unwrap();
    assert_eq!(
        e.store(StoreMode::Append, b"ap", 0, 0, &half).unwrap(),
        StoreResult::NotStored
    );
    assert_eq!(e.get(b"ap").unwrap().value_len(), 600_000);
    assert_eq!(
        StoreError::TooLarge.to_string(),
        "SERVER_ERROR object too large for cache"
    );
}

#[test]
fn out_of_memory_without_evictions() {
    let e = Engine::new(EngineConfig {
        memory_limit: 2 << 20,
        evictions: false,
        background_threads: false,
        ..EngineConfig::default()
    });
    let v = vec![b'v'; 100];
    let mut stored = 0;
    let err = loop {
        match e.store(StoreMode::Set, format!("k{stored}").as_bytes(), 0, 0, &v) {
            Ok(_) => stored += 1,
            Err(err) => break err,
        }
    };
    assert_eq!(err, StoreError::OutOfMemory);
    assert!(stored > 1000);
    assert!(e.get(b"k0").is_some(), "-M never evicts");
    assert_eq!(e.stats().store_no_memory, 1);
    assert_eq!(e.stats().evictions, 0);
    assert_eq!(
        StoreError::OutOfMemory.to_string(),
        "SERVER_ERROR out of memory storing object"
    );
}

#[test]
fn eviction_of_oldest_and_memory_bound() {
    let limit = 4u64 << 20;
    let e = Engine::new(EngineConfig {
        memory_limit: limit,
        background_threads: false,
        ..EngineConfig::default()
    });
    let v = vec![b'v'; 200];
    for i in 0..100_000 {
        e.store(StoreMode::Set, format!("key{i}").as_bytes(), 0, 0, &v)
            .unwrap();
    }
    assert!(e.stats().evictions > 0);
    assert!(e.get(b"key0").is_none(), "oldest evicted");
    assert!(e.get(b"key99999").is_some(), "newest kept");
    // One page per class may pass the limit; only one class is in use here.
    assert!(e.total_malloced() <= limit);
}

#[test]
fn memlimit_errors() {
    let e = engine();
    assert_eq!(e.set_memory_limit_mb(7), Err(MemLimitError::TooSmall));
    assert_eq!(
        e.set_memory_limit_mb(1_000_000_001),
        Err(MemLimitError::NotMegabytes)
    );
    assert_eq!(e.set_memory_limit_mb(100), Ok(()));
    assert_eq!(e.memory_limit(), 100 << 20);
    assert_eq!(
        MemLimitError::TooSmall.to_string(),
        "MEMLIMIT_TOO_SMALL cannot set maxbytes to less than 8m"
    );
    let p = Engine::new(EngineConfig {
        memory_limit: 8 << 20,
        preallocate: true,
        background_threads: false,
        ..EngineConfig::default()
    });
    assert_eq!(p.total_malloced(), 8 << 20);
    assert_eq!(p.set_memory_limit_mb(16), Err(MemLimitError::Preallocated));
}

#[test]
fn reassign_and_crawler_errors() {
    let e = engine();
    assert_eq!(e.slabs_reassign(1, 1), Err(ReassignError::Same));
    assert_eq!(e.slabs_reassign(0, 1), Err(ReassignError::BadClass));
    assert_eq!(e.slabs_reassign(1, 200), Err(ReassignError::BadClass));
    assert_eq!(e.slabs_reassign(1, 2), Err(ReassignError::NoSpare));
    assert_eq!(
        ReassignError::NoSpare.to_string(),
        "NOSPARE source class has no spare pages"
    );
    assert_eq!(e.lru_crawler_crawl(Some(&[0])), Err(CrawlError::BadClass));
    assert_eq!(e.lru_crawler_crawl(None), Ok(()));
    assert_eq!(e.lru_crawler_crawl(None), Err(CrawlError::Busy));
    e.run_maintenance();
    assert!(!e.set_slab_automove(3));
    assert!(e.set_slab_automove(2));
    let d = Engine::new(EngineConfig {
        slab_reassign: false,
        lru_crawler: false,
        background_threads: false,
        ..EngineConfig::default()
    });
    assert_eq!(d.slabs_reassign(1, 2), Err(ReassignError::Disabled));
    assert_eq!(d.lru_crawler_crawl(None), Err(CrawlError::Disabled));
}

#[test]
fn reassign_moves_a_page_and_keeps_items() {
    let e = engine();
    let v = vec![b'v'; 30];
    let n = 30_000; // ~2.3 pages of class 1
    for i in 0..n {
        e.store(StoreMode::Set, format!("k{i}").as_bytes(), 0, 0, &v)
            .unwrap();
    }
    for i in (0..n).step_by(2) {
        e.delete(format!("k{i}").as_bytes(), 0);
    }
    let class = e.get(b"k1").unwrap().slab_class();
    e.slabs_reassign(class as i32, 0).unwrap();
    e.run_maintenance();
    let s = e.stats();
    assert_eq!(s.slabs_moved, 1);
    assert_eq!(s.slab_global_page_pool, 1);
    let mut present = 0;
    for i in (1..n).step_by(2) {
        if let Some(it) = e.get(format!("k{i}").as_bytes()) {
            assert_eq!(it.value_vec(), v);
            present += 1;
        }
    }
    assert_eq!(present + s.slab_reassign_evictions_nomem as usize, n / 2);
    assert!(s.slab_reassign_rescues > 0);
}

#[test]
fn crawler_reclaims_expired() {
    let e = engine();
    for i in 0..1000 {
        e.store(StoreMode::Set, format!("k{i}").as_bytes(), 0, 5, b"x")
            .unwrap();
    }
    e.advance_clock(10);
    e.run_maintenance();
    let s = e.stats();
    // The maintainer's pass reclaims expired LRU tails; the crawler gets the rest.
    assert!(s.crawler_reclaimed > 0);
    assert_eq!(s.crawler_reclaimed + s.reclaimed, 1000);
    assert_eq!(s.curr_items, 0);
}

#[test]
fn hash_table_grows() {
    let e = engine();
    assert_eq!(e.stats().hash_power_level, 16);
    for i in 0..100_000 {
        e.store(StoreMode::Set, format!("k{i}").as_bytes(), 0, 0, b"x")
            .unwrap();
    }
    e.run_maintenance();
    let s = e.stats();
    assert_eq!(s.hash_power_level, 17);
    assert!(!s.hash_is_expanding);
    for i in 0..100_000 {
        assert!(e.get(format!("k{i}").as_bytes()).is_some());
    }
}

#[test]
fn stats_reports() {
    let e = engine();
    e.store(StoreMode::Set, b"a", 0, 0, b"1").unwrap();
    e.get(b"a");
    let items = e.stats_items();
    assert_eq!(items[0], ("items:1:number".to_string(), "1".to_string()));
    assert!(items.iter().any(|(k, _)| k == "items:1:hits_to_hot"));
    let slabs = e.stats_slabs();
    assert_eq!(slabs[0], ("1:chunk_size".to_string(), "84".to_string()));
    assert!(slabs.iter().any(|(k, v)| k == "1:get_hits" && v == "1"));
    assert_eq!(
        slabs.last().unwrap(),
        &("total_malloced".to_string(), "1048576".to_string())
    );
    assert!(e
        .stats_settings()
        .iter()
        .any(|(k, v)| k == "maxbytes" && v == "67108864"));
    assert_eq!(e.stats_sizes()[0].1, "disabled");
    e.stats_reset();
    let s = e.stats();
    assert_eq!((s.get_hits, s.cmd_get, s.curr_items), (0, 0, 1));
}

#[test]
fn background_threads_stop_on_shutdown() {
    let e = Engine::new(EngineConfig::default());
    e.store(StoreMode::Set, b"a", 0, 0, b"1").unwrap();
    e.tick();
    e.shutdown();
    e.shutdown();
    assert!(e.get(b"a").is_some());
}

#[test]
fn cachedump_skips_binary_keys_without_counting_them() {
    let e = Engine::new(EngineConfig {
        lru_segmented: false,
        background_threads: false,
        ..EngineConfig::default()
    });
    e.store(StoreMode::Set, b"plain1", 0, 0, b"1").unwrap();
    e.store(StoreMode::Set, b"bin", 0, 0, b"2").unwrap();
    e.store(StoreMode::Set, b"plain2", 0, 0, b"3").unwrap();
    let cas = e.get(b"bin").unwrap().cas();
    assert!(e.meta_mark_key_binary(b"bin", cas));
    let class = e.get(b"bin").unwrap().slab_class();
    let keys = |limit| -> Vec<Vec<u8>> {
        e.cachedump(class, limit)
            .unwrap()
            .into_iter()
            .map(|(k, _, _)| k)
            .collect()
    };
    assert_eq!(keys(0), vec![b"plain2".to_vec(), b"plain1".to_vec()]);
    assert_eq!(
        keys(2),
        keys(0),
        "the skipped key does not use up the limit"
    );
    assert_eq!(keys(1), vec![b"plain2".to_vec()]);
}

#[test]
fn dumps_and_stale_marking() {
    let e = Engine::new(EngineConfig {
        lru_segmented: false,
        background_threads: false,
        ..EngineConfig::default()
    });
    e.store(StoreMode::Set, b"a", 0, 0, b"1").unwrap();
    e.store(StoreMode::Set, b"b", 0, 100, b"22").unwrap();
    e.store(StoreMode::Set, b"gone", 0, -1, b"x").unwrap();
    let mut seen = Vec::new();
    e.for_each_item(None, |it| seen.push(it.key().to_vec()));
    seen.sort();
    assert_eq!(seen, vec![b"a".to_vec(), b"b".to_vec()]);
    let class = e.get(b"a").unwrap().slab_class();
    let dump = e.cachedump(class, 0).unwrap();
    assert_eq!(dump[0].0, b"gone");
    assert_eq!(
        dump[1],
        (
            b"b".to_vec(),
            2,
            e.process_started() + i64::from(e.realtime(100))
        )
    );
    assert_eq!(e.cachedump(class, 1).unwrap().len(), 1);
    assert!(e.cachedump(0, 1).is_none());
    let it = e.get(b"a").unwrap();
    assert!(it.fetched());
    assert!(!it.is_stale());
    assert!(it.claim_win());
    assert!(!it.claim_win());
    assert_eq!(e.mark_stale(b"a", it.cas() + 1, None), DeleteResult::Exists);
    assert_eq!(
        e.mark_stale(b"a", it.cas(), Some(30)),
        DeleteResult::Deleted
    );
    let st = e.get(b"a").unwrap();
    assert!(st.is_stale());
    assert!(!st.win_sent());
    assert!(st.cas() > it.cas());
    assert_eq!(st.value_vec(), b"1");
    assert_eq!(e.mark_stale(b"zz", 0, None), DeleteResult::NotFound);
}

#[test]
fn two_phase_store_and_abandoned_writer() {
    let e = engine();
    let mut w = e.alloc(StoreMode::Set, b"big", 9, 0, 700_000).unwrap();
    assert_eq!(w.len(), 700_000);
    let mut n = 0u8;
    while !w.is_complete() {
        let buf = w.spare_mut();
        let k = buf.len().min(4096);
        for b in &mut buf[..k] {
            *b = n;
            n = n.wrapping_add(1);
        }
        w.advance(k);
    }
    assert!(matches!(e.commit(w), StoreResult::Stored(_)));
    let it = e.get(b"big").unwrap();
    assert!(it.is_chunked());
    assert_eq!(it.value(), None);
    let v = it.value_vec();
    assert_eq!(v.len(), 700_000);
    assert!(v.iter().enumerate().all(|(i, &b)| b == (i % 256) as u8));
    drop(it);
    let before = e.stats_slabs();
    let w = e.alloc(StoreMode::Set, b"x", 0, 0, 10).unwrap();
    drop(w); // a bad data chunk: the memory goes back
    assert_eq!(e.stats_slabs().len(), before.len());
    assert!(e.get(b"x").is_none());
}

#[test]
fn prefetch_hints_change_nothing_even_while_the_table_grows() {
    let e = engine();
    for i in 0..100_000 {
        let k = format!("k{i}");
        e.prefetch_bucket(k.as_bytes());
        e.prefetch_item(k.as_bytes());
        e.store(StoreMode::Set, k.as_bytes(), 0, 0, b"v").unwrap();
    }
    // The table is due to grow (see `hash_table_grows`); hints race nothing.
    e.prefetch_bucket(b"k1");
    e.prefetch_item(b"missing");
    assert_eq!(val(&e, b"k1").as_deref(), Some(&b"v"[..]));
    let before = e.stats();
    for i in 0..1000 {
        let k = format!("k{i}");
        e.prefetch_bucket(k.as_bytes());
        e.prefetch_item(k.as_bytes());
    }
    let after = e.stats();
    assert_eq!(before.cmd_get, after.cmd_get);
    assert_eq!(before.get_hits, after.get_hits);
    e.run_maintenance();
    assert_eq!(val(&e, b"k99999").as_deref(), Some(&b"v"[..]));
}
