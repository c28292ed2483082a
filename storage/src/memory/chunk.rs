//! Item header layout and typed views of chunk memory.
//!
//! ```text
//! offset  size  field      guarded by
//!  0      4     h_next     item stripe lock (hash chain; free-list link while free)
//!  4      4     prev       the item's sub-LRU lock
//!  8      4     next       the item's sub-LRU lock
//! 12      4     time       atomic (last access, relative seconds)
//! 16      4     exptime    atomic (relative seconds, 0 = never)
//! 20      4     len        immutable while linked: value bytes (low 24) | key bytes (high 8)
//! 24      4     state      atomic: refcount (low 20 bits) | flags (high 12 bits)
//! 28      8     cas        immutable while linked; absent with `-C`
//! then    4     client flags, only if non-zero (CFLAGS)
//! then          key, then value (no "\r\n")
//! ```
//!
//! A chained item (CHUNKED) keeps, after its key, the total value length (u32), the number
//! of data chunks (u32) and their handles (u32 each). A data chunk (DATA) uses only the
//! state word of the header area and holds value bytes from offset [`DATA_HDR`].
//!
//! **Alignment.** Every header field is a `u32` (the CAS is read and written as two `u32`
//! halves), so a chunk needs 4-byte alignment only: pages are 4096-aligned and every class
//! size is a multiple of [`CHUNK_ALIGN`] (4), so every chunk start, header word and
//! chained-item table (placed at the next 4-aligned offset after the key) is 4-aligned.
//! memcached rounds to 8 because its header holds pointers and a `uint64_t` CAS.
//!
//! **Classes.** `-n` is "the minimum space for key + value + flags" (memcached's man
//! page), so the first class is the whole header (36 bytes, 28 with `-C`) + `-n`, and each
//! next one is the previous × `-f`, rounded up to 4. The defaults (`-n 48 -f 1.25`) give
//! 84, 108, 136, 172, 216, 272, ... (with `-C`: 76, 96, 120, 152, 192, ...). memcached
//! itself starts from its header without CAS and rounds to 8 (96, 120, 152, 192, ...).
//!
//! **Why this header and this base.** The reference item (32-byte key + 100-byte value,
//! no flags, CAS on) takes 36 + 132 = 168 bytes and lands in the 172 class: 40 bytes per
//! item beyond key + value, plus 4 bytes × 2^20 buckets of hash table for 1M items (the
//! table grows at 1.5 items per bucket, memcached's threshold, keeping chains short for
//! lookups): ~44.2 B per item. With factor 1.25 the class an item lands in depends on the
//! header size h, since both the first class (h + 48) and the item (h + 132) move with it:
//! h = 20, 24, 28, 32, 36, 40, 44 put the item in a class 44, 56, 60, 68, 40, 44, 56 bytes
//! above 132, so a smaller header (say folding the refcount into `len`) would cost bytes
//! here, not save them. 8-byte rounding from the same base (84 → 88, 112, 144, 184) would
//! put the item in 184 (52 B); the former base without CAS (28 + 48 = 76 → 80, 104, 136,
//! 176) put it in 176 (44 B, ~48.2 B per item with the buckets).

use std::marker::PhantomData;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU32, Ordering::*};

/// Size of the fixed header (without CAS).
pub const HDR_BASE: usize = 28;
/// Size of the CAS field.
pub const CAS_SIZE: usize = 8;
/// Chunk sizes (and so chunk starts within a page) are multiples of this.
pub const CHUNK_ALIGN: u32 = 4;
/// Offset of value bytes in a data chunk of a chained item.
pub const DATA_HDR: usize = HDR_BASE;

const OFF_HNEXT: usize = 0;
const OFF_PREV: usize = 4;
const OFF_NEXT: usize = 8;
const OFF_TIME: usize = 12;
const OFF_EXPTIME: usize = 16;
const OFF_LEN: usize = 20;
const OFF_STATE: usize = 24;
const OFF_CAS: usize = 28;

