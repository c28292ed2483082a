//! Normalising replies before comparing evcached with memcached.
//!
//! The rules (applied line by line; a line ends at `\n`):
//!
//! 1. **CAS ids**: the fifth word of `VALUE <key> <flags> <bytes> <cas>` becomes `c1`, `c2`,
//!    ... numbered by first appearance within the case. Equal ids stay equal and different
//!    ones stay different, but the absolute counter value (which depends on how many items
//!    the server stored before) is not compared. CAS `0` (CAS disabled with `-C`) is kept.
//!    The meta protocol's `c<cas>` return flag (on `HD`/`VA`/`EN`/`NF`/`NS`/`EX` lines) is
//!    numbered the same way, as `c#1`, `c#2`, ... (shared with `VALUE` lines).
//! 2. **Version**: `VERSION <anything>` becomes `VERSION <v>`; `STAT version` is masked.
//! 3. **Stats whose value depends on time, process or allocator internals** keep their name
//!    and position but get the value `*`: pid, uptime, time, version, libevent, rusage_*,
//!    buffer/connection-structure accounting (connection_structures, response_obj_*,
//!    read_buf_*, reserved_fds, malloc_fails), background-thread progress that depends on
//!    timing (lru_crawler_*, lru_maintainer_juggles, crawler_*, moves_*, log_*, lrutail_reflocked,
//!    time_in_listen_disabled_us), bytes_written (it counts earlier stats replies, whose
//!    masked values vary in length), and per-class ages and LRU-segment placement decided by
//!    the maintainer thread (`items:N:age*`, `number_hot/warm/cold`, `hits_to_*`,
//!    `evicted_time`), and `curr_connections` (depends on when the server finishes closing
//!    the previous case's connection).
//! 4. **Feature-build stats**: memcached's Debian build has extstore and TLS; evcached has
//!    neither, like a memcached built without them, so `STAT ext_*`, `STAT ssl_*` and
//!    `STAT slab_automove_freeratio` lines are dropped on both sides.
//! 5. **`stats conns`**: the fd number in `STAT <fd>:<field>` becomes `N`, ports in
//!    `addr`/`listen_addr` values become `*`, and `secs_since_last_cmd` is masked.
//!
//! 6. **Memory layout**: evcached's item header (36 B) and hash buckets (4 B handles) are
//!    smaller than memcached's (56 B, 8 B pointers) by design, so the byte counts that follow
//!    from them are masked: `bytes`, `hash_bytes`, and per class `mem_requested`,
//!    `chunk_size`, `chunks_per_page`, `total_chunks`, `free_chunks`, `free_chunks_end`.
//!    Item counts, page counts, limits and every other counter are still compared.
//!
//! 7. **Key dumps**: in `lru_crawler metadump` lines (`key=... exp=... la=... cas=...
//!    fetch=... cls=... size=...`) the absolute times `exp` (unless `-1`) and `la` become
//!    `*`, `cas` is numbered like rule 1 (`#1`, `#2`, ...; `0` kept), and `size` (memory
//!    layout, rule 6) becomes `*`; in `stats cachedump` lines (`ITEM <key> [<n> b; <t> s]`)
//!    an absolute expiry time `t` (not `0`) becomes `*`.
//!
//! Everything else (reply order, every other stat name and value, error strings, data
//! bytes) must be identical.

use std::collections::HashMap;

/// Per-case CAS numbering (shared by the steps of one case on one server).
#[derive(Default)]
pub struct CasMap {
    ids: HashMap<Vec<u8>, usize>,
}

impl CasMap {
    fn ordinal(&mut self, cas: &[u8]) -> usize {
        let next = self.ids.len() + 1;
        *self.ids.entry(cas.to_vec()).or_insert(next)
    }
}

/// Meta protocol reply codes whose `c<cas>` return flag is normalised (rule 1).
const META_CODES: &[&[u8]] = &[b"HD", b"VA", b"EN", b"NF", b"NS", b"EX"];

/// General `stats` fields whose values are masked (rule 3).
const MASKED: &[&str] = &[
    "pid",
    "uptime",
    "time",
    "version",
    "libevent",
    "rusage_user",
    "rusage_system",
    "connection_structures",
    "response_obj_oom",
    "response_obj_count",
    "response_obj_bytes",
    "read_buf_count",
    "read_buf_bytes",
    "read_buf_bytes_free",
    "read_buf_oom",
    "reserved_fds",
    "malloc_fails",
    "lru_crawler_running",
    "lru_crawler_starts",
    "lru_maintainer_juggles",
    "crawler_reclaimed",
    "crawler_items_checked",
    "moves_to_cold",
    "moves_to_warm",
    "moves_within_lru",
    "log_worker_dropped",
    "log_worker_written",
    "log_watcher_skipped",
    "log_watcher_sent",
    "time_in_listen_disabled_us",
    "secs_since_last_cmd",
    // Counts earlier stats replies, whose masked values vary in length.
    "bytes_written",
    // Tail items the maintainer thread happened to find referenced.
    "lrutail_reflocked",
    // Depends on when the server finishes closing the previous case's connection.
    "curr_connections",
    // Memory layout (rule 6).
    "bytes",
    "hash_bytes",
];

