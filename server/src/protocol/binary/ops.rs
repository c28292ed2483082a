//! The binary commands, once their header, extras and key are buffered.

use super::{error, op, respond, status, Header};
use crate::protocol::exec::{self, Mode};
use crate::protocol::{Ctx, Output, Progress, Session, ValueRef};
use crate::settings::BindingProtocol;
use evcached_storage::{DeleteResult, DeltaError, ItemRef, StoreError, StoreMode, StoreResult};

/// One request with its extras and key.
pub(super) struct Request<'a> {
    pub h: &'a Header,
    /// Opcode with quiet variants mapped to their loud form.
    pub cmd: u8,
    /// A quiet variant: success replies (and get misses) are not sent.
    pub quiet: bool,
    pub ext: &'a [u8],
    pub key: &'a [u8],
}

fn be32(b: &[u8]) -> u32 {
    u32::from_be_bytes([b[0], b[1], b[2], b[3]])
}

fn be64(b: &[u8]) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[..8]);
    u64::from_be_bytes(a)
}

/// Flags and exptime of set/add/replace (zero for append/prepend).
fn store_args(r: &Request<'_>) -> (u32, u32) {
    if r.ext.len() == 8 {
        (be32(r.ext), be32(&r.ext[4..]))
    } else {
        (0, 0)
    }
}

/// Binary exptimes are unsigned: a value past `i32::MAX` is an absolute time after 2038,
/// which the engine's signed (text protocol) conversion would read as negative. Returns
/// the exptime to hand to the engine and, for those values, the relative time to set
/// afterwards.
fn split_exptime(ctx: &Ctx<'_>, v: u32) -> (i64, Option<u32>) {
    if v <= i32::MAX as u32 {
        return (i64::from(v), None);
    }
    let started = ctx.shared.engine.process_started();
    let rel = (i64::from(v) - started).clamp(1, i64::from(u32::MAX));
    (0, Some(rel as u32))
}

/// Checks a store's size before its value is read: the status to answer (and the value
/// to skip) when it is refused. A refused `set` drops the old item, as in memcached.
pub(super) fn refuse_store(r: &Request<'_>, vlen: usize, ctx: &Ctx<'_>) -> Option<u16> {
    let (flags, exptime) = store_args(r);
    if exec::item_fits(ctx, r.key.len(), flags, vlen) {
        return None;
    }
    let mode = if r.cmd == op::SET {
        Mode::Set
    } else {
        Mode::Add
    };
    match exec::alloc_only(
        ctx,
        mode,
        r.key,
        flags,
        exptime.min(i32::MAX as u32) as i32,
        vlen,
    ) {
        Some(exec::StoreOutcome::OutOfMemory) => Some(status::ENOMEM),
        _ => Some(status::E2BIG),
    }
}

/// set/add/replace/append/prepend (and quiet forms) with the value in `value`.
pub(super) fn store(r: &Request<'_>, value: &[u8], out: &mut Output<ValueRef>, ctx: &Ctx<'_>) {
    let (flags, exptime) = store_args(r);
    let cas = r.h.cas;
    let mode = match r.cmd {
        _ if cas != 0 && matches!(r.cmd, op::SET | op::ADD | op::REPLACE) => StoreMode::Cas(cas),
        op::SET => StoreMode::Set,
        op::ADD => StoreMode::Add,
        op::REPLACE => StoreMode::Replace,
        op::APPEND => StoreMode::Append,
        _ => StoreMode::Prepend,
    };
    let engine = &ctx.shared.engine;
    if cas != 0 && matches!(mode, StoreMode::Append | StoreMode::Prepend) {
        if let Some(it) = engine.peek(r.key) {
            if it.cas() != cas {
                return error(out, r.h, status::KEY_EEXISTS);
            }
        }
    }
    let (exp, late) = split_exptime(ctx, exptime);
    match engine.store(mode, r.key, flags, exp, value) {
        Ok(StoreResult::Stored(c)) => {
            if let Some(rel) = late {
                engine.meta_set_exptime(r.key, c, rel);
            }
            if !r.quiet {
                respond(out, r.h, status::SUCCESS, c, &[], &[], &[]);
            }
        }
        Ok(StoreResult::Exists) => error(out, r.h, status::KEY_EEXISTS),
        Ok(StoreResult::NotFound) => error(out, r.h, status::KEY_ENOENT),
        Ok(StoreResult::NotStored) => {
            let s = match r.cmd {
                op::ADD => status::KEY_EEXISTS,
                op::REPLACE => status::KEY_ENOENT,
                _ => status::NOT_STORED,
            };
            error(out, r.h, s)
        }
        Err(StoreError::TooLarge) => error(out, r.h, status::E2BIG),
        Err(StoreError::OutOfMemory) => error(out, r.h, status::ENOMEM),
    }
}

