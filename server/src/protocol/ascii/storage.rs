//! Storage and mutation commands: set/add/replace/append/prepend/cas, delete,
//! incr/decr and touch.

use super::{noreply_of, reply, Words, BAD_FORMAT, KEY_MAX_LENGTH};
use crate::protocol::exec::{self, StoreOutcome};
use crate::protocol::number::{parse_i32_trunc, parse_u32_trunc, parse_u64, push_u64};
use crate::protocol::{Ctx, Output, Progress, Session, ValueRef};

/// Values at least this long that are not fully buffered are copied into their item as
/// they arrive instead of growing the read buffer (memory for stalled half-sent values is
/// then item memory, bounded by `-m`, and read buffers stay at their standard size).
const STREAM_VALUE_MIN: usize = 8 * 1024;

/// A large value being received into its item (memcached's `conn_nread`).
pub struct PendingValue {
    w: evcached_storage::ItemWriter,
    /// Value bytes still to copy (the `\r\n` after them is checked at the end).
    left: usize,
    noreply: bool,
}

fn store_reply(o: StoreOutcome) -> &'static [u8] {
    match o {
        StoreOutcome::Stored(_) => b"STORED\r\n",
        StoreOutcome::NotStored => b"NOT_STORED\r\n",
        StoreOutcome::Exists => b"EXISTS\r\n",
        StoreOutcome::NotFound => b"NOT_FOUND\r\n",
        StoreOutcome::TooLarge => b"SERVER_ERROR object too large for cache\r\n",
        StoreOutcome::OutOfMemory => b"SERVER_ERROR out of memory storing object\r\n",
    }
}

/// Continues a streamed value: copies what arrived into the item, then checks the
/// terminating `\r\n` and links the item.
pub fn continue_value(
    sess: &mut Session,
    input: &[u8],
    out: &mut Output<ValueRef>,
    ctx: &mut Ctx<'_>,
) -> Progress {
    let Some(p) = sess.value.as_mut() else {
        return Progress::Consumed(0);
    };
    if p.left > 0 {
        let n = p.left.min(input.len());
        p.w.write_all(&input[..n]);
        p.left -= n;
        return Progress::Partial(n);
    }
    if input.len() < 2 {
        return Progress::NeedMore(2);
    }
    let Some(p) = sess.value.take() else {
        return Progress::Consumed(0);
    };
    if &input[..2] != b"\r\n" {
        drop(p.w);
        reply(out, p.noreply, b"CLIENT_ERROR bad data chunk\r\n");
    } else {
        reply(out, p.noreply, store_reply(exec::commit(ctx, p.w)));
    }
    Progress::Consumed(2)
}

/// Which storage command.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Kind {
    Set,
    Add,
    Replace,
    Append,
    Prepend,
    Cas,
}

/// `set|add|replace|append|prepend <key> <flags> <exptime> <bytes> [noreply]` and
/// `cas ... <unique> [noreply]`, with their data block.
///
/// The header is re-parsed on every call until the whole data block is buffered (no
/// state is kept between reads); errors found in the header consume only the line, so
/// the data line is then parsed as a command, exactly like memcached.
pub(super) fn update(
    sess: &mut Session,
    w: &Words<'_>,
    input: &[u8],
    consumed: usize,
    out: &mut Output<ValueRef>,
    ctx: &mut Ctx<'_>,
    kind: Kind,
) -> Progress {
    let noreply = noreply_of(w);
    let line_only = Progress::Consumed(consumed);
    let key = w.get(1);
    if key.len() > KEY_MAX_LENGTH {
        reply(out, noreply, BAD_FORMAT);
        return line_only;
    }
    let (Some(flags), Some(exptime), Some(vlen)) = (
        parse_u32_trunc(w.get(2)),
        parse_i32_trunc(w.get(3)),
        parse_i32_trunc(w.get(4)),
    ) else {
        reply(out, noreply, BAD_FORMAT);
        return line_only;
    };
    let mut cas = 0;
    if kind == Kind::Cas {
        match parse_u64(w.get(5)) {
            Some(c) => cas = c,
            None => {
                reply(out, noreply, BAD_FORMAT);
                return line_only;
            }
        }
    }
    if !(0..=i32::MAX - 2).contains(&vlen) {
        reply(out, noreply, BAD_FORMAT);
        return line_only;
    }
    let vlen = vlen as usize;
    let total = consumed + vlen + 2;
    if ctx.shared.detail.enabled() && input.len() >= total {
        ctx.shared.detail.record_set(key);
    }

    let mode = match kind {
        Kind::Set => exec::Mode::Set,
        Kind::Add => exec::Mode::Add,
        Kind::Replace => exec::Mode::Replace,
        Kind::Append => exec::Mode::Append,
        Kind::Prepend => exec::Mode::Prepend,
        Kind::Cas => exec::Mode::Cas(cas),
    };
    if !exec::item_fits(ctx, key.len(), flags, vlen) {
        // Refused before reading the value: reply and swallow the data block (the engine
        // counts it and makes sure a failed `set` leaves no stale value behind).
        exec::alloc_only(ctx, mode, key, flags, exptime, vlen);
        reply(out, noreply, b"SERVER_ERROR object too large for cache\r\n");
        let have = input.len() - consumed;
        if have >= vlen + 2 {
            return Progress::Consumed(total);
        }
        sess.start_swallow(vlen + 2 - have);
        return Progress::Consumed(input.len());
    }
    if input.len() < total {
        if vlen < STREAM_VALUE_MIN {
            return Progress::NeedMore(total);
        }
        let have = input.len() - consumed;
        match exec::alloc(ctx, mode, key, flags, exptime, vlen) {
            Ok(mut w) => {
                if ctx.shared.detail.enabled() {
                    ctx.shared.detail.record_set(key);
                }
                let n = have.min(vlen);
                w.write_all(&input[consumed..consumed + n]);
                sess.value = Some(PendingValue {
                    w,
                    left: vlen - n,
                    noreply,
                });
                return Progress::Consumed(consumed + n);
            }
            Err(o) => {
                reply(out, noreply, store_reply(o));
                sess.start_swallow(vlen + 2 - have);
                return Progress::Consumed(input.len());
            }
        }
    }
    let data = &input[consumed..consumed + vlen];
    if &input[consumed + vlen..total] != b"\r\n" {
        let msg: &[u8] = match exec::alloc_only(ctx, mode, key, flags, exptime, vlen) {
            None => b"CLIENT_ERROR bad data chunk\r\n",
            Some(StoreOutcome::OutOfMemory) => b"SERVER_ERROR out of memory storing object\r\n",
            Some(_) => b"SERVER_ERROR object too large for cache\r\n",
        };
        reply(out, noreply, msg);
        return Progress::Consumed(total);
    }
    reply(
        out,
        noreply,
        store_reply(exec::store(ctx, mode, key, flags, exptime, data)),
    );
    Progress::Consumed(total)
}

