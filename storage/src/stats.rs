//! Statistics: the engine's `stats` fields and the sharded counters behind them.
//!
//! Hot-path counters are sharded: each thread picks one of [`SHARDS`] cache-line-padded
//! counter blocks (round robin at first use), so two worker threads never write the same
//! cache line. Readers sum the shards.

use std::cell::Cell;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed};

/// Number of counter shards (a power of two).
pub const SHARDS: usize = 16;

static NEXT_SHARD: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    static SHARD: Cell<usize> = const { Cell::new(usize::MAX) };
}

/// This thread's shard index.
#[inline]
pub(crate) fn shard() -> usize {
    SHARD.with(|s| {
        let v = s.get();
        if v != usize::MAX {
            return v;
        }
        let n = NEXT_SHARD.fetch_add(1, Relaxed) % SHARDS;
        s.set(n);
        n
    })
}

macro_rules! counters {
    ($(#[$m:meta])* $name:ident { $($(#[$fm:meta])* $f:ident),* $(,)? }) => {
        $(#[$m])*
        #[derive(Default)]
        #[repr(align(64))]
        pub(crate) struct $name { $($(#[$fm])* pub(crate) $f: AtomicU64,)* }
        impl $name {
            /// Zeroes every counter.
            pub(crate) fn reset(&self) { $(self.$f.store(0, Relaxed);)* }
        }
    };
}

counters!(
    /// Per-slab-class counters (`stats slabs` and `stats items`), one block per shard.
    ClassCounters {
        get_hits, cmd_set, delete_hits, incr_hits, decr_hits, cas_hits, cas_badval, touch_hits,
        evicted, evicted_nonzero, evicted_unfetched, evicted_active, outofmemory, reclaimed,
        expired_unfetched, crawler_reclaimed, crawler_items_checked, lrutail_reflocked,
        moves_to_cold, moves_to_warm, moves_within_lru, direct_reclaims,
        hits_to_hot, hits_to_warm, hits_to_cold, hits_to_temp,
    }
);

counters!(
    /// Engine-wide counters that are not per class, one block per shard.
    GlobalCounters {
        cmd_get, cmd_touch, cmd_flush, get_misses, get_expired, get_flushed, delete_misses,
        incr_misses, decr_misses, cas_misses, touch_misses, store_too_large, store_no_memory,
        total_items, lru_bumps_dropped, evicted_time,
    }
);

/// Adds 1 to a counter field in this thread's shard of a sharded block.
macro_rules! bump {
    ($shards:expr, $field:ident) => {
        $shards[$crate::stats::shard()]
            .$field
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    };
    ($shards:expr, $field:ident, $n:expr) => {
        $shards[$crate::stats::shard()]
            .$field
            .fetch_add($n, std::sync::atomic::Ordering::Relaxed)
    };
}
pub(crate) use bump;

/// Sums one field over all shards.
macro_rules! sum {
    ($shards:expr, $field:ident) => {
        $shards
            .iter()
            .map(|s| s.$field.load(std::sync::atomic::Ordering::Relaxed))
            .sum::<u64>()
    };
}
pub(crate) use sum;

/// The engine-owned fields of memcached's general `stats`, named as memcached names them.
/// The server prints them in memcached's order, interleaved with its own fields.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[allow(missing_docs)] // every field is the memcached stat of the same name
pub struct EngineStats {
    pub cmd_get: u64,
    pub cmd_set: u64,
    pub cmd_flush: u64,
    pub cmd_touch: u64,
    pub get_hits: u64,
    pub get_misses: u64,
    pub get_expired: u64,
    pub get_flushed: u64,
    pub delete_misses: u64,
    pub delete_hits: u64,
    pub incr_misses: u64,
    pub incr_hits: u64,
    pub decr_misses: u64,
    pub decr_hits: u64,
    pub cas_misses: u64,
    pub cas_hits: u64,
    pub cas_badval: u64,
    pub touch_hits: u64,
    pub touch_misses: u64,
    pub store_too_large: u64,
    pub store_no_memory: u64,
    pub limit_maxbytes: u64,
    pub hash_power_level: u32,
    pub hash_bytes: u64,
    pub hash_is_expanding: bool,
    pub slab_reassign_rescues: u64,
    pub slab_reassign_chunk_rescues: u64,
    pub slab_reassign_evictions_nomem: u64,
    pub slab_reassign_inline_reclaim: u64,
    pub slab_reassign_busy_items: u64,
    pub slab_reassign_busy_deletes: u64,
    pub slab_reassign_running: bool,
    pub slabs_moved: u64,
    pub lru_crawler_running: bool,
    pub lru_crawler_starts: u64,
    pub lru_maintainer_juggles: u64,
    pub malloc_fails: u64,
    pub bytes: u64,
    pub curr_items: u64,
    pub total_items: u64,
    pub slab_global_page_pool: u64,
    pub expired_unfetched: u64,
    pub evicted_unfetched: u64,
    pub evicted_active: u64,
    pub evictions: u64,
    pub reclaimed: u64,
    pub crawler_reclaimed: u64,
    pub crawler_items_checked: u64,
    pub lrutail_reflocked: u64,
    pub moves_to_cold: u64,
    pub moves_to_warm: u64,
    pub moves_within_lru: u64,
    pub direct_reclaims: u64,
    pub lru_bumps_dropped: u64,
}

/// Background-thread counters (few writers, so plain atomics).
#[derive(Default)]
pub(crate) struct BackgroundCounters {
    pub(crate) slab_reassign_rescues: AtomicU64,
    pub(crate) slab_reassign_chunk_rescues: AtomicU64,
    pub(crate) slab_reassign_evictions_nomem: AtomicU64,
    pub(crate) slab_reassign_inline_reclaim: AtomicU64,
    pub(crate) slab_reassign_busy_items: AtomicU64,
    pub(crate) slab_reassign_busy_deletes: AtomicU64,
    pub(crate) slabs_moved: AtomicU64,
    pub(crate) lru_crawler_starts: AtomicU64,
    pub(crate) lru_maintainer_juggles: AtomicU64,
    pub(crate) malloc_fails: AtomicU64,
}

impl BackgroundCounters {
    pub(crate) fn reset(&self) {
        for c in [
            &self.slab_reassign_rescues,
            &self.slab_reassign_chunk_rescues,
            &self.slab_reassign_evictions_nomem,
            &self.slab_reassign_inline_reclaim,
            &self.slab_reassign_busy_items,
            &self.slab_reassign_busy_deletes,
            &self.slabs_moved,
            &self.lru_crawler_starts,
            &self.lru_maintainer_juggles,
        ] {
            c.store(0, Relaxed);
        }
    }
}
