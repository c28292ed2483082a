//! Model-based property test: random operation sequences against the engine and a simple
//! reference model must give identical results, including expiry with a hand-driven clock,
//! CAS, and eviction of the least recently used item when memory is full (flat LRU, no
//! background threads, values sized to stay in one slab class).

use std::collections::HashMap;

use evcached_storage::*;
use proptest::prelude::*;

#[derive(Clone, Debug)]
enum Op {
    Set(u8, u8, i64),
    Add(u8, u8),
    Replace(u8, u8),
    Append(u8),
    Cas(u8, u8, bool),
    Get(u8),
    Delete(u8),
    Incr(u8, u8),
    Touch(u8, i64),
    Advance(u32),
    Flush,
}

#[derive(Clone, Debug)]
struct Entry {
    value: Vec<u8>,
    exp: u32,
    cas: u64,
    last_bump: u32,
}

struct Model {
    items: HashMap<u8, Entry>,
    order: Vec<u8>, // LRU order, most recent last
    cap: usize,
    now: u32,
    cas: u64,
}

impl Model {
    fn live(&mut self, k: u8) -> bool {
        match self.items.get(&k) {
            Some(e) if e.exp != 0 && e.exp <= self.now => {
                self.remove(k);
                false
            }
            Some(_) => true,
            None => false,
        }
    }
    fn remove(&mut self, k: u8) {
        self.items.remove(&k);
        self.order.retain(|&x| x != k);
    }
    /// A new item needs a chunk: with all chunks used, the LRU tail goes (skipping `held`).
    fn make_room(&mut self, held: Option<u8>) {
        if self.items.len() < self.cap {
            return;
        }
        let victim = *self
            .order
            .iter()
            .find(|&&k| Some(k) != held)
            .expect("victim");
        self.remove(victim);
    }
    fn link(&mut self, k: u8, value: Vec<u8>, exp: u32) -> u64 {
        self.remove(k);
        self.cas += 1;
        self.items.insert(
            k,
            Entry {
                value,
                exp,
                cas: self.cas,
                last_bump: self.now,
            },
        );
        self.order.push(k);
        self.cas
    }
    fn bump(&mut self, k: u8) {
        let now = self.now;
        let e = self.items.get_mut(&k).expect("live");
        if e.last_bump + 60 <= now {
            e.last_bump = now;
            self.order.retain(|&x| x != k);
            self.order.push(k);
        }
    }
}

fn key(k: u8) -> Vec<u8> {
    format!("key{k:03}").into_bytes()
}

/// Values are an 8-digit number padded with spaces to `VLEN` bytes: numeric for incr, and
/// big enough that one page holds only a few items, so evictions are frequent.
const VLEN: usize = 100_000;

fn value(v: u8) -> Vec<u8> {
    let mut s = format!("{:08}", u32::from(v) * 1000).into_bytes();
    s.resize(VLEN, b' ');
    s
}

/// The engine's item lock stripe (2^12 locks): while a thread holds one (append, incr),
/// eviction skips items under the same lock.
fn stripe(k: u8) -> u32 {
    murmur3_32(&key(k), 0) & 4095
}

fn op() -> impl Strategy<Value = Op> {
    let k = 0u8..24;
    prop_oneof![
        4 => (k.clone(), any::<u8>(), prop_oneof![Just(0i64), 1i64..100, Just(-1i64)])
            .prop_map(|(k, v, e)| Op::Set(k, v, e)),
        1 => (k.clone(), any::<u8>()).prop_map(|(k, v)| Op::Add(k, v)),
        1 => (k.clone(), any::<u8>()).prop_map(|(k, v)| Op::Replace(k, v)),
        1 => k.clone().prop_map(Op::Append),
        1 => (k.clone(), any::<u8>(), any::<bool>()).prop_map(|(k, v, g)| Op::Cas(k, v, g)),
        4 => k.clone().prop_map(Op::Get),
        1 => k.clone().prop_map(Op::Delete),
        1 => (k.clone(), any::<u8>()).prop_map(|(k, d)| Op::Incr(k, d)),
        1 => (k.clone(), 0i64..100).prop_map(|(k, e)| Op::Touch(k, e)),
        1 => (1u32..80).prop_map(Op::Advance),
        1 => k.prop_map(|_| Op::Flush),
    ]
}

impl Model {
    /// Eviction while `held`'s stripe lock is held: items under that lock are skipped.
    fn make_room_locked(&mut self, held: u8) {
        if self.items.len() < self.cap {
            return;
        }
        let s = stripe(held);
        let victim = self
            .order
            .iter()
            .take(5)
            .find(|&&k| stripe(k) != s)
            .copied();
        if let Some(v) = victim {
            self.remove(v);
        }
    }
}

