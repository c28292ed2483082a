//! Background work: the LRU maintainer (with slab automove), the LRU crawler, the slab
//! rebalancer and the hash table expander. Each runs on its own thread when the engine
//! starts them, or all at once through [`run_once`].

use std::collections::VecDeque;
use std::sync::atomic::Ordering::*;
use std::thread::{self, JoinHandle};
use std::time::Duration;

use crate::config::HASHPOWER_MAX;
use crate::engine::{Inner, Juggle};
use crate::hash::murmur3_32;
use crate::lru::{COLD, HOT, TEMP, WARM};
use crate::memory::{Anchor, CHUNKED, DATA, FREE, LINKED, NIL, REF_MASK};
use crate::stats::{bump, sum};
use crate::types::ReassignError;

/// Starts the background threads.
pub(crate) fn start(inner: &Anchor<Inner>) -> Vec<JoinHandle<()>> {
    let mut v = Vec::new();
    let spawn = |name: &str, f: fn(&Inner)| {
        let i = inner.pin();
        thread::Builder::new()
            .name(name.into())
            .spawn(move || f(&i))
            .expect("spawn engine thread")
    };
    if inner.cfg.lru_maintainer {
        v.push(spawn("evc-lru-maint", maintainer_thread));
    }
    // Always started: `lru_crawler enable` may turn the crawler on later.
    v.push(spawn("evc-crawler", crawler_thread));
    v.push(spawn("evc-rebalance", rebalancer_thread));
    if inner.cfg.hash_expand {
        v.push(spawn("evc-hash-expand", expander_thread));
    }
    v
}

/// Sleeps up to `d` or until woken; false when the engine is stopping.
fn nap(inner: &Inner, d: Duration) -> bool {
    if inner.stop.load(Relaxed) {
        return false;
    }
    let g = inner.signal.lock().unwrap_or_else(|e| e.into_inner());
    let _ = inner.wake.wait_timeout(g, d);
    !inner.stop.load(Relaxed)
}

/// One pass of the maintainer over every class; true if anything moved.
fn juggle_all(inner: &Inner) -> bool {
    let mut did = false;
    for class in 1..=inner.slabs.class_count() as u8 {
        // Also after `lru temp_ttl -1`, until the items already in TEMP are gone.
        let temp_items = inner.lrus[class as usize].lists[TEMP].count.load(Relaxed) > 0;
        if inner.live.temporary_ttl().is_some() || temp_items {
            for _ in 0..500 {
                if !inner.pull_tail(class, TEMP, false) {
                    break;
                }
                did = true;
            }
        }
        if !inner.segmented.load(Relaxed) {
            continue;
        }
        for id in [HOT, WARM] {
            for _ in 0..500 {
                if !inner.juggle_tail(class, id, Juggle::Limits) {
                    break;
                }
                did = true;
            }
        }
        // Reclaim expired COLD tails without evicting; move active ones up to WARM.
        for _ in 0..500 {
            if !(inner.pull_tail(class, COLD, false) || inner.promote_cold_tail(class)) {
                break;
            }
            did = true;
        }
    }
    inner.bg.lru_maintainer_juggles.fetch_add(1, Relaxed);
    did
}

fn maintainer_thread(inner: &Inner) {
    let mut automove = Automove::default();
    let mut last_second = inner.now();
    let mut sleep = Duration::from_millis(1);
    loop {
        let did = juggle_all(inner);
        sleep = if did {
            Duration::from_millis(1)
        } else {
            (sleep * 2).min(Duration::from_secs(1))
        };
        let now = inner.now();
        if now != last_second {
            last_second = now;
            automove.sample(inner);
        }
        if !nap(inner, sleep) {
            return;
        }
    }
}

/// Slab automove state: a window of per-class samples (memcached's `slab_automove.c`,
/// simplified to its two decisions).
#[derive(Default)]
struct Automove {
    window: VecDeque<Vec<(u64, u64, u64)>>, // per class: (evictions, free chunks, pages)
}

