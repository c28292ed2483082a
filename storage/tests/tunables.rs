//! Settings admin commands change while the engine runs (`lru tune`, `lru temp_ttl`,
//! `lru_crawler tocrawl|sleep|enable|disable`, `slabs automove ratio`) and `-o slab_sizes`:
//! each changes what the engine does, not just what `stats settings` says.

use evcached_storage::config::Tunables;
use evcached_storage::*;

fn engine(cfg: EngineConfig) -> Engine {
    Engine::new(EngineConfig {
        background_threads: false,
        ..cfg
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

fn has_item_stat(e: &Engine, name: &str) -> bool {
    e.stats_items()
        .iter()
        .any(|(k, _)| k.ends_with(&format!(":{name}")))
}

fn setting(e: &Engine, name: &str) -> String {
    e.stats_settings()
        .into_iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v)
        .unwrap_or_else(|| panic!("no setting {name}"))
}

/// Runs the maintainer (it moves at most 500 items per list per pass) until HOT stops
/// shrinking.
fn settle(e: &Engine) {
    let mut hot = item_stat(e, "number_hot");
    for _ in 0..100 {
        e.run_maintenance();
        let now = item_stat(e, "number_hot");
        if now == hot {
            return;
        }
        hot = now;
    }
    panic!("the maintainer never settled");
}

/// Fills one class (1000-byte values) until it evicts, then lets the maintainer sort it.
fn full_class(e: &Engine) {
    let value = vec![b'x'; 1000];
    let mut i = 0;
    while e.stats().evictions < 200 {
        e.store(StoreMode::Set, format!("k{i}").as_bytes(), 0, 0, &value)
            .unwrap();
        i += 1;
    }
    settle(e);
}

#[test]
fn lru_tune_changes_how_much_hot_keeps() {
    let e = engine(EngineConfig {
        memory_limit: 4 << 20,
        ..EngineConfig::default()
    });
    full_class(&e);
    let total = item_stat(&e, "number");
    let hot_default = item_stat(&e, "number_hot");
    // Default 20%: the maintainer leaves HOT at up to a fifth of the class.
    assert!(
        hot_default * 100 <= total * 20 + 100,
        "{hot_default}/{total}"
    );
    assert!(hot_default * 100 > total * 5 + 100, "{hot_default}/{total}");

    assert!(e.set_lru_tune(5, 40, 0.2, 2.0));
    settle(&e);
    let hot_tuned = item_stat(&e, "number_hot");
    assert!(hot_tuned * 100 <= total * 5 + 100, "{hot_tuned}/{total}");
    assert!(hot_tuned < hot_default);
    assert_eq!(setting(&e, "hot_lru_pct"), "5");
    assert_eq!(setting(&e, "warm_lru_pct"), "40");
}

#[test]
fn lru_tune_age_factor_moves_old_hot_items() {
    let e = engine(EngineConfig {
        memory_limit: 4 << 20,
        ..EngineConfig::default()
    });
    full_class(&e);
    let hot_before = item_stat(&e, "number_hot");
    assert!(hot_before > 0);
    // Ten seconds on, COLD's tail is 10 s old and so are HOT's items: with the factor at
    // 0.2 they are past 2 s and move; at 100 (limit 1000 s) and 80% HOT they would stay.
    assert!(e.set_lru_tune(80, 0, 100.0, 100.0));
    e.advance_clock(10);
    settle(&e);
    assert_eq!(item_stat(&e, "number_hot"), hot_before);
    assert!(e.set_lru_tune(80, 0, 0.2, 100.0));
    settle(&e);
    assert_eq!(item_stat(&e, "number_hot"), 0);
    assert_eq!(setting(&e, "hot_max_factor"), "0.20");
    assert_eq!(setting(&e, "warm_max_factor"), "100.00");
}

#[test]
fn lru_tune_refuses_memcached_bad_values() {
    let e = engine(EngineConfig::default());
    let before = e.tunables();
    assert!(!e.set_lru_tune(60, 30, 0.2, 2.0));
    assert!(!e.set_lru_tune(20, 40, 0.0, 2.0));
    assert!(!e.set_lru_tune(20, 40, 0.2, -1.0));
    assert_eq!(e.tunables(), before);
}

#[test]
fn temp_ttl_sends_short_lived_items_to_temp() {
    let e = engine(EngineConfig::default());
    e.store(StoreMode::Set, b"a", 0, 50, b"v").unwrap();
    assert!(!has_item_stat(&e, "number_temp"));
    assert_eq!(item_stat(&e, "number_hot"), 1);

    assert!(e.set_temp_ttl(Some(100)));
    e.store(StoreMode::Set, b"b", 0, 50, b"v").unwrap();
    e.store(StoreMode::Set, b"c", 0, 500, b"v").unwrap();
    assert_eq!(item_stat(&e, "number_temp"), 1);
    assert_eq!(item_stat(&e, "number_hot"), 2);
    assert_eq!(setting(&e, "temp_lru"), "yes");
    assert_eq!(setting(&e, "temporary_ttl"), "100");

    // Off again: new items skip TEMP; memcached keeps reporting the last TTL.
    assert!(e.set_temp_ttl(None));
    e.store(StoreMode::Set, b"d", 0, 50, b"v").unwrap();
    assert_eq!(item_stat(&e, "number_hot"), 3);
    assert_eq!(setting(&e, "temp_lru"), "no");
    assert_eq!(setting(&e, "temporary_ttl"), "100");
    // The maintainer still reaps the item left in TEMP once it expires (the crawler, which
    // would reap every expired item, is off; a and d wait in HOT).
    assert!(e.set_lru_crawler(false));
    e.advance_clock(60);
    e.run_maintenance();
    assert_eq!(e.stats().curr_items, 3);
    assert_eq!(item_stat(&e, "crawler_reclaimed"), 0);
    assert!(e.get(b"c").is_some());
}

#[test]
fn temp_ttl_needs_the_maintainer() {
    let e = engine(EngineConfig {
        lru_maintainer: false,
        ..EngineConfig::default()
    });
    assert!(!e.set_temp_ttl(Some(10)));
    assert!(!e.tunables().temp_lru);
}

#[test]
fn crawler_tocrawl_bounds_each_crawl() {
    let e = engine(EngineConfig::default());
    for i in 0..3000 {
        e.store(StoreMode::Set, format!("k{i}").as_bytes(), 0, 5, b"v")
            .unwrap();
    }
    e.advance_clock(10);
    e.set_lru_crawler_tocrawl(1000);
    e.run_maintenance();
    assert_eq!(item_stat(&e, "crawler_items_checked"), 1000);
    assert_eq!(item_stat(&e, "crawler_reclaimed"), 1000);
    assert_eq!(e.stats().curr_items, 2000);
    assert_eq!(setting(&e, "lru_crawler_tocrawl"), "1000");
    e.set_lru_crawler_tocrawl(0);
    e.run_maintenance();
    assert_eq!(e.stats().curr_items, 0);
}

#[test]
fn crawler_enable_disable_sleep_and_automove_ratio() {
    let e = engine(EngineConfig::default());
    assert!(!e.set_lru_crawler(true), "already running");
    assert!(e.set_lru_crawler(false));
    assert_eq!(e.lru_crawler_crawl(None), Err(CrawlError::Disabled));
    assert_eq!(setting(&e, "lru_crawler"), "no");
    assert!(!e.set_lru_crawler(false), "already stopped");
    assert!(e.set_lru_crawler(true));
    assert_eq!(e.lru_crawler_crawl(None), Ok(()));

    assert!(!e.set_lru_crawler_sleep(1_000_001));
    assert!(e.set_lru_crawler_sleep(1_000_000));
    e.set_slab_automove_ratio(0.5);
    let t: Tunables = e.tunables();
    assert_eq!(t.lru_crawler_sleep, 1_000_000);
    assert_eq!(t.slab_automove_ratio, 0.5);
    assert_eq!(setting(&e, "lru_crawler_sleep"), "1000000");
    assert_eq!(setting(&e, "slab_automove_ratio"), "0.50");
}

#[test]
fn slab_sizes_replace_the_factor_series() {
    let e = engine(EngineConfig {
        slab_sizes: Some(vec![100, 201, 1000]),
        ..EngineConfig::default()
    });
    // 36-byte header + key + value: 36 + 2 + 50 = 88 → 100; +150 → 204; +900 → 1000.
    for (key, len) in [(b"k1", 50), (b"k2", 150), (b"k3", 900), (b"k4", 5000)] {
        e.store(StoreMode::Set, key, 0, 0, &vec![b'x'; len])
            .unwrap();
    }
    let sizes: Vec<(String, String)> = e
        .stats_slabs()
        .into_iter()
        .filter(|(k, _)| k.ends_with(":chunk_size"))
        .collect();
    let want = [("1", "100"), ("2", "204"), ("3", "1000"), ("4", "524288")];
    let want: Vec<(String, String)> = want
        .iter()
        .map(|(c, s)| (format!("{c}:chunk_size"), s.to_string()))
        .collect();
    assert_eq!(sizes, want);
}

#[test]
fn slab_sizes_validation_is_memcached_s() {
    let check = |sizes: Vec<u32>, chunk_size: u32, msg: &str| {
        let c = EngineConfig {
            slab_sizes: Some(sizes),
            chunk_size,
            ..EngineConfig::default()
        };
        assert_eq!(c.validate().unwrap_err().message(), msg);
    };
    check(vec![40], 48, "slab size 40 is out of valid range");
    check(vec![600_000], 48, "slab size 600000 is out of valid range");
    check(
        vec![100, 90],
        48,
        "slab size 90 cannot be lower than or equal to a previous class size",
    );
    check(
        vec![100, 108],
        48,
        "slab size 108 must be at least 8 bytes larger than previous class",
    );
    check(vec![100, 200], 150, "slab size 100 is out of valid range");
    let many: Vec<u32> = (1..=63).map(|i| i * 100).collect();
    check(many.clone(), 48, "too many slab classes specified");
    EngineConfig {
        slab_sizes: Some(many[..62].to_vec()),
        ..EngineConfig::default()
    }
    .validate()
    .unwrap();
}
