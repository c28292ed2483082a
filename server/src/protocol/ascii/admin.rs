//! Administrative commands: flush_all, verbosity, cache_memlimit, shutdown, slabs,
//! lru and lru_crawler.

use std::sync::atomic::Ordering::Relaxed;

use evcached_storage::CrawlError;

use super::{noreply_of, reply, Words, BAD_FORMAT, ERROR};
use crate::protocol::number::{parse_i32_trunc, parse_u32_trunc};
use crate::protocol::{Ctx, Output, ValueRef};

/// `flush_all [delay] [noreply]`.
pub(super) fn flush_all(w: &Words<'_>, out: &mut Output<ValueRef>, ctx: &mut Ctx<'_>) {
    let noreply = noreply_of(w);
    let nt = w.n + 1;
    let engine = &ctx.shared.engine;
    if !ctx.shared.settings.flush_enabled {
        crate::stats::bump(&ctx.stats.flush_refused);
        reply(out, noreply, b"CLIENT_ERROR flush_all not allowed\r\n");
        return;
    }
    let mut delay = 0;
    if nt != (if noreply { 3 } else { 2 }) {
        match parse_i32_trunc(w.get(1)) {
            Some(d) => delay = d,
            None => {
                reply(out, noreply, b"CLIENT_ERROR invalid exptime argument\r\n");
                return;
            }
        }
    }
    engine.flush_all(i64::from(delay));
    reply(out, noreply, b"OK\r\n");
}

/// `verbosity <level> [noreply]`.
pub(super) fn verbosity(w: &Words<'_>, out: &mut Output<ValueRef>, ctx: &mut Ctx<'_>) {
    let noreply = noreply_of(w);
    let Some(level) = parse_u32_trunc(w.get(1)) else {
        reply(out, noreply, BAD_FORMAT);
        return;
    };
    ctx.shared.verbosity.store(level.min(2), Relaxed);
    reply(out, noreply, b"OK\r\n");
}

/// `cache_memlimit <megabytes> [noreply]`.
pub(super) fn memlimit(w: &Words<'_>, out: &mut Output<ValueRef>, ctx: &mut Ctx<'_>) {
    let noreply = noreply_of(w);
    let Some(mb) = parse_u32_trunc(w.get(1)) else {
        reply(out, noreply, ERROR);
        return;
    };
    match ctx.shared.engine.set_memory_limit_mb(u64::from(mb)) {
        Ok(()) => reply(out, noreply, b"OK\r\n"),
        Err(e) => {
            if !noreply {
                out.push(e.to_string().as_bytes());
                out.push(b"\r\n");
                out.end_object();
            }
        }
    }
}

/// `shutdown [graceful]` (only with `-A`). Returns true when the server is stopping
/// (the connection then closes without a reply).
pub(super) fn shutdown(w: &Words<'_>, out: &mut Output<ValueRef>, ctx: &mut Ctx<'_>) -> bool {
    if !ctx.shared.settings.enable_shutdown {
        reply(out, false, b"ERROR: shutdown not enabled\r\n");
        return false;
    }
    let nt = w.n + 1;
    if nt == 2 || (nt == 3 && w.get(1) == b"graceful") {
        ctx.shared.request_stop();
        return true;
    }
    reply(out, false, b"CLIENT_ERROR invalid shutdown mode\r\n");
    false
}

/// `slabs reassign <src> <dst>` and `slabs automove <0|1|2>` / `slabs automove ratio <f>`.
pub(super) fn slabs(w: &Words<'_>, out: &mut Output<ValueRef>, ctx: &mut Ctx<'_>) {
    let nt = w.n + 1;
    if nt == 5 && w.get(1) == b"reassign" {
        if !ctx.shared.settings.slab_reassign {
            reply(out, false, b"CLIENT_ERROR slab reassignment disabled\r\n");
            return;
        }
        let (Some(src), Some(dst)) = (parse_i32_trunc(w.get(2)), parse_i32_trunc(w.get(3))) else {
            reply(out, false, BAD_FORMAT);
            return;
        };
        match ctx.shared.engine.slabs_reassign(src, dst) {
            Ok(()) => reply(out, false, b"OK\r\n"),
            Err(e) => {
                out.push(e.to_string().as_bytes());
                out.push(b"\r\n");
                out.end_object();
            }
        }
    } else if nt >= 4 && w.get(1) == b"automove" {
        let noreply = noreply_of(w);
        if w.get(2) == b"ratio" {
            let ratio = std::str::from_utf8(w.get(3))
                .ok()
                .and_then(|s| s.trim().parse::<f64>().ok());
            match ratio {
                Some(r) if nt >= 5 => {
                    ctx.shared.engine.set_slab_automove_ratio(r);
                    reply(out, noreply, b"OK\r\n");
                }
                _ => reply(out, noreply, ERROR),
            }
            return;
        }
        match parse_u32_trunc(w.get(2)) {
            None => reply(out, noreply, BAD_FORMAT),
            Some(level) if level <= 2 && ctx.shared.engine.set_slab_automove(level as u8) => {
                reply(out, noreply, b"OK\r\n");
            }
            Some(_) => reply(out, noreply, ERROR),
        }
    } else {
        reply(out, false, ERROR);
    }
}

