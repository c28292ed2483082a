//! The engine's stats reports: `stats` fields, `stats items`, `stats slabs`, `stats sizes`,
//! the engine part of `stats settings`, and `stats reset`.

use std::sync::atomic::Ordering::Relaxed;

use crate::engine::Engine;
use crate::lru::{COLD, HOT, TEMP, WARM};
use crate::stats::{sum, EngineStats};
use crate::types::StatLines;

fn line(v: &mut StatLines, k: impl Into<String>, val: impl ToString) {
    v.push((k.into(), val.to_string()));
}

impl Engine {
    /// The engine-owned fields of `stats`.
    pub fn stats(&self) -> EngineStats {
        let i = &*self.inner;
        let n = i.slabs.class_count() as u8;
        let mut s = EngineStats {
            cmd_get: sum!(i.g, cmd_get),
            cmd_flush: sum!(i.g, cmd_flush),
            cmd_touch: sum!(i.g, cmd_touch),
            get_misses: sum!(i.g, get_misses),
            get_expired: sum!(i.g, get_expired),
            get_flushed: sum!(i.g, get_flushed),
            delete_misses: sum!(i.g, delete_misses),
            incr_misses: sum!(i.g, incr_misses),
            decr_misses: sum!(i.g, decr_misses),
            cas_misses: sum!(i.g, cas_misses),
            touch_misses: sum!(i.g, touch_misses),
            store_too_large: sum!(i.g, store_too_large),
            store_no_memory: sum!(i.g, store_no_memory),
            total_items: sum!(i.g, total_items),
            lru_bumps_dropped: sum!(i.g, lru_bumps_dropped),
            limit_maxbytes: i.slabs.limit(),
            hash_power_level: i.hash.power(),
            hash_bytes: i.hash.bytes(),
            hash_is_expanding: i.hash.is_expanding(),
            slab_reassign_rescues: i.bg.slab_reassign_rescues.load(Relaxed),
            slab_reassign_chunk_rescues: i.bg.slab_reassign_chunk_rescues.load(Relaxed),
            slab_reassign_evictions_nomem: i.bg.slab_reassign_evictions_nomem.load(Relaxed),
            slab_reassign_inline_reclaim: i.bg.slab_reassign_inline_reclaim.load(Relaxed),
            slab_reassign_busy_items: i.bg.slab_reassign_busy_items.load(Relaxed),
            slab_reassign_busy_deletes: i.bg.slab_reassign_busy_deletes.load(Relaxed),
            slab_reassign_running: i.reassign_running.load(Relaxed),
            slabs_moved: i.bg.slabs_moved.load(Relaxed),
            lru_crawler_running: i.crawler_running.load(Relaxed),
            lru_crawler_starts: i.bg.lru_crawler_starts.load(Relaxed),
            lru_maintainer_juggles: i.bg.lru_maintainer_juggles.load(Relaxed),
            malloc_fails: i.slabs.malloc_fails() + i.bg.malloc_fails.load(Relaxed),
            slab_global_page_pool: i.slabs.pool_pages(),
            ..EngineStats::default()
        };
        for c in 1..=n {
            let cc = i.ccount(c);
            s.get_hits += sum!(cc, get_hits);
            s.cmd_set += sum!(cc, cmd_set);
            s.delete_hits += sum!(cc, delete_hits);
            s.incr_hits += sum!(cc, incr_hits);
            s.decr_hits += sum!(cc, decr_hits);
            s.cas_hits += sum!(cc, cas_hits);
            s.cas_badval += sum!(cc, cas_badval);
            s.touch_hits += sum!(cc, touch_hits);
            s.evictions += sum!(cc, evicted);
            s.reclaimed += sum!(cc, reclaimed);
            s.expired_unfetched += sum!(cc, expired_unfetched);
            s.evicted_unfetched += sum!(cc, evicted_unfetched);
            s.evicted_active += sum!(cc, evicted_active);
            s.crawler_reclaimed += sum!(cc, crawler_reclaimed);
            s.crawler_items_checked += sum!(cc, crawler_items_checked);
            s.lrutail_reflocked += sum!(cc, lrutail_reflocked);
            s.moves_to_cold += sum!(cc, moves_to_cold);
            s.moves_to_warm += sum!(cc, moves_to_warm);
            s.moves_within_lru += sum!(cc, moves_within_lru);
            s.direct_reclaims += sum!(cc, direct_reclaims);
            for l in &i.lrus[c as usize].lists {
                s.curr_items += l.count.load(Relaxed);
                s.bytes += l.bytes.load(Relaxed);
            }
        }
        s
    }

