//! The slab allocator: pages, slab classes, chunk handles and free lists. This module holds
//! all of the crate's `unsafe` code (in [`pages`] and [`chunk`]).
//!
//! **Page rule** (kept from memcached on purpose, memcached issue #1025): a class takes a new
//! page from the global pool if it has one, else allocates one while the total stays within
//! the memory limit; a class that has no page at all may take its first page even past the
//! limit, so that every item size stays storable. The overshoot is bounded by one page per
//! class. `-L` allocates all pages into the global pool at start.
//!
//! **Lazy cutting.** A page fresh from the OS is cut one chunk at a time, as its class
//! allocates (after its free list is empty), instead of writing a free-list link into
//! every chunk up front: the untouched tail stays zero pages the kernel has not backed, so
//! RSS grows with the chunks in use, not by whole pages (up to 1 MB per class; ~1 B per
//! item for 1M items of 132 B). A page's cut count (in the page table) bounds the chunks
//! page walkers look at. Pages from the pool or moved between classes were touched before
//! (or may hold stale headers) and are cut whole at once.

mod anchor;
mod chunk;
mod pages;
mod prefetch;
mod table;

pub use anchor::{Anchor, Pin};
pub use chunk::*;
pub use prefetch::prefetch;
pub use table::{HashTables, Stripe};

use pages::PageTable;
use std::sync::atomic::{AtomicU64, Ordering::*};
use std::sync::Mutex;

/// The "no chunk" handle.
pub const NIL: u32 = u32::MAX;
/// Hard cap on slab classes (memcached's MAX_NUMBER_OF_SLAB_CLASSES - 1).
pub const MAX_CLASSES: usize = 63;

/// Per-class allocation state, guarded by the class's slab lock.
struct ClassFree {
    head: u32,
    free: u64,
    pages: Vec<u32>,
    /// Page being emptied by the rebalancer: its chunks are not handed out again.
    draining: Option<u32>,
    /// Chunks of `draining` that are free (off the free list).
    drained: u64,
    /// The page being cut lazily and how many of its chunks are cut.
    fresh: Option<(u32, u32)>,
}

struct ClassSlab {
    size: u32,
    perslab: u32,
    lock: Mutex<ClassFree>,
    /// `mem_requested`; written only while `lock` is held, read without it.
    requested: AtomicU64,
}

struct Global {
    malloced: u64,
    limit: u64,
    pool: Vec<u32>,
    spare_ids: Vec<u32>,
    next_id: u32,
}

/// Slab classes and their pages.
pub struct Slabs {
    table: PageTable,
    classes: Vec<ClassSlab>,
    global: Mutex<Global>,
    page_size: u32,
    chunk_bits: u32,
    max_pages: u32,
    hdr: usize,
    pool_pages: AtomicU64,
    malloc_fails: AtomicU64,
    /// Held by page walkers (crawler, rebalancer) and by whoever re-cuts or frees a page.
    walk: Mutex<()>,
}

/// Counts for `stats slabs` of one class.
#[derive(Clone, Copy, Debug, Default)]
pub struct ClassUsage {
    /// Pages owned.
    pub pages: u64,
    /// Chunks on the free list.
    pub free: u64,
    /// Bytes requested by the items stored.
    pub requested: u64,
}

impl Slabs {
    /// Builds the classes memcached's way, with the alignment and base explained in
    /// [`chunk`]'s module doc: the first holds the whole item header (CAS included when
    /// enabled) plus `chunk_size` bytes (`-n`: key + value + flags), rounded up to
    /// [`CHUNK_ALIGN`]; each next one is the previous × `factor`, rounded up to
    /// [`CHUNK_ALIGN`], while below `chunk_max / factor`; the last is exactly `chunk_max`.
    pub fn new(
        limit: u64,
        chunk_size: u32,
        factor: f64,
        page_size: u32,
        chunk_max: u32,
        cas: bool,
        preallocate: bool,
    ) -> Slabs {
        let hdr = HDR_BASE + if cas { CAS_SIZE } else { 0 };
        let mut sizes = Vec::new();
        let mut size = (hdr as u32).saturating_add(chunk_size);
        while sizes.len() < MAX_CLASSES - 1 && f64::from(size) <= f64::from(chunk_max) / factor {
            size = size.div_ceil(CHUNK_ALIGN) * CHUNK_ALIGN;
            sizes.push(size);
            size = (f64::from(size) * factor) as u32;
        }
        Slabs::build(limit, sizes, page_size, chunk_max, cas, preallocate)
    }