impl Automove {
    fn sample(&mut self, inner: &Inner) {
        let mode = inner.automove.load(Relaxed);
        let n = inner.slabs.class_count();
        let snap: Vec<(u64, u64, u64)> = (0..=n)
            .map(|c| {
                if c == 0 {
                    return (0, 0, 0);
                }
                let u = inner.slabs.usage(c as u8);
                (sum!(inner.ccount(c as u8), evicted), u.free, u.pages)
            })
            .collect();
        self.window.push_back(snap);
        let win = inner.cfg.slab_automove_window.max(3) as usize;
        while self.window.len() > win {
            self.window.pop_front();
        }
        if mode != 1 || self.window.len() < win || inner.reassign_running.load(Relaxed) {
            return;
        }
        let first = &self.window[0];
        let last = self.window.back().expect("sample");
        // 1. A class with 2.5+ pages of free chunks and no evictions gives a page back.
        for c in 1..=n {
            let per = u64::from(inner.slabs.perslab(c as u8));
            if last[c].2 > 2 && last[c].1 * 2 > per * 5 && last[c].0 == first[c].0 {
                inner.request_reassign(c as i32, 0);
                self.window.clear();
                return;
            }
        }
        // 2. Move a page from the class with the oldest COLD tail to the evicting class with
        //    the youngest one, when the young one is much younger.
        let now = inner.now();
        let age = |c: usize| {
            inner.lrus[c]
                .lock_peek_tail_time(COLD, &inner.slabs)
                .map(|t| now.saturating_sub(t))
                .unwrap_or(0)
        };
        let mut youngest: Option<(usize, u32)> = None;
        let mut oldest: Option<(usize, u32)> = None;
        for c in 1..=n {
            let a = age(c);
            if last[c].0 > first[c].0 && youngest.map_or(true, |(_, y)| a < y) {
                youngest = Some((c, a));
            }
            if last[c].2 > 2 && oldest.map_or(true, |(_, o)| a > o) {
                oldest = Some((c, a));
            }
        }
        if let (Some((y, ya)), Some((o, oa))) = (youngest, oldest) {
            if y != o && f64::from(ya) < f64::from(oa) * inner.live.slab_automove_ratio() {
                inner.request_reassign(o as i32, y as u8);
                self.window.clear();
            }
        }
    }
}

fn crawler_thread(inner: &Inner) {
    let mut last_auto = inner.now();
    loop {
        let job = inner
            .signal
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .crawl
            .take();
        let now = inner.now();
        let job = job.or_else(|| {
            // Auto mode: a full crawl every minute of server time, while enabled.
            let due = inner.live.lru_crawler() && now >= last_auto + 60;
            due.then(|| (1..=inner.slabs.class_count() as u8).collect())
        });
        if let Some(classes) = job {
            last_auto = now;
            crawl(inner, &classes, true);
        }
        if !nap(inner, Duration::from_millis(100)) {
            return;
        }
    }
}

/// Walks the pages of `classes`, reclaiming expired and flushed items.
pub(crate) fn crawl(inner: &Inner, classes: &[u8], pace: bool) {
    inner.crawler_running.store(true, Relaxed);
    inner.bg.lru_crawler_starts.fetch_add(1, Relaxed);
    let tocrawl = u64::from(inner.live.lru_crawler_tocrawl());
    for &class in classes {
        let cc = inner.ccount(class);
        let mut checked = 0u64;
        'pages: for page in inner.slabs.class_pages(class) {
            let walk = inner.slabs.walk_guard();
            if inner.slabs.page_class(page) != class {
                continue;
            }
            for h in inner.slabs.page_handles(page) {
                if !inner.try_ref_linked(h) {
                    continue;
                }
                checked += 1;
                bump!(cc, crawler_items_checked);
                let ch = inner.slabs.chunk(h);
                let now = inner.now();
                if inner.is_expired(ch, now) || inner.is_flushed(ch, now) {
                    let hv = murmur3_32(inner.key(ch), 0);
                    let s = inner.hash.lock(hv);
                    if ch.state().load(Acquire) & LINKED != 0 {
                        inner.unlink(&s, hv, h);
                        bump!(cc, crawler_reclaimed);
                    }
                }
                inner.decref(h);
                let sleep = inner.live.lru_crawler_sleep();
                if pace && checked % 1000 == 0 && sleep > 0 {
                    drop(walk);
                    thread::sleep(Duration::from_micros(u64::from(sleep)));
                    continue 'pages;
                }
                if tocrawl != 0 && checked >= tocrawl {
                    break 'pages;
                }
            }
        }
    }
    inner.crawler_running.store(false, Relaxed);
}

