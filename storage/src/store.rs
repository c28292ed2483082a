//! Mutations with memcached's semantics: linking stored items by mode, incr/decr, delete.

use std::sync::atomic::Ordering::Relaxed;

use crate::engine::Inner;
use crate::hash::murmur3_32;
use crate::item::ItemWriter;
use crate::memory::{Chunk, OwnedChunk, Stripe, CHUNKED, DATA_HDR, KEY_BINARY, NIL, STALE};
use crate::stats::bump;
use crate::types::*;

/// Finds the live item for `key` (stripe held), unlinking it if expired or flushed.
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

/// The value of a published item as slices.
fn item_value<'a>(inner: &'a Inner, ch: Chunk<'a>) -> Vec<&'a [u8]> {
    if ch.state().load(Relaxed) & CHUNKED == 0 {
        return vec![ch.bytes(inner.key_off(ch) + ch.nkey(), ch.nbytes_inline())];
    }
    let cap = inner.data_cap();
    let mut left = inner.value_len(ch);
    inner
        .data_chunks(ch)
        .map(|d| {
            let n = left.min(cap);
            left -= n;
            inner.slabs.chunk(d).bytes(DATA_HDR, n)
        })
        .collect()
}

/// The value written into a writer so far (complete at commit).
fn writer_value(w: &ItemWriter) -> Vec<&[u8]> {
    let head = w.head.as_ref().expect("writer head");
    let ch = head.view();
    if w.data.is_empty() {
        return vec![ch.bytes(w.inner.key_off(ch) + ch.nkey(), w.nbytes)];
    }
    let cap = w.inner.data_cap();
    let mut left = w.nbytes;
    w.data
        .iter()
        .map(|d| {
            let n = left.min(cap);
            left -= n;
            d.view().bytes(DATA_HDR, n)
        })
        .collect()
}

/// Gives the writer's chunks to the item (they are now governed by refcounts), sets the
/// CAS and links it, replacing `old` if given. Returns the CAS.
fn publish(
    inner: &Inner,
    s: &Stripe<'_>,
    hv: u32,
    mut head: OwnedChunk,
    data: Vec<OwnedChunk>,
    old: u32,
) -> u64 {
    let cas = inner.next_cas();
    if inner.cfg.cas_enabled {
        head.set_cas(cas);
    }
    for d in data {
        d.into_handle();
    }
    let h = head.into_handle();
    inner.link_replacing(s, hv, h, old);
    cas
}

/// Builds a new item from `parts` with the given header fields, holding the stripe lock.
fn build(
    inner: &Inner,
    key: &[u8],
    flags: u32,
    exptime: u32,
    parts: &[&[u8]],
) -> Option<(OwnedChunk, Vec<OwnedChunk>)> {
    let total: usize = parts.iter().map(|p| p.len()).sum();
    let (mut head, mut data) = inner.alloc_item(key, flags, exptime, total)?;
    let mut pos = 0;
    let cap = inner.data_cap();
    for p in parts {
        let mut src: &[u8] = p;
        while !src.is_empty() {
            let buf = if data.is_empty() {
                let ch = head.view();
                let off = inner.key_off(ch) + ch.nkey() + pos;
                head.bytes_mut(off, total - pos)
            } else {
                let within = pos % cap;
                let n = (cap - within).min(total - pos);
                data[pos / cap].bytes_mut(DATA_HDR + within, n)
            };
            let n = buf.len().min(src.len());
            buf[..n].copy_from_slice(&src[..n]);
            pos += n;
            src = &src[n..];
        }
    }
    Some((head, data))
}

