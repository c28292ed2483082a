//! Handles to item memory: [`ItemRef`] (a counted reference to a published item) and
//! [`ItemWriter`] (an item being filled before it is linked).

use std::fmt;
use std::sync::atomic::Ordering::Relaxed;

use crate::engine::Inner;
use crate::memory::{OwnedChunk, Pin, CHUNKED, DATA_HDR, STALE, WIN_SENT};
use crate::types::StoreMode;

/// A counted reference to an item. The item's memory stays valid (and unchanged) until the
/// last reference drops, even if the key is replaced, deleted, expired or evicted meanwhile,
/// so response buffers can point straight into it.
pub struct ItemRef {
    inner: Pin<Inner>,
    h: u32,
    fetched_before: bool,
}

impl ItemRef {
    pub(crate) fn new(inner: Pin<Inner>, h: u32, fetched_before: bool) -> ItemRef {
        ItemRef {
            inner,
            h,
            fetched_before,
        }
    }

    fn ch(&self) -> crate::memory::Chunk<'_> {
        self.inner.slabs.chunk(self.h)
    }

    /// The key.
    pub fn key(&self) -> &[u8] {
        self.inner.key(self.ch())
    }

    /// The 32-bit client flags.
    pub fn flags(&self) -> u32 {
        self.inner.client_flags(self.ch())
    }

    /// The CAS id (0 with CAS disabled).
    pub fn cas(&self) -> u64 {
        self.inner.cas_of(self.ch())
    }

    /// Expiry as relative server time (0 = never); compare with
    /// [`crate::Engine::current_time`], add [`crate::Engine::process_started`] for Unix time.
    pub fn exptime(&self) -> u32 {
        self.ch().exptime()
    }

    /// Last access as relative server time.
    pub fn last_access(&self) -> u32 {
        self.ch().time()
    }

    /// Whether the item had been fetched before the lookup that produced this reference
    /// (meta `h` flag).
    pub fn fetched_before(&self) -> bool {
        self.fetched_before
    }

    /// Whether the item has ever been fetched (meta `me`/metadump `fetch=yes|no`).
    pub fn fetched(&self) -> bool {
        self.ch().state().load(Relaxed) & crate::memory::FETCHED != 0
    }

    /// Value length in bytes.
    pub fn value_len(&self) -> usize {
        self.inner.value_len(self.ch())
    }

    /// The slab class holding the item (its header chunk).
    pub fn slab_class(&self) -> u8 {
        self.inner.slabs.class_of(self.h)
    }

    /// Bytes the item occupies in its chunks (header, flags, key, value).
    pub fn total_size(&self) -> usize {
        let ch = self.ch();
        if ch.state().load(Relaxed) & CHUNKED != 0 {
            self.inner.item_size(ch) + self.value_len()
        } else {
            self.inner.item_size(ch)
        }
    }

    /// Whether the value is stored across several chunks.
    pub fn is_chunked(&self) -> bool {
        self.ch().state().load(Relaxed) & CHUNKED != 0
    }

    /// Meta protocol: whether the item is marked stale.
    pub fn is_stale(&self) -> bool {
        self.ch().state().load(Relaxed) & STALE != 0
    }

    /// Meta protocol: whether a client already received the win token.
    pub fn win_sent(&self) -> bool {
        self.ch().state().load(Relaxed) & WIN_SENT != 0
    }

    /// Meta protocol: claims the win token; true if this caller got it.
    pub fn claim_win(&self) -> bool {
        self.ch().state().fetch_or(WIN_SENT, Relaxed) & WIN_SENT == 0
    }

    /// The value as one slice per chunk (exactly one for ordinary items).
    pub fn value_chunks(&self) -> Vec<&[u8]> {
        let ch = self.ch();
        let inner = &*self.inner;
        if ch.state().load(Relaxed) & CHUNKED == 0 {
            let off = inner.key_off(ch) + ch.nkey();
            return vec![ch.bytes(off, ch.nbytes_inline())];
        }
        let total = inner.value_len(ch);
        let cap = inner.data_cap();
        let mut left = total;
        inner
            .data_chunks(ch)
            .map(|d| {
                let n = left.min(cap);
                left -= n;
                inner.slabs.chunk(d).bytes(DATA_HDR, n)
            })
            .collect()
    }

    /// The value of an ordinary (single-chunk) item; `None` for chained items.
    pub fn value(&self) -> Option<&[u8]> {
        let ch = self.ch();
        if ch.state().load(Relaxed) & CHUNKED != 0 {
            return None;
        }
        let off = self.inner.key_off(ch) + ch.nkey();
        Some(ch.bytes(off, ch.nbytes_inline()))
    }

    /// A copy of the value.
    pub fn value_vec(&self) -> Vec<u8> {
        self.value_chunks().concat()
    }
}

