//! Engine settings with memcached 1.6.18's defaults and start-up validation.

use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering::Relaxed};

/// One mebibyte, memcached's page and `-I` unit.
pub const MIB: u64 = 1024 * 1024;

/// Every engine setting, named after memcached's option (in brackets).
///
/// `EngineConfig::default()` is memcached's default configuration. Call
/// [`EngineConfig::validate`] before [`crate::Engine::new`]; its error text is memcached's.
#[derive(Clone, Debug, PartialEq)]
pub struct EngineConfig {
    /// Item memory limit in bytes (`-m`, default 64 MiB).
    pub memory_limit: u64,
    /// Evict old items when memory is full (`-M` turns this off: stores fail instead).
    pub evictions: bool,
    /// Keep a CAS id per item (`-C` turns this off; CAS then reads as 0).
    pub cas_enabled: bool,
    /// Minimum space for key + value + flags in the smallest class (`-n`, default 48).
    pub chunk_size: u32,
    /// Slab class growth factor (`-f`, default 1.25).
    pub growth_factor: f64,
    /// Explicit chunk sizes (`-o slab_sizes=a-b-c`), used instead of the `-n`/`-f` series:
    /// each is rounded up to 4 bytes and a last class of `slab_chunk_max` follows.
    pub slab_sizes: Option<Vec<u32>>,
    /// Largest item, header included (`-I`, default 1 MiB).
    pub item_size_max: u64,
    /// Slab page size (`-o slab_page_size`, default 1 MiB).
    pub slab_page_size: u32,
    /// Largest chunk; bigger items are chained (`-o slab_chunk_max`, default page/2).
    pub slab_chunk_max: u32,
    /// Allocate all of `-m` at start (`-L`).
    pub preallocate: bool,
    /// Initial hash table size exponent (`-o hashpower`, 0 = default 16).
    pub hashpower_init: u32,
    /// Grow the hash table when it gets crowded (`-o no_hashexpand` turns it off).
    pub hash_expand: bool,
    /// Run the LRU maintainer thread (`-o no_lru_maintainer` turns it off).
    pub lru_maintainer: bool,
    /// Segmented HOT/WARM/COLD LRU (`lru mode flat` or `-o no_lru_maintainer` make it flat).
    pub lru_segmented: bool,
    /// Share of a class's memory HOT may hold (`-o hot_lru_pct`, 20).
    pub hot_lru_pct: u32,
    /// Share of a class's memory WARM may hold (`-o warm_lru_pct`, 40).
    pub warm_lru_pct: u32,
    /// HOT items older than COLD's tail age × this move to COLD (`-o hot_max_factor`, 0.2).
    pub hot_max_factor: f64,
    /// WARM items older than COLD's tail age × this move to COLD (`-o warm_max_factor`, 2.0).
    pub warm_max_factor: f64,
    /// Items with a TTL up to this many seconds go to the TEMP LRU (`-o temporary_ttl`);
    /// `None` = no TEMP LRU (`temp_lru no`).
    pub temporary_ttl: Option<u32>,
    /// Run the LRU crawler thread (`-o no_lru_crawler` turns it off).
    pub lru_crawler: bool,
    /// Crawler sleep in microseconds every 1000 items (`-o lru_crawler_sleep`, 100).
    pub lru_crawler_sleep: u32,
    /// Items checked per class per crawl, 0 = all (`-o lru_crawler_tocrawl`).
    pub lru_crawler_tocrawl: u32,
    /// Allow moving pages between classes (`-o no_slab_reassign` turns it off).
    pub slab_reassign: bool,
    /// Automove mode 0, 1 or 2 (`-o slab_automove`, 1).
    pub slab_automove: u8,
    /// Automove age ratio (`-o slab_automove_ratio`, 0.8).
    pub slab_automove_ratio: f64,
    /// Automove window in seconds (`-o slab_automove_window`, 30).
    pub slab_automove_window: u32,
    /// Start the background threads (maintainer, crawler, rebalancer, hash expander).
    /// Tests turn this off and drive the work with [`crate::Engine::run_maintenance`].
    pub background_threads: bool,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            memory_limit: 64 * MIB,
            evictions: true,
            cas_enabled: true,
            chunk_size: 48,
            growth_factor: 1.25,
            slab_sizes: None,
            item_size_max: MIB,
            slab_page_size: MIB as u32,
            slab_chunk_max: (MIB / 2) as u32,
            preallocate: false,
            hashpower_init: 0,
            hash_expand: true,
            lru_maintainer: true,
            lru_segmented: true,
            hot_lru_pct: 20,
            warm_lru_pct: 40,
            hot_max_factor: 0.2,
            warm_max_factor: 2.0,
            temporary_ttl: None,
            lru_crawler: true,
            lru_crawler_sleep: 100,
            lru_crawler_tocrawl: 0,
            slab_reassign: true,
            slab_automove: 1,
            slab_automove_ratio: 0.8,
            slab_automove_window: 30,
            background_threads: true,
        }
    }
}

