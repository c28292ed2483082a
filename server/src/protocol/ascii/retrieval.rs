//! get / gets / gat / gats (and the legacy `bget`).

use super::{reply, Words, BAD_FORMAT, KEY_MAX_LENGTH};
use crate::protocol::exec;
use crate::protocol::number::{parse_i32_trunc, push_u64};
use crate::protocol::{Ctx, Output, ValueRef};

/// Looks up every key of the line in order (repeated keys are answered repeatedly),
/// appending a `VALUE` block per hit and a final `END`. One over-long key discards the
/// whole reply and answers only `CLIENT_ERROR bad command line format`.
pub(super) fn get(
    w: &Words<'_>,
    out: &mut Output<ValueRef>,
    ctx: &mut Ctx<'_>,
    with_cas: bool,
    touch: bool,
) {
    let mut first = 1;
    let mut exptime = 0;
    if touch {
        match parse_i32_trunc(w.get(1)) {
            Some(e) => exptime = e,
            None => {
                reply(out, false, b"CLIENT_ERROR invalid exptime argument\r\n");
                return;
            }
        }
        first = 2;
    }
    let detail = ctx.shared.detail.enabled();
    let head = (first..w.n).map(|i| w.get(i));
    let tail = w.rest.split(|&b| b == b' ').filter(|k| !k.is_empty());
    let mut keys = head.chain(tail).peekable();
    // A multi-key get loads key i+2's lock and bucket and key i+1's first item while key
    // i is looked up: each lookup would otherwise wait for three cache misses in a row.
    let engine = &ctx.shared.engine;
    let multi = keys.clone().nth(1).is_some();
    let (mut bucket_ahead, mut item_ahead) = (keys.clone(), keys.clone());
    if multi {
        bucket_ahead
            .by_ref()
            .take(2)
            .for_each(|k| engine.prefetch_bucket(k));
        item_ahead.next();
    }
    while let Some(key) = keys.next() {
        if multi {
            if let Some(k) = bucket_ahead.next() {
                engine.prefetch_bucket(k);
            }
            if let Some(k) = item_ahead.next() {
                engine.prefetch_item(k);
            }
        }
        if key.len() > KEY_MAX_LENGTH {
            // memcached drops every reply not yet sent on this connection here.
            out.truncate_to(out.appended() - out.pending());
            reply(out, false, BAD_FORMAT);
            return;
        }
        let found = if touch {
            exec::gat(ctx, key, exptime)
        } else {
            exec::get(ctx, key)
        };
        if detail {
            ctx.shared.detail.record_get(key, found.is_some());
        }
        if let Some(item) = found {
            let buf = out.text_buf();
            let start = buf.len();
            buf.extend_from_slice(b"VALUE ");
            buf.extend_from_slice(key);
            if item.flags == 0 {
                buf.extend_from_slice(b" 0 "); // the common case, without formatting
            } else {
                buf.push(b' ');
                push_u64(buf, u64::from(item.flags));
                buf.push(b' ');
            }
            push_u64(buf, item.value_len as u64);
            if with_cas {
                buf.push(b' ');
                push_u64(buf, item.cas);
            }
            buf.extend_from_slice(b"\r\n");
            out.commit_text(start);
            exec::push_value(out, item);
        }
        // One response object per key; `END` joins the last one (memcached's framing).
        if keys.peek().is_some() {
            out.mark_object();
        }
    }
    out.push(b"END\r\n");
    out.end_object();
}
