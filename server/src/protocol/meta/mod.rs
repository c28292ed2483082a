//! The meta protocol (`mg`, `ms`, `md`, `ma`, `me`; `mn` lives in the text dispatcher),
//! byte-identical to memcached 1.6.18: flags parsed by [`flags::parse`], return flags in
//! request order, `q` hiding only the nominal reply of each command, errors always sent.

mod arith;
pub mod base64;
mod delete;
pub mod flags;
mod get;
mod set;

use super::ascii::{Words, BAD_FORMAT, ERROR, KEY_MAX_LENGTH};
use super::{Ctx, Output, Progress, Session, ValueRef};
use evcached_storage::ItemRef;
pub use flags::MetaFlags;

/// Most words the text tokenizer splits (memcached's `MAX_TOKENS` minus the terminator).
const MAX_WORDS: usize = 23;

/// Handles the meta command `m<c>` (not `mn`); `consumed` is the length of its line.
pub fn step(
    sess: &mut Session,
    c: u8,
    w: &Words<'_>,
    input: &[u8],
    consumed: usize,
    out: &mut Output<ValueRef>,
    ctx: &mut Ctx<'_>,
) -> Progress {
    let done = Progress::Consumed(consumed);
    match c {
        b'g' => get::mg(w, out, ctx),
        b's' => return set::ms(sess, w, input, consumed, out, ctx),
        b'd' => delete::md(w, out, ctx),
        b'a' => arith::ma(w, out, ctx),
        b'e' => get::me(w, out, ctx),
        _ => line(out, ERROR),
    }
    done
}

/// Words 2.. (or 3.. for `ms`) of the line, the flags, on the stack: use
/// `&words[..n]`.
fn flag_words<'a>(w: &Words<'a>, from: usize) -> ([&'a [u8]; MAX_WORDS], usize) {
    let mut arr: [&'a [u8]; MAX_WORDS] = [&[]; MAX_WORDS];
    let n = w.n.saturating_sub(from);
    for (i, slot) in arr.iter_mut().enumerate().take(n) {
        *slot = w.get(from + i);
    }
    (arr, n)
}

/// memcached's token count for a line (words plus the terminator; an unsplit rest
/// counts as one more).
fn ntokens(w: &Words<'_>) -> usize {
    w.n + 1 + usize::from(!w.rest.is_empty())
}

/// Appends a complete reply line (an error, `EN`...).
fn line(out: &mut Output<ValueRef>, msg: &[u8]) {
    out.push(msg);
    out.end_object();
}

/// Appends an error string plus CRLF.
fn error(out: &mut Output<ValueRef>, msg: &str) {
    out.push(msg.as_bytes());
    out.push(b"\r\n");
    out.end_object();
}

/// Appends ` k<key>` (base64 and ` b` for binary keys).
fn push_key(buf: &mut Vec<u8>, key: &[u8], binary: bool) {
    buf.extend_from_slice(b" k");
    if binary {
        base64::encode(key, buf);
        buf.extend_from_slice(b" b");
    } else {
        buf.extend_from_slice(key);
    }
}

/// Appends ` O<opaque>` for an `O` word; Err if it is too long.
fn push_opaque(buf: &mut Vec<u8>, tok: &[u8]) -> Result<(), &'static str> {
    if tok.len() > flags::MAX_OPAQUE {
        return Err("CLIENT_ERROR opaque token too long");
    }
    buf.push(b' ');
    buf.extend_from_slice(tok);
    Ok(())
}

/// The O and k return flags in request order (misses and non-item replies).
fn push_ok_flags(
    buf: &mut Vec<u8>,
    words: &[&[u8]],
    of: &MetaFlags<'_>,
) -> Result<(), &'static str> {
    for tok in words {
        match tok.first() {
            Some(b'O') => push_opaque(buf, tok)?,
            Some(b'k') => push_key(buf, &of.key, of.key_binary),
            _ => {}
        }
    }
    Ok(())
}

/// Appends an item's value (zero copy) and its CRLF.
fn push_value(out: &mut Output<ValueRef>, item: ItemRef) {
    if item.value().is_some() {
        out.push_value(ValueRef::new(item, 0));
    } else {
        let n = item.value_chunks().len();
        for i in 0..n {
            out.push_value(ValueRef::new(item.clone(), i));
        }
    }
    out.push(b"\r\n");
}

/// Common checks of mg/md/ma/me: enough words and a key that is not too long.
/// Returns false after replying.
fn check_key(w: &Words<'_>, out: &mut Output<ValueRef>) -> bool {
    if w.n < 2 {
        line(out, ERROR);
        return false;
    }
    if w.get(1).len() > KEY_MAX_LENGTH {
        line(out, BAD_FORMAT);
        return false;
    }
    true
}
