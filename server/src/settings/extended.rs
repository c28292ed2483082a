//! `-o key[=value],...`: memcached 1.6.18's extended options (those that apply without
//! extstore or TLS) plus evcached's `ev_backend`.
//!
//! Messages, the C number parsers behind each option, and what a missing value does all
//! follow memcached; every error here exits with 1.

use super::numbers::{atof, atoi, safe_strtol, safe_strtoul};
use super::validate::Builder;
use super::{CliError, EventBackendChoice, HashAlgorithm};

/// Applies a comma-separated `-o` list, left to right.
pub(crate) fn apply_list(b: &mut Builder, list: &str) -> Result<(), CliError> {
    // getsubopt: stop when the rest is empty, so a trailing comma is fine but an empty item
    // in the middle (`a,,b`) is an illegal suboption, as in memcached.
    let mut rest = list;
    while !rest.is_empty() {
        let (item, tail) = rest.split_once(',').unwrap_or((rest, ""));
        rest = tail;
        let (name, value) = match item.split_once('=') {
            Some((n, v)) => (n, Some(v)),
            None => (item, None),
        };
        apply_one(b, name, value).map_err(|e| match e {
            OptError::Illegal => CliError::option(format!("Illegal suboption \"{item}\"")),
            OptError::Message(m) => CliError::option(m),
        })?;
    }
    Ok(())
}

enum OptError {
    /// Unknown name (or a value where none is taken).
    Illegal,
    /// memcached's specific message.
    Message(String),
}

fn msg(m: impl Into<String>) -> OptError {
    OptError::Message(m.into())
}

/// The value, or memcached's "Missing ..." message for this option.
fn need(value: Option<&str>, missing: impl FnOnce() -> String) -> Result<&str, OptError> {
    value.ok_or_else(|| msg(missing()))
}

/// A flag option; like memcached, a value given to it (`track_sizes=1`) is ignored.
fn flag(_value: Option<&str>) -> Result<(), OptError> {
    Ok(())
}