/// Links a filled writer according to its mode.
pub(crate) fn commit(inner: &Inner, mut w: ItemWriter) -> StoreResult {
    let mut kbuf = [0u8; 256];
    let key = {
        let head = w.head.as_ref().expect("writer head");
        let k = inner.key(head.view());
        kbuf[..k.len()].copy_from_slice(k);
        &kbuf[..k.len()]
    };
    let hv = murmur3_32(key, 0);
    let s = inner.hash.lock(hv);
    let old = find_live(inner, &s, hv, key);
    let class = w.head.as_ref().map(|h| h.class()).unwrap_or(1);
    let take = |w: &mut ItemWriter| {
        (
            w.head.take().expect("writer head"),
            std::mem::take(&mut w.data),
        )
    };
    match w.mode {
        StoreMode::Set => {
            let (h, d) = take(&mut w);
            StoreResult::Stored(publish(inner, &s, hv, h, d, old))
        }
        StoreMode::Add => {
            if old != NIL {
                inner.update(old, inner.now());
                return StoreResult::NotStored;
            }
            let (h, d) = take(&mut w);
            StoreResult::Stored(publish(inner, &s, hv, h, d, NIL))
        }
        StoreMode::Replace => {
            if old == NIL {
                return StoreResult::NotStored;
            }
            let (h, d) = take(&mut w);
            StoreResult::Stored(publish(inner, &s, hv, h, d, old))
        }
        StoreMode::Cas(c) => {
            if old == NIL {
                bump!(inner.g, cas_misses);
                return StoreResult::NotFound;
            }
            let oc = inner.slabs.chunk(old);
            // memcached: a request CAS of 0 (always 0 with `-C`, which ignores the
            // client's value) never matches, so EXISTS rather than a blind store.
            if !inner.cfg.cas_enabled || c == 0 || inner.cas_of(oc) != c {
                bump!(inner.ccount(inner.slabs.class_of(old)), cas_badval);
                return StoreResult::Exists;
            }
            bump!(inner.ccount(class), cas_hits);
            let (h, d) = take(&mut w);
            StoreResult::Stored(publish(inner, &s, hv, h, d, old))
        }
        StoreMode::Append | StoreMode::Prepend => {
            if old == NIL {
                return StoreResult::NotStored;
            }
            let oc = inner.slabs.chunk(old);
            let flags = inner.client_flags(oc);
            if inner.too_large(key.len(), flags, inner.value_len(oc) + w.nbytes) {
                // memcached cannot allocate the combined item either: NOT_STORED.
                return StoreResult::NotStored;
            }
            let old_parts = item_value(inner, oc);
            let new_parts = writer_value(&w);
            let parts: Vec<&[u8]> = if w.mode == StoreMode::Append {
                old_parts.into_iter().chain(new_parts).collect()
            } else {
                new_parts.into_iter().chain(old_parts).collect()
            };
            let Some((h, d)) = build(inner, key, flags, oc.exptime(), &parts) else {
                return StoreResult::NotStored;
            };
            drop(parts);
            StoreResult::Stored(publish(inner, &s, hv, h, d, old))
        }
    }
}

/// Parses a stored value the way memcached's `safe_strtoull` does on "<value>\r\n":
/// leading whitespace and a sign allowed, at least one digit, no overflow, and the first
/// byte after the digits must be whitespace or the end.
pub(crate) fn parse_u64(v: &[u8]) -> Option<u64> {
    let is_space = |b: u8| matches!(b, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c);
    let mut i = 0;
    while i < v.len() && is_space(v[i]) {
        i += 1;
    }
    let mut neg = false;
    if i < v.len() && (v[i] == b'+' || v[i] == b'-') {
        neg = v[i] == b'-';
        i += 1;
    }
    let start = i;
    let mut n: u64 = 0;
    while i < v.len() && v[i].is_ascii_digit() {
        n = n.checked_mul(10)?.checked_add(u64::from(v[i] - b'0'))?;
        i += 1;
    }
    if i == start {
        return None;
    }
    if i < v.len() && !is_space(v[i]) {
        return None;
    }
    if neg {
        // strtoull negates; safe_strtoull refuses results that look negative.
        let r = n.wrapping_neg();
        if (r as i64) < 0 {
            return None;
        }
        return Some(r);
    }
    Some(n)
}

/// `incr`/`decr`.
pub(crate) fn incr_decr(
    inner: &Inner,
    key: &[u8],
    delta: u64,
    incr: bool,
    cas: u64,
) -> Result<DeltaResult, DeltaError> {
    let miss = || {
        if incr {
            bump!(inner.g, incr_misses);
        } else {
            bump!(inner.g, decr_misses);
        }
        Err(DeltaError::NotFound)
    };
    if key.is_empty() || key.len() > crate::engine::KEY_MAX {
        return miss();
    }
    let hv = murmur3_32(key, 0);
    let s = inner.hash.lock(hv);
    let h = find_live(inner, &s, hv, key);
    if h == NIL {
        return miss();
    }
    let ch = inner.slabs.chunk(h);
    if ch.state().load(Relaxed) & CHUNKED != 0 || ch.nbytes_inline() == 0 {
        return Err(DeltaError::NonNumeric);
    }
    if cas != 0 && inner.cas_of(ch) != cas {
        return Err(DeltaError::Exists);
    }
    let old = ch.bytes(inner.key_off(ch) + ch.nkey(), ch.nbytes_inline());
    let Some(v) = parse_u64(old) else {
        return Err(DeltaError::NonNumeric);
    };
    let value = if incr {
        v.wrapping_add(delta)
    } else {
        v.saturating_sub(delta)
    };
    let digits = value.to_string();
    // A shorter result keeps the old length, padded with spaces (memcached's in-place
    // update); a longer one makes the item longer.
    let mut buf = digits.clone().into_bytes();
    if buf.len() < old.len() {
        buf.resize(old.len(), b' ');
    }
    let class = inner.slabs.class_of(h);
    let Some((head, data)) = build(inner, key, inner.client_flags(ch), ch.exptime(), &[&buf])
    else {
        return Err(DeltaError::OutOfMemory);
    };
    if incr {
        bump!(inner.ccount(class), incr_hits);
    } else {
        bump!(inner.ccount(class), decr_hits);
    }
    let new_cas = publish(inner, &s, hv, head, data, h);
    Ok(DeltaResult {
        value,
        cas: new_cas,
    })
}

