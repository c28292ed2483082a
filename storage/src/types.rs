//! Small public types shared by the engine's operations: modes, results and errors.

use std::fmt;

/// How a store combines the new value with an existing item (memcached's storage commands).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StoreMode {
    /// `set`: store unconditionally.
    Set,
    /// `add`: store only if the key is absent.
    Add,
    /// `replace`: store only if the key is present.
    Replace,
    /// `append`: old value then new; keeps the old flags and exptime.
    Append,
    /// `prepend`: new value then old; keeps the old flags and exptime.
    Prepend,
    /// `cas <unique>`: store only if the item's CAS equals `unique` (0 never matches).
    Cas(u64),
}

/// Outcome of a store that got its memory (see [`StoreError`] for the other cases).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StoreResult {
    /// `STORED`; carries the new item's CAS id (0 with CAS disabled).
    Stored(u64),
    /// `NOT_STORED` (add on a present key, replace/append/prepend on a missing one).
    NotStored,
    /// `EXISTS` (CAS mismatch).
    Exists,
    /// `NOT_FOUND` (cas on a missing key).
    NotFound,
}

/// A store refused before the value was accepted. A refused `set` also unlinks the
/// existing item with that key, as memcached does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StoreError {
    /// Item bigger than `-I` → `SERVER_ERROR object too large for cache`.
    TooLarge,
    /// No memory and nothing evictable (or `-M`) → `SERVER_ERROR out of memory storing object`.
    OutOfMemory,
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            StoreError::TooLarge => "SERVER_ERROR object too large for cache",
            StoreError::OutOfMemory => "SERVER_ERROR out of memory storing object",
        })
    }
}

impl std::error::Error for StoreError {}

/// Why `incr`/`decr` failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeltaError {
    /// `NOT_FOUND`.
    NotFound,
    /// `CLIENT_ERROR cannot increment or decrement non-numeric value`.
    NonNumeric,
    /// CAS given and different (meta `EX`, binary status 0x02).
    Exists,
    /// `SERVER_ERROR out of memory`.
    OutOfMemory,
}

/// Successful `incr`/`decr`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DeltaResult {
    /// The new value (what memcached prints).
    pub value: u64,
    /// The item's new CAS id.
    pub cas: u64,
}

/// Outcome of a delete.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeleteResult {
    /// `DELETED`.
    Deleted,
    /// `NOT_FOUND`.
    NotFound,
    /// CAS given and different (`EX` / binary 0x02).
    Exists,
}

/// `cache_memlimit` refusals with memcached's reply lines.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MemLimitError {
    /// Below 8 MB.
    TooSmall,
    /// Above 1 000 000 000 MB (the user probably gave bytes).
    NotMegabytes,
    /// Memory was preallocated (`-L`).
    Preallocated,
}

impl fmt::Display for MemLimitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            MemLimitError::TooSmall => "MEMLIMIT_TOO_SMALL cannot set maxbytes to less than 8m",
            MemLimitError::NotMegabytes => {
                "MEMLIMIT_ADJUST_FAILED input value is megabytes not bytes"
            }
            MemLimitError::Preallocated => {
                "MEMLIMIT_ADJUST_FAILED out of bounds or unable to adjust"
            }
        })
    }
}

/// `slabs reassign` refusals with memcached's reply lines.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReassignError {
    /// A move is already running.
    Busy,
    /// Unknown source or destination class.
    BadClass,
    /// The source class has fewer than two pages.
    NoSpare,
    /// Source and destination are the same.
    Same,
    /// `-o no_slab_reassign`.
    Disabled,
}

impl fmt::Display for ReassignError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ReassignError::Busy => "BUSY currently processing reassign request",
            ReassignError::BadClass => "BADCLASS invalid src or dst class id",
            ReassignError::NoSpare => "NOSPARE source class has no spare pages",
            ReassignError::Same => "SAME src and dst class are identical",
            ReassignError::Disabled => "CLIENT_ERROR slab reassignment disabled",
        })
    }
}

/// `lru_crawler crawl` refusals with memcached's reply lines.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CrawlError {
    /// A crawl is running.
    Busy,
    /// A class id out of range.
    BadClass,
    /// The crawler is disabled.
    Disabled,
}

impl fmt::Display for CrawlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CrawlError::Busy => "BUSY currently processing crawler request",
            CrawlError::BadClass => "BADCLASS invalid class id",
            CrawlError::Disabled => "CLIENT_ERROR lru crawler disabled",
        })
    }
}

/// Stats lines as `(name, value)` pairs in memcached's order; the server prints
/// `STAT <name> <value>\r\n` for each.
pub type StatLines = Vec<(String, String)>;