/// Refcount bits of the state word.
pub const REF_MASK: u32 = (1 << 20) - 1;
/// The item is in the hash table and an LRU.
pub const LINKED: u32 = 1 << 20;
/// The item was fetched at least once.
pub const FETCHED: u32 = 1 << 21;
/// The item was fetched again since it was last moved (segmented LRU activity bit).
pub const ACTIVE: u32 = 1 << 22;
/// The value lives in data chunks listed after the key.
pub const CHUNKED: u32 = 1 << 23;
/// Four bytes of client flags follow the header.
pub const CFLAGS: u32 = 1 << 24;
/// Shift of the 2-bit sub-LRU id.
pub const LRU_SHIFT: u32 = 25;
/// Mask of the sub-LRU id.
pub const LRU_MASK: u32 = 3 << LRU_SHIFT;
/// The chunk is on its class's free list.
pub const FREE: u32 = 1 << 27;
/// The chunk holds value bytes of a chained item.
pub const DATA: u32 = 1 << 28;
/// Meta protocol: the item is marked stale.
pub const STALE: u32 = 1 << 29;
/// Meta protocol: a client already got the win token for this item.
pub const WIN_SENT: u32 = 1 << 30;
/// Meta protocol: the key was given base64-encoded (`b`), so replies re-encode it.
pub const KEY_BINARY: u32 = 1 << 31;

/// Largest value length stored in the 24-bit `len` field.
pub const LEN_MAX: usize = (1 << 24) - 1;

/// A shared view of one chunk. Header fields are atomics; key and value bytes are
/// immutable from the moment the item is published until its chunk is freed, which
/// happens only after the last reference is gone (the refcount protocol).
#[derive(Clone, Copy)]
pub struct Chunk<'a> {
    ptr: NonNull<u8>,
    size: u32,
    _mem: PhantomData<&'a ()>,
}

// SAFETY: a Chunk is a pointer into page memory that outlives 'a; all shared mutation goes
// through atomics, and byte slices are only handed out for immutable regions.
unsafe impl Send for Chunk<'_> {}
// SAFETY: as above.
unsafe impl Sync for Chunk<'_> {}

impl<'a> Chunk<'a> {
    /// Wraps a chunk start. Only the slab allocator creates these.
    pub(super) fn new(ptr: NonNull<u8>, size: u32) -> Chunk<'a> {
        Chunk {
            ptr,
            size,
            _mem: PhantomData,
        }
    }

    /// The chunk's start (for the allocator handing it out as an [`OwnedChunk`]).
    #[inline]
    pub(super) fn ptr(&self) -> NonNull<u8> {
        self.ptr
    }

    #[inline]
    fn word(&self, off: usize) -> &'a AtomicU32 {
        debug_assert!(off + 4 <= self.size as usize);
        // SAFETY: `off` is a 4-aligned offset inside the chunk (bounds checked above in
        // debug builds; callers only pass header offsets and 4-aligned table offsets of
        // chunks big enough for them), the chunk start is 4-aligned (page base 4096-aligned,
        // class sizes multiples of CHUNK_ALIGN), the page outlives 'a, and every access to
        // header words goes through atomics.
        unsafe { &*(self.ptr.as_ptr().add(off) as *const AtomicU32) }
    }

    /// Starts loading the chunk's header and the 64 bytes after it (an inline key) into
    /// the cache: a lookup will read them shortly.
    #[inline]
    pub fn prefetch_head(&self) {
        super::prefetch(self.ptr.as_ptr());
        super::prefetch(self.ptr.as_ptr().wrapping_add(64));
    }

    /// Hash chain / free list link.
    #[inline]
    pub fn h_next(&self) -> u32 {
        self.word(OFF_HNEXT).load(Relaxed)
    }
    /// Sets the hash chain / free list link.
    #[inline]
    pub fn set_h_next(&self, v: u32) {
        self.word(OFF_HNEXT).store(v, Relaxed)
    }
    /// LRU link towards the head (newer).
    #[inline]
    pub fn prev(&self) -> u32 {
        self.word(OFF_PREV).load(Relaxed)
    }
    /// Sets the LRU prev link.
    #[inline]
    pub fn set_prev(&self, v: u32) {
        self.word(OFF_PREV).store(v, Relaxed)
    }
    /// LRU link towards the tail (older).
    #[inline]
    pub fn next(&self) -> u32 {
        self.word(OFF_NEXT).load(Relaxed)
    }
    /// Sets the LRU next link.
    #[inline]
    pub fn set_next(&self, v: u32) {
        self.word(OFF_NEXT).store(v, Relaxed)
    }
    /// Last access time (relative seconds).
    #[inline]
    pub fn time(&self) -> u32 {
        self.word(OFF_TIME).load(Relaxed)
    }
    /// Sets the last access time.
    #[inline]
    pub fn set_time(&self, v: u32) {
        self.word(OFF_TIME).store(v, Relaxed)
    }
    /// Expiry time (relative seconds, 0 = never).
    #[inline]
    pub fn exptime(&self) -> u32 {
        self.word(OFF_EXPTIME).load(Relaxed)
    }
    /// Sets the expiry time.
    #[inline]
    pub fn set_exptime(&self, v: u32) {
        self.word(OFF_EXPTIME).store(v, Relaxed)
    }
    /// The state word (refcount and flags).
    #[inline]
    pub fn state(&self) -> &'a AtomicU32 {
        self.word(OFF_STATE)
    }
    /// Key length.
    #[inline]
    pub fn nkey(&self) -> usize {
        (self.word(OFF_LEN).load(Relaxed) >> 24) as usize
    }
    /// Inline value length (0 for chained items).
    #[inline]
    pub fn nbytes_inline(&self) -> usize {
        (self.word(OFF_LEN).load(Relaxed) & 0x00ff_ffff) as usize
    }
    /// The CAS id (the caller knows CAS is enabled).
    #[inline]
    pub fn cas(&self) -> u64 {
        let lo = self.word(OFF_CAS).load(Relaxed);
        let hi = self.word(OFF_CAS + 4).load(Relaxed);
        u64::from(lo) | (u64::from(hi) << 32)
    }
    /// Reads a u32 at a 4-aligned offset in an immutable region.
    #[inline]
    pub fn u32_at(&self, off: usize) -> u32 {
        self.word(off).load(Relaxed)
    }

    /// Immutable bytes of the chunk. Callers only ask for key/value regions of a published
    /// item (or of a chunk they own), which nobody writes while it is referenced.
    #[inline]
    pub fn bytes(&self, off: usize, len: usize) -> &'a [u8] {
        assert!(off + len <= self.size as usize, "chunk read out of bounds");
        // SAFETY: in bounds (checked), the page outlives 'a, and the refcount protocol
        // guarantees no writer while a reference to the published item exists.
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr().add(off), len) }
    }
}