    /// Builds the classes from an explicit list (`-o slab_sizes`, checked by
    /// [`crate::config::check_slab_sizes`]), as memcached does: each size rounded up to
    /// [`CHUNK_ALIGN`] (memcached: 8), then a last class of exactly `chunk_max`. A size below
    /// the fixed header ([`HDR_BASE`], possible only with a tiny `-n`) could never hold an
    /// item; it is raised to the header so page walkers reading a chunk's state word stay
    /// inside the chunk.
    pub fn with_sizes(
        limit: u64,
        list: &[u32],
        page_size: u32,
        chunk_max: u32,
        cas: bool,
        preallocate: bool,
    ) -> Slabs {
        let sizes = list
            .iter()
            .take(MAX_CLASSES - 1)
            .map(|&s| {
                s.div_ceil(CHUNK_ALIGN)
                    .saturating_mul(CHUNK_ALIGN)
                    .max(HDR_BASE as u32)
            })
            .collect();
        Slabs::build(limit, sizes, page_size, chunk_max, cas, preallocate)
    }

    /// The classes `sizes` (ascending multiples of [`CHUNK_ALIGN`]) plus the `chunk_max` one.
    fn build(
        limit: u64,
        mut sizes: Vec<u32>,
        page_size: u32,
        chunk_max: u32,
        cas: bool,
        preallocate: bool,
    ) -> Slabs {
        let hdr = HDR_BASE + if cas { CAS_SIZE } else { 0 };
        // A multiple of CHUNK_ALIGN that can hold a header, so every chunk stays aligned
        // and in bounds (unchanged for any valid `slab_chunk_max` of at least 64 bytes: it
        // divides the power-of-two page).
        let last = (chunk_max / CHUNK_ALIGN * CHUNK_ALIGN).max(hdr as u32 + CHUNK_ALIGN);
        for s in &mut sizes {
            // Keeps the list ascending when rounding pushed a size past an unaligned max.
            *s = (*s).min(last);
        }
        sizes.push(last);
        let min = sizes.iter().copied().min().unwrap_or(last).max(8);
        let max_chunks = (page_size / min).max(1);
        let chunk_bits = 32 - (max_chunks - 1).max(1).leading_zeros();
        let max_pages = ((1u64 << (32 - chunk_bits)) - 1) as u32;
        let mut classes = vec![ClassSlab {
            size: 0,
            perslab: 0,
            lock: Mutex::new(ClassFree::new()),
            requested: AtomicU64::new(0),
        }];
        for s in sizes {
            classes.push(ClassSlab {
                size: s,
                perslab: page_size / s,
                lock: Mutex::new(ClassFree::new()),
                requested: AtomicU64::new(0),
            });
        }
        let slabs = Slabs {
            table: PageTable::new(max_pages, page_size as usize),
            classes,
            global: Mutex::new(Global {
                malloced: 0,
                limit,
                pool: Vec::new(),
                spare_ids: Vec::new(),
                next_id: 0,
            }),
            page_size,
            chunk_bits,
            max_pages,
            hdr,
            pool_pages: AtomicU64::new(0),
            malloc_fails: AtomicU64::new(0),
            walk: Mutex::new(()),
        };
        if preallocate {
            let mut g = slabs.global.lock().unwrap();
            while g.malloced + u64::from(page_size) <= limit {
                match slabs.new_page(&mut g) {
                    Some(p) => {
                        g.pool.push(p);
                    }
                    None => break,
                }
            }
            slabs.pool_pages.store(g.pool.len() as u64, Relaxed);
        }
        slabs
    }

