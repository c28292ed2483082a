//! The engine calls every protocol shares (text now; meta and binary later): lookups,
//! stores, deletes, arithmetic and touches, mapped onto `evcached-storage`.

use evcached_storage::{
    DeleteResult, DeltaError, ItemRef, ItemWriter, StoreError, StoreMode, StoreResult,
};

use crate::protocol::{Ctx, Output, ValueRef};

/// Storage modes as the protocols name them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// set
    Set,
    /// add
    Add,
    /// replace
    Replace,
    /// append
    Append,
    /// prepend
    Prepend,
    /// cas with the client's unique
    Cas(u64),
}

/// Every way a store can end.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StoreOutcome {
    /// Stored with this CAS.
    Stored(u64),
    /// Condition not met (add/replace/append/prepend).
    NotStored,
    /// CAS mismatch.
    Exists,
    /// cas on a missing key.
    NotFound,
    /// Over the item size limit.
    TooLarge,
    /// No memory.
    OutOfMemory,
}

/// Result of incr/decr.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ArithOutcome {
    /// The new value.
    Value(u64),
    /// Missing key.
    NotFound,
    /// The stored value is not a number.
    NonNumeric,
    /// A new item was needed and could not be allocated.
    OutOfMemory,
}

/// A fetched item with the fields replies print.
pub struct Hit {
    /// Client flags.
    pub flags: u32,
    /// CAS unique.
    pub cas: u64,
    /// Value length in bytes.
    pub value_len: usize,
    item: ItemRef,
}

fn hit(item: ItemRef) -> Hit {
    // (value_len counts the bytes only, without the trailing "\r\n")
    Hit {
        flags: item.flags(),
        cas: item.cas(),
        value_len: item.value_len(),
        item,
    }
}

/// Looks a key up (counts a get).
pub fn get(ctx: &Ctx<'_>, key: &[u8]) -> Option<Hit> {
    ctx.shared.engine.get(key).map(hit)
}

/// Looks a key up and sets its exptime (gat/gats; counts a touch).
pub fn gat(ctx: &Ctx<'_>, key: &[u8], exptime: i32) -> Option<Hit> {
    ctx.shared.engine.gat(key, i64::from(exptime)).map(hit)
}

/// Appends the value of `hit` (zero copy) and its `\r\n`.
pub fn push_value(out: &mut Output<ValueRef>, hit: Hit) {
    // One look into item memory for the common (inline) case: its length goes along.
    if let Some(len) = hit.item.value().map(<[u8]>::len) {
        out.push_value_sized(ValueRef::new(hit.item, 0), len);
    } else {
        let n = hit.item.value_chunks().len();
        for i in 0..n {
            out.push_value(ValueRef::new(hit.item.clone(), i));
        }
    }
    out.push(b"\r\n");
}

/// Would an item with this key length, flags and value length fit `-I`? (memcached's
/// `item_size_ok`: 48-byte header, CAS, key + NUL, flags when non-zero, value + CRLF.)
pub fn item_fits(ctx: &Ctx<'_>, nkey: usize, flags: u32, vlen: usize) -> bool {
    let s = &ctx.shared.settings;
    let cas = if s.use_cas { 8 } else { 0 };
    let size = 48 + cas + nkey + 1 + if flags != 0 { 4 } else { 0 } + vlen + 2;
    size <= s.item_size_max
}

fn engine_mode(mode: Mode) -> StoreMode {
    match mode {
        Mode::Set => StoreMode::Set,
        Mode::Add => StoreMode::Add,
        Mode::Replace => StoreMode::Replace,
        Mode::Append => StoreMode::Append,
        Mode::Prepend => StoreMode::Prepend,
        Mode::Cas(c) => StoreMode::Cas(c),
    }
}

/// Allocates the item for a store without filling it, for the cases where memcached has
/// allocated before it looks at the data: a value refused for size or memory (the engine
/// counts it and, for `set`, unlinks the old item) or a malformed data block (counted as
/// a set, then dropped). Returns the refusal, if any.
pub fn alloc_only(
    ctx: &Ctx<'_>,
    mode: Mode,
    key: &[u8],
    flags: u32,
    exptime: i32,
    vlen: usize,
) -> Option<StoreOutcome> {
    match ctx
        .shared
        .engine
        .alloc(engine_mode(mode), key, flags, i64::from(exptime), vlen)
    {
        Ok(w) => {
            drop(w);
            None
        }
        Err(e) => Some(refused(e)),
    }
}

/// Phase one of a streamed store: the item to copy a large value into as it arrives.
pub fn alloc(
    ctx: &Ctx<'_>,
    mode: Mode,
    key: &[u8],
    flags: u32,
    exptime: i32,
    vlen: usize,
) -> Result<ItemWriter, StoreOutcome> {
    ctx.shared
        .engine
        .alloc(engine_mode(mode), key, flags, i64::from(exptime), vlen)
        .map_err(refused)
}

/// Phase two of a streamed store: links the filled item.
pub fn commit(ctx: &Ctx<'_>, w: ItemWriter) -> StoreOutcome {
    outcome(ctx.shared.engine.commit(w))
}

fn refused(e: StoreError) -> StoreOutcome {
    match e {
        StoreError::TooLarge => StoreOutcome::TooLarge,
        StoreError::OutOfMemory => StoreOutcome::OutOfMemory,
    }
}

fn outcome(r: StoreResult) -> StoreOutcome {
    match r {
        StoreResult::Stored(c) => StoreOutcome::Stored(c),
        StoreResult::NotStored => StoreOutcome::NotStored,
        StoreResult::Exists => StoreOutcome::Exists,
        StoreResult::NotFound => StoreOutcome::NotFound,
    }
}

/// Stores a value.
pub fn store(
    ctx: &Ctx<'_>,
    mode: Mode,
    key: &[u8],
    flags: u32,
    exptime: i32,
    data: &[u8],
) -> StoreOutcome {
    ctx.shared
        .engine
        .store(engine_mode(mode), key, flags, i64::from(exptime), data)
        .map_or_else(refused, outcome)
}

/// Deletes a key; true if it was there.
pub fn delete(ctx: &Ctx<'_>, key: &[u8]) -> bool {
    matches!(ctx.shared.engine.delete(key, 0), DeleteResult::Deleted)
}

/// incr (`incr` true) or decr.
pub fn arith(ctx: &Ctx<'_>, key: &[u8], incr: bool, delta: u64) -> ArithOutcome {
    match ctx.shared.engine.incr_decr(key, delta, incr, 0) {
        Ok(r) => ArithOutcome::Value(r.value),
        Err(DeltaError::NotFound) | Err(DeltaError::Exists) => ArithOutcome::NotFound,
        Err(DeltaError::NonNumeric) => ArithOutcome::NonNumeric,
        Err(DeltaError::OutOfMemory) => ArithOutcome::OutOfMemory,
    }
}

/// Sets a key's exptime; true if it was there.
pub fn touch(ctx: &Ctx<'_>, key: &[u8], exptime: i32) -> bool {
    ctx.shared.engine.touch(key, i64::from(exptime))
}