fn check(ops: Vec<Op>) -> Result<(), TestCaseError> {
    let e = Engine::new(EngineConfig {
        memory_limit: 2 << 20,
        lru_maintainer: false,
        lru_segmented: false,
        lru_crawler: false,
        background_threads: false,
        ..EngineConfig::default()
    });
    // Class 1 takes the first page (an empty append writer allocates there later); the big
    // class then gets exactly one page within the 2-page limit.
    e.store(StoreMode::Set, b"warm", 0, 0, b"").unwrap();
    e.delete(b"warm", 0);
    let class = e.slab_class_for(6, 0, VLEN).expect("class");
    let cap = (1 << 20) / e.slab_chunk_size(class).unwrap() as usize;
    let mut m = Model {
        items: HashMap::new(),
        order: Vec::new(),
        cap,
        now: e.current_time(),
        cas: 1,
    };
    for op in ops {
        match op {
            Op::Advance(s) => {
                e.advance_clock(s);
                m.now += s;
            }
            Op::Flush => {
                e.flush_all(0);
                // Flushed items stay in memory until reclaimed, like expired ones.
                for ent in m.items.values_mut() {
                    ent.exp = 1;
                }
            }
            Op::Set(k, v, exp) => {
                m.make_room(None);
                let r = e.store(StoreMode::Set, &key(k), 0, exp, &value(v)).unwrap();
                let c = m.link(k, value(v), e.realtime(exp));
                prop_assert_eq!(r, StoreResult::Stored(c));
            }
            Op::Add(k, v) | Op::Replace(k, v) => {
                let add = matches!(op, Op::Add(..));
                m.make_room(None);
                let mode = if add {
                    StoreMode::Add
                } else {
                    StoreMode::Replace
                };
                let r = e.store(mode, &key(k), 0, 0, &value(v)).unwrap();
                let live = m.live(k);
                if live && add {
                    // A refused add promotes the existing item (memcached's do_item_update).
                    m.bump(k);
                }
                let want = if live == add {
                    StoreResult::NotStored
                } else {
                    StoreResult::Stored(m.link(k, value(v), 0))
                };
                prop_assert_eq!(r, want);
            }
            Op::Append(k) => {
                let r = e.store(StoreMode::Append, &key(k), 0, 0, b"").unwrap();
                if m.live(k) {
                    m.make_room_locked(k);
                    let ent = m.items[&k].clone();
                    let c = m.link(k, ent.value, ent.exp);
                    prop_assert_eq!(r, StoreResult::Stored(c));
                } else {
                    prop_assert_eq!(r, StoreResult::NotStored);
                }
            }
            Op::Cas(k, v, good) => {
                // Peek without dropping an expired entry: like memcached, the engine
                // allocates (and may evict the LRU tail) before its lookup reclaims it.
                let cas = match m.items.get(&k) {
                    Some(ent) if good && (ent.exp == 0 || ent.exp > m.now) => ent.cas,
                    _ => 999_999_999,
                };
                m.make_room(None);
                let r = e
                    .store(StoreMode::Cas(cas), &key(k), 0, 0, &value(v))
                    .unwrap();
                let want = if !m.live(k) {
                    StoreResult::NotFound
                } else if m.items[&k].cas == cas {
                    StoreResult::Stored(m.link(k, value(v), 0))
                } else {
                    StoreResult::Exists
                };
                prop_assert_eq!(r, want);
            }
            Op::Get(k) => {
                let got = e.get(&key(k)).map(|i| (i.value_vec(), i.cas()));
                let want = if m.live(k) {
                    m.bump(k);
                    let ent = &m.items[&k];
                    Some((ent.value.clone(), ent.cas))
                } else {
                    None
                };
                prop_assert_eq!(got, want);
            }
            Op::Delete(k) => {
                let r = e.delete(&key(k), 0);
                let want = if m.live(k) {
                    m.remove(k);
                    DeleteResult::Deleted
                } else {
                    DeleteResult::NotFound
                };
                prop_assert_eq!(r, want);
            }
            Op::Incr(k, d) => {
                let r = e
                    .incr_decr(&key(k), u64::from(d), true, 0)
                    .map(|r| (r.value, r.cas));
                if m.live(k) {
                    m.make_room_locked(k);
                    let ent = m.items[&k].clone();
                    let n: u64 = String::from_utf8_lossy(&ent.value).trim().parse().unwrap();
                    let nv = n + u64::from(d);
                    let mut s = nv.to_string().into_bytes();
                    s.resize(ent.value.len().max(s.len()), b' ');
                    let c = m.link(k, s, ent.exp);
                    prop_assert_eq!(r, Ok((nv, c)));
                } else {
                    prop_assert_eq!(r, Err(DeltaError::NotFound));
                }
            }
            Op::Touch(k, exp) => {
                let r = e.touch(&key(k), exp);
                let want = m.live(k);
                if want {
                    let ne = e.realtime(exp);
                    m.bump(k);
                    m.items.get_mut(&k).unwrap().exp = ne;
                }
                prop_assert_eq!(r, want);
            }
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]
    #[test]
    fn engine_matches_model(ops in proptest::collection::vec(op(), 1..300)) {
        check(ops)?;
    }
}