    /// `stats items`: `items:<class>:<field>` for every class holding items.
    pub fn stats_items(&self) -> StatLines {
        let i = &*self.inner;
        let now = i.now();
        let mut v = StatLines::new();
        let seg = i.cfg.lru_maintainer;
        for c in 1..=i.slabs.class_count() as u8 {
            let lr = &i.lrus[c as usize];
            let count = lr.count();
            if count == 0 {
                continue;
            }
            let cc = i.ccount(c);
            let p = |f: &str| format!("items:{c}:{f}");
            let age = |id: usize| {
                lr.lock_peek_tail_time(id, &i.slabs)
                    .map(|t| now.saturating_sub(t))
                    .unwrap_or(0)
            };
            line(&mut v, p("number"), count);
            if seg {
                line(&mut v, p("number_hot"), lr.lists[HOT].count.load(Relaxed));
                line(&mut v, p("number_warm"), lr.lists[WARM].count.load(Relaxed));
                line(&mut v, p("number_cold"), lr.lists[COLD].count.load(Relaxed));
                if i.live.temporary_ttl().is_some() {
                    line(&mut v, p("number_temp"), lr.lists[TEMP].count.load(Relaxed));
                }
                line(&mut v, p("age_hot"), age(HOT));
                line(&mut v, p("age_warm"), age(WARM));
            }
            line(&mut v, p("age"), age(COLD));
            line(&mut v, p("mem_requested"), i.slabs.usage(c).requested);
            line(&mut v, p("evicted"), sum!(cc, evicted));
            line(&mut v, p("evicted_nonzero"), sum!(cc, evicted_nonzero));
            line(
                &mut v,
                p("evicted_time"),
                i.evicted_time[c as usize].load(Relaxed),
            );
            line(&mut v, p("outofmemory"), sum!(cc, outofmemory));
            line(&mut v, p("tailrepairs"), 0);
            line(&mut v, p("reclaimed"), sum!(cc, reclaimed));
            line(&mut v, p("expired_unfetched"), sum!(cc, expired_unfetched));
            line(&mut v, p("evicted_unfetched"), sum!(cc, evicted_unfetched));
            if seg {
                line(&mut v, p("evicted_active"), sum!(cc, evicted_active));
            }
            line(&mut v, p("crawler_reclaimed"), sum!(cc, crawler_reclaimed));
            line(
                &mut v,
                p("crawler_items_checked"),
                sum!(cc, crawler_items_checked),
            );
            line(&mut v, p("lrutail_reflocked"), sum!(cc, lrutail_reflocked));
            if seg {
                line(&mut v, p("moves_to_cold"), sum!(cc, moves_to_cold));
                line(&mut v, p("moves_to_warm"), sum!(cc, moves_to_warm));
                line(&mut v, p("moves_within_lru"), sum!(cc, moves_within_lru));
                line(&mut v, p("direct_reclaims"), sum!(cc, direct_reclaims));
                line(&mut v, p("hits_to_hot"), sum!(cc, hits_to_hot));
                line(&mut v, p("hits_to_warm"), sum!(cc, hits_to_warm));
                line(&mut v, p("hits_to_cold"), sum!(cc, hits_to_cold));
                line(&mut v, p("hits_to_temp"), sum!(cc, hits_to_temp));
            }
        }
        v
    }

