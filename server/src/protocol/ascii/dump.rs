//! Key listings: `stats cachedump <class> <limit>` and `lru_crawler metadump
//! <all|hash|ids>`, in memcached 1.6.18's formats (both refused under `-X`).

use std::io::Write;

use evcached_storage::{CrawlError, Engine, ItemRef, WalkCursor};

use super::{reply, Words, BAD_FORMAT};
use crate::protocol::number::parse_u32_trunc;
use crate::protocol::{Ctx, Output, ValueRef};

/// memcached's cap on one cachedump reply (its buffer is 2 MB including `END\r\n\0`).
const CACHEDUMP_LIMIT: usize = 2 * 1024 * 1024;

/// `stats cachedump <class> <limit>`: `ITEM <key> [<bytes> b; <exptime> s]` for up to
/// `limit` items (0 = all) of the class's COLD LRU, newest first, then `END`.
pub(super) fn cachedump(w: &Words<'_>, out: &mut Output<ValueRef>, ctx: &Ctx<'_>) {
    let nt = w.n + 1;
    if !ctx.shared.settings.dump_enabled {
        return reply(out, false, b"CLIENT_ERROR stats cachedump not allowed\r\n");
    }
    if nt < 5 {
        return reply(out, false, b"CLIENT_ERROR bad command line\r\n");
    }
    let (Some(id), Some(limit)) = (parse_u32_trunc(w.get(2)), parse_u32_trunc(w.get(3))) else {
        return reply(out, false, BAD_FORMAT);
    };
    if id >= 64 {
        return reply(out, false, b"CLIENT_ERROR Illegal slab id\r\n");
    }
    // Class 0 and ids past the last class have an empty LRU: just END.
    let items = ctx
        .shared
        .engine
        .cachedump(id as u8, limit as usize)
        .unwrap_or_default();
    let buf = out.text_buf();
    let start = buf.len();
    let mut line = Vec::with_capacity(300);
    for (key, bytes, exptime) in items {
        line.clear();
        // memcached prints the key as a C string: a NUL (binary protocol keys) ends it.
        let key = key.split(|&b| b == 0).next().unwrap_or_default();
        line.extend_from_slice(b"ITEM ");
        line.extend_from_slice(key);
        let _ = write!(line, " [{bytes} b; {exptime} s]\r\n");
        if buf.len() - start + line.len() + 6 > CACHEDUMP_LIMIT {
            break;
        }
        buf.extend_from_slice(&line);
    }
    buf.extend_from_slice(b"END\r\n");
    out.commit_text(start);
    out.end_object();
}

/// Text produced per batch of a streamed metadump before the client must read it: the
/// connection holds at most about this much dump output at a time.
pub const DUMP_BATCH: usize = 64 * 1024;
/// Items walked per engine call while filling a batch (the walk lock is held for one call).
const WALK_STEP: usize = 128;
/// Engine calls per batch at most, so a batch over sparse pages (mostly free or expired
/// chunks) stays short too; such a batch may hold few lines or none.
const WALK_CALLS: usize = 64;

