//! Resident memory per item, read from `/proc/self/statm` around loading 1M items of 32-byte
//! keys and 100-byte values (the workload of `cargo xtask compare`'s memory row). Alone in its test
//! binary so no other test's allocations are counted. Run with `cargo test --release -p
//! evcached-storage --test rss -- --ignored --nocapture`.

#![cfg(target_os = "linux")]

use evcached_storage::*;

/// Resident set size of this process in bytes.
fn rss() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").expect("statm");
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("resident pages");
    pages * page_size()
}

/// The kernel's page size (`KernelPageSize` of the first mapping in `/proc/self/smaps`;
/// 4 KB if unreadable), read from procfs because `sysconf` would need unsafe code.
fn page_size() -> u64 {
    std::fs::read_to_string("/proc/self/smaps")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("KernelPageSize:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        })
        .map_or(4096, |kb| kb * 1024)
}

#[test]
#[ignore = "1M items: run in release for the measured figure"]
fn rss_per_item_1m() {
    let n = 1_000_000usize;
    let e = Engine::new(EngineConfig {
        memory_limit: 1 << 30,
        background_threads: false,
        ..EngineConfig::default()
    });
    // Keys are built before the baseline so only item memory is measured.
    let keys: Vec<String> = (0..n).map(|i| format!("{i:032}")).collect();
    let v = [b'v'; 100];
    let before = rss();
    for k in &keys {
        e.store(StoreMode::Set, k.as_bytes(), 0, 0, &v).unwrap();
    }
    e.run_maintenance(); // finish any hash table growth
    let after = rss();
    let per = (after - before) as f64 / n as f64 - 132.0;
    let accounted = (e.total_malloced() + e.hash_bytes()) as f64 / n as f64 - 132.0;
    println!("items {n}: RSS overhead {per:.2} B/item (pages + hash table: {accounted:.2} B/item)");
    // Pages come straight from mmap, so RSS adds nothing beyond what the engine accounts
    // for (a malloc header per page would cost an extra 4 KB page per 1 MB page); a page's
    // uncut tail is not resident at all, so RSS is usually below the accounted figure.
    assert!(
        per < accounted + 0.3,
        "RSS {per:.2} vs accounted {accounted:.2}"
    );
}
