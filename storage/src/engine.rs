//! The engine: item operations with memcached's semantics on top of the slab allocator,
//! the hash table and the segmented LRU.

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicU8, Ordering::*};
use std::sync::{Condvar, Mutex};
use std::thread::JoinHandle;

use crate::clock::Clock;
use crate::config::{EngineConfig, Live, Tunables, MIB};
use crate::hash::murmur3_32;
use crate::item::{ItemRef, ItemWriter};
use crate::lru::{self, ClassLru, COLD, HOT, TEMP, WARM};
use crate::memory::*;
use crate::stats::{bump, BackgroundCounters, ClassCounters, GlobalCounters, SHARDS};
use crate::types::*;

/// memcached's KEY_MAX_LENGTH.
pub const KEY_MAX: usize = 250;
/// Flat-LRU bump interval (memcached's ITEM_UPDATE_INTERVAL).
pub(crate) const UPDATE_INTERVAL: u32 = 60;
/// Values at least this long are copied by [`Engine::store`] while the lookup's cache
/// lines load (below it the copy is too short to hide the loads behind).
pub(crate) const PREFETCH_VALUE_MIN: usize = 1024;

/// Shared engine state (anchored by the `Engine`, pinned by every [`ItemRef`]).
pub(crate) struct Inner {
    pub(crate) cfg: EngineConfig,
    /// The settings admin commands change at run time (read these, not `cfg`'s copies).
    pub(crate) live: Live,
    pub(crate) slabs: Slabs,
    pub(crate) hash: HashTables,
    pub(crate) lrus: Vec<ClassLru>,
    pub(crate) clock: Clock,
    pub(crate) cas_next: AtomicU64,
    pub(crate) oldest_live: AtomicU32,
    pub(crate) oldest_cas: AtomicU64,
    pub(crate) segmented: AtomicBool,
    pub(crate) automove: AtomicU8,
    pub(crate) g: Box<[GlobalCounters]>,
    pub(crate) c: Box<[ClassCounters]>,
    pub(crate) bg: BackgroundCounters,
    pub(crate) evicted_time: Box<[AtomicU32]>,
    pub(crate) signal: Mutex<Signals>,
    pub(crate) wake: Condvar,
    pub(crate) stop: AtomicBool,
    pub(crate) reassign_running: AtomicBool,
    pub(crate) crawler_running: AtomicBool,
}

/// Requests for the background threads.
#[derive(Default)]
pub(crate) struct Signals {
    pub(crate) reassign: Option<(i32, u8)>,
    pub(crate) crawl: Option<Vec<u8>>,
}

/// How far `juggle_tail` goes.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Juggle {
    /// The maintainer: only in a full class, only past HOT/WARM's size or age limit or
    /// for an active item (rescued to WARM's head).
    Limits,
    /// Allocation pressure: the limits are ignored; active items are still rescued.
    Pressure,
    /// Allocation pressure after rescues freed nothing: every item goes to COLD.
    Demote,
}

/// What a lookup does besides finding the item.
#[derive(Clone, Copy)]
pub(crate) struct Fetch {
    pub(crate) bump: bool,
    pub(crate) touch: Option<u32>,
    pub(crate) count_get: bool,
}

/// The cache engine. `Send + Sync`: share one `Arc<Engine>` among worker threads.
pub struct Engine {
    pub(crate) inner: Anchor<Inner>,
    threads: Mutex<Vec<JoinHandle<()>>>,
}

impl Inner {
    #[inline]
    pub(crate) fn ccount(&self, class: u8) -> &[ClassCounters] {
        let i = class as usize * SHARDS;
        &self.c[i..i + SHARDS]
    }

    pub(crate) fn now(&self) -> u32 {
        self.clock.now()
    }

    // ---- item layout helpers -------------------------------------------------------------