/// Every other command; Some(progress) when it is not simply "consumed".
pub(super) fn run(
    r: &Request<'_>,
    out: &mut Output<ValueRef>,
    ctx: &mut Ctx<'_>,
) -> Option<Progress> {
    let h = r.h;
    match r.cmd {
        op::GET | op::GETK | op::TOUCH | op::GAT | op::GATK => get(r, out, ctx),
        op::DELETE => match ctx.shared.engine.delete(r.key, h.cas) {
            DeleteResult::Deleted => {
                if !r.quiet {
                    respond(out, h, status::SUCCESS, 0, &[], &[], &[]);
                }
            }
            DeleteResult::NotFound => error(out, h, status::KEY_ENOENT),
            DeleteResult::Exists => error(out, h, status::KEY_EEXISTS),
        },
        op::INCREMENT | op::DECREMENT => arith(r, out, ctx),
        op::QUIT => {
            if !r.quiet {
                respond(out, h, status::SUCCESS, 0, &[], &[], &[]);
            }
            return Some(Progress::Close);
        }
        op::FLUSH => {
            if !ctx.shared.settings.flush_enabled {
                error(out, h, status::AUTH_ERROR);
            } else {
                // (a delay past 2038 is clamped to 2038)
                let delay = if r.ext.len() == 4 {
                    be32(r.ext).min(i32::MAX as u32) as i32
                } else {
                    0
                };
                ctx.shared.engine.flush_all(i64::from(delay));
                if !r.quiet {
                    respond(out, h, status::SUCCESS, 0, &[], &[], &[]);
                }
            }
        }
        op::NOOP => respond(out, h, status::SUCCESS, 0, &[], &[], &[]),
        op::VERSION => respond(
            out,
            h,
            status::SUCCESS,
            0,
            &[],
            &[],
            crate::settings::MEMCACHED_VERSION.as_bytes(),
        ),
        op::STAT => stat(r, out, ctx),
        // No SASL support compiled in: memcached answers these as unknown commands.
        _ => error(out, h, status::UNKNOWN_COMMAND),
    }
    None
}

/// Appends an item's value bytes (zero copy, no CRLF).
fn push_value(out: &mut Output<ValueRef>, item: ItemRef) {
    if item.value().is_some() {
        out.push_value(ValueRef::new(item, 0));
    } else {
        let n = item.value_chunks().len();
        for i in 0..n {
            out.push_value(ValueRef::new(item.clone(), i));
        }
    }
}

/// get/getk/touch/gat/gatk and quiet forms.
fn get(r: &Request<'_>, out: &mut Output<ValueRef>, ctx: &Ctx<'_>) {
    let engine = &ctx.shared.engine;
    let with_key = matches!(r.cmd, op::GETK | op::GATK);
    let item = match r.cmd {
        op::GET | op::GETK => engine.get(r.key),
        _ => {
            let (exp, late) = split_exptime(ctx, be32(r.ext));
            let it = engine.gat(r.key, exp);
            if let (Some(it), Some(rel)) = (&it, late) {
                engine.meta_set_exptime(r.key, it.cas(), rel);
            }
            it
        }
    };
    let Some(item) = item else {
        if r.quiet {
            return;
        }
        if with_key {
            respond(out, r.h, status::KEY_ENOENT, 0, &[], r.key, &[]);
        } else {
            error(out, r.h, status::KEY_ENOENT);
        }
        return;
    };
    let flags = item.flags().to_be_bytes();
    let vlen = if r.cmd == op::TOUCH {
        0
    } else {
        item.value_len()
    };
    let key: &[u8] = if with_key { r.key } else { &[] };
    let buf = out.text_buf();
    let start = buf.len();
    super::Response {
        opcode: r.h.opcode,
        status: status::SUCCESS,
        keylen: key.len() as u16,
        extlen: 4,
        bodylen: (4 + key.len() + vlen) as u32,
        opaque: r.h.opaque,
        cas: item.cas(),
    }
    .encode(buf);
    buf.extend_from_slice(&flags);
    buf.extend_from_slice(key);
    out.commit_text(start);
    if r.cmd != op::TOUCH {
        push_value(out, item);
    }
    out.end_object();
}