/// Per-class fields (`items:N:<field>` / `N:<field>`) whose values are masked (rule 3).
const MASKED_CLASS_FIELDS: &[&str] = &[
    "age",
    "age_hot",
    "age_warm",
    "number_hot",
    "number_warm",
    "number_cold",
    "evicted_time",
    "hits_to_hot",
    "hits_to_warm",
    "hits_to_cold",
    "hits_to_temp",
    "moves_to_cold",
    "moves_to_warm",
    "moves_within_lru",
    "crawler_reclaimed",
    "crawler_items_checked",
    "lrutail_reflocked",
    // Memory layout (rule 6).
    "mem_requested",
    "chunk_size",
    "chunks_per_page",
    "total_chunks",
    "free_chunks",
    "free_chunks_end",
];

/// Applies the rules above to one step's reply bytes.
pub fn normalize(bytes: &[u8], cas: &mut CasMap) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len());
    for line in bytes.split_inclusive(|&b| b == b'\n') {
        let (body, end) = split_end(line);
        if let Some(new) = normalize_line(body, cas) {
            out.extend_from_slice(&new);
            out.extend_from_slice(end);
        } else if !line_dropped(body) {
            out.extend_from_slice(line);
        }
    }
    out
}

fn split_end(line: &[u8]) -> (&[u8], &[u8]) {
    if line.ends_with(b"\r\n") {
        line.split_at(line.len() - 2)
    } else if line.ends_with(b"\n") {
        line.split_at(line.len() - 1)
    } else {
        (line, b"")
    }
}

fn line_dropped(body: &[u8]) -> bool {
    body.starts_with(b"STAT ext_")
        || body.starts_with(b"STAT ssl_")
        || body.starts_with(b"STAT slab_automove_freeratio ")
}

/// The rewritten line, or `None` to keep (or drop, see `line_dropped`) it as is.
fn normalize_line(body: &[u8], cas: &mut CasMap) -> Option<Vec<u8>> {
    if line_dropped(body) {
        return None;
    }
    let words: Vec<&[u8]> = body.split(|&b| b == b' ').collect();
    match words.as_slice() {
        // CAS 0 (no CAS: `-C`) is meaningful and kept.
        [b"VALUE", key, flags, len, id] if *id != b"0" => {
            let n = cas.ordinal(id);
            Some(
                [
                    b"VALUE".as_slice(),
                    key,
                    flags,
                    len,
                    format!("c{n}").as_bytes(),
                ]
                .join(&b' '),
            )
        }
        [b"VERSION", ..] => Some(b"VERSION <v>".to_vec()),
        [code, rest @ ..] if META_CODES.contains(code) => {
            let mut changed = false;
            let mut out: Vec<Vec<u8>> = vec![code.to_vec()];
            for (i, w) in rest.iter().enumerate() {
                // `VA <len>`: the first word is the length, not a flag.
                let is_len = *code == b"VA" && i == 0;
                let is_cas = w.len() > 1 && w[0] == b'c' && w[1..].iter().all(u8::is_ascii_digit);
                if !is_len && is_cas && &w[1..] != b"0" {
                    changed = true;
                    out.push(format!("c#{}", cas.ordinal(&w[1..])).into_bytes());
                } else {
                    out.push(w.to_vec());
                }
            }
            changed.then(|| out.join(&b' '))
        }
        [b"STAT", name, value] => normalize_stat(name, value),
        [b"ITEM", key, bytes, b"b;", t, b"s]"] if *t != b"0" => {
            Some([b"ITEM".as_slice(), key, bytes, b"b;", b"*", b"s]"].join(&b' '))
        }
        [first, ..] if first.starts_with(b"key=") => Some(normalize_metadump(&words, cas)),
        _ => None,
    }
}

/// Rule 7 for one `lru_crawler metadump` line.
fn normalize_metadump(words: &[&[u8]], cas: &mut CasMap) -> Vec<u8> {
    let out: Vec<Vec<u8>> = words
        .iter()
        .map(|w| match w.iter().position(|&b| b == b'=') {
            Some(eq) => {
                let (name, value) = (&w[..eq], &w[eq + 1..]);
                let masked = match name {
                    b"exp" if value != b"-1" => Some("*".to_string()),
                    b"la" | b"size" => Some("*".to_string()),
                    b"cas" if value != b"0" => Some(format!("#{}", cas.ordinal(value))),
                    _ => None,
                };
                match masked {
                    Some(m) => [name, b"=", m.as_bytes()].concat(),
                    None => w.to_vec(),
                }
            }
            None => w.to_vec(),
        })
        .collect();
    out.join(&b' ')
}