    #[inline]
    pub(crate) fn key_off(&self, ch: Chunk<'_>) -> usize {
        self.slabs.hdr()
            + if ch.state().load(Relaxed) & CFLAGS != 0 {
                4
            } else {
                0
            }
    }
    #[inline]
    pub(crate) fn key<'a>(&self, ch: Chunk<'a>) -> &'a [u8] {
        ch.bytes(self.key_off(ch), ch.nkey())
    }
    #[inline]
    pub(crate) fn client_flags(&self, ch: Chunk<'_>) -> u32 {
        if ch.state().load(Relaxed) & CFLAGS != 0 {
            ch.u32_at(self.slabs.hdr())
        } else {
            0
        }
    }
    #[inline]
    pub(crate) fn cas_of(&self, ch: Chunk<'_>) -> u64 {
        if self.cfg.cas_enabled {
            ch.cas()
        } else {
            0
        }
    }
    /// Offset of the chained-item table (total length, count, handles).
    #[inline]
    pub(crate) fn chain_off(&self, ch: Chunk<'_>) -> usize {
        (self.key_off(ch) + ch.nkey()).div_ceil(4) * 4
    }
    #[inline]
    pub(crate) fn value_len(&self, ch: Chunk<'_>) -> usize {
        if ch.state().load(Relaxed) & CHUNKED != 0 {
            ch.u32_at(self.chain_off(ch)) as usize
        } else {
            ch.nbytes_inline()
        }
    }
    /// Bytes the item uses in its chunks (`mem_requested`, `bytes`).
    pub(crate) fn item_size(&self, ch: Chunk<'_>) -> usize {
        if ch.state().load(Relaxed) & CHUNKED != 0 {
            let n = ch.u32_at(self.chain_off(ch) + 4) as usize;
            self.chain_off(ch) + 8 + 4 * n
        } else {
            self.key_off(ch) + ch.nkey() + ch.nbytes_inline()
        }
    }
    /// Data chunk handles of a chained item.
    pub(crate) fn data_chunks<'a>(&'a self, ch: Chunk<'a>) -> impl Iterator<Item = u32> + 'a {
        let off = self.chain_off(ch);
        let n = ch.u32_at(off + 4) as usize;
        (0..n).map(move |i| ch.u32_at(off + 8 + 4 * i))
    }
    /// Bytes of value a data chunk holds.
    pub(crate) fn data_cap(&self) -> usize {
        self.slabs.size(self.slabs.largest()) as usize - DATA_HDR
    }

    // ---- expiry / flush ------------------------------------------------------------------

    #[inline]
    pub(crate) fn is_expired(&self, ch: Chunk<'_>, now: u32) -> bool {
        let e = ch.exptime();
        e != 0 && e <= now
    }
    #[inline]
    pub(crate) fn is_flushed(&self, ch: Chunk<'_>, now: u32) -> bool {
        let ol = self.oldest_live.load(Relaxed);
        if ol == 0 || ol > now {
            return false;
        }
        if ch.time() <= ol {
            return true;
        }
        let oc = self.oldest_cas.load(Relaxed);
        let cas = self.cas_of(ch);
        oc != 0 && cas != 0 && cas < oc
    }

    // ---- refcounts -------------------------------------------------------------------------

    #[inline]
    pub(crate) fn incref(&self, h: u32) {
        self.slabs.chunk(h).state().fetch_add(1, Acquire);
    }

    /// Starts loading the header and key of the first item in hash `hv`'s chain (nothing
    /// if its stripe lock is busy).
    pub(crate) fn prefetch_item(&self, hv: u32) {
        if let Some(s) = self.hash.try_lock(hv) {
            let h = s.bucket(hv).load(Relaxed);
            if h != NIL {
                self.slabs.chunk(h).prefetch_head();
            }
        }
    }

    /// Takes a reference if the item is linked (for walkers that found a chunk by address).
    pub(crate) fn try_ref_linked(&self, h: u32) -> bool {
        let st = self.slabs.chunk(h).state();
        let mut cur = st.load(Acquire);
        loop {
            if cur & LINKED == 0 || cur & (FREE | DATA) != 0 || cur & REF_MASK == 0 {
                return false;
            }
            match st.compare_exchange_weak(cur, cur + 1, AcqRel, Acquire) {
                Ok(_) => return true,
                Err(v) => cur = v,
            }
        }
    }

    /// Drops a reference; frees the item's chunks when it was the last.
    #[inline]
    pub(crate) fn decref(&self, h: u32) {
        let prev = self.slabs.chunk(h).state().fetch_sub(1, AcqRel);
        debug_assert!(prev & REF_MASK != 0);
        if prev & REF_MASK == 1 {
            self.free_item(h);
        }
    }

    fn free_item(&self, h: u32) {
        let ch = self.slabs.chunk(h);
        debug_assert!(ch.state().load(Relaxed) & LINKED == 0);
        if ch.state().load(Relaxed) & CHUNKED != 0 {
            let total = self.value_len(ch);
            let cap = self.data_cap();
            let chunks: Vec<u32> = self.data_chunks(ch).collect();
            let mut left = total;
            for d in chunks {
                let n = left.min(cap);
                left -= n;
                self.slabs.free(d, n + DATA_HDR);
            }
        }
        let size = self.item_size(ch);
        self.slabs.free(h, size);
    }

    // ---- hash chain ------------------------------------------------------------------------

    #[inline]
    pub(crate) fn find(&self, s: &Stripe<'_>, hv: u32, key: &[u8]) -> u32 {
        self.find_ch(s, hv, key).map_or(NIL, |(h, _)| h)
    }

    /// [`Inner::find`] that also returns the chunk view, so callers need not derive it
    /// from the handle again (a page-table walk).
    #[inline]
    pub(crate) fn find_ch(&self, s: &Stripe<'_>, hv: u32, key: &[u8]) -> Option<(u32, Chunk<'_>)> {
        let mut h = s.bucket(hv).load(Relaxed);
        while h != NIL {
            let ch = self.slabs.chunk(h);
            if ch.nkey() == key.len() && self.key(ch) == key {
                return Some((h, ch));
            }
            h = ch.h_next();
        }
        None
    }

    fn chain_remove(&self, s: &Stripe<'_>, hv: u32, h: u32) {
        let b = s.bucket(hv);
        let mut cur = b.load(Relaxed);
        let mut prev = NIL;
        while cur != NIL {
            let next = self.slabs.chunk(cur).h_next();
            if cur == h {
                if prev == NIL {
                    b.store(next, Relaxed);
                } else {
                    self.slabs.chunk(prev).set_h_next(next);
                }
                return;
            }
            prev = cur;
            cur = next;
        }
        debug_assert!(false, "item not in its hash chain");
    }

    /// Links a fresh item (refcount 0, LINKED clear) into the hash table and its LRU.
    pub(crate) fn link(&self, s: &Stripe<'_>, hv: u32, h: u32) {
        self.link_replacing(s, hv, h, NIL);
    }

    /// Links a fresh item (refcount 0, LINKED clear) into the hash table and its LRU after
    /// unlinking `old` (the linked item with the same key, or NIL). When both belong to
    /// the same sub-LRU (the usual `set` over an item of the same size) one hold of that
    /// list's lock does both moves.
    pub(crate) fn link_replacing(&self, s: &Stripe<'_>, hv: u32, h: u32, old: u32) {
        let ch = self.slabs.chunk(h);
        let now = self.now();
        ch.set_time(now);
        let class = self.slabs.class_of(h);
        let exp = ch.exptime();
        let id = match self.live.temporary_ttl() {
            Some(t) if exp != 0 && exp.saturating_sub(now) <= t => TEMP,
            _ if self.segmented.load(Relaxed) => HOT,
            _ => COLD,
        };
        let size = self.item_size(ch) as u64;
        let cl = &self.lrus[class as usize];
        let mut held = None;
        if old != NIL {
            self.chain_remove(s, hv, old);
            let oclass = self.slabs.class_of(old);
            let oid = lru::lru_of(&self.slabs, old);
            let osize = self.item_size(self.slabs.chunk(old)) as u64;
            let ocl = &self.lrus[oclass as usize];
            let mut l = ocl.lock(oid);
            lru::unlink(&self.slabs, &ocl.lists[oid], &mut l, old, osize);
            if oclass == class && oid == id {
                held = Some(l);
            }
        }
        let b = s.bucket(hv);
        ch.set_h_next(b.load(Relaxed));
        // LINKED is clear and the refcount 0 on a fresh item, so one add sets both (the
        // link's reference).
        let prev = ch.state().fetch_add(LINKED + 1, Release);
        debug_assert_eq!(prev & (LINKED | REF_MASK), 0, "link of a linked item");
        b.store(h, Release);
        let mut l = held.unwrap_or_else(|| cl.lock(id));
        lru::link_head(&self.slabs, &cl.lists[id], &mut l, id, h, size);
        drop(l);
        if old != NIL {
            self.drop_link(old);
        }
        bump!(self.g, total_items);
    }

    /// Unlinks a linked item (stripe lock held) and drops the link's reference.
    pub(crate) fn unlink(&self, s: &Stripe<'_>, hv: u32, h: u32) {
        self.chain_remove(s, hv, h);
        let ch = self.slabs.chunk(h);
        let class = self.slabs.class_of(h);
        let id = lru::lru_of(&self.slabs, h);
        let size = self.item_size(ch) as u64;
        let cl = &self.lrus[class as usize];
        let mut l = cl.lock(id);
        lru::unlink(&self.slabs, &cl.lists[id], &mut l, h, size);
        drop(l);
        self.drop_link(h);
    }

    /// Clears LINKED and drops the link's reference in one RMW (walkers that saw LINKED
    /// re-check it under the stripe lock, which the unlinking thread holds).
    #[inline]
    fn drop_link(&self, h: u32) {
        let prev = self.slabs.chunk(h).state().fetch_sub(LINKED + 1, AcqRel);
        debug_assert!(prev & LINKED != 0 && prev & REF_MASK != 0);
        if prev & REF_MASK == 1 {
            self.free_item(h);
        }
    }

    /// Like [`Inner::unlink`] for an item whose LRU list lock the caller already holds.
    pub(crate) fn unlink_in_list(
        &self,
        s: &Stripe<'_>,
        hv: u32,
        h: u32,
        id: usize,
        l: &mut lru::List,
    ) {
        self.chain_remove(s, hv, h);
        let ch = self.slabs.chunk(h);
        let class = self.slabs.class_of(h);
        let size = self.item_size(ch) as u64;
        lru::unlink(
            &self.slabs,
            &self.lrus[class as usize].lists[id],
            l,
            h,
            size,
        );
        self.drop_link(h);
    }

    /// Moves a linked item to the head of list `to` (stripe lock held).
    pub(crate) fn relink(&self, h: u32, to: usize) {
        let ch = self.slabs.chunk(h);
        let class = self.slabs.class_of(h);
        let from = lru::lru_of(&self.slabs, h);
        let size = self.item_size(ch) as u64;
        let cl = &self.lrus[class as usize];
        {
            let mut l = cl.lock(from);
            lru::unlink(&self.slabs, &cl.lists[from], &mut l, h, size);
        }
        let mut l = cl.lock(to);
        lru::link_head(&self.slabs, &cl.lists[to], &mut l, to, h, size);
    }

    // ---- lookups -------------------------------------------------------------------------

    /// Finds a live item and takes a reference (stripe lock held). Expired or flushed items
    /// are unlinked on the spot.
    pub(crate) fn get_locked(&self, s: &Stripe<'_>, hv: u32, key: &[u8], f: Fetch) -> Option<u32> {
        self.get_locked_ch(s, hv, key, f).map(|(h, _, _)| h)
    }

    /// [`Inner::get_locked`] that also returns the chunk view and the item's class.
    #[inline]
    pub(crate) fn get_locked_ch(
        &self,
        s: &Stripe<'_>,
        hv: u32,
        key: &[u8],
        f: Fetch,
    ) -> Option<(u32, Chunk<'_>, u8)> {
        let Some((h, ch)) = self.find_ch(s, hv, key) else {
            if f.count_get {
                bump!(self.g, get_misses);
            }
            return None;
        };
        let now = self.now();
        if self.is_expired(ch, now) {
            self.unlink(s, hv, h);
            if f.count_get {
                bump!(self.g, get_misses);
                bump!(self.g, get_expired);
            }
            return None;
        }
        if self.is_flushed(ch, now) {
            self.unlink(s, hv, h);
            if f.count_get {
                bump!(self.g, get_misses);
                bump!(self.g, get_flushed);
            }
            return None;
        }
        ch.state().fetch_add(1, Acquire); // incref
        if let Some(e) = f.touch {
            ch.set_exptime(e);
        }
        let class = self.slabs.class_of(h);
        if f.bump {
            self.bump(h, ch, class, now);
        }
        Some((h, ch, class))
    }

    /// memcached's `do_item_update` for a refused `add`, which promotes the existing item:
    /// at most once per [`UPDATE_INTERVAL`] its access time moves to `now` and, with a flat
    /// LRU, it goes back to the head of its list (the same rule as a flat-LRU hit).
    pub(crate) fn update(&self, h: u32, now: u32) {
        let ch = self.slabs.chunk(h);
        if ch.time().saturating_add(UPDATE_INTERVAL) > now {
            return;
        }
        ch.set_time(now);
        if !self.segmented.load(Relaxed) {
            let id = ((ch.state().load(Relaxed) & LRU_MASK) >> LRU_SHIFT) as usize;
            self.relink(h, id);
        }
    }

    /// memcached's `do_item_bump` (segmented) or `do_item_update` (flat) of item `h`
    /// (view `ch`, slab class `class`).
    fn bump(&self, h: u32, ch: Chunk<'_>, class: u8, now: u32) {
        let st = ch.state();
        let cur = st.load(Relaxed);
        let id = ((cur & LRU_MASK) >> LRU_SHIFT) as usize;
        let cc = self.ccount(class);
        match id {
            HOT => bump!(cc, hits_to_hot),
            WARM => bump!(cc, hits_to_warm),
            COLD => bump!(cc, hits_to_cold),
            _ => bump!(cc, hits_to_temp),
        };
        if !self.segmented.load(Relaxed) {
            if cur & FETCHED == 0 {
                st.fetch_or(FETCHED, Relaxed);
            }
            if ch.time().saturating_add(UPDATE_INTERVAL) <= now {
                ch.set_time(now);
                self.relink(h, id);
            }
            return;
        }
        if id == TEMP || cur & FETCHED == 0 {
            if cur & FETCHED == 0 {
                st.fetch_or(FETCHED, Relaxed);
            }
            return;
        }
        // Until the class first meets the memory limit nothing can be evicted from it, so
        // a hit only marks the item (ACTIVE, access time) and moves nothing; the tails sort
        // it out once it fills (`juggle_tail`, `pull_tail`). memcached moves every active
        // COLD item and re-links active WARM items on each maintainer pass, about one list
        // move per hit under a uniform read load, full or not.
        if id == COLD && self.lrus[class as usize].is_full() {
            // Under pressure an item hit twice must leave COLD before the evicting tail
            // reaches it: straight to WARM (memcached queues it for the maintainer; the
            // stripe lock is already held here, so moving costs two short LRU lock holds).
            ch.set_time(now);
            st.fetch_and(!ACTIVE, Relaxed);
            self.relink(h, WARM);
            bump!(cc, moves_to_warm);
            return;
        }
        if cur & ACTIVE == 0 {
            st.fetch_or(ACTIVE, Relaxed);
            ch.set_time(now);
        }
    }

    pub(crate) fn next_cas(&self) -> u64 {
        if self.cfg.cas_enabled {
            self.cas_next.fetch_add(1, Relaxed)
        } else {
            0
        }
    }

    // ---- allocation --------------------------------------------------------------------------

    /// Allocates a chunk of `class`, evicting or reclaiming from the class's LRU tails when
    /// the slab allocator has nothing (memcached's `do_item_alloc_pull`).
    pub(crate) fn alloc_chunk(&self, class: u8, size: usize) -> Option<OwnedChunk> {
        for attempt in 0..10 {
            if let Some(c) = self.slabs.alloc(class, size) {
                return Some(c);
            }
            if self.lrus[class as usize].mark_full() {
                // The maintainer now has a class to sort: wake it from its back-off.
                self.wake.notify_all();
            }
            if attempt > 0 {
                bump!(self.ccount(class), direct_reclaims);
            }
            if self.pull_tail(class, COLD, self.cfg.evictions) {
                continue;
            }
            if self.pull_tail(class, TEMP, false) {
                continue;
            }
            // Nothing to free in COLD: push HOT's (else WARM's) tail down until an item
            // lands in COLD (memcached's do_item_alloc_pull pushes HOT only). Active items
            // are rescued to WARM at first; from the fourth attempt they go down too, so a
            // class whose items are all active still frees memory.
            let demote = attempt >= 3;
            if !self.push_to_cold(class, demote) {
                break;
            }
        }
        bump!(self.ccount(class), outofmemory);
        None
    }

    /// Looks at up to 5 items from the tail of `id`: reclaims the first expired/flushed one,
    /// or (with `evict`) evicts the first unreferenced one. True if a chunk was freed.
    pub(crate) fn pull_tail(&self, class: u8, id: usize, evict: bool) -> bool {
        let cl = &self.lrus[class as usize];
        let cc = self.ccount(class);
        let mut l = cl.lock(id);
        let mut h = l.tail;
        let now = self.now();
        for _ in 0..5 {
            if h == NIL {
                return false;
            }
            let ch = self.slabs.chunk(h);
            let prev = ch.prev();
            let key = self.key(ch);
            let hv = murmur3_32(key, 0);
            let Some(s) = self.hash.try_lock(hv) else {
                h = prev;
                continue;
            };
            let st = ch.state().load(Acquire);
            if st & REF_MASK > 1 {
                bump!(cc, lrutail_reflocked);
                h = prev;
                continue;
            }
            if self.is_expired(ch, now) || self.is_flushed(ch, now) {
                bump!(cc, reclaimed);
                if st & FETCHED == 0 {
                    bump!(cc, expired_unfetched);
                }
                self.unlink_in_list(&s, hv, h, id, &mut l);
                return true;
            }
            if !evict {
                h = prev;
                continue;
            }
            bump!(cc, evicted);
            if ch.exptime() != 0 {
                bump!(cc, evicted_nonzero);
            }
            if st & FETCHED == 0 {
                bump!(cc, evicted_unfetched);
            }
            if st & ACTIVE != 0 {
                bump!(cc, evicted_active);
            }
            self.evicted_time[class as usize].store(now.saturating_sub(ch.time()), Relaxed);
            self.unlink_in_list(&s, hv, h, id, &mut l);
            drop(l);
            if self.automove.load(Relaxed) == 2 {
                self.request_reassign(-1, class);
            }
            return true;
        }
        false
    }

    /// Pushes HOT's tail (WARM's when HOT is empty) down, up to 64 moves, until an item
    /// lands in COLD. With `demote` active items go to COLD too. True if anything moved.
    fn push_to_cold(&self, class: u8, demote: bool) -> bool {
        let mode = if demote {
            Juggle::Demote
        } else {
            Juggle::Pressure
        };
        let cold = &self.lrus[class as usize].lists[COLD].count;
        let before = cold.load(Relaxed);
        for n in 0..64 {
            if !(self.juggle_tail(class, HOT, mode) || self.juggle_tail(class, WARM, mode)) {
                return n > 0;
            }
            if cold.load(Relaxed) != before {
                break;
            }
        }
        true
    }

    /// The maintainer's COLD step once the class is full: an item hit twice while in COLD
    /// goes to WARM when it reaches COLD's tail (memcached's non-evicting COLD pull).
    /// True if an item moved.
    pub(crate) fn promote_cold_tail(&self, class: u8) -> bool {
        let cl = &self.lrus[class as usize];
        if !cl.is_full() || !self.segmented.load(Relaxed) {
            return false;
        }
        let mut l = cl.lock(COLD);
        let h = l.tail;
        if h == NIL {
            return false;
        }
        let ch = self.slabs.chunk(h);
        if ch.state().load(Relaxed) & ACTIVE == 0 {
            return false;
        }
        let hv = murmur3_32(self.key(ch), 0);
        let Some(_s) = self.hash.try_lock(hv) else {
            return false;
        };
        let size = self.item_size(ch) as u64;
        lru::unlink(&self.slabs, &cl.lists[COLD], &mut l, h, size);
        drop(l);
        ch.state().fetch_and(!ACTIVE, Relaxed);
        let mut w = cl.lock(WARM);
        lru::link_head(&self.slabs, &cl.lists[WARM], &mut w, WARM, h, size);
        bump!(self.ccount(class), moves_to_warm);
        true
    }

    /// Moves the tail item of HOT or WARM down: to COLD, or to WARM's head if it is active
    /// (rescued), as `mode` says. True if an item moved.
    pub(crate) fn juggle_tail(&self, class: u8, id: usize, mode: Juggle) -> bool {
        let cl = &self.lrus[class as usize];
        let cc = self.ccount(class);
        let now = self.now();
        // Read COLD's tail age before taking this list's lock: never hold two LRU locks.
        let cold_age = cl
            .lock_peek_tail_time(COLD, &self.slabs)
            .map(|t| now.saturating_sub(t))
            .unwrap_or(0);
        let mut l = cl.lock(id);
        let h = l.tail;
        if h == NIL {
            return false;
        }
        let ch = self.slabs.chunk(h);
        if mode == Juggle::Limits {
            if !cl.is_full() {
                // Nothing is evicted from this class yet: re-sorting it would be wasted work.
                return false;
            }
            let total: u64 = cl.lists.iter().map(|x| x.bytes.load(Relaxed)).sum();
            let pct = if id == HOT {
                self.live.hot_lru_pct()
            } else {
                self.live.warm_lru_pct()
            };
            let over = cl.lists[id].bytes.load(Relaxed) > total * u64::from(pct) / 100;
            let factor = if id == HOT {
                self.live.hot_max_factor()
            } else {
                self.live.warm_max_factor()
            };
            let age = now.saturating_sub(ch.time());
            let old = f64::from(age) > f64::from(cold_age) * factor;
            let active = ch.state().load(Relaxed) & ACTIVE != 0;
            if !over && !old && !active {
                return false;
            }
        }
        let key = self.key(ch);
        let hv = murmur3_32(key, 0);
        let Some(_s) = self.hash.try_lock(hv) else {
            return false;
        };
        let st = ch.state();
        let active = st.load(Relaxed) & ACTIVE != 0;
        let size = self.item_size(ch) as u64;
        lru::unlink(&self.slabs, &cl.lists[id], &mut l, h, size);
        drop(l);
        if active && mode == Juggle::Demote {
            st.fetch_and(!ACTIVE, Relaxed);
        }
        let to = if active && mode != Juggle::Demote {
            st.fetch_and(!ACTIVE, Relaxed);
            if id == WARM {
                bump!(cc, moves_within_lru);
            } else {
                bump!(cc, moves_to_warm);
            }
            WARM
        } else {
            bump!(cc, moves_to_cold);
            COLD
        };
        let mut l = cl.lock(to);
        lru::link_head(&self.slabs, &cl.lists[to], &mut l, to, h, size);
        true
    }

    pub(crate) fn request_reassign(&self, src: i32, dst: u8) {
        let mut s = self.signal.lock().unwrap_or_else(|e| e.into_inner());
        if s.reassign.is_none() {
            s.reassign = Some((src, dst));
            self.wake.notify_all();
        }
    }

    /// Allocates the chunks of a new item and writes its header and key; the value is
    /// filled by the caller. `None` if there is no memory.
    pub(crate) fn alloc_item(
        &self,
        key: &[u8],
        flags: u32,
        exptime: u32,
        nbytes: usize,
    ) -> Option<(OwnedChunk, Vec<OwnedChunk>)> {
        let hdr = self.slabs.hdr();
        let cf = if flags != 0 { 4 } else { 0 };
        let inline = hdr + cf + key.len() + nbytes;
        let (mut head, data) = if let Some(class) = self.slabs.class_for(inline) {
            let mut c = self.alloc_chunk(class, inline)?;
            c.init_item(key.len(), nbytes, None);
            (c, Vec::new())
        } else {
            let cap = self.data_cap();
            let n = nbytes.div_ceil(cap);
            let chain_off = (hdr + cf + key.len()).div_ceil(4) * 4;
            let head_size = chain_off + 8 + 4 * n;
            let class = self.slabs.class_for(head_size)?;
            let mut data = Vec::with_capacity(n);
            let mut left = nbytes;
            for _ in 0..n {
                let part = left.min(cap);
                left -= part;
                let dclass = self
                    .slabs
                    .class_for(part + DATA_HDR)
                    .unwrap_or(self.slabs.largest());
                match self.alloc_chunk(dclass, part + DATA_HDR) {
                    Some(d) => {
                        d.view().state().store(DATA, Relaxed);
                        data.push(d);
                    }
                    None => {
                        let mut left2 = nbytes;
                        for d in data {
                            let p = left2.min(cap);
                            left2 -= p;
                            self.slabs.free_owned(d, p + DATA_HDR);
                        }
                        return None;
                    }
                }
            }
            let Some(mut c) = self.alloc_chunk(class, head_size) else {
                let mut left2 = nbytes;
                for d in data {
                    let p = left2.min(cap);
                    left2 -= p;
                    self.slabs.free_owned(d, p + DATA_HDR);
                }
                return None;
            };
            c.init_item(key.len(), 0, None);
            let mut table = Vec::with_capacity(8 + 4 * n);
            table.extend_from_slice(&(nbytes as u32).to_ne_bytes());
            table.extend_from_slice(&(n as u32).to_ne_bytes());
            for d in &data {
                table.extend_from_slice(&d.handle().to_ne_bytes());
            }
            c.bytes_mut(chain_off, table.len()).copy_from_slice(&table);
            c.view().state().fetch_or(CHUNKED, Relaxed);
            for d in &data {
                d.view().set_h_next(c.handle());
            }
            (c, data)
        };
        let v = head.view();
        v.set_exptime(exptime);
        if flags != 0 {
            v.state().fetch_or(CFLAGS, Relaxed);
            head.bytes_mut(hdr, 4).copy_from_slice(&flags.to_ne_bytes());
        }
        head.bytes_mut(hdr + cf, key.len()).copy_from_slice(key);
        Some((head, data))
    }

    /// memcached's item size limit: its own header arithmetic, so the same values are
    /// accepted and refused at the `-I` boundary.
    pub(crate) fn too_large(&self, nkey: usize, flags: u32, nbytes: usize) -> bool {
        let cas = if self.cfg.cas_enabled { 8 } else { 0 };
        let size = 48 + cas + nkey + 1 + if flags != 0 { 4 } else { 0 } + nbytes + 2;
        size as u64 > self.cfg.item_size_max || nkey > KEY_MAX || nkey == 0
    }

    /// Drops the item with `key`, if any (a refused `set` must not leave stale data).
    pub(crate) fn unlink_key(&self, key: &[u8]) {
        let hv = murmur3_32(key, 0);
        let s = self.hash.lock(hv);
        let h = self.find(&s, hv, key);
        if h != NIL {
            self.unlink(&s, hv, h);
        }
    }
}

