//! `mg` (meta get) and `me` (meta debug).

use super::{
    base64, check_key, error, flag_words, flags, line, ntokens, push_key, push_ok_flags,
    push_opaque, push_value,
};
use crate::protocol::ascii::{Words, BAD_FORMAT, KEY_MAX_LENGTH};
use crate::protocol::number::{push_i64, push_u64};
use crate::protocol::{Ctx, Output, ValueRef};
use evcached_storage::{MetaFetch, MetaHit};
use std::sync::atomic::Ordering::Relaxed;

/// Appends a TTL as meta prints it: `-1` for none, else seconds left (32-bit wrap).
fn push_ttl(buf: &mut Vec<u8>, exp: u32, now: u32) {
    if exp == 0 {
        buf.extend_from_slice(b"-1");
    } else {
        push_u64(buf, u64::from(exp.wrapping_sub(now)));
    }
}

/// `mg <key> <flags>*`.
pub(super) fn mg(w: &Words<'_>, out: &mut Output<ValueRef>, ctx: &mut Ctx<'_>) {
    if !check_key(w, out) {
        return;
    }
    if ntokens(w) > flags::MAX_TOKENS {
        error(out, "CLIENT_ERROR options flags are too long");
        return;
    }
    let (arr, nw) = flag_words(w, 2);
    let words = &arr[..nw];
    let of = match flags::parse(w.get(1), words) {
        Ok(f) => f,
        Err(e) => return error(out, e),
    };
    let engine = &ctx.shared.engine;
    let fetch = MetaFetch {
        bump: !of.no_update,
        as_touch: of.ttl.is_some(),
        vivify: of.vivify.is_some(),
    };
    let mut hit = engine.meta_get(&of.key, fetch);
    let mut created = false;
    if hit.is_none() {
        if let Some(n) = of.vivify {
            // Autovivify: an empty item; this client wins the right to fill it.
            created = engine.meta_vivify(&of.key, i64::from(n));
            hit = engine.peek(&of.key).map(|item| MetaHit {
                fetched_before: !created && item.fetched_before(),
                last_access: if created {
                    engine.current_time()
                } else {
                    item.last_access()
                },
                item,
            });
            // memcached counts the vivified item as a hit, not the miss.
            engine.meta_count_vivified(hit.as_ref().map(|h| &h.item), of.ttl.is_some());
        }
    }
    let mut buf = Vec::with_capacity(64);
    let Some(hit) = hit else {
        buf.extend_from_slice(b"EN");
        if let Err(e) = push_ok_flags(&mut buf, words, &of) {
            return error(out, e);
        }
        if !of.no_reply {
            buf.extend_from_slice(b"\r\n");
            line(out, &buf);
        }
        return;
    };
    let item = hit.item;
    let now = engine.current_time();
    let start_exp = if created { 0 } else { item.exptime() };
    let mut exp = start_exp;
    let token_sent = item.win_sent();
    let mut won = false;
    if of.value {
        buf.extend_from_slice(b"VA ");
        push_u64(&mut buf, item.value_len() as u64);
    } else {
        buf.extend_from_slice(b"HD");
    }
    for tok in words {
        match tok[0] {
            b'T' => exp = engine.realtime(i64::from(of.ttl.unwrap_or(0))),
            b'N' if created => {
                exp = engine.realtime(i64::from(of.vivify.unwrap_or(0)));
                won = true;
            }
            b'R' => {
                let r = engine.realtime(i64::from(of.recache.unwrap_or(0)));
                if !token_sent && !created && exp != 0 && exp < r {
                    won = true;
                }
            }
            b's' => {
                buf.extend_from_slice(b" s");
                push_u64(&mut buf, item.value_len() as u64);
            }
            b't' => {
                buf.extend_from_slice(b" t");
                push_ttl(&mut buf, exp, now);
            }
            b'c' => {
                buf.extend_from_slice(b" c");
                push_u64(&mut buf, item.cas());
            }
            b'f' => {
                buf.extend_from_slice(b" f");
                push_u64(&mut buf, u64::from(item.flags()));
            }
            b'l' => {
                buf.extend_from_slice(b" l");
                push_u64(&mut buf, u64::from(now.wrapping_sub(hit.last_access)));
            }
            b'h' => buf.extend_from_slice(if hit.fetched_before { b" h1" } else { b" h0" }),
            b'O' => {
                if let Err(e) = push_opaque(&mut buf, tok) {
                    return error(out, e);
                }
            }
            // The key is printed as the item was stored (base64 if it came so).
            b'k' => push_key(
                &mut buf,
                item.key(),
                engine.meta_key_binary(item.key(), item.cas()),
            ),
            _ => {}
        }
    }
    if token_sent {
        buf.extend_from_slice(b" Z");
    }
    if item.is_stale() {
        buf.extend_from_slice(b" X");
        if !token_sent {
            won = true;
        }
    }
    if won {
        buf.extend_from_slice(b" W");
        item.claim_win();
    }
    if exp != item.exptime() {
        engine.meta_set_exptime(&of.key, item.cas(), exp);
    }
    buf.extend_from_slice(b"\r\n");
    out.push(&buf);
    if of.value {
        push_value(out, item);
    }
    out.end_object();
}

/// `me <key> [b]`: memcached's debug line for one item.
pub(super) fn me(w: &Words<'_>, out: &mut Output<ValueRef>, ctx: &mut Ctx<'_>) {
    ctx.stats.meta_cmds.fetch_add(1, Relaxed);
    if w.n < 2 || w.get(1).len() > KEY_MAX_LENGTH {
        return line(out, BAD_FORMAT);
    }
    let mut key = w.get(1).to_vec();
    let binary = w.n >= 3 && w.get(2) == b"b";
    if binary {
        let mut dec = Vec::new();
        if base64::decode(w.get(1), &mut dec).is_none() {
            return line(out, BAD_FORMAT);
        }
        key = dec;
    }
    let engine = &ctx.shared.engine;
    let Some(item) = engine.peek(&key) else {
        return line(out, b"EN\r\n");
    };
    let now = engine.current_time();
    let mut buf = Vec::with_capacity(96);
    buf.extend_from_slice(b"ME ");
    if engine.meta_key_binary(item.key(), item.cas()) {
        base64::encode(item.key(), &mut buf);
    } else {
        buf.extend_from_slice(item.key());
    }
    buf.extend_from_slice(b" exp=");
    let exp = item.exptime();
    if exp == 0 {
        buf.extend_from_slice(b"-1");
    } else {
        push_i64(&mut buf, i64::from(now.wrapping_sub(exp) as i32));
    }
    buf.extend_from_slice(b" la=");
    push_u64(&mut buf, u64::from(now.wrapping_sub(item.last_access())));
    buf.extend_from_slice(b" cas=");
    push_u64(&mut buf, item.cas());
    buf.extend_from_slice(if item.fetched() {
        b" fetch=yes"
    } else {
        b" fetch=no"
    });
    buf.extend_from_slice(b" cls=");
    push_u64(&mut buf, u64::from(item.slab_class()));
    // memcached's ITEM_ntotal: 48-byte header, CAS, key + NUL, flags, value + CRLF.
    let cas = if ctx.shared.settings.use_cas { 8 } else { 0 };
    let fl = if item.flags() != 0 { 4 } else { 0 };
    let size = 48 + cas + item.key().len() + 1 + fl + item.value_len() + 2;
    buf.extend_from_slice(b" size=");
    push_u64(&mut buf, size as u64);
    buf.extend_from_slice(b"\r\n");
    line(out, &buf);
}