/// incr/decr with initial value and expiration (0xffffffff: do not create).
fn arith(r: &Request<'_>, out: &mut Output<ValueRef>, ctx: &Ctx<'_>) {
    let engine = &ctx.shared.engine;
    let delta = be64(r.ext);
    let initial = be64(&r.ext[8..]);
    let expiration = be32(&r.ext[16..]);
    let incr = r.cmd == op::INCREMENT;
    let ok = |out: &mut Output<ValueRef>, v: u64, cas: u64| {
        if !r.quiet {
            respond(out, r.h, status::SUCCESS, cas, &[], &[], &v.to_be_bytes());
        }
    };
    match engine.incr_decr(r.key, delta, incr, r.h.cas) {
        Ok(d) => ok(out, d.value, d.cas),
        Err(DeltaError::NonNumeric) => error(out, r.h, status::DELTA_BADVAL),
        Err(DeltaError::Exists) => error(out, r.h, status::KEY_EEXISTS),
        Err(DeltaError::OutOfMemory) => error(out, r.h, status::ENOMEM),
        Err(DeltaError::NotFound) => {
            if expiration == u32::MAX {
                return error(out, r.h, status::KEY_ENOENT);
            }
            let mut digits = Vec::new();
            crate::protocol::number::push_u64(&mut digits, initial);
            let (exp, late) = split_exptime(ctx, expiration);
            match engine.store(StoreMode::Add, r.key, 0, exp, &digits) {
                Ok(StoreResult::Stored(c)) => {
                    if let Some(rel) = late {
                        engine.meta_set_exptime(r.key, c, rel);
                    }
                    ok(out, initial, c)
                }
                Ok(_) => error(out, r.h, status::NOT_STORED),
                Err(_) => error(out, r.h, status::ENOMEM),
            }
        }
    }
}

/// stat [group]: one packet per statistic, then an empty terminator. The text protocol's
/// `stats` produces the lines, so both protocols report the same values.
fn stat(r: &Request<'_>, out: &mut Output<ValueRef>, ctx: &mut Ctx<'_>) {
    // memcached's `process_bin_stat`: prefix matches for reset/settings/detail, exact
    // names for the engine groups, "Not found" for everything else (conns, cachedump...).
    let k = r.key;
    let group: &[u8] = if k.is_empty() {
        b""
    } else if k.starts_with(b"reset") {
        b"reset"
    } else if k.starts_with(b"settings") {
        b"settings"
    } else if let Some(sub) = k.strip_prefix(b"detail") {
        if sub.starts_with(b" dump") {
            b"detail dump"
        } else if sub.starts_with(b" on") {
            b"detail on"
        } else if sub.starts_with(b" off") {
            b"detail off"
        } else {
            return error(out, r.h, status::KEY_ENOENT);
        }
    } else if matches!(
        k,
        b"items" | b"slabs" | b"sizes" | b"sizes_enable" | b"sizes_disable"
    ) {
        k
    } else {
        return error(out, r.h, status::KEY_ENOENT);
    };
    let mut line = b"stats".to_vec();
    if !group.is_empty() {
        line.push(b' ');
        line.extend_from_slice(group);
    }
    line.extend_from_slice(b"\r\n");
    let mut scratch: Output<ValueRef> = Output::new();
    let mut sess = Session::new(BindingProtocol::Ascii);
    crate::protocol::ascii::step(&mut sess, &line, &mut scratch, ctx);
    let mut text = Vec::new();
    scratch.copy_pending(&mut text);
    let detail_dump = group == b"detail dump";
    if detail_dump {
        // One packet named "detailed" carrying the whole dump.
        let body = text.strip_suffix(b"END\r\n").unwrap_or(&text);
        respond(out, r.h, status::SUCCESS, 0, &[], b"detailed", body);
    } else {
        let known = text == b"RESET\r\n"
            || text == b"OK\r\n"
            || text.starts_with(b"STAT ")
            || text.ends_with(b"END\r\n") && !text.starts_with(b"CLIENT_ERROR");
        if !known {
            return error(out, r.h, status::KEY_ENOENT);
        }
        for l in text.split(|&b| b == b'\n') {
            let l = l.strip_suffix(b"\r").unwrap_or(l);
            let Some(rest) = l.strip_prefix(b"STAT ") else {
                continue;
            };
            let sp = rest.iter().position(|&b| b == b' ').unwrap_or(rest.len());
            let (name, value) = (&rest[..sp], rest.get(sp + 1..).unwrap_or(&[]));
            respond(out, r.h, status::SUCCESS, 0, &[], name, value);
        }
    }
    // memcached sends no terminator after the sizes switches.
    if !matches!(group, b"sizes_enable" | b"sizes_disable") {
        respond(out, r.h, status::SUCCESS, 0, &[], &[], &[]);
    }
}