impl Engine {
    /// A reference to the item in chunk `h` if it is linked and live at `now` (walkers
    /// that found the chunk by address: metadump, [`Engine::for_each_item`]).
    pub(crate) fn live_ref(&self, h: u32, now: u32) -> Option<ItemRef> {
        let inner = &self.inner;
        if !inner.try_ref_linked(h) {
            return None;
        }
        let ch = inner.slabs.chunk(h);
        if inner.is_expired(ch, now) || inner.is_flushed(ch, now) {
            inner.decref(h);
            return None;
        }
        let fetched = ch.state().load(Relaxed) & FETCHED != 0;
        Some(ItemRef::new(inner.pin(), h, fetched))
    }

    /// Builds an engine from a validated configuration and starts its background threads
    /// (unless `config.background_threads` is false).
    pub fn new(config: EngineConfig) -> Engine {
        let slabs = match &config.slab_sizes {
            Some(list) => Slabs::with_sizes(
                config.memory_limit,
                list,
                config.slab_page_size,
                config.slab_chunk_max,
                config.cas_enabled,
                config.preallocate,
            ),
            None => Slabs::new(
                config.memory_limit,
                config.chunk_size,
                config.growth_factor,
                config.slab_page_size,
                config.slab_chunk_max,
                config.cas_enabled,
                config.preallocate,
            ),
        };
        let classes = slabs.class_count() + 1;
        let power = config.effective_hashpower();
        let inner = Inner {
            hash: HashTables::new(power, 12),
            lrus: (0..classes).map(|_| ClassLru::new()).collect(),
            clock: Clock::new(),
            cas_next: AtomicU64::new(1),
            oldest_live: AtomicU32::new(0),
            oldest_cas: AtomicU64::new(0),
            segmented: AtomicBool::new(config.lru_segmented && config.lru_maintainer),
            automove: AtomicU8::new(config.slab_automove),
            g: (0..SHARDS).map(|_| GlobalCounters::default()).collect(),
            c: (0..classes * SHARDS)
                .map(|_| ClassCounters::default())
                .collect(),
            bg: BackgroundCounters::default(),
            evicted_time: (0..classes).map(|_| AtomicU32::new(0)).collect(),
            signal: Mutex::new(Signals::default()),
            wake: Condvar::new(),
            stop: AtomicBool::new(false),
            reassign_running: AtomicBool::new(false),
            crawler_running: AtomicBool::new(false),
            slabs,
            live: Live::new(&config),
            cfg: config,
        };
        let inner = Anchor::new(inner);
        let threads = if inner.cfg.background_threads {
            crate::maint::start(&inner)
        } else {
            Vec::new()
        };
        Engine {
            inner,
            threads: Mutex::new(threads),
        }
    }

