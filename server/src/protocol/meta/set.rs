//! `ms <key> <datalen> <flags>*` and its data block.

use super::{error, flag_words, flags, line, ntokens, push_key, push_opaque};
use crate::protocol::ascii::{Words, BAD_FORMAT, ERROR, KEY_MAX_LENGTH};
use crate::protocol::exec::{self, Mode};
use crate::protocol::number::{parse_i32_trunc, push_u64};
use crate::protocol::{Ctx, Output, Progress, Session, ValueRef};
use evcached_storage::{StoreError, StoreMode, StoreResult};

/// Replies `msg` and discards the `vlen + 2` data bytes after the line.
fn swallow(
    sess: &mut Session,
    input: &[u8],
    consumed: usize,
    vlen: usize,
    out: &mut Output<ValueRef>,
    msg: &str,
) -> Progress {
    error(out, msg);
    let have = input.len() - consumed;
    if have >= vlen + 2 {
        return Progress::Consumed(consumed + vlen + 2);
    }
    sess.start_swallow(vlen + 2 - have);
    Progress::Consumed(input.len())
}

/// `ms`: parse, check, wait for the data block, store, reply.
pub(super) fn ms(
    sess: &mut Session,
    w: &Words<'_>,
    input: &[u8],
    consumed: usize,
    out: &mut Output<ValueRef>,
    ctx: &mut Ctx<'_>,
) -> Progress {
    let line_only = Progress::Consumed(consumed);
    if w.n < 2 {
        line(out, ERROR);
        return line_only;
    }
    if w.get(1).len() > KEY_MAX_LENGTH || w.n == 2 {
        line(out, BAD_FORMAT);
        return line_only;
    }
    if ntokens(w) > flags::MAX_TOKENS {
        error(out, "CLIENT_ERROR options flags too long");
        return line_only;
    }
    let vlen = match parse_i32_trunc(w.get(2)) {
        Some(v) if (0..=i32::MAX - 2).contains(&v) => v as usize,
        _ => {
            line(out, BAD_FORMAT);
            return line_only;
        }
    };
    let (arr, nw) = flag_words(w, 3);
    let words = &arr[..nw];
    let of = match flags::parse(w.get(1), words) {
        Ok(f) => f,
        Err(e) => return swallow(sess, input, consumed, vlen, out, e),
    };
    // Return flags are noted now; `c` is filled in after the store.
    let mut opaque_err = None;
    let mut tail = Vec::new();
    for tok in words {
        if tok[0] == b'O' {
            if let Err(e) = push_opaque(&mut tail, tok) {
                opaque_err = Some(e);
            }
        }
    }
    let mode = match of.mode {
        0 | b'S' => Mode::Set,
        b'E' => Mode::Add,
        b'A' => Mode::Append,
        b'P' => Mode::Prepend,
        b'R' => Mode::Replace,
        _ => {
            return swallow(
                sess,
                input,
                consumed,
                vlen,
                out,
                "CLIENT_ERROR invalid mode for ms M token",
            )
        }
    };
    if let Some(e) = opaque_err {
        return swallow(sess, input, consumed, vlen, out, e);
    }
    let exptime = of.ttl.unwrap_or(0);
    if !exec::item_fits(ctx, of.key.len(), of.client_flags, vlen) || of.key.is_empty() {
        // memcached drops the old item whatever the mode.
        exec::alloc_only(ctx, Mode::Set, &of.key, of.client_flags, exptime, vlen);
        return swallow(
            sess,
            input,
            consumed,
            vlen,
            out,
            "SERVER_ERROR object too large for cache",
        );
    }
    let total = consumed + vlen + 2;
    if input.len() < total {
        return Progress::NeedMore(total);
    }
    if &input[consumed + vlen..total] != b"\r\n" {
        exec::alloc_only(ctx, mode, &of.key, of.client_flags, exptime, vlen);
        error(out, "CLIENT_ERROR bad data chunk");
        return Progress::Consumed(total);
    }
    let data = &input[consumed..consumed + vlen];
    let r = store(ctx, mode, &of, exptime, data);
    if let (Ok(StoreResult::Stored(c)), true) = (r, of.key_binary) {
        // memcached's append/prepend build a new item without the base64 mark.
        if !matches!(mode, Mode::Append | Mode::Prepend) {
            ctx.shared.engine.meta_mark_key_binary(&of.key, c);
        }
    }
    let (code, new_cas): (&[u8], u64) = match r {
        Ok(StoreResult::Stored(c)) => (b"HD", c),
        Ok(StoreResult::NotStored) => (b"NS", 0),
        Ok(StoreResult::Exists) => (b"EX", 0),
        Ok(StoreResult::NotFound) => (b"NF", 0),
        Err(StoreError::TooLarge) => {
            error(out, "SERVER_ERROR object too large for cache");
            return Progress::Consumed(total);
        }
        Err(StoreError::OutOfMemory) => {
            error(out, "SERVER_ERROR out of memory storing object");
            return Progress::Consumed(total);
        }
    };
    if code == b"HD" && of.no_reply {
        return Progress::Consumed(total);
    }
    let mut buf = Vec::with_capacity(32);
    buf.extend_from_slice(code);
    for tok in words {
        match tok[0] {
            b'O' => {
                buf.push(b' ');
                buf.extend_from_slice(tok);
            }
            b'k' => push_key(&mut buf, &of.key, of.key_binary),
            b'c' => {
                buf.extend_from_slice(b" c");
                push_u64(&mut buf, new_cas);
            }
            _ => {}
        }
    }
    buf.extend_from_slice(b"\r\n");
    line(out, &buf);
    Progress::Consumed(total)
}

/// The store itself, with meta's CAS rules: `C` turns set/replace into a CAS store (a
/// stale one with `I`), and makes append/prepend check the CAS first; add ignores it.
fn store(
    ctx: &Ctx<'_>,
    mode: Mode,
    of: &super::MetaFlags<'_>,
    exptime: i32,
    data: &[u8],
) -> Result<StoreResult, StoreError> {
    let engine = &ctx.shared.engine;
    let key = &of.key;
    let exp = i64::from(exptime);
    let fl = of.client_flags;
    let sm = match (mode, of.cas) {
        (Mode::Set | Mode::Replace, Some(c)) => {
            if of.set_stale {
                return engine.meta_store_stale(key, fl, exp, data, c);
            }
            StoreMode::Cas(c)
        }
        (Mode::Append | Mode::Prepend, Some(c)) if c != 0 => {
            if let Some(it) = engine.peek(key) {
                if it.cas() != c {
                    return Ok(StoreResult::Exists);
                }
            }
            if mode == Mode::Append {
                StoreMode::Append
            } else {
                StoreMode::Prepend
            }
        }
        (Mode::Set, _) => StoreMode::Set,
        (Mode::Add, _) => StoreMode::Add,
        (Mode::Replace, _) => StoreMode::Replace,
        (Mode::Append, _) => StoreMode::Append,
        (Mode::Prepend, _) => StoreMode::Prepend,
        (Mode::Cas(c), _) => StoreMode::Cas(c),
    };
    engine.store(sm, key, fl, exp, data)
}