/// Validates a `slabs reassign` request.
pub(crate) fn check_reassign(inner: &Inner, src: i32, dst: i32) -> Result<(), ReassignError> {
    if !inner.cfg.slab_reassign {
        return Err(ReassignError::Disabled);
    }
    let n = inner.slabs.class_count() as i32;
    if src == dst {
        return Err(ReassignError::Same);
    }
    if src < -1 || src == 0 || src > n || dst < 0 || dst > n {
        return Err(ReassignError::BadClass);
    }
    if src > 0 && inner.slabs.usage(src as u8).pages < 2 {
        return Err(ReassignError::NoSpare);
    }
    Ok(())
}

fn rebalancer_thread(inner: &Inner) {
    loop {
        let job = inner
            .signal
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .reassign
            .take();
        if let Some((src, dst)) = job {
            reassign(inner, src, dst);
        }
        if !nap(inner, Duration::from_millis(100)) {
            return;
        }
    }
}

/// Moves one page from `src` (-1 = the class with the most free chunks among those with
/// two or more pages) to `dst` (0 = global pool), rescuing live items into other chunks of
/// the class when there is room and evicting them otherwise.
pub(crate) fn reassign(inner: &Inner, src: i32, dst: u8) {
    let n = inner.slabs.class_count() as u8;
    let src = if src > 0 {
        src as u8
    } else {
        match (1..=n)
            .filter(|&c| c != dst && inner.slabs.usage(c).pages >= 2)
            .max_by_key(|&c| inner.slabs.usage(c).free)
        {
            Some(c) => c,
            None => return,
        }
    };
    let Some(page) = inner.slabs.start_drain(src, 2) else {
        return;
    };
    inner.reassign_running.store(true, Relaxed);
    let bg = &inner.bg;
    let mut loops = 0u32;
    loop {
        {
            let _walk = inner.slabs.walk_guard();
            for h in inner.slabs.page_handles(page) {
                let st = inner.slabs.chunk(h).state().load(Acquire);
                if st & FREE != 0 {
                    continue;
                }
                if st & DATA != 0 {
                    // Part of a chained item: evict the owner.
                    let owner = inner.slabs.chunk(h).h_next();
                    if owner != NIL && inner.try_ref_linked(owner) {
                        evict_referenced(inner, owner, loops, true);
                        inner.decref(owner);
                    }
                    continue;
                }
                if !inner.try_ref_linked(h) {
                    continue; // being written, or unlinked and still referenced: wait
                }
                let ch = inner.slabs.chunk(h);
                let hv = murmur3_32(inner.key(ch), 0);
                let s = inner.hash.lock(hv);
                if ch.state().load(Acquire) & LINKED != 0 {
                    let refs = ch.state().load(Acquire) & REF_MASK;
                    if refs > 2 && loops < 1000 {
                        bg.slab_reassign_busy_items.fetch_add(1, Relaxed);
                    } else if refs > 2 {
                        bg.slab_reassign_busy_deletes.fetch_add(1, Relaxed);
                        inner.unlink(&s, hv, h);
                    } else if !rescue(inner, &s, hv, h, src) {
                        bg.slab_reassign_evictions_nomem.fetch_add(1, Relaxed);
                        inner.unlink(&s, hv, h);
                    }
                }
                drop(s);
                inner.decref(h);
            }
        }
        if inner.slabs.drain_done(src) {
            inner.slabs.finish_drain(src, dst);
            bg.slabs_moved.fetch_add(1, Relaxed);
            break;
        }
        if inner.stop.load(Relaxed) {
            // Leave the page draining; the engine is going away.
            break;
        }
        loops += 1;
        thread::sleep(Duration::from_micros(if loops < 10 { 50 } else { 1000 }));
    }
    inner.reassign_running.store(false, Relaxed);
}

