//! `Anchor`/`Pin`: shared ownership of the engine state without a shared reference count.
//!
//! An `Arc` would put one counter, written by every thread on every get (clone) and every
//! response sent (drop), on a single cache line. Here the owner ([`Anchor`], held by the
//! `Engine`) hands out [`Pin`]s whose counts live in per-thread-shard cache lines: a pin
//! counts in the shard of the thread that created it, and its clones count in that same
//! shard. The owner frees the state on drop only if every shard is zero; otherwise it leaks
//! it on purpose (a pin outlived the engine), which is always memory-safe.
//!
//! Why a zero shard stays zero once the owner is gone: new pins come only from the owner
//! (gone) or by cloning a live pin (which counts in the clone source's shard, non-zero
//! while that pin lives). A pin's decrement is its last access to the state.

use std::ops::Deref;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicUsize, Ordering::*};

use crate::stats::{shard, SHARDS};

#[repr(align(64))]
struct Count(AtomicUsize);

struct Shared<T> {
    value: T,
    pins: [Count; SHARDS],
}

/// The owner of a shared `T`.
pub struct Anchor<T> {
    ptr: NonNull<Shared<T>>,
}

/// A counted handle to the anchored `T`; valid while it lives.
pub struct Pin<T> {
    ptr: NonNull<Shared<T>>,
    shard: usize,
}

// SAFETY: Anchor and Pin give shared (`&T`) access from any thread and drop `T` on the
// owner's thread, so they are Send/Sync exactly when T is Send + Sync (as for Arc).
unsafe impl<T: Send + Sync> Send for Anchor<T> {}
// SAFETY: as above.
unsafe impl<T: Send + Sync> Sync for Anchor<T> {}
// SAFETY: as above.
unsafe impl<T: Send + Sync> Send for Pin<T> {}
// SAFETY: as above.
unsafe impl<T: Send + Sync> Sync for Pin<T> {}

impl<T> Anchor<T> {
    /// Anchors `value`.
    pub fn new(value: T) -> Anchor<T> {
        let shared = Box::new(Shared {
            value,
            pins: std::array::from_fn(|_| Count(AtomicUsize::new(0))),
        });
        Anchor {
            ptr: NonNull::from(Box::leak(shared)),
        }
    }

    fn shared(&self) -> &Shared<T> {
        // SAFETY: the allocation is freed only in `Drop for Anchor`, i.e. after `self`.
        unsafe { self.ptr.as_ref() }
    }

    /// A new pin, counted in the calling thread's shard.
    #[inline]
    pub fn pin(&self) -> Pin<T> {
        let s = shard();
        self.shared().pins[s].0.fetch_add(1, Relaxed);
        Pin {
            ptr: self.ptr,
            shard: s,
        }
    }

    /// Pins outstanding (all shards).
    pub fn pins(&self) -> usize {
        self.shared().pins.iter().map(|c| c.0.load(Acquire)).sum()
    }
}

impl<T> Deref for Anchor<T> {
    type Target = T;
    #[inline]
    fn deref(&self) -> &T {
        &self.shared().value
    }
}

impl<T> Drop for Anchor<T> {
    fn drop(&mut self) {
        if self.pins() == 0 {
            // SAFETY: the pointer came from Box::leak in `new`; no pin exists (all shards
            // read zero with Acquire after each pin's last access) and none can be created.
            drop(unsafe { Box::from_raw(self.ptr.as_ptr()) });
        }
        // Otherwise a pin outlives the owner: leak the state rather than free it under it.
    }
}

impl<T> Pin<T> {
    #[inline]
    fn shared(&self) -> &Shared<T> {
        // SAFETY: while this pin's count is held, the owner does not free the allocation.
        unsafe { self.ptr.as_ref() }
    }
}

impl<T> Deref for Pin<T> {
    type Target = T;
    #[inline]
    fn deref(&self) -> &T {
        &self.shared().value
    }
}

impl<T> Clone for Pin<T> {
    #[inline]
    fn clone(&self) -> Pin<T> {
        self.shared().pins[self.shard].0.fetch_add(1, Relaxed);
        Pin {
            ptr: self.ptr,
            shard: self.shard,
        }
    }
}

impl<T> Drop for Pin<T> {
    #[inline]
    fn drop(&mut self) {
        // Last access to the shared state (Release pairs with the owner's Acquire).
        self.shared().pins[self.shard].0.fetch_sub(1, Release);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicBool;
    use std::sync::Arc;

    struct Flag(Arc<AtomicBool>);
    impl Drop for Flag {
        fn drop(&mut self) {
            self.0.store(true, SeqCst);
        }
    }

    #[test]
    fn owner_frees_when_no_pins() {
        let dropped = Arc::new(AtomicBool::new(false));
        let a = Anchor::new(Flag(dropped.clone()));
        let p = a.pin();
        let q = p.clone();
        assert_eq!(a.pins(), 2);
        drop(p);
        let t = std::thread::spawn(move || drop(q));
        t.join().unwrap();
        assert_eq!(a.pins(), 0);
        drop(a);
        assert!(dropped.load(SeqCst));
    }

    #[test]
    fn owner_leaks_when_a_pin_survives() {
        let dropped = Arc::new(AtomicBool::new(false));
        let a = Anchor::new(Flag(dropped.clone()));
        let p = a.pin();
        drop(a);
        assert!(!dropped.load(SeqCst));
        assert!(!p.0.load(SeqCst));
        std::mem::forget(p);
    }
}
