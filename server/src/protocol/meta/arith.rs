//! `ma <key> <flags>*`: incr/decr with CAS, autovivify (`N`, `J`), TTL (`T`) and value return.

use super::{
    check_key, error, flag_words, flags, line, ntokens, push_key, push_ok_flags, push_opaque,
};
use crate::protocol::ascii::Words;
use crate::protocol::number::push_u64;
use crate::protocol::{Ctx, Output, ValueRef};
use evcached_storage::{DeltaError, StoreMode, StoreResult};

/// `ma`.
pub(super) fn ma(w: &Words<'_>, out: &mut Output<ValueRef>, ctx: &mut Ctx<'_>) {
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
    let incr = match of.mode {
        0 | b'I' | b'+' => true,
        b'D' | b'-' => false,
        _ => return error(out, "CLIENT_ERROR invalid mode for ma M token"),
    };
    let engine = &ctx.shared.engine;
    let key = &of.key;
    let mut created = false;
    let (value, cas) = match engine.incr_decr(key, of.delta, incr, of.cas.unwrap_or(0)) {
        Ok(r) => (r.value, r.cas),
        Err(DeltaError::NonNumeric) => {
            return error(
                out,
                "CLIENT_ERROR cannot increment or decrement non-numeric value",
            )
        }
        Err(DeltaError::OutOfMemory) => return error(out, "SERVER_ERROR out of memory"),
        Err(e) => {
            let code: &[u8] = if e == DeltaError::Exists {
                b"EX"
            } else {
                b"NF"
            };
            let vivified = if e == DeltaError::NotFound && of.vivify.is_some() {
                let mut digits = Vec::new();
                push_u64(&mut digits, of.initial);
                match engine.store(StoreMode::Add, key, 0, 0, &digits) {
                    Ok(StoreResult::Stored(c)) => Some(c),
                    Ok(_) => None,
                    Err(_) => return error(out, "SERVER_ERROR Out of memory allocating new item"),
                }
            } else {
                None
            };
            match vivified {
                Some(c) => {
                    created = true;
                    (of.initial, c)
                }
                None => {
                    let code: &[u8] = if e == DeltaError::NotFound && of.vivify.is_some() {
                        b"NS"
                    } else {
                        code
                    };
                    let mut buf = code.to_vec();
                    if let Err(m) = push_ok_flags(&mut buf, words, &of) {
                        return error(out, m);
                    }
                    buf.extend_from_slice(b"\r\n");
                    return line(out, &buf);
                }
            }
        }
    };
    let now = engine.current_time();
    let start_exp = engine.peek(key).map_or(0, |it| it.exptime());
    let mut exp = start_exp;
    let mut digits = Vec::with_capacity(20);
    push_u64(&mut digits, value);
    let mut buf = Vec::with_capacity(64);
    if of.value {
        buf.extend_from_slice(b"VA ");
        push_u64(&mut buf, digits.len() as u64);
    } else {
        buf.extend_from_slice(b"HD");
    }
    for tok in words {
        match tok[0] {
            b'c' => {
                buf.extend_from_slice(b" c");
                push_u64(&mut buf, cas);
            }
            b't' => {
                buf.extend_from_slice(b" t");
                if exp == 0 {
                    buf.extend_from_slice(b"-1");
                } else {
                    push_u64(&mut buf, u64::from(exp.wrapping_sub(now)));
                }
            }
            b'T' => exp = engine.realtime(i64::from(of.ttl.unwrap_or(0))),
            b'N' if created => exp = engine.realtime(i64::from(of.vivify.unwrap_or(0))),
            b'O' => {
                if let Err(m) = push_opaque(&mut buf, tok) {
                    return error(out, m);
                }
            }
            b'k' => push_key(&mut buf, key, of.key_binary),
            _ => {}
        }
    }
    if exp != start_exp {
        engine.meta_set_exptime(key, cas, exp);
    }
    if of.no_reply && !created {
        return;
    }
    buf.extend_from_slice(b"\r\n");
    if of.value {
        buf.extend_from_slice(&digits);
        buf.extend_from_slice(b"\r\n");
    }
    line(out, &buf);
}