/// Most sizes `-o slab_sizes` may list (memcached's 64 class slots less class 0 and the
/// `slab_chunk_max` class).
pub const SLAB_SIZES_MAX: usize = 62;
/// Least step between two `-o slab_sizes` entries (memcached's `CHUNK_ALIGN_BYTES`, kept for
/// its checks and messages although evcached aligns chunks to 4).
pub const SLAB_SIZES_STEP: u32 = 8;

/// Default hash power (65 536 buckets).
pub const HASHPOWER_DEFAULT: u32 = 16;
/// Largest hash power memcached accepts.
pub const HASHPOWER_MAX: u32 = 32;
/// Smallest hash power memcached accepts.
pub const HASHPOWER_MIN: u32 = 12;

/// A setting memcached refuses at start-up. `Display` gives memcached's message (no newline).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError(String);

impl ConfigError {
    /// memcached's message for this error.
    pub fn message(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ConfigError {}

impl EngineConfig {
    /// The hash power the table starts with.
    pub fn effective_hashpower(&self) -> u32 {
        if self.hashpower_init == 0 {
            HASHPOWER_DEFAULT
        } else {
            self.hashpower_init
        }
    }

    /// Checks the settings the way memcached's `main` does, in the same order, with its
    /// messages. The server prints the message and exits with status 64 (EX_USAGE).
    pub fn validate(&self) -> Result<(), ConfigError> {
        let err = |s: String| Err(ConfigError(s));
        if self.growth_factor.is_nan() || self.growth_factor <= 1.0 {
            return err("Factor must be greater than 1".into());
        }
        if self.chunk_size == 0 {
            return err("Chunk size must be greater than 0".into());
        }
        if self.hashpower_init != 0 {
            if self.hashpower_init < HASHPOWER_MIN {
                return err(format!(
                    "Initial hashtable multiplier of {} is too low",
                    self.hashpower_init
                ));
            }
            if self.hashpower_init > HASHPOWER_MAX {
                return err(format!(
                    "Initial hashtable multiplier of {} is too high\n\
                     Choose a value based on \"STAT hash_power_level\" from a running instance",
                    self.hashpower_init
                ));
            }
        }
        if self.item_size_max < 1024 {
            return err("Item max size cannot be less than 1024 bytes.".into());
        }
        if self.item_size_max > self.memory_limit / 2 {
            return err("Cannot set item size limit higher than 1/2 of memory max.".into());
        }
        if self.item_size_max > 1024 * MIB {
            return err("Cannot set item size limit higher than a gigabyte.".into());
        }
        if self.slab_chunk_max == 0 || self.slab_page_size == 0 {
            return err("slab_chunk_max must be >= 0".into());
        }
        if u64::from(self.slab_chunk_max) > self.item_size_max {
            return err(format!(
                "slab_chunk_max (bytes: {}) cannot be larger than -I (item_size_max {})",
                self.slab_chunk_max, self.item_size_max
            ));
        }
        if self.item_size_max % u64::from(self.slab_chunk_max) != 0 {
            return err(format!(
                "-I (item_size_max: {}) must be evenly divisible by slab_chunk_max (bytes: {})",
                self.item_size_max, self.slab_chunk_max
            ));
        }
        if self.slab_page_size % self.slab_chunk_max != 0 {
            return err(format!(
                "slab_chunk_max (bytes: {}) must divide evenly into {} (slab_page_size)",
                self.slab_chunk_max, self.slab_page_size
            ));
        }
        if let Some(sizes) = &self.slab_sizes {
            check_slab_sizes(sizes, self.chunk_size, self.slab_chunk_max)?;
        }
        if self.hot_lru_pct + self.warm_lru_pct > 80 {
            return err("hot_lru_pct + warm_lru_pct cannot be more than 80% combined".into());
        }
        if self.temporary_ttl.is_some() && !self.lru_maintainer {
            return err("temporary_ttl requires lru_maintainer to be enabled".into());
        }
        if self.slab_automove > 2 {
            return err("slab_automove must be between 0 and 2".into());
        }
        Ok(())
    }
}

/// memcached's checks of an `-o slab_sizes` list, in its order and with its messages: each
/// size within `-n`..=`slab_chunk_max`, strictly increasing by more than 8 bytes, at most 62.
pub fn check_slab_sizes(sizes: &[u32], chunk_size: u32, chunk_max: u32) -> Result<(), ConfigError> {
    let err = |s: String| Err(ConfigError(s));
    let mut last = 0u32;
    for (i, &size) in sizes.iter().enumerate() {
        if size < chunk_size || size > chunk_max {
            return err(format!("slab size {size} is out of valid range"));
        }
        if last >= size {
            return err(format!(
                "slab size {size} cannot be lower than or equal to a previous class size"
            ));
        }
        if size <= last.saturating_add(SLAB_SIZES_STEP) {
            return err(format!(
                "slab size {size} must be at least {SLAB_SIZES_STEP} bytes larger than previous class"
            ));
        }
        if i >= SLAB_SIZES_MAX {
            return err("too many slab classes specified".into());
        }
        last = size;
    }
    Ok(())
}

/// The settings admin commands change while the engine runs (`lru tune`, `lru temp_ttl`,
/// `slabs automove ratio`, `lru_crawler sleep|tocrawl|enable|disable`): atomics the
/// maintainer, the crawler and the store path read on every use.
pub(crate) struct Live {
    hot_lru_pct: AtomicU32,
    warm_lru_pct: AtomicU32,
    hot_max_factor: AtomicU64,
    warm_max_factor: AtomicU64,
    temp_lru: AtomicBool,
    temporary_ttl: AtomicU32,
    lru_crawler: AtomicBool,
    lru_crawler_sleep: AtomicU32,
    lru_crawler_tocrawl: AtomicU32,
    slab_automove_ratio: AtomicU64,
}

/// A snapshot of the run-time tunables (what `stats settings` reports).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Tunables {
    /// Share of a class's memory HOT may hold (`lru tune`).
    pub hot_lru_pct: u32,
    /// Share of a class's memory WARM may hold (`lru tune`).
    pub warm_lru_pct: u32,
    /// HOT age limit as a multiple of COLD's tail age (`lru tune`).
    pub hot_max_factor: f64,
    /// WARM age limit as a multiple of COLD's tail age (`lru tune`).
    pub warm_max_factor: f64,
    /// Whether short-TTL items go to the TEMP LRU (`lru temp_ttl`; a negative TTL turns
    /// it off and keeps the last TTL, as memcached does).
    pub temp_lru: bool,
    /// The TEMP LRU's TTL bound in seconds.
    pub temporary_ttl: u32,
    /// Whether the crawler runs (`lru_crawler enable|disable`).
    pub lru_crawler: bool,
    /// Crawler pause in microseconds every 1000 items (`lru_crawler sleep`).
    pub lru_crawler_sleep: u32,
    /// Items checked per class per crawl, 0 = all (`lru_crawler tocrawl`).
    pub lru_crawler_tocrawl: u32,
    /// Automove age ratio (`slabs automove ratio`).
    pub slab_automove_ratio: f64,
}

impl Live {
    pub(crate) fn new(c: &EngineConfig) -> Live {
        Live {
            hot_lru_pct: AtomicU32::new(c.hot_lru_pct),
            warm_lru_pct: AtomicU32::new(c.warm_lru_pct),
            hot_max_factor: AtomicU64::new(c.hot_max_factor.to_bits()),
            warm_max_factor: AtomicU64::new(c.warm_max_factor.to_bits()),
            temp_lru: AtomicBool::new(c.temporary_ttl.is_some()),
            temporary_ttl: AtomicU32::new(c.temporary_ttl.unwrap_or(TEMPORARY_TTL_DEFAULT)),
            lru_crawler: AtomicBool::new(c.lru_crawler),
            lru_crawler_sleep: AtomicU32::new(c.lru_crawler_sleep),
            lru_crawler_tocrawl: AtomicU32::new(c.lru_crawler_tocrawl),
            slab_automove_ratio: AtomicU64::new(c.slab_automove_ratio.to_bits()),
        }
    }

