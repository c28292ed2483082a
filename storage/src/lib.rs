//! evcached's storage engine: memcached's slab allocator, items, hash table and segmented
//! LRU, with no knowledge of sockets or wire formats.
//!
//! # Using it (the contract the server codes against)
//!
//! ```
//! use evcached_storage::{Engine, EngineConfig, StoreMode, StoreResult};
//!
//! let config = EngineConfig { background_threads: false, ..EngineConfig::default() };
//! config.validate().expect("memcached's start-up checks");
//! let engine = Engine::new(config);
//!
//! // One-shot store (the value is copied into item memory).
//! let r = engine.store(StoreMode::Set, b"k", 5, 0, b"hello").unwrap();
//! assert!(matches!(r, StoreResult::Stored(_)));
//!
//! // Two-phase store: the network layer reads the data block straight into the item.
//! let mut w = engine.alloc(StoreMode::Append, b"k", 0, 0, 6).unwrap();
//! let src = b" world";
//! while !w.is_complete() {
//!     let done = w.filled();
//!     let buf = w.spare_mut(); // read(2) straight into item memory
//!     let n = buf.len().min(src.len() - done);
//!     buf[..n].copy_from_slice(&src[done..done + n]);
//!     w.advance(n);
//! }
//! assert!(matches!(engine.commit(w), StoreResult::Stored(_)));
//!
//! // Zero-copy read: the ItemRef keeps the memory alive until dropped, even if another
//! // thread replaces or deletes the key meanwhile.
//! let item = engine.get(b"k").unwrap();
//! assert_eq!(item.flags(), 5);
//! assert_eq!(item.value_chunks().concat(), b"hello world");
//! engine.shutdown();
//! ```
//!
//! * [`Engine`] is `Send + Sync`; share one `Arc<Engine>` among all worker threads.
//!   [`Engine::new`] starts the background threads (LRU maintainer, LRU crawler, slab
//!   rebalancer, hash table expander) unless `background_threads` is false;
//!   [`Engine::shutdown`] (also run on drop) stops and joins them.
//! * The clock: [`Engine::tick`] re-reads the monotonic clock (the dispatcher calls it once a
//!   second); [`Engine::advance_clock`] moves it forward by hand (tests). Times inside the
//!   engine are memcached's relative seconds ([`Engine::current_time`]); exptimes passed in
//!   are the client's raw values (0, relative ≤ 30 days, absolute, negative) and are
//!   truncated to 32 bits as memcached does.
//! * Keys must be 1..=250 bytes; the protocol layer checks that (`KEY_MAX_LENGTH`) before
//!   calling. Longer keys are refused by the engine as not found / too large.
//! * [`ItemRef`] is a refcounted, `Send` handle to item memory: `key()`, `value_chunks()`
//!   (one slice for ordinary items, several for chained large ones), `flags()`, `cas()`,
//!   `exptime()`; cloning or dropping one touches the item's refcount and a per-thread-shard
//!   counter, never a counter shared by all threads.
//! * Stats: [`Engine::stats`] (general, engine-owned fields as [`EngineStats`]),
//!   [`Engine::stats_items`], [`Engine::stats_slabs`], [`Engine::stats_sizes`],
//!   [`Engine::stats_settings`], [`Engine::stats_reset`].
//!
//! # Design
//!
//! Pages of `slab_page_size` bytes are cut into chunks of one slab class; an item lives in
//! one chunk (header, optional client flags, key, value; no "\r\n") or, above
//! `slab_chunk_max`, in a header chunk that lists data chunks. Items are addressed by 32-bit
//! handles (page, chunk index), so the hash chain and the LRU links cost 4 bytes each. The
//! item header is 28 bytes plus an 8-byte CAS (36 bytes; 28 with `-C`). All raw memory
//! access is inside the private `memory` module; everything else is safe code.
//!
//! Locking: item stripe locks (hash of the key) → per class and sub-LRU locks → per class
//! slab locks → the global page lock. Readers take only their key's stripe lock.

mod clock;
pub mod config;
mod engine;
mod hash;
mod item;
mod lru;
mod maint;
mod memory;
mod meta;
mod stats;
mod statsfmt;
mod store;
mod types;
mod walk;

pub use config::{ConfigError, EngineConfig};
pub use engine::Engine;
pub use hash::murmur3_32;
pub use item::{ItemRef, ItemWriter};
pub use meta::{MetaFetch, MetaHit};
pub use stats::EngineStats;
pub use types::{
    CrawlError, DeleteResult, DeltaError, DeltaResult, MemLimitError, ReassignError, StatLines,
    StoreError, StoreMode, StoreResult,
};
pub use walk::WalkCursor;