/// Unlinks a referenced item whose chunk is being moved.
fn evict_referenced(inner: &Inner, h: u32, _loops: u32, nomem: bool) {
    let ch = inner.slabs.chunk(h);
    let hv = murmur3_32(inner.key(ch), 0);
    let s = inner.hash.lock(hv);
    if ch.state().load(Acquire) & LINKED != 0 {
        if nomem {
            inner.bg.slab_reassign_evictions_nomem.fetch_add(1, Relaxed);
        }
        inner.unlink(&s, hv, h);
    }
}

/// Copies an ordinary item into another chunk of its class and swaps it in (stripe held).
fn rescue(inner: &Inner, s: &crate::memory::Stripe<'_>, hv: u32, h: u32, class: u8) -> bool {
    let old = inner.slabs.chunk(h);
    let st = old.state().load(Acquire);
    if st & CHUNKED != 0 {
        return false;
    }
    let size = inner.item_size(old);
    let Some(mut new) = inner.slabs.alloc_no_grow(class, size) else {
        return false;
    };
    let hdr = inner.slabs.hdr();
    new.init_item(
        old.nkey(),
        old.nbytes_inline(),
        inner.cfg.cas_enabled.then(|| old.cas()),
    );
    new.bytes_mut(hdr, size - hdr)
        .copy_from_slice(old.bytes(hdr, size - hdr));
    // (the meta protocol's marks move with the item)
    let keep = st
        & (crate::memory::CFLAGS
            | crate::memory::FETCHED
            | crate::memory::ACTIVE
            | crate::memory::STALE
            | crate::memory::WIN_SENT
            | crate::memory::KEY_BINARY);
    let v = new.view();
    v.set_exptime(old.exptime());
    v.state().store(keep, Relaxed);
    let time = old.time();
    let nh = new.into_handle();
    inner.unlink(s, hv, h);
    inner.link(s, hv, nh);
    inner.slabs.chunk(nh).set_time(time);
    inner.bg.slab_reassign_rescues.fetch_add(1, Relaxed);
    true
}

fn expander_thread(inner: &Inner) {
    loop {
        expand_if_needed(inner);
        if !nap(inner, Duration::from_millis(100)) {
            return;
        }
    }
}

/// Grows the hash table 2x when items exceed 1.5× buckets, migrating bucket by bucket.
pub(crate) fn expand_if_needed(inner: &Inner) {
    if !inner.cfg.hash_expand {
        return;
    }
    loop {
        let items: u64 = inner.lrus.iter().map(|l| l.count()).sum();
        let buckets = 1u64 << inner.hash.power();
        if items <= buckets + buckets / 2 || !inner.hash.start_expand(HASHPOWER_MAX) {
            return;
        }
        let hash = |h: u32| murmur3_32(inner.key(inner.slabs.chunk(h)), 0);
        let next = |h: u32| inner.slabs.chunk(h).h_next();
        let set_next = |h: u32, n: u32| inner.slabs.chunk(h).set_h_next(n);
        // One bucket per step, each under its own stripe lock, so requests keep flowing.
        while inner.hash.migrate_next(hash, next, set_next) {}
    }
}

/// Every background task once, on the calling thread.
pub(crate) fn run_once(inner: &Inner) {
    juggle_all(inner);
    if inner.live.lru_crawler() {
        let classes: Vec<u8> = (1..=inner.slabs.class_count() as u8).collect();
        crawl(inner, &classes, false);
    }
    let job = inner
        .signal
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .reassign
        .take();
    if let Some((src, dst)) = job {
        reassign(inner, src, dst);
    }
    expand_if_needed(inner);
}