fn normalize_stat(name: &[u8], value: &[u8]) -> Option<Vec<u8>> {
    let name_s = String::from_utf8_lossy(name);
    if MASKED.contains(&name_s.as_ref()) {
        return Some(format!("STAT {name_s} *").into_bytes());
    }
    // `items:<class>:<field>`, `<class>:<field>` (stats slabs) or `<fd>:<field>` (conns).
    let parts: Vec<&str> = name_s.split(':').collect();
    let field = *parts.last()?;
    if parts.len() >= 2 && MASKED_CLASS_FIELDS.contains(&field) {
        return Some(format!("STAT {name_s} *").into_bytes());
    }
    if parts.len() == 2 && parts[0].bytes().all(|b| b.is_ascii_digit()) {
        let conn_fields = ["addr", "listen_addr", "state", "secs_since_last_cmd", "UDP"];
        if conn_fields.contains(&field) {
            let v = String::from_utf8_lossy(value);
            let v = match field {
                "addr" | "listen_addr" => match v.rsplit_once(':') {
                    Some((host, port)) if port.bytes().all(|b| b.is_ascii_digit()) => {
                        format!("{host}:*")
                    }
                    _ => v.into_owned(),
                },
                "secs_since_last_cmd" => "*".to_string(),
                _ => v.into_owned(),
            };
            return Some(format!("STAT N:{field} {v}").into_bytes());
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn norm(s: &str) -> String {
        String::from_utf8(normalize(s.as_bytes(), &mut CasMap::default())).unwrap()
    }

    #[test]
    fn cas_ids_become_ordinals() {
        assert_eq!(
            norm("VALUE a 0 1 17\r\nx\r\nVALUE b 0 1 9\r\ny\r\nVALUE a 0 1 17\r\nx\r\nEND\r\n"),
            "VALUE a 0 1 c1\r\nx\r\nVALUE b 0 1 c2\r\ny\r\nVALUE a 0 1 c1\r\nx\r\nEND\r\n"
        );
        assert_eq!(norm("VALUE a 0 1\r\nx\r\n"), "VALUE a 0 1\r\nx\r\n");
        assert_eq!(norm("VALUE a 0 1 0\r\nx\r\n"), "VALUE a 0 1 0\r\nx\r\n");
        assert_eq!(
            norm("VALUE a 0 1 18\r\nx\r\nVA 1 c18 f0\r\nx\r\nHD c20 k\r\nVA 22\r\n"),
            "VALUE a 0 1 c1\r\nx\r\nVA 1 c#1 f0\r\nx\r\nHD c#2 k\r\nVA 22\r\n"
        );
    }

    #[test]
    fn stats_rules() {
        assert_eq!(norm("VERSION 1.6.18\r\n"), "VERSION <v>\r\n");
        assert_eq!(
            norm("STAT pid 123\r\nSTAT curr_items 4\r\n"),
            "STAT pid *\r\nSTAT curr_items 4\r\n"
        );
        assert_eq!(
            norm("STAT items:1:age_hot 3\r\n"),
            "STAT items:1:age_hot *\r\n"
        );
        assert_eq!(
            norm("STAT items:1:number 3\r\n"),
            "STAT items:1:number 3\r\n"
        );
        assert_eq!(
            norm("STAT ext_page_size 64\r\nSTAT ssl_enabled no\r\nEND\r\n"),
            "END\r\n"
        );
        assert_eq!(
            norm("STAT 23:addr tcp:127.0.0.1:58010\r\nSTAT 23:secs_since_last_cmd 5\r\n"),
            "STAT N:addr tcp:127.0.0.1:*\r\nSTAT N:secs_since_last_cmd *\r\n"
        );
        assert_eq!(norm("STAT 1:chunk_size 96\r\n"), "STAT 1:chunk_size *\r\n");
        assert_eq!(norm("STAT 1:total_pages 1\r\n"), "STAT 1:total_pages 1\r\n");
        assert_eq!(norm("partial"), "partial");
    }

    #[test]
    fn dump_rules() {
        assert_eq!(
            norm("ITEM a [1 b; 0 s]\r\nITEM b [2 b; 1796024955 s]\r\nEND\r\n"),
            "ITEM a [1 b; 0 s]\r\nITEM b [2 b; * s]\r\nEND\r\n"
        );
        assert_eq!(
            norm(concat!(
                "key=a%21 exp=-1 la=1796024855 cas=7 fetch=no cls=1 size=88\n",
                "key=b exp=1796024955 la=1796024855 cas=9 fetch=yes cls=1 size=66\n",
                "key=c exp=-1 la=1796024855 cas=0 fetch=no cls=1 size=60\nEND\r\n"
            )),
            concat!(
                "key=a%21 exp=-1 la=* cas=#1 fetch=no cls=1 size=*\n",
                "key=b exp=* la=* cas=#2 fetch=yes cls=1 size=*\n",
                "key=c exp=-1 la=* cas=0 fetch=no cls=1 size=*\nEND\r\n"
            )
        );
    }
}