    /// The configuration the engine runs with.
    pub fn config(&self) -> &EngineConfig {
        &self.inner.cfg
    }

    // ---- clock ---------------------------------------------------------------------------

    /// Re-reads the monotonic clock (call once a second).
    pub fn tick(&self) {
        self.inner.clock.tick();
    }
    /// Moves the clock forward by hand (tests).
    pub fn advance_clock(&self, secs: u32) {
        self.inner.clock.advance(secs);
    }
    /// Current relative time (memcached's `current_time`).
    pub fn current_time(&self) -> u32 {
        self.inner.clock.now()
    }
    /// `stats uptime`.
    pub fn uptime(&self) -> u32 {
        self.inner.clock.uptime()
    }
    /// `stats time`.
    pub fn unix_time(&self) -> i64 {
        self.inner.clock.unix_time()
    }
    /// Unix time of relative time 0 (to turn relative times into absolute ones).
    pub fn process_started(&self) -> i64 {
        self.inner.clock.process_started()
    }
    /// Converts a client exptime to relative time (memcached's `realtime`).
    pub fn realtime(&self, exptime: i64) -> u32 {
        self.inner.clock.realtime(exptime)
    }

    // ---- retrieval ---------------------------------------------------------------------------

    fn fetch(&self, key: &[u8], f: Fetch) -> Option<ItemRef> {
        let inner = &self.inner;
        if key.is_empty() || key.len() > KEY_MAX {
            if f.count_get {
                bump!(inner.g, get_misses);
            }
            return None;
        }
        let hv = murmur3_32(key, 0);
        let s = inner.hash.lock(hv);
        let (h, ch, class) = inner.get_locked_ch(&s, hv, key, f)?;
        let was = ch.state().load(Relaxed);
        drop(s);
        if f.count_get {
            bump!(inner.ccount(class), get_hits);
        }
        Some(ItemRef::new(self.inner.pin(), h, was & FETCHED != 0))
    }