/// `delete <key> [0] [noreply]`.
pub(super) fn delete(w: &Words<'_>, out: &mut Output<ValueRef>, ctx: &mut Ctx<'_>) {
    let noreply = noreply_of(w);
    let nt = w.n + 1;
    if nt > 3 {
        let hold_is_zero = w.get(2) == b"0";
        let valid = (nt == 4 && (hold_is_zero || noreply)) || (nt == 5 && hold_is_zero && noreply);
        if !valid {
            reply(
                out,
                noreply,
                b"CLIENT_ERROR bad command line format.  Usage: delete <key> [noreply]\r\n",
            );
            return;
        }
    }
    let key = w.get(1);
    if key.len() > KEY_MAX_LENGTH {
        reply(out, noreply, BAD_FORMAT);
        return;
    }
    if ctx.shared.detail.enabled() {
        ctx.shared.detail.record_delete(key);
    }
    let msg: &[u8] = if exec::delete(ctx, key) {
        b"DELETED\r\n"
    } else {
        b"NOT_FOUND\r\n"
    };
    reply(out, noreply, msg);
}

/// `incr|decr <key> <delta> [noreply]`.
pub(super) fn arith(w: &Words<'_>, out: &mut Output<ValueRef>, ctx: &mut Ctx<'_>, incr: bool) {
    let noreply = noreply_of(w);
    let key = w.get(1);
    if key.len() > KEY_MAX_LENGTH {
        reply(out, noreply, BAD_FORMAT);
        return;
    }
    let Some(delta) = parse_u64(w.get(2)) else {
        reply(
            out,
            noreply,
            b"CLIENT_ERROR invalid numeric delta argument\r\n",
        );
        return;
    };
    match exec::arith(ctx, key, incr, delta) {
        exec::ArithOutcome::Value(v) => {
            if !noreply {
                let buf = out.text_buf();
                let start = buf.len();
                push_u64(buf, v);
                buf.extend_from_slice(b"\r\n");
                out.commit_text(start);
                out.end_object();
            }
        }
        exec::ArithOutcome::NotFound => reply(out, noreply, b"NOT_FOUND\r\n"),
        exec::ArithOutcome::NonNumeric => reply(
            out,
            noreply,
            b"CLIENT_ERROR cannot increment or decrement non-numeric value\r\n",
        ),
        exec::ArithOutcome::OutOfMemory => reply(out, noreply, b"SERVER_ERROR out of memory\r\n"),
    }
}

/// `touch <key> <exptime> [noreply]`.
pub(super) fn touch(w: &Words<'_>, out: &mut Output<ValueRef>, ctx: &mut Ctx<'_>) {
    let noreply = noreply_of(w);
    let key = w.get(1);
    if key.len() > KEY_MAX_LENGTH {
        reply(out, noreply, BAD_FORMAT);
        return;
    }
    let Some(exptime) = parse_i32_trunc(w.get(2)) else {
        reply(out, noreply, b"CLIENT_ERROR invalid exptime argument\r\n");
        return;
    };
    let msg: &[u8] = if exec::touch(ctx, key, exptime) {
        b"TOUCHED\r\n"
    } else {
        b"NOT_FOUND\r\n"
    };
    reply(out, noreply, msg);
}