/// Meta `md I`: re-links a copy of the item with STALE set, a new CAS and optionally a new
/// exptime (CAS ids are immutable in item memory, so a new CAS means a new item).
pub(crate) fn mark_stale(
    inner: &Inner,
    key: &[u8],
    cas: u64,
    exptime: Option<i64>,
) -> DeleteResult {
    if key.is_empty() || key.len() > crate::engine::KEY_MAX {
        return DeleteResult::NotFound;
    }
    let (s, hv, h) = match lock_for_delete(inner, key, cas) {
        Ok(found) => found,
        Err(r) => return r,
    };
    let ch = inner.slabs.chunk(h);
    let exp = exptime
        .map(|e| inner.clock.realtime(e))
        .unwrap_or(ch.exptime());
    let parts = item_value(inner, ch);
    let Some((head, data)) = build(inner, key, inner.client_flags(ch), exp, &parts) else {
        // No memory for the copy: fall back to deleting.
        inner.unlink(&s, hv, h);
        return DeleteResult::Deleted;
    };
    // The copy keeps the key's base64 mark (meta `b`): memcached marks the item in place.
    let binary_key = ch.state().load(Relaxed) & KEY_BINARY;
    head.view().state().fetch_or(STALE | binary_key, Relaxed);
    bump!(inner.ccount(inner.slabs.class_of(h)), delete_hits);
    publish(inner, &s, hv, head, data, h);
    DeleteResult::Deleted
}

/// `delete`.
pub(crate) fn delete(inner: &Inner, key: &[u8], cas: u64) -> DeleteResult {
    if key.is_empty() || key.len() > crate::engine::KEY_MAX {
        bump!(inner.g, delete_misses);
        return DeleteResult::NotFound;
    }
    let (s, hv, h) = match lock_for_delete(inner, key, cas) {
        Ok(found) => found,
        Err(r) => return r,
    };
    bump!(inner.ccount(inner.slabs.class_of(h)), delete_hits);
    inner.unlink(&s, hv, h);
    DeleteResult::Deleted
}

/// Locks `key`'s stripe and finds its live item, which must carry `cas` unless that is 0:
/// the stripe, the hash and the item, or the reply (a miss counts as a delete miss).
fn lock_for_delete<'a>(
    inner: &'a Inner,
    key: &[u8],
    cas: u64,
) -> Result<(Stripe<'a>, u32, u32), DeleteResult> {
    let hv = murmur3_32(key, 0);
    let s = inner.hash.lock(hv);
    let h = find_live(inner, &s, hv, key);
    if h == NIL {
        bump!(inner.g, delete_misses);
        return Err(DeleteResult::NotFound);
    }
    if cas != 0 && inner.cas_of(inner.slabs.chunk(h)) != cas {
        return Err(DeleteResult::Exists);
    }
    Ok((s, hv, h))
}

#[cfg(test)]
mod tests {
    use super::parse_u64;

    #[test]
    fn strtoull_rules() {
        assert_eq!(parse_u64(b"10"), Some(10));
        assert_eq!(parse_u64(b"  +7"), Some(7));
        assert_eq!(parse_u64(b"9 "), Some(9));
        assert_eq!(parse_u64(b"12 abc"), Some(12));
        assert_eq!(parse_u64(b"007"), Some(7));
        assert_eq!(parse_u64(b"18446744073709551615"), Some(u64::MAX));
        assert_eq!(parse_u64(b"18446744073709551616"), None);
        assert_eq!(parse_u64(b""), None);
        assert_eq!(parse_u64(b"  "), None);
        assert_eq!(parse_u64(b"-1"), None);
        assert_eq!(parse_u64(b"-0"), Some(0));
        assert_eq!(parse_u64(b"12abc"), None);
        assert_eq!(parse_u64(b"hi"), None);
    }
}
