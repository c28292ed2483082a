//! Engine operations the meta protocol needs beyond the classic commands: a fetch that
//! reports the item's state from before the fetch (meta `h`, `l`, `t`), a silent exptime
//! update (meta `T`/`N` applied after the reply line is built), and the stale CAS store of
//! `ms ... I C<older cas>`.

use std::sync::atomic::Ordering::Relaxed;

use crate::engine::{Engine, Fetch, Inner};
use crate::hash::murmur3_32;
use crate::item::ItemRef;
use crate::memory::{Stripe, FETCHED, KEY_BINARY, NIL, STALE, WIN_SENT};
use crate::stats::bump;
use crate::types::{StoreError, StoreMode, StoreResult};

/// A meta fetch's hit: the item plus what it looked like before this fetch.
pub struct MetaHit {
    /// The item.
    pub item: ItemRef,
    /// It had been fetched before (meta `h`).
    pub fetched_before: bool,
    /// Its last access time before this fetch (relative server time; meta `l`).
    pub last_access: u32,
}

/// What a meta fetch counts and changes.
#[derive(Clone, Copy, Debug)]
pub struct MetaFetch {
    /// Bump the item in its LRU and mark it fetched (false for meta `u`).
    pub bump: bool,
    /// Count the fetch as a touch (meta `T`) rather than a get.
    pub as_touch: bool,
    /// Meta `N` (vivify on miss): a miss is not counted here; the caller creates the item
    /// and counts it with [`Engine::meta_count_vivified`] (memcached counts a hit).
    pub vivify: bool,
}

fn find_live(inner: &Inner, s: &Stripe<'_>, hv: u32, key: &[u8]) -> u32 {
    let h = inner.find(s, hv, key);
    if h == NIL {
        return NIL;
    }
    let ch = inner.slabs.chunk(h);
    let now = inner.now();
    if inner.is_expired(ch, now) || inner.is_flushed(ch, now) {
        inner.unlink(s, hv, h);
        return NIL;
    }
    h
}

impl Engine {
    /// Meta `mg`: looks `key` up, counting a get (or a touch), and bumps it unless told
    /// not to; the returned state is from before the bump.
    pub fn meta_get(&self, key: &[u8], f: MetaFetch) -> Option<MetaHit> {
        let inner = &self.inner;
        // memcached counts a miss as a get even with `T`; only a hit with `T` is a touch.
        if key.is_empty() || key.len() > crate::engine::KEY_MAX {
            if !f.vivify {
                bump!(inner.g, cmd_get);
                bump!(inner.g, get_misses);
            }
            return None;
        }
        let hv = murmur3_32(key, 0);
        let s = inner.hash.lock(hv);
        let pre = inner.find(&s, hv, key);
        let (fetched_before, last_access) = if pre == NIL {
            (false, 0)
        } else {
            let ch = inner.slabs.chunk(pre);
            (ch.state().load(Relaxed) & FETCHED != 0, ch.time())
        };
        let fetch = Fetch {
            bump: f.bump,
            touch: None,
            count_get: !f.vivify,
        };
        let Some(h) = inner.get_locked(&s, hv, key, fetch) else {
            drop(s);
            if !f.vivify {
                bump!(inner.g, cmd_get);
            }
            return None;
        };
        drop(s);
        let class = inner.slabs.class_of(h);
        if f.as_touch {
            bump!(inner.g, cmd_touch);
            bump!(inner.ccount(class), touch_hits);
        } else {
            bump!(inner.g, cmd_get);
            bump!(inner.ccount(class), get_hits);
        }
        Some(MetaHit {
            item: ItemRef::new(self.inner.pin(), h, fetched_before),
            fetched_before,
            last_access,
        })
    }