    /// Hints that `key` is looked up soon (a multi-key get walking its keys): starts
    /// loading its stripe lock and hash bucket into the cache. [`Engine::prefetch_item`]
    /// on the same key a little later goes one step further; then look it up.
    pub fn prefetch_bucket(&self, key: &[u8]) {
        self.inner.hash.prefetch(murmur3_32(key, 0));
    }

    /// Second step of [`Engine::prefetch_bucket`]: starts loading the header and key of
    /// the first item in the key's hash chain (nothing if its stripe lock is busy).
    pub fn prefetch_item(&self, key: &[u8]) {
        self.inner.prefetch_item(murmur3_32(key, 0));
    }

    /// `get`/`gets` of one key: counts `cmd_get` and a hit or miss, bumps the item in its
    /// LRU, returns a reference to it.
    pub fn get(&self, key: &[u8]) -> Option<ItemRef> {
        bump!(self.inner.g, cmd_get);
        self.fetch(
            key,
            Fetch {
                bump: true,
                touch: None,
                count_get: true,
            },
        )
    }

    /// Looks a key up without counting or bumping (meta `u` flag, internal use).
    pub fn peek(&self, key: &[u8]) -> Option<ItemRef> {
        self.fetch(
            key,
            Fetch {
                bump: false,
                touch: None,
                count_get: false,
            },
        )
    }