    /// `stats slabs`: `<class>:<field>` for classes with pages, then `active_slabs` and
    /// `total_malloced`.
    pub fn stats_slabs(&self) -> StatLines {
        let i = &*self.inner;
        let mut v = StatLines::new();
        let mut active = 0;
        for c in 1..=i.slabs.class_count() as u8 {
            let u = i.slabs.usage(c);
            if u.pages == 0 {
                continue;
            }
            active += 1;
            let cc = i.ccount(c);
            let per = u64::from(i.slabs.perslab(c));
            let total = u.pages * per;
            let p = |f: &str| format!("{c}:{f}");
            line(&mut v, p("chunk_size"), i.slabs.size(c));
            line(&mut v, p("chunks_per_page"), per);
            line(&mut v, p("total_pages"), u.pages);
            line(&mut v, p("total_chunks"), total);
            line(&mut v, p("used_chunks"), total.saturating_sub(u.free));
            line(&mut v, p("free_chunks"), u.free);
            line(&mut v, p("free_chunks_end"), 0);
            line(&mut v, p("get_hits"), sum!(cc, get_hits));
            line(&mut v, p("cmd_set"), sum!(cc, cmd_set));
            line(&mut v, p("delete_hits"), sum!(cc, delete_hits));
            line(&mut v, p("incr_hits"), sum!(cc, incr_hits));
            line(&mut v, p("decr_hits"), sum!(cc, decr_hits));
            line(&mut v, p("cas_hits"), sum!(cc, cas_hits));
            line(&mut v, p("cas_badval"), sum!(cc, cas_badval));
            line(&mut v, p("touch_hits"), sum!(cc, touch_hits));
        }
        line(&mut v, "active_slabs", active);
        line(&mut v, "total_malloced", i.slabs.malloced());
        v
    }

    /// `stats sizes` (size tracking is not built in, as in memcached without `track_sizes`).
    pub fn stats_sizes(&self) -> StatLines {
        vec![("sizes_status".into(), "disabled".into())]
    }

    /// The engine's part of `stats settings`, by memcached's names (the server merges them
    /// into its own list in memcached's order).
    pub fn stats_settings(&self) -> StatLines {
        let i = &*self.inner;
        let c = &i.cfg;
        let t = i.live.snapshot();
        let yn = |b: bool| if b { "yes" } else { "no" };
        let mut v = StatLines::new();
        line(&mut v, "maxbytes", i.slabs.limit());
        line(&mut v, "oldest", i.oldest_live.load(Relaxed));
        line(&mut v, "evictions", if c.evictions { "on" } else { "off" });
        line(&mut v, "growth_factor", format!("{:.2}", c.growth_factor));
        line(&mut v, "chunk_size", c.chunk_size);
        line(&mut v, "cas_enabled", yn(c.cas_enabled));
        line(&mut v, "item_size_max", c.item_size_max);
        line(&mut v, "hashpower_init", c.hashpower_init);
        line(&mut v, "slab_reassign", yn(c.slab_reassign));
        line(&mut v, "slab_automove", i.automove.load(Relaxed));
        line(
            &mut v,
            "slab_automove_ratio",
            format!("{:.2}", t.slab_automove_ratio),
        );
        line(&mut v, "slab_automove_window", c.slab_automove_window);
        line(&mut v, "slab_chunk_max", c.slab_chunk_max);
        line(&mut v, "lru_crawler", yn(t.lru_crawler));
        line(&mut v, "lru_crawler_sleep", t.lru_crawler_sleep);
        line(&mut v, "lru_crawler_tocrawl", t.lru_crawler_tocrawl);
        line(&mut v, "tail_repair_time", 0);
        line(&mut v, "hash_algorithm", "murmur3");
        line(&mut v, "lru_maintainer_thread", yn(c.lru_maintainer));
        line(&mut v, "lru_segmented", yn(i.segmented.load(Relaxed)));
        line(&mut v, "hot_lru_pct", t.hot_lru_pct);
        line(&mut v, "warm_lru_pct", t.warm_lru_pct);
        line(&mut v, "hot_max_factor", format!("{:.2}", t.hot_max_factor));
        line(
            &mut v,
            "warm_max_factor",
            format!("{:.2}", t.warm_max_factor),
        );
        line(&mut v, "temp_lru", yn(t.temp_lru));
        line(&mut v, "temporary_ttl", t.temporary_ttl);
        line(&mut v, "track_sizes", "no");
        v
    }

    /// `stats reset`: zeroes the counters (not items, bytes or settings).
    pub fn stats_reset(&self) {
        let i = &*self.inner;
        i.g.iter().for_each(|g| g.reset());
        i.c.iter().for_each(|c| c.reset());
        i.bg.reset();
        i.evicted_time.iter().for_each(|e| e.store(0, Relaxed));
    }
}
