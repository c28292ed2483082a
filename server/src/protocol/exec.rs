//! The engine calls every protocol shares (text now; meta and binary later): lookups,
//! stores, deletes, arithmetic and touches, mapped onto `evcached-storage`.

use evcached_storage::{DeleteResult, DeltaError, ItemRef, StoreError, StoreMode, StoreResult};

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
    Hit { flags: item.flags(), cas: item.cas(), value_len: item.value_len(), item }
}

/// Looks a key up (counts a get).
pub fn get(ctx: &Ctx<'_>, key: &[u8]) -> Option<Hit> {
    ctx.shared.engine.get(key).map(hit)
}

/// Looks a key up and sets its exptime (gat/gats; counts a touch).
pub fn gat(ctx: &Ctx<'_>, key: &[u8], exptime: i32) -> Option<Hit> {
    ctx.shared.engine.gat(key, exptime).map(hit)
}

/// Appends the value of `hit` (zero copy) and its `\r\n`.
pub fn push_value(out: &mut Output<ValueRef>, hit: Hit) {
    let n = hit.item.value_chunk_count();
    for i in 0..n {
        out.push_value(ValueRef::new(hit.item.clone(), i));
    }
    out.push(b"\r\n");
}

/// Would an item with this key length, flags and value length fit `-I`?
pub fn item_fits(ctx: &Ctx<'_>, nkey: usize, flags: u32, vlen: usize) -> bool {
    ctx.shared.engine.item_size_ok(nkey, flags, vlen)
}

/// Bookkeeping for a store refused before its data was read: counts it and, for `set`,
/// unlinks the existing item so no stale value survives (memcached does the same).
pub fn refused_store(ctx: &Ctx<'_>, key: &[u8], is_set: bool, why: StoreOutcome) {
    let err = match why {
        StoreOutcome::OutOfMemory => StoreError::OutOfMemory,
        _ => StoreError::TooLarge,
    };
    ctx.shared.engine.store_refused(key, is_set, err);
}

/// Counts a storage command whose data block was malformed (memcached counts it as a set).
pub fn count_set(ctx: &Ctx<'_>) {
    ctx.shared.engine.count_set();
}

/// Stores a value.
pub fn store(ctx: &Ctx<'_>, mode: Mode, key: &[u8], flags: u32, exptime: i32, data: &[u8]) -> StoreOutcome {
    let mode = match mode {
        Mode::Set => StoreMode::Set,
        Mode::Add => StoreMode::Add,
        Mode::Replace => StoreMode::Replace,
        Mode::Append => StoreMode::Append,
        Mode::Prepend => StoreMode::Prepend,
        Mode::Cas(c) => StoreMode::Cas(c),
    };
    match ctx.shared.engine.store(mode, key, flags, exptime, data) {
        Ok(StoreResult::Stored(c)) => StoreOutcome::Stored(c),
        Ok(StoreResult::NotStored) => StoreOutcome::NotStored,
        Ok(StoreResult::Exists) => StoreOutcome::Exists,
        Ok(StoreResult::NotFound) => StoreOutcome::NotFound,
        Err(StoreError::TooLarge) => StoreOutcome::TooLarge,
        Err(StoreError::OutOfMemory) => StoreOutcome::OutOfMemory,
    }
}

/// Deletes a key; true if it was there.
pub fn delete(ctx: &Ctx<'_>, key: &[u8]) -> bool {
    matches!(ctx.shared.engine.delete(key, 0), DeleteResult::Deleted)
}

/// incr (`incr` true) or decr.
pub fn arith(ctx: &Ctx<'_>, key: &[u8], incr: bool, delta: u64) -> ArithOutcome {
    match ctx.shared.engine.delta(key, incr, delta, 0) {
        Ok(r) => ArithOutcome::Value(r.value),
        Err(DeltaError::NotFound) | Err(DeltaError::Exists) => ArithOutcome::NotFound,
        Err(DeltaError::NonNumeric) => ArithOutcome::NonNumeric,
        Err(DeltaError::OutOfMemory) => ArithOutcome::OutOfMemory,
    }
}

/// Sets a key's exptime; true if it was there.
pub fn touch(ctx: &Ctx<'_>, key: &[u8], exptime: i32) -> bool {
    ctx.shared.engine.touch(key, exptime)
}