    /// Item header size (28, or 36 with CAS).
    #[inline]
    pub fn hdr(&self) -> usize {
        self.hdr
    }
    /// Number of classes (ids are 1..=n).
    pub fn class_count(&self) -> usize {
        self.classes.len() - 1
    }
    /// Chunk size of a class.
    #[inline]
    pub fn size(&self, class: u8) -> u32 {
        self.classes[class as usize].size
    }
    /// Chunks per page of a class.
    pub fn perslab(&self, class: u8) -> u32 {
        self.classes[class as usize].perslab
    }
    /// The largest class (chunk size `slab_chunk_max`).
    pub fn largest(&self) -> u8 {
        (self.classes.len() - 1) as u8
    }
    /// Smallest class holding `size` bytes, or None if above `slab_chunk_max`.
    #[inline]
    pub fn class_for(&self, size: usize) -> Option<u8> {
        // Binary search over the (sorted) chunk sizes.
        let sizes = &self.classes[1..];
        let i = sizes.partition_point(|c| (c.size as usize) < size);
        if i < sizes.len() {
            Some((i + 1) as u8)
        } else {
            None
        }
    }

    /// Shared view of the chunk behind a handle.
    #[inline]
    pub fn chunk(&self, h: u32) -> Chunk<'_> {
        let page = h >> self.chunk_bits;
        let idx = h & ((1 << self.chunk_bits) - 1);
        let (base, size) = self.table.base_and_size(page);
        debug_assert!(idx < self.classes[self.table.class(page) as usize].perslab);
        // Stays within the page: idx < perslab and perslab * size <= page_size.
        let ptr = base.as_ptr().wrapping_add(idx as usize * size as usize);
        Chunk::new(std::ptr::NonNull::new(ptr).expect("non-null"), size)
    }

    /// The class of the page holding `h`.
    #[inline]
    pub fn class_of(&self, h: u32) -> u8 {
        self.table.class(h >> self.chunk_bits)
    }

    /// The page holding `h`.
    #[inline]
    pub fn page_of(&self, h: u32) -> u32 {
        h >> self.chunk_bits
    }

    fn handle(&self, page: u32, idx: u32) -> u32 {
        (page << self.chunk_bits) | idx
    }

    fn new_page(&self, g: &mut Global) -> Option<u32> {
        let id = match g.spare_ids.pop() {
            Some(id) => id,
            None => {
                if g.next_id >= self.max_pages {
                    return None;
                }
                g.next_id += 1;
                g.next_id - 1
            }
        };
        if !self.table.alloc(id) {
            self.malloc_fails.fetch_add(1, Relaxed);
            g.spare_ids.push(id);
            return None;
        }
        g.malloced += u64::from(self.page_size);
        Some(id)
    }

    /// Cuts `page` into chunks of `class` and pushes them on the free list (chunk 0 first out).
    fn split(&self, c: &mut ClassFree, class: u8, page: u32) {
        // Walkers see no chunk of the page until every state word is rewritten.
        self.table
            .set_class(page, class, self.classes[class as usize].size, 0);
        let per = self.classes[class as usize].perslab;
        for idx in (0..per).rev() {
            let h = self.handle(page, idx);
            let ch = self.chunk(h);
            ch.state().store(FREE, Relaxed);
            ch.set_h_next(c.head);
            c.head = h;
        }
        self.table.set_cut(page, per);
        c.free += u64::from(per);
        c.pages.push(page);
    }

    /// Gives a page fresh from the OS to `class`, to be cut as chunks are needed.
    fn split_lazily(&self, c: &mut ClassFree, class: u8, page: u32) {
        debug_assert!(c.fresh.is_none());
        self.table
            .set_class(page, class, self.classes[class as usize].size, 0);
        c.fresh = Some((page, 0));
        c.free += u64::from(self.classes[class as usize].perslab);
        c.pages.push(page);
    }

    /// Cuts the next chunk of the class's lazily cut page (the caller checked there is one).
    fn cut_next(&self, c: &mut ClassFree, class: u8) -> u32 {
        let (page, idx) = c.fresh.expect("a page being cut");
        let h = self.handle(page, idx);
        // Initialised before walkers can see it (`set_cut` publishes with Release).
        self.chunk(h).state().store(0, Relaxed);
        self.table.set_cut(page, idx + 1);
        c.fresh = (idx + 1 < self.classes[class as usize].perslab).then_some((page, idx + 1));
        h
    }

    fn grow(&self, c: &mut ClassFree, class: u8) -> bool {
        let mut g = self.global.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(page) = g.pool.pop() {
            self.pool_pages.store(g.pool.len() as u64, Relaxed);
            drop(g);
            // A pooled page may have been cut for another class: `split` rewrites the state
            // word of every chunk at the new boundaries, which is all the rebalancer reads.
            self.split(c, class, page);
            true
        } else if g.malloced + u64::from(self.page_size) <= g.limit || c.pages.is_empty() {
            match self.new_page(&mut g) {
                Some(page) => {
                    drop(g);
                    self.split_lazily(c, class, page);
                    true
                }
                None => false,
            }
        } else {
            false
        }
    }

    /// Takes a free chunk of `class`, growing the class by a page if allowed.
    /// `requested` is the item size (for `mem_requested`).
    pub fn alloc(&self, class: u8, requested: usize) -> Option<OwnedChunk> {
        self.alloc_inner(class, requested, true)
    }

    /// Takes a free chunk of `class` without growing it (the rebalancer's rescues).
    pub fn alloc_no_grow(&self, class: u8, requested: usize) -> Option<OwnedChunk> {
        self.alloc_inner(class, requested, false)
    }

    fn alloc_inner(&self, class: u8, requested: usize, grow: bool) -> Option<OwnedChunk> {
        let cs = &self.classes[class as usize];
        let mut c = cs.lock.lock().unwrap_or_else(|e| e.into_inner());
        if c.head == NIL && c.fresh.is_none() && !(grow && self.grow(&mut c, class)) {
            return None;
        }
        // Reused chunks first: their memory is resident already.
        let h = if c.head != NIL {
            let h = c.head;
            c.head = self.chunk(h).h_next();
            h
        } else {
            self.cut_next(&mut c, class)
        };
        let ch = self.chunk(h);
        c.free -= 1;
        ch.state().store(0, Relaxed);
        // Written only under the class lock: load + store, no lock-prefixed RMW.
        let r = cs.requested.load(Relaxed);
        cs.requested.store(r + requested as u64, Relaxed);
        drop(c);
        Some(OwnedChunk {
            handle: h,
            ptr: ch.ptr(),
            size: cs.size,
            class,
        })
    }

    /// Returns a chunk to its class. The caller guarantees nothing references it any more
    /// (refcount reached zero after unlink, or it was never published).
    pub fn free(&self, h: u32, requested: usize) {
        let class = self.class_of(h);
        let cs = &self.classes[class as usize];
        let ch = self.chunk(h);
        let mut c = cs.lock.lock().unwrap_or_else(|e| e.into_inner());
        let r = cs.requested.load(Relaxed);
        cs.requested.store(r - requested as u64, Relaxed);
        ch.state().store(FREE, Relaxed);
        if c.draining == Some(self.page_of(h)) {
            c.drained += 1;
            return;
        }
        ch.set_h_next(c.head);
        c.head = h;
        c.free += 1;
    }

    /// Frees an owned (never published) chunk.
    pub fn free_owned(&self, ch: OwnedChunk, requested: usize) {
        self.free(ch.into_handle(), requested)
    }

    /// Usage of one class.
    pub fn usage(&self, class: u8) -> ClassUsage {
        let cs = &self.classes[class as usize];
        let c = cs.lock.lock().unwrap_or_else(|e| e.into_inner());
        ClassUsage {
            pages: c.pages.len() as u64,
            free: c.free,
            requested: cs.requested.load(Relaxed),
        }
    }

    /// Total bytes of pages allocated (`total_malloced`).
    pub fn malloced(&self) -> u64 {
        self.global
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .malloced
    }
    /// The memory limit.
    pub fn limit(&self) -> u64 {
        self.global.lock().unwrap_or_else(|e| e.into_inner()).limit
    }
    /// Pages in the global pool.
    pub fn pool_pages(&self) -> u64 {
        self.pool_pages.load(Relaxed)
    }
    /// Failed page allocations.
    pub fn malloc_fails(&self) -> u64 {
        self.malloc_fails.load(Relaxed)
    }

    /// Changes the limit; pooled pages above the new limit are freed.
    pub fn set_limit(&self, limit: u64) {
        let _walk = self.walk_guard();
        let mut g = self.global.lock().unwrap_or_else(|e| e.into_inner());
        g.limit = limit;
        while g.malloced > limit {
            let Some(p) = g.pool.pop() else { break };
            self.table.free(p);
            g.spare_ids.push(p);
            g.malloced -= u64::from(self.page_size);
        }
        self.pool_pages.store(g.pool.len() as u64, Relaxed);
    }

    /// Starts emptying one page of `class` (its first page): its free chunks leave the free
    /// list and chunks freed later are kept off it. Returns the page, or None if the class
    /// has fewer than `min_pages` pages or is already draining.
    pub fn start_drain(&self, class: u8, min_pages: usize) -> Option<u32> {
        let cs = &self.classes[class as usize];
        let mut c = cs.lock.lock().unwrap_or_else(|e| e.into_inner());
        if c.draining.is_some() || c.pages.len() < min_pages.max(1) {
            return None;
        }
        let page = c.pages[0];
        c.draining = Some(page);
        c.drained = 0;
        // Unlink the page's chunks from the free list.
        let mut prev = NIL;
        let mut h = c.head;
        while h != NIL {
            let next = self.chunk(h).h_next();
            if self.page_of(h) == page {
                if prev == NIL {
                    c.head = next;
                } else {
                    self.chunk(prev).set_h_next(next);
                }
                c.free -= 1;
                c.drained += 1;
            } else {
                prev = h;
            }
            h = next;
        }
        // Chunks not cut yet are free and stay so.
        if let Some((p, cut)) = c.fresh {
            if p == page {
                let rest = u64::from(cs.perslab - cut);
                c.free -= rest;
                c.drained += rest;
                c.fresh = None;
            }
        }
        Some(page)
    }

    /// Handles of every chunk cut so far in `page` (for the page walkers); chunks cut
    /// later are fresh allocations the walk does not need to see.
    pub fn page_handles(&self, page: u32) -> impl Iterator<Item = u32> + '_ {
        let cut = self.table.cut(page);
        (0..cut).map(move |i| self.handle(page, i))
    }

    /// True once every chunk of the draining page of `class` is free.
    pub fn drain_done(&self, class: u8) -> bool {
        let cs = &self.classes[class as usize];
        let c = cs.lock.lock().unwrap_or_else(|e| e.into_inner());
        c.drained >= u64::from(cs.perslab)
    }

    /// Finishes a drain: the page leaves `class` and goes to `dst` (cut anew) or, for
    /// `dst == 0`, to the global pool (freed if memory is over the limit).
    pub fn finish_drain(&self, class: u8, dst: u8) {
        let page = {
            let mut c = self.classes[class as usize]
                .lock
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            let page = c.draining.take().expect("draining page");
            c.pages.retain(|&p| p != page);
            c.drained = 0;
            page
        };
        let _walk = self.walk_guard();
        if dst == 0 {
            self.table.set_class(page, 0, 0, 0);
            let mut g = self.global.lock().unwrap_or_else(|e| e.into_inner());
            if g.malloced > g.limit {
                self.table.free(page);
                g.spare_ids.push(page);
                g.malloced -= u64::from(self.page_size);
            } else {
                g.pool.push(page);
            }
            self.pool_pages.store(g.pool.len() as u64, Relaxed);
        } else {
            let mut c = self.classes[dst as usize]
                .lock
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            self.split(&mut c, dst, page);
        }
    }

    /// Excludes page re-cutting and freeing while a walker looks at a page's chunks.
    pub fn walk_guard(&self) -> std::sync::MutexGuard<'_, ()> {
        self.walk.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The pages of a class (a snapshot).
    pub fn class_pages(&self, class: u8) -> Vec<u32> {
        self.classes[class as usize]
            .lock
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .pages
            .clone()
    }

    /// The class a page is cut for now (0 = pool).
    pub fn page_class(&self, page: u32) -> u8 {
        self.table.class(page)
    }
}