    pub(crate) fn hot_lru_pct(&self) -> u32 {
        self.hot_lru_pct.load(Relaxed)
    }
    pub(crate) fn warm_lru_pct(&self) -> u32 {
        self.warm_lru_pct.load(Relaxed)
    }
    pub(crate) fn hot_max_factor(&self) -> f64 {
        f64::from_bits(self.hot_max_factor.load(Relaxed))
    }
    pub(crate) fn warm_max_factor(&self) -> f64 {
        f64::from_bits(self.warm_max_factor.load(Relaxed))
    }
    /// The TEMP LRU's TTL bound, `None` while the TEMP LRU is off.
    pub(crate) fn temporary_ttl(&self) -> Option<u32> {
        self.temp_lru
            .load(Relaxed)
            .then(|| self.temporary_ttl.load(Relaxed))
    }
    pub(crate) fn lru_crawler(&self) -> bool {
        self.lru_crawler.load(Relaxed)
    }
    pub(crate) fn lru_crawler_sleep(&self) -> u32 {
        self.lru_crawler_sleep.load(Relaxed)
    }
    pub(crate) fn lru_crawler_tocrawl(&self) -> u32 {
        self.lru_crawler_tocrawl.load(Relaxed)
    }
    pub(crate) fn slab_automove_ratio(&self) -> f64 {
        f64::from_bits(self.slab_automove_ratio.load(Relaxed))
    }