impl Clone for ItemRef {
    fn clone(&self) -> ItemRef {
        self.inner.incref(self.h);
        ItemRef {
            inner: self.inner.clone(),
            h: self.h,
            fetched_before: self.fetched_before,
        }
    }
}

impl Drop for ItemRef {
    fn drop(&mut self) {
        self.inner.decref(self.h);
    }
}

impl fmt::Debug for ItemRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ItemRef")
            .field("key", &String::from_utf8_lossy(self.key()))
            .field("flags", &self.flags())
            .field("cas", &self.cas())
            .field("len", &self.value_len())
            .finish()
    }
}

/// An item being filled: memory is allocated, header and key are written, the value is
/// written in place through [`ItemWriter::spare_mut`] + [`ItemWriter::advance`] (or
/// [`ItemWriter::write_all`]), then [`crate::Engine::commit`] links it. Dropping a writer
/// without committing frees its memory.
pub struct ItemWriter {
    pub(crate) inner: Pin<Inner>,
    pub(crate) mode: StoreMode,
    pub(crate) head: Option<OwnedChunk>,
    pub(crate) data: Vec<OwnedChunk>,
    pub(crate) nbytes: usize,
    pub(crate) filled: usize,
}

impl ItemWriter {
    pub(crate) fn new(
        inner: Pin<Inner>,
        mode: StoreMode,
        head: OwnedChunk,
        data: Vec<OwnedChunk>,
        nbytes: usize,
    ) -> ItemWriter {
        ItemWriter {
            inner,
            mode,
            head: Some(head),
            data,
            nbytes,
            filled: 0,
        }
    }

    /// The store mode given to `alloc`.
    pub fn mode(&self) -> StoreMode {
        self.mode
    }

    /// Value length announced.
    pub fn len(&self) -> usize {
        self.nbytes
    }

    /// True for a zero-length value.
    pub fn is_empty(&self) -> bool {
        self.nbytes == 0
    }

    /// Bytes written so far.
    pub fn filled(&self) -> usize {
        self.filled
    }

    /// Whether the whole value has been written.
    pub fn is_complete(&self) -> bool {
        self.filled == self.nbytes
    }

    /// The next unwritten part of the value (empty when complete). Ordinary items expose
    /// the whole rest at once; chained items one chunk at a time.
    pub fn spare_mut(&mut self) -> &mut [u8] {
        let left = self.nbytes - self.filled;
        if left == 0 {
            return &mut [];
        }
        if self.data.is_empty() {
            let head = self.head.as_mut().expect("writer head");
            let ch = head.view();
            let off = self.inner.key_off(ch) + ch.nkey() + self.filled;
            return head.bytes_mut(off, left);
        }
        let cap = self.inner.data_cap();
        let i = self.filled / cap;
        let within = self.filled % cap;
        let n = (cap - within).min(left);
        self.data[i].bytes_mut(DATA_HDR + within, n)
    }

    /// Marks `n` more bytes as written.
    pub fn advance(&mut self, n: usize) {
        assert!(self.filled + n <= self.nbytes, "advance past the value");
        self.filled += n;
    }

    /// Copies `src` into the value (appending to what was written).
    pub fn write_all(&mut self, mut src: &[u8]) {
        while !src.is_empty() {
            let buf = self.spare_mut();
            assert!(!buf.is_empty(), "write past the value");
            let n = buf.len().min(src.len());
            buf[..n].copy_from_slice(&src[..n]);
            self.advance(n);
            src = &src[n..];
        }
    }

    /// Frees the memory (never linked).
    pub(crate) fn release(&mut self) {
        let inner = self.inner.clone();
        if let Some(head) = self.head.take() {
            let cap = inner.data_cap();
            let mut left = self.nbytes;
            for d in self.data.drain(..) {
                let n = left.min(cap);
                left -= n;
                inner.slabs.free_owned(d, n + DATA_HDR);
            }
            let size = inner.item_size(head.view());
            inner.slabs.free_owned(head, size);
        }
    }
}

impl Drop for ItemWriter {
    fn drop(&mut self) {
        self.release();
    }
}

impl fmt::Debug for ItemWriter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ItemWriter")
            .field("mode", &self.mode)
            .field("nbytes", &self.nbytes)
            .field("filled", &self.filled)
            .finish()
    }
}