impl ClassFree {
    fn new() -> ClassFree {
        ClassFree {
            head: NIL,
            free: 0,
            pages: Vec::new(),
            draining: None,
            drained: 0,
            fresh: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slabs(limit_pages: u64) -> Slabs {
        Slabs::new(limit_pages << 20, 48, 1.25, 1 << 20, 1 << 19, true, false)
    }

    fn sizes(s: &Slabs) -> Vec<u32> {
        (1..=s.class_count() as u8).map(|c| s.size(c)).collect()
    }

    #[test]
    fn classes_follow_memcached_formula() {
        let s = slabs(64);
        // 36-byte header (with CAS) + 48 = 84, then ×1.25 rounded up to 4.
        let sizes = sizes(&s);
        assert_eq!(&sizes[..6], &[84, 108, 136, 172, 216, 272]);
        assert_eq!(*sizes.last().unwrap(), 524_288);
        assert!(sizes.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(s.class_for(84), Some(1));
        assert_eq!(s.class_for(85), Some(2));
        assert_eq!(s.class_for(524_288), Some(s.largest()));
        assert_eq!(s.class_for(524_289), None);
    }

    #[test]
    fn default_classes_are_4_aligned_and_fit_the_reference_item() {
        let s = slabs(64);
        assert!(sizes(&s).iter().all(|&c| c % CHUNK_ALIGN == 0));
        // 32-byte key + 100-byte value with CAS: 36 + 132 = 168 bytes in a 172-byte chunk.
        let class = s.class_for(s.hdr() + 32 + 100).unwrap();
        assert_eq!(s.size(class), 172);
        // Chunks start 4-aligned, so their header words are aligned.
        let held: Vec<_> = (0..5).map(|_| s.alloc(class, 168).unwrap()).collect();
        for c in held {
            assert_eq!(c.view().ptr().as_ptr() as usize % CHUNK_ALIGN as usize, 0);
            s.free_owned(c, 168);
        }
    }

    #[test]
    fn explicit_sizes_round_to_4_and_end_at_chunk_max() {
        let s = Slabs::with_sizes(64 << 20, &[100, 201, 1000], 1 << 20, 1 << 19, true, false);
        assert_eq!(sizes(&s), vec![100, 204, 1000, 524_288]);
        assert_eq!(s.perslab(2), (1 << 20) / 204);
        assert_eq!(s.class_for(101), Some(2));
        assert_eq!(s.class_for(1001), Some(4));
        // memcached keeps a listed size equal to the chunk max as its own class.
        let s = Slabs::with_sizes(64 << 20, &[48, 524_288], 1 << 20, 1 << 19, true, false);
        assert_eq!(sizes(&s), vec![48, 524_288, 524_288]);
        assert_eq!(s.class_for(524_288), Some(2));
        // An empty list leaves only the chunk-max class; sizes below the fixed header are
        // raised to it.
        let s = Slabs::with_sizes(64 << 20, &[], 1 << 20, 1 << 19, true, false);
        assert_eq!(sizes(&s), vec![524_288]);
        let s = Slabs::with_sizes(64 << 20, &[1, 10, 60], 1 << 20, 1 << 19, true, false);
        assert_eq!(sizes(&s), vec![28, 28, 60, 524_288]);
        let c = s.alloc(3, 50).expect("chunk");
        s.free_owned(c, 50);
    }

    #[test]
    fn classes_without_cas_and_other_settings() {
        // -C: 28-byte header + 48 = 76.
        let s = Slabs::new(64 << 20, 48, 1.25, 1 << 20, 1 << 19, false, false);
        assert_eq!(s.hdr(), 28);
        assert_eq!(&sizes(&s)[..5], &[76, 96, 120, 152, 192]);
        // -n 1 -f 2: 37 → 40, 80, 160, ...; -n is key + value + flags beyond the header.
        let s = Slabs::new(64 << 20, 1, 2.0, 1 << 20, 1 << 19, true, false);
        assert_eq!(&sizes(&s)[..4], &[40, 80, 160, 320]);
        assert!(sizes(&s).iter().all(|&c| c % CHUNK_ALIGN == 0));
        // A chunk max below a header still gives an aligned class that holds one.
        let s = Slabs::new(64 << 20, 48, 1.25, 1 << 20, 2, true, false);
        assert_eq!(sizes(&s), vec![40]);
    }

    #[test]
    fn first_page_per_class_may_pass_the_limit() {
        // Limit of one page: class 1 takes it, class 2 may still take its first page,
        // but class 1 cannot take a second one.
        let s = slabs(1);
        let per = s.perslab(1) as usize;
        let mut held = Vec::new();
        for _ in 0..per {
            held.push(s.alloc(1, 10).expect("first page"));
        }
        assert!(
            s.alloc(1, 10).is_none(),
            "second page of class 1 is over the limit"
        );
        let other = s.alloc(2, 10).expect("class 2's first page is allowed");
        assert_eq!(s.malloced(), 2 << 20);
        assert!(s.alloc(2, 10).is_some());
        s.free_owned(other, 10);
        for h in held {
            s.free_owned(h, 10);
        }
        assert_eq!(s.usage(1).free, per as u64);
        assert_eq!(s.usage(1).requested, 0);
    }

    #[test]
    fn fresh_pages_are_cut_as_chunks_are_needed() {
        let s = slabs(4);
        let per = s.perslab(1);
        let a = s.alloc(1, 10).unwrap();
        let page = s.page_of(a.handle());
        // One chunk cut: the walkers see only it, the rest counts as free.
        assert_eq!(s.page_handles(page).collect::<Vec<_>>(), vec![a.handle()]);
        assert_eq!(s.usage(1).free, u64::from(per - 1));
        let b = s.alloc(1, 10).unwrap();
        assert_eq!(b.handle(), a.handle() + 1);
        // A freed chunk is reused before the page is cut further.
        let (ha, hb) = (a.handle(), b.handle());
        s.free_owned(a, 10);
        let c = s.alloc(1, 10).unwrap();
        assert_eq!(c.handle(), ha);
        assert_eq!(s.page_handles(page).count(), 2);
        // Cutting the whole page, then the next allocation takes a new page.
        let mut held = vec![b, c];
        for _ in 2..per {
            held.push(s.alloc(1, 10).unwrap());
        }
        assert_eq!(s.page_handles(page).count(), per as usize);
        assert_eq!(s.usage(1).free, 0);
        let d = s.alloc(1, 10).unwrap();
        assert_ne!(s.page_of(d.handle()), page);
        assert_eq!(s.usage(1).pages, 2);
        assert!(held.iter().any(|h| h.handle() == hb));
        held.push(d);
        for h in held {
            s.free_owned(h, 10);
        }
        assert_eq!(s.usage(1).free, 2 * u64::from(per));
    }

    #[test]
    fn draining_a_partly_cut_page_counts_its_uncut_chunks() {
        let s = slabs(4);
        let a = s.alloc(2, 10).unwrap();
        let page = s.start_drain(2, 1).unwrap();
        assert_eq!(s.page_of(a.handle()), page);
        assert!(!s.drain_done(2));
        // The draining page is not cut further: the class takes a new page.
        let b = s.alloc(2, 10).unwrap();
        assert_ne!(s.page_of(b.handle()), page);
        s.free_owned(a, 10);
        assert!(s.drain_done(2));
        s.finish_drain(2, 3);
        // Moved to class 3 and cut whole at once.
        assert_eq!(s.page_class(page), 3);
        assert_eq!(s.page_handles(page).count(), s.perslab(3) as usize);
        assert_eq!(s.usage(3).free, u64::from(s.perslab(3)));
        assert_eq!(s.usage(2).free, u64::from(s.perslab(2)) - 1);
        s.free_owned(b, 10);
    }

    #[test]
    fn drain_moves_a_page() {
        let s = slabs(4);
        let a = s.alloc(1, 10).unwrap();
        let b = s.alloc(1, 10).unwrap();
        let page = s.start_drain(1, 1).unwrap();
        assert!(!s.drain_done(1));
        s.free_owned(a, 10);
        s.free_owned(b, 10);
        assert!(s.drain_done(1));
        s.finish_drain(1, 0);
        assert_eq!(s.pool_pages(), 1);
        assert_eq!(s.usage(1).pages, 0);
        let c = s.alloc(3, 10).unwrap();
        assert_eq!(s.page_of(c.handle()), page);
        assert_eq!(s.malloced(), 1 << 20);
    }
}