    pub(crate) fn set_lru_tune(&self, hot: u32, warm: u32, hot_f: f64, warm_f: f64) {
        // Four separate stores: a reader may see a mix for one pass, which is harmless
        // (memcached's settings are plain globals written the same way).
        self.hot_lru_pct.store(hot, Relaxed);
        self.warm_lru_pct.store(warm, Relaxed);
        self.hot_max_factor.store(hot_f.to_bits(), Relaxed);
        self.warm_max_factor.store(warm_f.to_bits(), Relaxed);
    }
    pub(crate) fn set_temp_ttl(&self, ttl: Option<u32>) {
        match ttl {
            Some(t) => {
                self.temporary_ttl.store(t, Relaxed);
                self.temp_lru.store(true, Relaxed);
            }
            None => self.temp_lru.store(false, Relaxed),
        }
    }
    pub(crate) fn set_lru_crawler(&self, on: bool) -> bool {
        self.lru_crawler.swap(on, Relaxed) != on
    }
    pub(crate) fn set_lru_crawler_sleep(&self, us: u32) {
        self.lru_crawler_sleep.store(us, Relaxed);
    }
    pub(crate) fn set_lru_crawler_tocrawl(&self, n: u32) {
        self.lru_crawler_tocrawl.store(n, Relaxed);
    }
    pub(crate) fn set_slab_automove_ratio(&self, r: f64) {
        self.slab_automove_ratio.store(r.to_bits(), Relaxed);
    }

    pub(crate) fn snapshot(&self) -> Tunables {
        Tunables {
            hot_lru_pct: self.hot_lru_pct(),
            warm_lru_pct: self.warm_lru_pct(),
            hot_max_factor: self.hot_max_factor(),
            warm_max_factor: self.warm_max_factor(),
            temp_lru: self.temp_lru.load(Relaxed),
            temporary_ttl: self.temporary_ttl.load(Relaxed),
            lru_crawler: self.lru_crawler(),
            lru_crawler_sleep: self.lru_crawler_sleep(),
            lru_crawler_tocrawl: self.lru_crawler_tocrawl(),
            slab_automove_ratio: self.slab_automove_ratio(),
        }
    }
}

/// memcached's default `temporary_ttl` (61 s), reported while the TEMP LRU is off.
pub const TEMPORARY_TTL_DEFAULT: u32 = 61;

#[cfg(test)]
mod tests {
    use super::*;

    fn check(c: EngineConfig, msg: &str) {
        assert_eq!(c.validate().unwrap_err().message(), msg);
    }

    #[test]
    fn defaults_are_valid() {
        EngineConfig::default().validate().unwrap();
    }

    #[test]
    fn memcached_messages() {
        let d = EngineConfig::default;
        check(
            EngineConfig {
                growth_factor: 1.0,
                ..d()
            },
            "Factor must be greater than 1",
        );
        check(
            EngineConfig {
                chunk_size: 0,
                ..d()
            },
            "Chunk size must be greater than 0",
        );
        check(
            EngineConfig {
                hashpower_init: 5,
                ..d()
            },
            "Initial hashtable multiplier of 5 is too low",
        );
        assert!(EngineConfig {
            hashpower_init: 40,
            ..d()
        }
        .validate()
        .unwrap_err()
        .message()
        .starts_with("Initial hashtable multiplier of 40 is too high\n"));
        check(
            EngineConfig {
                item_size_max: 512,
                ..d()
            },
            "Item max size cannot be less than 1024 bytes.",
        );
        check(
            EngineConfig {
                item_size_max: 2 * MIB,
                memory_limit: 3 * MIB,
                ..d()
            },
            "Cannot set item size limit higher than 1/2 of memory max.",
        );
        check(
            EngineConfig {
                item_size_max: 2048 * MIB,
                memory_limit: 8192 * MIB,
                ..d()
            },
            "Cannot set item size limit higher than a gigabyte.",
        );
        check(
            EngineConfig { slab_chunk_max: 300_000, ..d() },
            "-I (item_size_max: 1048576) must be evenly divisible by slab_chunk_max (bytes: 300000)",
        );
        check(
            EngineConfig {
                item_size_max: 1024,
                ..d()
            },
            "slab_chunk_max (bytes: 524288) cannot be larger than -I (item_size_max 1024)",
        );
        check(
            EngineConfig {
                hot_lru_pct: 60,
                warm_lru_pct: 30,
                ..d()
            },
            "hot_lru_pct + warm_lru_pct cannot be more than 80% combined",
        );
        check(
            EngineConfig {
                temporary_ttl: Some(10),
                lru_maintainer: false,
                ..d()
            },
            "temporary_ttl requires lru_maintainer to be enabled",
        );
    }
}