    /// `gat`/`gats` of one key: sets the new exptime on a hit and counts as a touch.
    pub fn gat(&self, key: &[u8], exptime: i64) -> Option<ItemRef> {
        let inner = &self.inner;
        bump!(inner.g, cmd_touch);
        let e = inner.clock.realtime(exptime);
        let r = self.fetch(
            key,
            Fetch {
                bump: true,
                touch: Some(e),
                count_get: false,
            },
        );
        match &r {
            Some(it) => {
                bump!(inner.ccount(it.slab_class()), touch_hits);
            }
            None => {
                bump!(inner.g, touch_misses);
            }
        }
        r
    }

    /// `touch`: sets a new exptime; true = `TOUCHED`, false = `NOT_FOUND`. CAS unchanged.
    pub fn touch(&self, key: &[u8], exptime: i64) -> bool {
        self.gat(key, exptime).is_some()
    }

    // ---- storage -----------------------------------------------------------------------------

    /// Phase one of a store: checks the size, allocates the item's memory and writes its
    /// header and key. The caller then fills the value through the [`ItemWriter`] and calls
    /// [`Engine::commit`]. On `Err` with [`StoreMode::Set`] the old item with that key has
    /// been unlinked (memcached does the same). `exptime` is the client's raw value.
    pub fn alloc(
        &self,
        mode: StoreMode,
        key: &[u8],
        flags: u32,
        exptime: i64,
        nbytes: usize,
    ) -> Result<ItemWriter, StoreError> {
        let inner = &self.inner;
        if inner.too_large(key.len(), flags, nbytes) {
            bump!(inner.g, store_too_large);
            if mode == StoreMode::Set && !key.is_empty() && key.len() <= KEY_MAX {
                inner.unlink_key(key);
            }
            return Err(StoreError::TooLarge);
        }
        let e = inner.clock.realtime(exptime);
        match inner.alloc_item(key, flags, e, nbytes) {
            Some((head, data)) => {
                let class = head.class();
                bump!(inner.ccount(class), cmd_set);
                Ok(ItemWriter::new(self.inner.pin(), mode, head, data, nbytes))
            }
            None => {
                bump!(inner.g, store_no_memory);
                if mode == StoreMode::Set {
                    inner.unlink_key(key);
                }
                Err(StoreError::OutOfMemory)
            }
        }
    }

    /// Phase two of a store: links the filled item according to its mode.
    /// Panics if the value was not completely written ([`ItemWriter::is_complete`]).
    pub fn commit(&self, w: ItemWriter) -> StoreResult {
        assert!(w.is_complete(), "commit of an incomplete item");
        crate::store::commit(&self.inner, w)
    }

    /// One-shot store: [`Engine::alloc`] + copy + [`Engine::commit`]. A value of 1 KB or
    /// more is copied while the key's lock, bucket and old item load, which the lookup at
    /// commit would otherwise wait on one after another.
    pub fn store(
        &self,
        mode: StoreMode,
        key: &[u8],
        flags: u32,
        exptime: i64,
        value: &[u8],
    ) -> Result<StoreResult, StoreError> {
        let hint = (value.len() >= PREFETCH_VALUE_MIN).then(|| murmur3_32(key, 0));
        if let Some(hv) = hint {
            self.inner.hash.prefetch(hv);
        }
        let mut w = self.alloc(mode, key, flags, exptime, value.len())?;
        match hint {
            Some(hv) => {
                // Halfway through the copy the bucket has arrived: start on the old item.
                let (first, second) = value.split_at(value.len() / 2);
                w.write_all(first);
                self.inner.prefetch_item(hv);
                w.write_all(second);
            }
            None => w.write_all(value),
        }
        Ok(self.commit(w))
    }

    /// `incr`/`decr` with memcached's rules; `cas` (meta/binary) must match when non-zero.
    pub fn incr_decr(
        &self,
        key: &[u8],
        delta: u64,
        incr: bool,
        cas: u64,
    ) -> Result<DeltaResult, DeltaError> {
        crate::store::incr_decr(&self.inner, key, delta, incr, cas)
    }

