//! `md <key> <flags>*`: delete, or with `I` mark stale.

use super::{check_key, error, flag_words, flags, line, ntokens, push_ok_flags};
use crate::protocol::ascii::Words;
use crate::protocol::{Ctx, Output, ValueRef};
use evcached_storage::DeleteResult;

/// `md`.
pub(super) fn md(w: &Words<'_>, out: &mut Output<ValueRef>, ctx: &mut Ctx<'_>) {
    if !check_key(w, out) {
        return;
    }
    if ntokens(w) > flags::MAX_TOKENS {
        return error(out, "CLIENT_ERROR options flags too long");
    }
    let (arr, nw) = flag_words(w, 2);
    let words = &arr[..nw];
    let Ok(of) = flags::parse(w.get(1), words) else {
        return error(out, "CLIENT_ERROR invalid or duplicate flag");
    };
    let mut tail = Vec::new();
    if let Err(e) = push_ok_flags(&mut tail, words, &of) {
        return error(out, e);
    }
    let engine = &ctx.shared.engine;
    // `C0` is a real comparison in meta (the engine treats 0 as "no CAS").
    let cas = match of.cas {
        Some(0) => match engine.peek(&of.key) {
            Some(it) if it.cas() != 0 => {
                return reply(out, b"EX", &tail, false);
            }
            _ => 0,
        },
        Some(c) => c,
        None => 0,
    };
    let r = if of.set_stale {
        engine.mark_stale(&of.key, cas, of.ttl.map(i64::from))
    } else {
        engine.delete(&of.key, cas)
    };
    match r {
        DeleteResult::Deleted => reply(out, b"HD", &tail, of.no_reply),
        DeleteResult::NotFound => reply(out, b"NF", &tail, false),
        DeleteResult::Exists => reply(out, b"EX", &tail, false),
    }
}

fn reply(out: &mut Output<ValueRef>, code: &[u8], tail: &[u8], quiet: bool) {
    if quiet {
        return;
    }
    let mut buf = Vec::with_capacity(code.len() + tail.len() + 2);
    buf.extend_from_slice(code);
    buf.extend_from_slice(tail);
    buf.extend_from_slice(b"\r\n");
    line(out, &buf);
}