    /// Meta `N` on a miss: adds an empty item for `key` (`exptime` as the client sent it)
    /// without counting a set, as memcached's autovivify. True if this call created it
    /// (false: another client added it first, or no memory).
    pub fn meta_vivify(&self, key: &[u8], exptime: i64) -> bool {
        let inner = &self.inner;
        if key.is_empty() || key.len() > crate::engine::KEY_MAX {
            return false;
        }
        let e = inner.clock.realtime(exptime);
        let Some((head, data)) = inner.alloc_item(key, 0, e, 0) else {
            return false;
        };
        let w = crate::item::ItemWriter::new(self.inner.pin(), StoreMode::Add, head, data, 0);
        matches!(crate::store::commit(inner, w), StoreResult::Stored(_))
    }

    /// Counts a meta `N` fetch whose lookup missed ([`MetaFetch::vivify`]): as memcached,
    /// a hit (or a touch hit with `T`) on the class of the item the caller then created or
    /// found, and a miss when there is none (the item could not be stored).
    pub fn meta_count_vivified(&self, item: Option<&ItemRef>, as_touch: bool) {
        let inner = &self.inner;
        match item {
            Some(it) if as_touch => {
                bump!(inner.g, cmd_touch);
                bump!(inner.ccount(it.slab_class()), touch_hits);
            }
            Some(it) => {
                bump!(inner.g, cmd_get);
                bump!(inner.ccount(it.slab_class()), get_hits);
            }
            None => {
                bump!(inner.g, cmd_get);
                bump!(inner.g, get_misses);
            }
        }
    }

    /// Sets the exptime (relative server time, as [`Engine::realtime`] returns) of the
    /// live item `key` whose CAS is `cas`, without counting anything. False if it is gone
    /// or was replaced.
    pub fn meta_set_exptime(&self, key: &[u8], cas: u64, exptime: u32) -> bool {
        let inner = &self.inner;
        if key.is_empty() || key.len() > crate::engine::KEY_MAX {
            return false;
        }
        let hv = murmur3_32(key, 0);
        let s = inner.hash.lock(hv);
        let h = find_live(inner, &s, hv, key);
        if h == NIL {
            return false;
        }
        let ch = inner.slabs.chunk(h);
        if inner.cas_of(ch) != cas {
            return false;
        }
        ch.set_exptime(exptime);
        true
    }

    /// Meta `ms ... b`: marks the live item `key` whose CAS is `cas` as stored under a
    /// base64 key, so later replies print its key in base64. False if it is gone.
    pub fn meta_mark_key_binary(&self, key: &[u8], cas: u64) -> bool {
        self.with_live(key, cas, |st| {
            st.fetch_or(KEY_BINARY, Relaxed);
        })
        .is_some()
    }

    /// Whether the live item `key` whose CAS is `cas` was stored under a base64 key.
    pub fn meta_key_binary(&self, key: &[u8], cas: u64) -> bool {
        self.with_live(key, cas, |st| st.load(Relaxed) & KEY_BINARY != 0)
            .unwrap_or(false)
    }

    /// Runs `f` on the state word of the live item `key` with CAS `cas`, under its lock.
    fn with_live<R>(
        &self,
        key: &[u8],
        cas: u64,
        f: impl FnOnce(&std::sync::atomic::AtomicU32) -> R,
    ) -> Option<R> {
        let inner = &self.inner;
        if key.is_empty() || key.len() > crate::engine::KEY_MAX {
            return None;
        }
        let hv = murmur3_32(key, 0);
        let s = inner.hash.lock(hv);
        let h = find_live(inner, &s, hv, key);
        if h == NIL {
            return None;
        }
        let ch = inner.slabs.chunk(h);
        (inner.cas_of(ch) == cas).then(|| f(ch.state()))
    }

