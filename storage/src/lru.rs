//! Per-class sub-LRU lists (HOT, WARM, COLD, TEMP), doubly linked through the item headers'
//! 32-bit `prev`/`next` fields. Each list has its own lock; an item changes lists only
//! while its stripe lock is held, so its recorded LRU id is stable under that lock.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Mutex, MutexGuard};

use crate::memory::{Slabs, LRU_MASK, LRU_SHIFT, NIL};

/// Sub-LRU ids (the 2-bit field in the item state).
pub(crate) const HOT: usize = 0;
pub(crate) const WARM: usize = 1;
pub(crate) const COLD: usize = 2;
pub(crate) const TEMP: usize = 3;

/// One list's ends and totals.
pub(crate) struct List {
    pub(crate) head: u32,
    pub(crate) tail: u32,
}

#[repr(align(64))]
pub(crate) struct LruSlot {
    pub(crate) list: Mutex<List>,
    /// Items in the list (read without the lock for stats).
    pub(crate) count: AtomicU64,
    /// Item bytes in the list.
    pub(crate) bytes: AtomicU64,
}

/// The four sub-LRUs of one class.
pub(crate) struct ClassLru {
    pub(crate) lists: [LruSlot; 4],
    /// The class has met the memory limit: an allocation found no free chunk and no page
    /// to grow by. Until then nothing can be evicted from it, so the segmented LRU keeps
    /// its order lazily (hits only set bits) and the maintainer does not re-sort it.
    full: AtomicBool,
}

impl ClassLru {
    pub(crate) fn new() -> ClassLru {
        ClassLru {
            lists: std::array::from_fn(|_| LruSlot {
                list: Mutex::new(List {
                    head: NIL,
                    tail: NIL,
                }),
                count: AtomicU64::new(0),
                bytes: AtomicU64::new(0),
            }),
            full: AtomicBool::new(false),
        }
    }

    /// True once an allocation in this class has had to reclaim or evict.
    pub(crate) fn is_full(&self) -> bool {
        self.full.load(Relaxed)
    }

    /// Records that an allocation in this class found the memory limit (sticky: a cache
    /// that filled once stays near full, and a spurious "full" only costs some re-sorting).
    /// True the first time.
    pub(crate) fn mark_full(&self) -> bool {
        !self.full.load(Relaxed) && !self.full.swap(true, Relaxed)
    }

    pub(crate) fn lock(&self, id: usize) -> MutexGuard<'_, List> {
        self.lists[id]
            .list
            .lock()
            .unwrap_or_else(|e| e.into_inner())
    }

    /// Items in all four lists.
    pub(crate) fn count(&self) -> u64 {
        self.lists.iter().map(|l| l.count.load(Relaxed)).sum()
    }
}

/// The LRU id recorded in an item's state.
pub(crate) fn lru_of(slabs: &Slabs, h: u32) -> usize {
    ((slabs.chunk(h).state().load(Relaxed) & LRU_MASK) >> LRU_SHIFT) as usize
}

/// Links `h` at the head of `list` (whose lock is `l`) and records the id.
pub(crate) fn link_head(slabs: &Slabs, slot: &LruSlot, l: &mut List, id: usize, h: u32, size: u64) {
    let ch = slabs.chunk(h);
    ch.set_prev(NIL);
    ch.set_next(l.head);
    if l.head != NIL {
        slabs.chunk(l.head).set_prev(h);
    }
    l.head = h;
    if l.tail == NIL {
        l.tail = h;
    }
    // The LRU bits change only under the stripe lock and a list lock, so the loaded id is
    // current; other bits (refcount, FETCHED...) may change concurrently, hence the XOR
    // RMW (none at all when the id stays, e.g. a new item into HOT = 0).
    let st = ch.state();
    let cur = (st.load(Relaxed) & LRU_MASK) >> LRU_SHIFT;
    if cur != id as u32 {
        st.fetch_xor((cur ^ id as u32) << LRU_SHIFT, Relaxed);
    }
    add_totals(slot, true, size);
}

/// Adjusts a list's item and byte totals. Writers hold the list's lock, so a plain
/// load + store suffices (no lock-prefixed RMW); readers only need a recent value.
#[inline]
fn add_totals(slot: &LruSlot, add: bool, size: u64) {
    let (c, b) = (slot.count.load(Relaxed), slot.bytes.load(Relaxed));
    let (c, b) = if add {
        (c + 1, b + size)
    } else {
        (c - 1, b - size)
    };
    slot.count.store(c, Relaxed);
    slot.bytes.store(b, Relaxed);
}

/// Removes `h` from `list` (whose lock is `l`).
pub(crate) fn unlink(slabs: &Slabs, slot: &LruSlot, l: &mut List, h: u32, size: u64) {
    let ch = slabs.chunk(h);
    let (p, n) = (ch.prev(), ch.next());
    if p != NIL {
        slabs.chunk(p).set_next(n);
    } else {
        l.head = n;
    }
    if n != NIL {
        slabs.chunk(n).set_prev(p);
    } else {
        l.tail = p;
    }
    ch.set_prev(NIL);
    ch.set_next(NIL);
    add_totals(slot, false, size);
}