    /// `delete`; `cas` (meta/binary) must match when non-zero.
    pub fn delete(&self, key: &[u8], cas: u64) -> DeleteResult {
        crate::store::delete(&self.inner, key, cas)
    }

    /// `flush_all [delay]`: items last stored or touched before the flush point are gone.
    /// A delay ≤ 0 flushes now; a positive one follows the exptime rules.
    pub fn flush_all(&self, delay: i64) {
        let inner = &self.inner;
        bump!(inner.g, cmd_flush);
        let now = inner.now();
        let at = if delay > 0 {
            inner.clock.realtime(delay)
        } else {
            now
        };
        if inner.cfg.cas_enabled {
            // The second before the flush point, plus every CAS id issued so far: items
            // stored later in the flush's own second survive.
            let ol = at.saturating_sub(1).max(1);
            inner.oldest_live.store(ol, Relaxed);
            let cas_now = if ol <= now {
                inner.cas_next.load(Relaxed)
            } else {
                0
            };
            inner.oldest_cas.store(cas_now, Relaxed);
        } else {
            // Without CAS ids memcached cannot tell apart items of the flush's second, so
            // everything stored up to and including that second counts as flushed.
            inner.oldest_live.store(at.max(1), Relaxed);
            inner.oldest_cas.store(0, Relaxed);
        }
    }

    /// `stats settings oldest`: the flush point (0 = none).
    pub fn oldest_live(&self) -> u32 {
        self.inner.oldest_live.load(Relaxed)
    }

    /// `cache_memlimit <mb>` with memcached's checks.
    pub fn set_memory_limit_mb(&self, mb: u64) -> Result<(), MemLimitError> {
        if mb < 8 {
            return Err(MemLimitError::TooSmall);
        }
        if mb > 1_000_000_000 {
            return Err(MemLimitError::NotMegabytes);
        }
        if self.inner.cfg.preallocate {
            return Err(MemLimitError::Preallocated);
        }
        self.inner.slabs.set_limit(mb * MIB);
        Ok(())
    }

    /// Current memory limit in bytes (`limit_maxbytes`).
    pub fn memory_limit(&self) -> u64 {
        self.inner.slabs.limit()
    }

    /// `lru mode flat|segmented`.
    pub fn set_lru_segmented(&self, on: bool) {
        self.inner.segmented.store(on, Relaxed);
    }

    /// `lru tune <hot_pct> <warm_pct> <hot_max_factor> <warm_max_factor>`: the share of a
    /// class's bytes HOT and WARM may hold and their age limits (multiples of COLD's tail
    /// age), used by the maintainer from its next pass. False, and nothing changes, when
    /// the percentages add up to more than 80 or a factor is 0 or less (memcached's
    /// checks; the server sends its messages).
    pub fn set_lru_tune(
        &self,
        hot_pct: u32,
        warm_pct: u32,
        hot_factor: f64,
        warm_factor: f64,
    ) -> bool {
        // memcached's tests, word for word: a NaN factor passes them (and then moves nothing
        // by age, since every comparison with it is false).
        let factors_bad = hot_factor <= 0.0 || warm_factor <= 0.0;
        if u64::from(hot_pct) + u64::from(warm_pct) > 80 || factors_bad {
            return false;
        }
        self.inner
            .live
            .set_lru_tune(hot_pct, warm_pct, hot_factor, warm_factor);
        true
    }

    /// `lru temp_ttl <ttl>`: items stored from now on with a TTL up to `Some(ttl)` seconds
    /// go to the TEMP LRU; `None` (a negative TTL) turns the TEMP LRU off and keeps the last
    /// TTL for `stats settings`, as memcached does. Items already in TEMP are still reaped by
    /// the maintainer. False, and nothing changes, without the LRU maintainer (memcached
    /// only accepts the command with it).
    pub fn set_temp_ttl(&self, ttl: Option<u32>) -> bool {
        if !self.inner.cfg.lru_maintainer {
            return false;
        }
        self.inner.live.set_temp_ttl(ttl);
        true
    }

    /// `lru_crawler enable|disable`: whether the crawler runs (its automatic crawls and
    /// `lru_crawler crawl`). False when it already was in that state (memcached's `enable`
    /// then fails to start its thread; its `disable` still replies OK). Needs background
    /// threads to crawl on its own.
    pub fn set_lru_crawler(&self, on: bool) -> bool {
        self.inner.live.set_lru_crawler(on)
    }

    /// `lru_crawler sleep <us>`: the crawler's pause every 1000 items. False (nothing
    /// changes) above one second, memcached's limit.
    pub fn set_lru_crawler_sleep(&self, us: u32) -> bool {
        if us > 1_000_000 {
            return false;
        }
        self.inner.live.set_lru_crawler_sleep(us);
        true
    }

    /// `lru_crawler tocrawl <n>`: items checked per class per crawl, 0 = all; read at the
    /// start of each crawl.
    pub fn set_lru_crawler_tocrawl(&self, n: u32) {
        self.inner.live.set_lru_crawler_tocrawl(n);
    }

    /// `slabs automove ratio <r>`: automove moves a page to the evicting class with the
    /// youngest COLD tail when its age is below the oldest one's × `r` (memcached stores any
    /// number it parses; so does this).
    pub fn set_slab_automove_ratio(&self, ratio: f64) {
        self.inner.live.set_slab_automove_ratio(ratio);
    }

    /// The run-time tunables' current values (`stats settings`).
    pub fn tunables(&self) -> Tunables {
        self.inner.live.snapshot()
    }

    /// `slabs automove 0|1|2`; false (memcached replies `ERROR`) for other numbers.
    pub fn set_slab_automove(&self, mode: u8) -> bool {
        if mode > 2 {
            return false;
        }
        self.inner.automove.store(mode, Relaxed);
        true
    }

    /// `slabs reassign <src> <dst>`: queues a page move (src -1 = any class with a spare
    /// page, dst 0 = the global pool). The move runs on the rebalancer thread, or in
    /// [`Engine::run_maintenance`] without background threads.
    pub fn slabs_reassign(&self, src: i32, dst: i32) -> Result<(), ReassignError> {
        crate::maint::check_reassign(&self.inner, src, dst)?;
        let mut s = self.inner.signal.lock().unwrap_or_else(|e| e.into_inner());
        if s.reassign.is_some() || self.inner.reassign_running.load(Relaxed) {
            return Err(ReassignError::Busy);
        }
        s.reassign = Some((src, dst as u8));
        self.inner.wake.notify_all();
        Ok(())
    }

