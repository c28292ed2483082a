//! The hash table's bucket arrays and its striped item locks.
//!
//! Buckets hold the handle of the first item of a chain (chains run through `h_next`).
//! Every bucket belongs to exactly one stripe lock (`hv & lock_mask`; there are never more
//! locks than buckets), and a bucket is read or written only under its stripe lock.
//! Growing swaps tables while holding every stripe lock (memcached pauses all threads for
//! the same step), then moves one old bucket at a time under that bucket's lock; until a
//! bucket has moved, lookups for it use the old table.

use std::ptr;
use std::sync::atomic::{AtomicPtr, AtomicU32, AtomicUsize, Ordering::*};
use std::sync::{Mutex, MutexGuard, TryLockError};

use super::NIL;

struct Table {
    buckets: Box<[AtomicU32]>,
    mask: u32,
}

impl Table {
    fn new(power: u32) -> Box<Table> {
        let n = 1usize << power;
        Box::new(Table {
            buckets: (0..n).map(|_| AtomicU32::new(NIL)).collect(),
            mask: (n - 1) as u32,
        })
    }
}

#[repr(align(64))]
struct PaddedLock(Mutex<()>);

/// Bucket arrays plus stripe locks.
pub struct HashTables {
    primary: AtomicPtr<Table>,
    /// The primary table's buckets and mask, for [`HashTables::prefetch`], which must not
    /// dereference a table that an expansion may free under it.
    hint_base: AtomicPtr<AtomicU32>,
    hint_mask: AtomicU32,
    old: AtomicPtr<Table>,
    migrated: AtomicUsize,
    power: AtomicU32,
    locks: Box<[PaddedLock]>,
    lock_mask: u32,
}

/// Proof that a stripe lock is held; gives access to the buckets it covers.
pub struct Stripe<'a> {
    _guard: MutexGuard<'a, ()>,
    tables: &'a HashTables,
    idx: u32,
}

impl HashTables {
    /// 2^`power` buckets and 2^`lock_power` stripe locks (`lock_power` ≤ `power`).
    pub fn new(power: u32, lock_power: u32) -> HashTables {
        let lock_power = lock_power.min(power);
        let table = Table::new(power);
        HashTables {
            hint_base: AtomicPtr::new(table.buckets.as_ptr().cast_mut()),
            hint_mask: AtomicU32::new(table.mask),
            primary: AtomicPtr::new(Box::into_raw(table)),
            old: AtomicPtr::new(ptr::null_mut()),
            migrated: AtomicUsize::new(0),
            power: AtomicU32::new(power),
            locks: (0..1usize << lock_power)
                .map(|_| PaddedLock(Mutex::new(())))
                .collect(),
            lock_mask: (1u32 << lock_power) - 1,
        }
    }