fn apply_one(b: &mut Builder, name: &str, value: Option<&str>) -> Result<(), OptError> {
    let s = &mut b.s;
    match name {
        "maxconns_fast" => flag(value).map(|()| s.maxconns_fast = true)?,
        "no_maxconns_fast" => flag(value).map(|()| s.maxconns_fast = false)?,
        "hashpower" => {
            let v = need(value, || "Missing numeric argument for hashpower".into())?;
            let n = atoi(v);
            if n < 12 {
                return Err(msg(format!(
                    "Initial hashtable multiplier of {n} is too low"
                )));
            }
            if n > 32 {
                return Err(msg(format!(
                    "Initial hashtable multiplier of {n} is too high\n\
                     Choose a value based on \"STAT hash_power_level\" from a running instance"
                )));
            }
            s.hashpower_init = n as u32;
        }
        "no_hashexpand" => flag(value).map(|()| s.hash_expand = false)?,
        "slab_reassign" => flag(value).map(|()| s.slab_reassign = true)?,
        "no_slab_reassign" => flag(value).map(|()| s.slab_reassign = false)?,
        "slab_automove" => match value {
            None => s.slab_automove = 1,
            Some(v) => {
                let n = atoi(v);
                if !(0..=2).contains(&n) {
                    return Err(msg("slab_automove must be between 0 and 2"));
                }
                s.slab_automove = n as u8;
            }
        },
        "no_slab_automove" => flag(value).map(|()| s.slab_automove = 0)?,
        "slab_automove_ratio" => {
            let v = need(value, || "Missing slab_automove_ratio argument".into())?;
            let r = atof(v);
            if r <= 0.0 || r > 1.0 {
                return Err(msg("slab_automove_ratio must be > 0 and < 1"));
            }
            s.slab_automove_ratio = r;
        }
        "slab_automove_window" => {
            let v = need(value, || "Missing slab_automove_window argument".into())?;
            let n = atoi(v);
            if n < 3 {
                return Err(msg("slab_automove_window must be > 2"));
            }
            s.slab_automove_window = n as u32;
        }
        "tail_repair_time" => {
            let v = need(value, || {
                "Missing numeric argument for tail_repair_time".into()
            })?;
            let n = atoi(v);
            if n < 10 {
                return Err(msg("Cannot set tail_repair_time to less than 10 seconds"));
            }
            s.tail_repair_time = n as u32;
        }
        "hash_algorithm" => {
            let v = need(value, || "Missing hash_algorithm argument".into())?;
            s.hash_algorithm = match v {
                "jenkins" => HashAlgorithm::Jenkins,
                "murmur3" => HashAlgorithm::Murmur3,
                "xxh3" => HashAlgorithm::Xxh3,
                _ => {
                    return Err(msg(
                        "Unknown hash_algorithm option (jenkins, murmur3, xxh3)",
                    ))
                }
            };
        }
        "lru_crawler" => flag(value).map(|()| s.lru_crawler = true)?,
        "no_lru_crawler" => flag(value).map(|()| s.lru_crawler = false)?,
        "lru_crawler_sleep" => {
            let v = need(value, || "Missing lru_crawler_sleep value".into())?;
            let n = atoi(v);
            if !(0..=1_000_000).contains(&n) {
                return Err(msg("LRU crawler sleep must be between 0 and 1 second"));
            }
            s.lru_crawler_sleep = n as u32;
        }
        "lru_crawler_tocrawl" => {
            let v = need(value, || "Missing lru_crawler_tocrawl value".into())?;
            s.lru_crawler_tocrawl = safe_strtoul(v)
                .ok_or_else(|| msg("lru_crawler_tocrawl takes a numeric 32bit value"))?;
        }
        "lru_maintainer" => flag(value).map(|()| {
            s.lru_maintainer = true;
            s.lru_segmented = true;
        })?,
        "no_lru_maintainer" => flag(value).map(|()| {
            s.lru_maintainer = false;
            s.lru_segmented = false;
        })?,
        "hot_lru_pct" | "warm_lru_pct" => {
            let v = need(value, || format!("Missing {name} argument"))?;
            let n = atoi(v);
            if !(1..80).contains(&n) {
                return Err(msg(format!("{name} must be > 1 and < 80")));
            }
            if name == "hot_lru_pct" {
                s.hot_lru_pct = n as u32;
            } else {
                s.warm_lru_pct = n as u32;
            }
        }
        "hot_max_factor" | "warm_max_factor" => {
            let v = need(value, || format!("Missing {name} argument"))?;
            let f = atof(v);
            if f <= 0.0 {
                return Err(msg(format!("{name} must be > 0")));
            }
            if name == "hot_max_factor" {
                s.hot_max_factor = f;
            } else {
                s.warm_max_factor = f;
            }
        }
        "temporary_ttl" => {
            let v = need(value, || "Missing temporary_ttl argument".into())?;
            s.temp_lru = true;
            s.temporary_ttl = atoi(v).max(0) as u32;
        }
        "idle_timeout" => {
            let v = need(value, || "Missing numeric argument for idle_timeout".into())?;
            // memcached ignores a parse failure here and keeps 0 (off); negatives mean off.
            s.idle_timeout = safe_strtol(v).unwrap_or(0).max(0) as u32;
        }
        "watcher_logbuf_size" | "worker_logbuf_size" => {
            let v = need(value, || format!("Missing {name} argument"))?;
            let kb = safe_strtoul(v)
                .ok_or_else(|| msg(format!("could not parse argument to {name}")))?;
            let bytes = kb.saturating_mul(1024);
            if name == "watcher_logbuf_size" {
                s.watcher_logbuf_size = bytes;
            } else {
                s.worker_logbuf_size = bytes;
            }
        }
        "read_buf_mem_limit" => {
            let v = need(value, || "Missing read_buf_mem_limit argument".into())?;
            let mb = safe_strtoul(v)
                .ok_or_else(|| msg("could not parse argument to read_buf_mem_limit"))?;
            s.read_buf_mem_limit = u64::from(mb) * 1024 * 1024;
        }
        "slab_chunk_max" => {
            let v = need(value, || "Missing slab_chunk_max argument".into())?;
            // 1.6.18 reads bytes here (its help text says kilobytes).
            let n = safe_strtol(v)
                .filter(|n| *n > 0)
                .ok_or_else(|| msg("could not parse argument to slab_chunk_max"))?;
            s.slab_chunk_max = n as usize;
            b.slab_chunk_max_set = true;
        }
        "slab_sizes" => {
            let v = need(value, || "Missing slab_sizes argument".into())?;
            b.slab_sizes_raw = Some(v.to_string());
        }
        "no_chunked_items" => flag(value).map(|()| s.slab_chunk_max = s.slab_page_size)?,
        "track_sizes" => flag(value).map(|()| s.track_sizes = true)?,
        "inline_ascii_resp" => flag(value).map(|()| s.inline_ascii_response = true)?,
        "no_inline_ascii_resp" => flag(value).map(|()| s.inline_ascii_response = false)?,
        "drop_privileges" => flag(value).map(|()| s.drop_privileges = true)?,
        "no_drop_privileges" => flag(value).map(|()| s.drop_privileges = false)?,
        "sock_cookie_id" => {
            let v = need(value, || "Missing sock_cookie_id argument".into())?;
            s.sock_cookie_id = atoi(v).max(0) as u32;
        }
        // Its settings are already the defaults in 1.6.
        "modern" => flag(value)?,
        "no_modern" => {
            flag(value)?;
            if !b.slab_chunk_max_set {
                s.slab_chunk_max = s.slab_page_size;
            }
            s.slab_reassign = false;
            s.slab_automove = 0;
            s.maxconns_fast = false;
            s.inline_ascii_response = true;
            s.lru_segmented = false;
            s.hash_algorithm = HashAlgorithm::Jenkins;
            s.lru_crawler = false;
            s.lru_maintainer = false;
        }
        "ev_backend" => {
            let v = need(value, || "Missing ev_backend argument".into())?;
            s.event_backend = match v {
                "native" => EventBackendChoice::Native,
                "portable" => EventBackendChoice::Portable,
                _ => return Err(msg("Unknown ev_backend option (native, portable)")),
            };
        }
        _ => return Err(OptError::Illegal),
    }
    Ok(())
}