/// `lru tune|mode|temp_ttl ...`.
pub(super) fn lru(w: &Words<'_>, out: &mut Output<ValueRef>, ctx: &mut Ctx<'_>) {
    let noreply = noreply_of(w);
    let nt = w.n + 1;
    let maintainer = ctx.shared.settings.lru_maintainer;
    let f64_of = |b: &[u8]| {
        std::str::from_utf8(b)
            .ok()
            .and_then(|s| s.trim().parse::<f64>().ok())
    };
    match w.get(1) {
        b"tune" if nt >= 7 => {
            let parsed = (
                parse_u32_trunc(w.get(2)),
                parse_u32_trunc(w.get(3)),
                f64_of(w.get(4)),
                f64_of(w.get(5)),
            );
            let (Some(hot), Some(warm), Some(hot_f), Some(warm_f)) = parsed else {
                reply(out, noreply, ERROR);
                return;
            };
            if u64::from(hot) + u64::from(warm) > 80 {
                reply(
                    out,
                    noreply,
                    b"ERROR hot and warm pcts must not exceed 80\r\n",
                );
            } else if warm_f <= 0.0 || hot_f <= 0.0 {
                reply(
                    out,
                    noreply,
                    b"ERROR hot/warm age factors must be greater than 0\r\n",
                );
            } else {
                // The engine makes the same two checks, which just passed.
                let applied = ctx.shared.engine.set_lru_tune(hot, warm, hot_f, warm_f);
                debug_assert!(applied);
                reply(out, noreply, b"OK\r\n");
            }
        }
        b"mode" if nt >= 4 && maintainer => match w.get(2) {
            b"flat" => {
                ctx.shared.engine.set_lru_segmented(false);
                reply(out, noreply, b"OK\r\n");
            }
            b"segmented" => {
                ctx.shared.engine.set_lru_segmented(true);
                reply(out, noreply, b"OK\r\n");
            }
            _ => reply(out, noreply, ERROR),
        },
        b"temp_ttl" if nt >= 4 && maintainer => match parse_i32_trunc(w.get(2)) {
            None => reply(out, noreply, ERROR),
            Some(ttl) => {
                let ttl = u32::try_from(ttl).ok();
                if ctx.shared.engine.set_temp_ttl(ttl) {
                    reply(out, noreply, b"OK\r\n");
                } else {
                    reply(out, noreply, ERROR);
                }
            }
        },
        _ => reply(out, noreply, ERROR),
    }
}

/// memcached's class list for `lru_crawler crawl`: `all` or comma-separated ids.
pub(super) fn crawl_classes(arg: &[u8]) -> Result<Option<Vec<u8>>, CrawlError> {
    if arg == b"all" {
        return Ok(None);
    }
    let mut ids = Vec::new();
    for part in arg.split(|&b| b == b',').filter(|p| !p.is_empty()) {
        match parse_u32_trunc(part) {
            Some(id) if (1..64).contains(&id) => ids.push(id as u8),
            _ => return Err(CrawlError::BadClass),
        }
    }
    Ok(Some(ids))
}

fn push_line(out: &mut Output<ValueRef>, msg: &str) {
    out.push(msg.as_bytes());
    out.push(b"\r\n");
    out.end_object();
}

/// `lru_crawler crawl|tocrawl|sleep|enable|disable|metadump ...`.
pub(super) fn lru_crawler(w: &Words<'_>, out: &mut Output<ValueRef>, ctx: &mut Ctx<'_>) {
    let nt = w.n + 1;
    let shared = ctx.shared;
    match (nt, w.get(1)) {
        (4, b"crawl") => {
            if !shared.engine.tunables().lru_crawler {
                return push_line(out, &CrawlError::Disabled.to_string());
            }
            let res = crawl_classes(w.get(2))
                .and_then(|ids| shared.engine.lru_crawler_crawl(ids.as_deref()));
            match res {
                Ok(()) => reply(out, false, b"OK\r\n"),
                Err(e) => push_line(out, &e.to_string()),
            }
        }
        (4, b"metadump") => super::dump::metadump(w, out, ctx),
        (4, b"tocrawl") => match parse_u32_trunc(w.get(2)) {
            Some(n) => {
                shared.engine.set_lru_crawler_tocrawl(n);
                reply(out, false, b"OK\r\n");
            }
            None => reply(out, false, BAD_FORMAT),
        },
        (4, b"sleep") => match parse_u32_trunc(w.get(2)) {
            Some(us) if shared.engine.set_lru_crawler_sleep(us) => {
                reply(out, false, b"OK\r\n");
            }
            Some(_) => reply(
                out,
                false,
                b"CLIENT_ERROR sleep must be one second or less\r\n",
            ),
            None => reply(out, false, BAD_FORMAT),
        },
        (3, b"enable") => {
            if shared.engine.set_lru_crawler(true) {
                reply(out, false, b"OK\r\n");
            } else {
                reply(out, false, b"ERROR failed to start lru crawler thread\r\n");
            }
        }
        (3, b"disable") => {
            // Stopping a stopped crawler is fine in memcached (only a second start fails).
            shared.engine.set_lru_crawler(false);
            reply(out, false, b"OK\r\n");
        }
        _ => reply(out, false, ERROR),
    }
}