/// A chunk owned exclusively by its holder: fresh from the free list, not yet published.
pub struct OwnedChunk {
    pub(super) handle: u32,
    pub(super) ptr: NonNull<u8>,
    pub(super) size: u32,
    pub(super) class: u8,
}

// SAFETY: the owner has exclusive access to the chunk's bytes; it can move between threads.
unsafe impl Send for OwnedChunk {}
// SAFETY: shared access only reads through `view` (atomics / immutable bytes).
unsafe impl Sync for OwnedChunk {}

impl OwnedChunk {
    /// The chunk's handle.
    pub fn handle(&self) -> u32 {
        self.handle
    }
    /// The chunk's slab class.
    pub fn class(&self) -> u8 {
        self.class
    }
    /// A shared view (header atomics, reads).
    pub fn view(&self) -> Chunk<'_> {
        Chunk::new(self.ptr, self.size)
    }
    /// Writable bytes of the chunk.
    pub fn bytes_mut(&mut self, off: usize, len: usize) -> &mut [u8] {
        assert!(off + len <= self.size as usize, "chunk write out of bounds");
        // SAFETY: in bounds, and `OwnedChunk` is the only way to reach this chunk until it
        // is published (`into_handle`), so no other reference to these bytes exists.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.as_ptr().add(off), len) }
    }
    /// Writes the immutable header fields of a new item.
    pub fn init_item(&mut self, nkey: usize, nbytes_inline: usize, cas: Option<u64>) {
        debug_assert!(nkey <= 255 && nbytes_inline <= LEN_MAX);
        let v = self.view();
        v.set_h_next(super::NIL);
        v.set_prev(super::NIL);
        v.set_next(super::NIL);
        v.word(OFF_LEN)
            .store(((nkey as u32) << 24) | nbytes_inline as u32, Relaxed);
        if let Some(c) = cas {
            v.word(OFF_CAS).store(c as u32, Relaxed);
            v.word(OFF_CAS + 4).store((c >> 32) as u32, Relaxed);
        }
    }
    /// Sets the CAS id (before publication).
    pub fn set_cas(&mut self, c: u64) {
        let v = self.view();
        v.word(OFF_CAS).store(c as u32, Relaxed);
        v.word(OFF_CAS + 4).store((c >> 32) as u32, Relaxed);
    }
    /// Gives up ownership: from now on the refcount protocol governs the chunk.
    pub fn into_handle(self) -> u32 {
        self.handle
    }
}