    /// Meta `ms <key> ... I C<cas>`: a CAS store that, when `cas` is older (smaller) than
    /// the item's, still stores but marks the new item stale, keeping the old exptime and
    /// win token. Otherwise it is a plain CAS store.
    pub fn meta_store_stale(
        &self,
        key: &[u8],
        flags: u32,
        exptime: i64,
        value: &[u8],
        cas: u64,
    ) -> Result<StoreResult, StoreError> {
        let inner = &self.inner;
        let cur = if key.is_empty() || key.len() > crate::engine::KEY_MAX {
            None
        } else {
            let hv = murmur3_32(key, 0);
            let s = inner.hash.lock(hv);
            let h = find_live(inner, &s, hv, key);
            (h != NIL).then(|| {
                let ch = inner.slabs.chunk(h);
                let won = ch.state().load(Relaxed) & WIN_SENT;
                (inner.cas_of(ch), ch.exptime(), won)
            })
        };
        let Some((cur_cas, old_exp, won)) = cur else {
            return self.store(StoreMode::Cas(cas), key, flags, exptime, value);
        };
        if cas >= cur_cas {
            return self.store(StoreMode::Cas(cas), key, flags, exptime, value);
        }
        let r = self.store(StoreMode::Cas(cur_cas), key, flags, exptime, value)?;
        if let StoreResult::Stored(new_cas) = r {
            let hv = murmur3_32(key, 0);
            let s = inner.hash.lock(hv);
            let h = find_live(inner, &s, hv, key);
            if h != NIL {
                let ch = inner.slabs.chunk(h);
                if inner.cas_of(ch) == new_cas {
                    ch.set_exptime(old_exp);
                    ch.state().fetch_or(STALE | won, Relaxed);
                }
            }
        }
        Ok(r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::EngineConfig;

    fn engine() -> Engine {
        Engine::new(EngineConfig {
            background_threads: false,
            ..EngineConfig::default()
        })
    }

    #[test]
    fn meta_get_reports_state_before_the_bump() {
        let e = engine();
        e.store(StoreMode::Set, b"k", 0, 0, b"v").unwrap();
        let f = MetaFetch {
            bump: true,
            as_touch: false,
            vivify: false,
        };
        let first = e.meta_get(b"k", f).unwrap();
        assert!(!first.fetched_before);
        let second = e.meta_get(b"k", f).unwrap();
        assert!(second.fetched_before);
        assert!(e.meta_get(b"nope", f).is_none());
        let quiet = MetaFetch {
            bump: false,
            as_touch: false,
            vivify: false,
        };
        e.store(StoreMode::Set, b"u", 0, 0, b"v").unwrap();
        e.meta_get(b"u", quiet).unwrap();
        assert!(!e.meta_get(b"u", quiet).unwrap().fetched_before);
    }

    #[test]
    fn stale_store_keeps_exptime_and_marks_stale() {
        let e = engine();
        let c1 = match e.store(StoreMode::Set, b"k", 0, 100, b"a").unwrap() {
            StoreResult::Stored(c) => c,
            r => panic!("{r:?}"),
        };
        e.mark_stale(b"k", 0, None);
        let cur = e.peek(b"k").unwrap();
        assert!(cur.is_stale());
        let exp = cur.exptime();
        let r = e.meta_store_stale(b"k", 0, 0, b"b", c1).unwrap();
        assert!(matches!(r, StoreResult::Stored(_)));
        let it = e.peek(b"k").unwrap();
        assert!(it.is_stale());
        assert_eq!(it.exptime(), exp);
        assert_eq!(it.value().unwrap(), b"b");
        let newer = it.cas() + 10;
        assert_eq!(
            e.meta_store_stale(b"k", 0, 0, b"c", newer).unwrap(),
            StoreResult::Exists
        );
        assert!(e.meta_set_exptime(b"k", it.cas(), 0));
        assert!(!e.meta_key_binary(b"k", it.cas()));
        assert!(e.meta_mark_key_binary(b"k", it.cas()));
        assert!(e.meta_key_binary(b"k", it.cas()));
        assert!(!e.meta_mark_key_binary(b"k", it.cas() + 1));
        assert_eq!(e.peek(b"k").unwrap().exptime(), 0);
    }
}