/// `lru_crawler metadump <all|hash|id[,id...]>`: one
/// `key=<uri-encoded> exp=<unix|-1> la=<unix> cas=<n> fetch=<yes|no> cls=<n> size=<n>` line
/// (ended by a bare `\n`) per live item, then `END\r\n`. The items come from a walk of the
/// engine's slab pages, so their order is page order (memcached walks each LRU tail
/// first); `hash` lists every class. `size` is evcached's own item size.
///
/// A stream connection (`ctx.stream_dumps`) gets the dump as a [`MetaDump`] in `ctx.dump`
/// and writes it batch by batch as its client reads (see [`MetaDump`]); anything else
/// (UDP, in-process drivers) gets the whole listing now.
pub(super) fn metadump(w: &Words<'_>, out: &mut Output<ValueRef>, ctx: &mut Ctx<'_>) {
    let shared = ctx.shared;
    if !shared.engine.tunables().lru_crawler {
        return line(out, &CrawlError::Disabled.to_string());
    }
    if !shared.settings.dump_enabled {
        return reply(out, false, b"ERROR metadump not allowed\r\n");
    }
    // memcached refuses when replies of earlier pipelined commands are still queued.
    if !out.is_empty() {
        return reply(
            out,
            false,
            b"ERROR cannot pipeline other commands before metadump\r\n",
        );
    }
    let arg = w.get(2);
    let classes = if arg == b"hash" {
        None
    } else {
        match super::admin::crawl_classes(arg) {
            Ok(c) => c.map(|mut ids| {
                ids.sort_unstable();
                ids.dedup();
                ids
            }),
            Err(e) => return line(out, &e.to_string()),
        }
    };
    let mut dump = MetaDump {
        cursor: WalkCursor::new(classes.as_deref()),
        started: shared.engine.process_started(),
    };
    if ctx.stream_dumps {
        ctx.dump = Some(Box::new(dump));
        return;
    }
    while !dump.next_batch(out, &shared.engine) {}
}

/// A metadump in progress on one connection. Like memcached, the connection belongs to
/// the dump until `END`: its later commands wait. The connection calls
/// [`MetaDump::next_batch`] whenever its output has drained, writes the batch, and goes
/// back to its worker's event loop in between, so other connections are served and a
/// slow reader holds about one batch ([`DUMP_BATCH`]) of output, not the whole listing.
/// Which items a listing holds when the cache changes under it is
/// [`evcached_storage::WalkCursor`]'s guarantee.
pub struct MetaDump {
    cursor: WalkCursor,
    started: i64,
}

impl MetaDump {
    /// Appends the next batch of lines (about [`DUMP_BATCH`] bytes) to `out`, and `END` after
    /// the last item; returns true once `END` is appended.
    pub fn next_batch(&mut self, out: &mut Output<ValueRef>, engine: &Engine) -> bool {
        let started = self.started;
        let buf = out.text_buf();
        let start = buf.len();
        let mut calls = 0;
        while buf.len() - start < DUMP_BATCH && !self.cursor.is_done() && calls < WALK_CALLS {
            calls += 1;
            engine.walk_items(&mut self.cursor, WALK_STEP, |it| {
                meta_line(buf, it, started)
            });
        }
        let done = self.cursor.is_done();
        if done {
            buf.extend_from_slice(b"END\r\n");
        }
        out.commit_text(start);
        if done {
            out.end_object();
        }
        done
    }
}

fn line(out: &mut Output<ValueRef>, msg: &str) {
    out.push(msg.as_bytes());
    out.push(b"\r\n");
    out.end_object();
}

fn meta_line(buf: &mut Vec<u8>, it: &ItemRef, started: i64) {
    buf.extend_from_slice(b"key=");
    uri_encode(it.key(), buf);
    let exp = match it.exptime() {
        0 => -1,
        e => started + i64::from(e),
    };
    let _ = writeln!(
        buf,
        " exp={exp} la={} cas={} fetch={} cls={} size={}",
        started + i64::from(it.last_access()),
        it.cas(),
        if it.fetched() { "yes" } else { "no" },
        it.slab_class(),
        it.total_size()
    );
}

/// memcached's `uriencode`: letters, digits and `-._~` stay, every other byte is `%XX`.
fn uri_encode(key: &[u8], buf: &mut Vec<u8>) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for &b in key {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            buf.push(b);
        } else {
            buf.extend_from_slice(&[b'%', HEX[usize::from(b >> 4)], HEX[usize::from(b & 15)]]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::uri_encode;

    #[test]
    fn uri_encoding_matches_memcached() {
        let mut out = Vec::new();
        uri_encode(b"a!*'();:@&=+$,/?#[]~-._Z\x7f\xc3\xa9%", &mut out);
        assert_eq!(
            out,
            b"a%21%2A%27%28%29%3B%3A%40%26%3D%2B%24%2C%2F%3F%23%5B%5D~-._Z%7F%C3%A9%25"
        );
    }
}