    /// `lru_crawler crawl <classes|all>`; `None` = all classes.
    pub fn lru_crawler_crawl(&self, classes: Option<&[u8]>) -> Result<(), CrawlError> {
        let inner = &self.inner;
        if !inner.live.lru_crawler() {
            return Err(CrawlError::Disabled);
        }
        let n = inner.slabs.class_count() as u8;
        let list: Vec<u8> = match classes {
            Some(c) => {
                if c.iter().any(|&x| x == 0 || x > n) {
                    return Err(CrawlError::BadClass);
                }
                c.to_vec()
            }
            None => (1..=n).collect(),
        };
        let mut s = inner.signal.lock().unwrap_or_else(|e| e.into_inner());
        if s.crawl.is_some() || inner.crawler_running.load(Relaxed) {
            return Err(CrawlError::Busy);
        }
        s.crawl = Some(list);
        inner.wake.notify_all();
        Ok(())
    }

    /// Runs one round of every background task on the calling thread: LRU juggling, a full
    /// crawl (while the crawler is enabled), any queued page move, and a complete hash table expansion if one is due. For
    /// tests and for engines started without background threads.
    pub fn run_maintenance(&self) {
        crate::maint::run_once(&self.inner);
    }

    /// Stops and joins the background threads. Idempotent; also runs on drop.
    pub fn shutdown(&self) {
        self.inner.stop.store(true, Relaxed);
        {
            let _s = self.inner.signal.lock().unwrap_or_else(|e| e.into_inner());
            self.inner.wake.notify_all();
        }
        let threads = std::mem::take(&mut *self.threads.lock().unwrap_or_else(|e| e.into_inner()));
        for t in threads {
            let _ = t.join();
        }
    }

    /// Total items linked now.
    pub fn curr_items(&self) -> u64 {
        self.inner.lrus.iter().map(|l| l.count()).sum()
    }

    /// Bytes of page memory allocated (`total_malloced`).
    pub fn total_malloced(&self) -> u64 {
        self.inner.slabs.malloced()
    }

    /// Bytes of the hash table's bucket arrays (`hash_bytes`).
    pub fn hash_bytes(&self) -> u64 {
        self.inner.hash.bytes()
    }

    /// The engine's own structures per item beyond chunks and buckets are constant; this
    /// reports the item header size in bytes (28, plus 8 with CAS).
    pub fn item_header_size(&self) -> usize {
        self.inner.slabs.hdr()
    }

    /// Chunk size of slab class `class` (1-based), if it exists.
    pub fn slab_chunk_size(&self, class: u8) -> Option<u32> {
        let n = self.inner.slabs.class_count() as u8;
        (class >= 1 && class <= n).then(|| self.inner.slabs.size(class))
    }

    /// The slab class an item of `key_len`/`flags`/`nbytes` goes to (None if chained).
    pub fn slab_class_for(&self, key_len: usize, flags: u32, nbytes: usize) -> Option<u8> {
        let s = self.inner.slabs.hdr() + if flags != 0 { 4 } else { 0 } + key_len + nbytes;
        self.inner.slabs.class_for(s)
    }
}

impl Engine {
    /// Calls `f` with a reference to every live item of the given classes (`None` = all),
    /// walking slab pages (for `lru_crawler metadump`). Expired and flushed items are
    /// skipped. Items stored during the walk may or may not be seen.
    pub fn for_each_item(&self, classes: Option<&[u8]>, mut f: impl FnMut(&ItemRef)) {
        let inner = &self.inner;
        let n = inner.slabs.class_count() as u8;
        let all: Vec<u8> = (1..=n).collect();
        for &class in classes.unwrap_or(&all) {
            if class == 0 || class > n {
                continue;
            }
            for page in inner.slabs.class_pages(class) {
                let mut refs = Vec::new();
                {
                    let _walk = inner.slabs.walk_guard();
                    if inner.slabs.page_class(page) != class {
                        continue;
                    }
                    let now = inner.now();
                    refs.extend(
                        inner
                            .slabs
                            .page_handles(page)
                            .filter_map(|h| self.live_ref(h, now)),
                    );
                }
                // Call back outside the walk lock: `f` may be slow (writing to a client).
                refs.iter().for_each(&mut f);
            }
        }
    }

    /// `stats cachedump <class> <limit>`: (key, value bytes, exptime as Unix time or 0) for
    /// up to `limit` items (0 = no limit) from the COLD LRU of `class`, head first, as
    /// memcached walks it. Items with a binary (meta base64) key are skipped and not
    /// counted, as in memcached. None for a class id out of range.
    pub fn cachedump(&self, class: u8, limit: usize) -> Option<Vec<(Vec<u8>, usize, i64)>> {
        let inner = &self.inner;
        if class == 0 || class as usize > inner.slabs.class_count() {
            return None;
        }
        let cl = &inner.lrus[class as usize];
        let l = cl.lock(COLD);
        let mut out = Vec::new();
        let mut h = l.head;
        let started = inner.clock.process_started();
        while h != NIL && (limit == 0 || out.len() < limit) {
            let ch = inner.slabs.chunk(h);
            if ch.state().load(Relaxed) & KEY_BINARY == 0 {
                let e = ch.exptime();
                let abs = if e == 0 { 0 } else { started + i64::from(e) };
                out.push((inner.key(ch).to_vec(), inner.value_len(ch), abs));
            }
            h = ch.next();
        }
        Some(out)
    }

    /// Meta `md <key> I`: instead of deleting, marks the item stale with a new CAS (and a
    /// new exptime if given) and clears its win token. `cas` must match when non-zero.
    pub fn mark_stale(&self, key: &[u8], cas: u64, exptime: Option<i64>) -> DeleteResult {
        crate::store::mark_stale(&self.inner, key, cas, exptime)
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        self.shutdown();
    }
}

impl lru::ClassLru {
    /// Last-access time of the tail item of `id`, if any.
    pub(crate) fn lock_peek_tail_time(&self, id: usize, slabs: &Slabs) -> Option<u32> {
        let l = self.lock(id);
        (l.tail != NIL).then(|| slabs.chunk(l.tail).time())
    }
}

#[cfg(test)]
mod chain_tests {
    use super::*;

    #[test]
    fn chains_stay_short() {
        let e = Engine::new(EngineConfig {
            background_threads: false,
            ..EngineConfig::default()
        });
        let keys: Vec<Vec<u8>> = (0..10_000)
            .map(|i| format!("bench:key:{i:08}").into_bytes())
            .collect();
        for _ in 0..3 {
            for k in &keys {
                e.store(StoreMode::Set, k, 0, 0, b"v").unwrap();
            }
        }
        let inner = &e.inner;
        let mut longest = 0;
        let mut total = 0;
        for k in &keys {
            let hv = murmur3_32(k, 0);
            let s = inner.hash.lock(hv);
            let mut h = s.bucket(hv).load(Relaxed);
            let mut n = 0;
            while h != NIL {
                n += 1;
                h = inner.slabs.chunk(h).h_next();
            }
            longest = longest.max(n);
            total += n;
        }
        assert!(longest <= 8, "longest chain {longest}, total {total}");
    }
}