    /// Locks the stripe of hash `hv`.
    #[inline]
    pub fn lock(&self, hv: u32) -> Stripe<'_> {
        let idx = hv & self.lock_mask;
        let guard = self.locks[idx as usize]
            .0
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        Stripe {
            _guard: guard,
            tables: self,
            idx,
        }
    }

    /// Locks the stripe of `hv` unless it is busy.
    #[inline]
    pub fn try_lock(&self, hv: u32) -> Option<Stripe<'_>> {
        let idx = hv & self.lock_mask;
        match self.locks[idx as usize].0.try_lock() {
            Ok(guard) => Some(Stripe {
                _guard: guard,
                tables: self,
                idx,
            }),
            Err(TryLockError::Poisoned(e)) => Some(Stripe {
                _guard: e.into_inner(),
                tables: self,
                idx,
            }),
            Err(TryLockError::WouldBlock) => None,
        }
    }

    /// Starts loading the stripe lock and the bucket of hash `hv` into the cache, without
    /// locking: a lookup of that hash follows shortly.
    #[inline]
    pub fn prefetch(&self, hv: u32) {
        super::prefetch(&self.locks[(hv & self.lock_mask) as usize]);
        let mask = self.hint_mask.load(Relaxed);
        // May pair a new base with an old mask during an expansion, or point into a freed
        // table: only a hint is issued from it, never a load.
        let bucket = self
            .hint_base
            .load(Relaxed)
            .wrapping_add((hv & mask) as usize);
        super::prefetch(bucket);
    }

    /// Current hash power.
    pub fn power(&self) -> u32 {
        self.power.load(Relaxed)
    }

    /// Whether a migration is under way.
    pub fn is_expanding(&self) -> bool {
        !self.old.load(Acquire).is_null()
    }

    /// Bytes of bucket arrays (both tables while expanding).
    pub fn bytes(&self) -> u64 {
        let b = 4u64 << self.power();
        if self.is_expanding() {
            b + b / 2
        } else {
            b
        }
    }

    fn lock_all(&self) -> Vec<MutexGuard<'_, ()>> {
        self.locks
            .iter()
            .map(|l| l.0.lock().unwrap_or_else(|e| e.into_inner()))
            .collect()
    }

    /// Allocates a table twice the size and makes it primary; the old one is migrated by
    /// [`HashTables::migrate_next`]. Returns false if already expanding or at the maximum.
    pub fn start_expand(&self, max_power: u32) -> bool {
        if self.is_expanding() || self.power() >= max_power {
            return false;
        }
        let table = Table::new(self.power() + 1);
        let (base, mask) = (table.buckets.as_ptr().cast_mut(), table.mask);
        let new = Box::into_raw(table);
        let _all = self.lock_all();
        self.hint_base.store(base, Relaxed);
        self.hint_mask.store(mask, Relaxed);
        let cur = self.primary.load(Acquire);
        self.migrated.store(0, Release);
        self.old.store(cur, Release);
        self.primary.store(new, Release);
        self.power.fetch_add(1, Relaxed);
        true
    }

    /// Moves the next old bucket into the new table. `hash` recomputes an item's hash,
    /// `next`/`set_next` walk and rewrite chain links. Returns false when nothing is left
    /// (the old table is then freed).
    pub fn migrate_next(
        &self,
        hash: impl Fn(u32) -> u32,
        next: impl Fn(u32) -> u32,
        set_next: impl Fn(u32, u32),
    ) -> bool {
        let old = self.old.load(Acquire);
        if old.is_null() {
            return false;
        }
        let i = self.migrated.load(Acquire);
        // SAFETY: the old table is freed only by this function's caller thread (the single
        // migrator) in `finish`, after which `old` is null; it is live here.
        let old_ref = unsafe { &*old };
        if i > old_ref.mask as usize {
            self.finish();
            return false;
        }
        let stripe = self.lock(i as u32);
        // SAFETY: the primary table is replaced only in `start_expand`, which cannot run
        // while `old` is non-null, and freed only in Drop.
        let new_ref = unsafe { &*self.primary.load(Acquire) };
        let mut h = old_ref.buckets[i].swap(NIL, Relaxed);
        while h != NIL {
            let n = next(h);
            let b = &new_ref.buckets[(hash(h) & new_ref.mask) as usize];
            set_next(h, b.load(Relaxed));
            b.store(h, Relaxed);
            h = n;
        }
        self.migrated.store(i + 1, Release);
        drop(stripe);
        true
    }

    fn finish(&self) {
        let all = self.lock_all();
        let old = self.old.swap(ptr::null_mut(), AcqRel);
        drop(all);
        if !old.is_null() {
            // SAFETY: `old` came from Box::into_raw; every stripe lock was taken after it
            // was unpublished, so no thread still holds a reference obtained under a lock.
            drop(unsafe { Box::from_raw(old) });
        }
    }
}

impl Stripe<'_> {
    /// The bucket for `hv` (which must map to this stripe).
    #[inline]
    pub fn bucket(&self, hv: u32) -> &AtomicU32 {
        debug_assert_eq!(hv & self.tables.lock_mask, self.idx);
        let t = self.tables;
        let old = t.old.load(Acquire);
        if !old.is_null() {
            // SAFETY: the old table is freed only after every stripe lock has been taken
            // once after unpublishing it; we hold one of those locks, so it is live.
            let o = unsafe { &*old };
            let ob = (hv & o.mask) as usize;
            if ob >= t.migrated.load(Acquire) {
                return &o.buckets[ob];
            }
        }
        // SAFETY: the primary table is live until Drop and replaced only under all locks.
        let p = unsafe { &*t.primary.load(Acquire) };
        &p.buckets[(hv & p.mask) as usize]
    }
}

impl Drop for HashTables {
    fn drop(&mut self) {
        for p in [self.primary.load(Acquire), self.old.load(Acquire)] {
            if !p.is_null() {
                // SAFETY: both came from Box::into_raw and `&mut self` excludes other users.
                drop(unsafe { Box::from_raw(p) });
            }
        }
    }
}
