//! `stats` and its sub-commands, in memcached 1.6.18's field order.

use std::fmt::Display;
use std::sync::atomic::Ordering::Relaxed;

use super::{reply, Words, ERROR};
use crate::protocol::{Ctx, Output, ValueRef};
use crate::settings::PortSetting;

fn stat(out: &mut Output<ValueRef>, name: &str, value: impl Display) {
    use std::io::Write;
    let buf = out.text_buf();
    let start = buf.len();
    let _ = write!(buf, "STAT {name} {value}\r\n");
    out.commit_text(start);
}

fn yes_no(b: bool) -> &'static str {
    if b {
        "yes"
    } else {
        "no"
    }
}

fn end(out: &mut Output<ValueRef>) {
    out.push(b"END\r\n");
    out.end_object();
}

/// Dispatches `stats [sub-command]`.
pub(super) fn stats(w: &Words<'_>, out: &mut Output<ValueRef>, ctx: &mut Ctx<'_>) {
    let nt = w.n + 1;
    if nt == 2 {
        general(out, ctx);
        return end(out);
    }
    let engine = &ctx.shared.engine;
    match w.get(1) {
        b"reset" => {
            ctx.shared.reset_stats();
            reply(out, false, b"RESET\r\n");
        }
        b"detail" => {
            let sub = if nt < 4 { &b""[..] } else { w.get(2) };
            match sub {
                b"on" => {
                    ctx.shared.detail.set_enabled(true);
                    reply(out, false, b"OK\r\n");
                }
                b"off" => {
                    ctx.shared.detail.set_enabled(false);
                    reply(out, false, b"OK\r\n");
                }
                b"dump" => {
                    let dump = ctx.shared.detail.dump();
                    out.push(&dump);
                    out.push(b"END\r\n");
                    out.end_object();
                }
                _ => reply(
                    out,
                    false,
                    b"CLIENT_ERROR usage: stats detail on|off|dump\r\n",
                ),
            }
        }
        b"settings" => {
            settings(out, ctx);
            end(out);
        }
        b"cachedump" => super::dump::cachedump(w, out, ctx),
        b"conns" => {
            let text = ctx.shared.conns.report(ctx.conn_fd, ctx.now);
            out.push(&text);
            end(out);
        }
        b"items" => {
            lines(out, engine.stats_items());
            end(out);
        }
        b"slabs" => {
            lines(out, engine.stats_slabs());
            end(out);
        }
        // 1.6.18 still has these; size tracking is not built into evcached's engine, so
        // the status line is all they change.
        b"sizes_enable" => reply(out, false, b"STAT sizes_status enabled\r\n"),
        b"sizes_disable" => reply(out, false, b"STAT sizes_status disabled\r\n"),
        b"sizes" => {
            lines(out, engine.stats_sizes());
            end(out);
        }
        _ => reply(out, false, ERROR),
    }
}

fn lines(out: &mut Output<ValueRef>, l: evcached_storage::StatLines) {
    for (k, v) in l {
        stat(out, &k, v);
    }
}

fn general(out: &mut Output<ValueRef>, ctx: &Ctx<'_>) {
    let sh = ctx.shared;
    let e = sh.engine.stats();
    let cs = &sh.conn_stats;
    let t = sh.thread_totals();
    let (ru, rs) = rusage();
    stat(out, "pid", std::process::id());
    stat(out, "uptime", sh.uptime());
    stat(out, "time", sh.unix_time());
    stat(out, "version", crate::settings::MEMCACHED_VERSION);
    stat(out, "libevent", sh.backend_name);
    stat(out, "pointer_size", usize::BITS);
    stat(out, "rusage_user", ru);
    stat(out, "rusage_system", rs);
    stat(out, "max_connections", sh.max_conns);
    stat(out, "curr_connections", cs.curr_connections.load(Relaxed));
    stat(out, "total_connections", cs.total_connections.load(Relaxed));
    if sh.maxconns_fast {
        stat(
            out,
            "rejected_connections",
            cs.rejected_connections.load(Relaxed),
        );
    }
    stat(
        out,
        "connection_structures",
        cs.connection_structures.load(Relaxed),
    );
    stat(out, "response_obj_oom", 0);
    stat(out, "response_obj_count", 0);
    stat(out, "response_obj_bytes", 0);
    stat(out, "read_buf_count", 0);
    stat(out, "read_buf_bytes", 0);
    stat(out, "read_buf_bytes_free", 0);
    stat(out, "read_buf_oom", 0);
    stat(out, "reserved_fds", sh.reserved_fds);
    stat(out, "cmd_get", e.cmd_get);
    stat(out, "cmd_set", e.cmd_set);
    stat(
        out,
        "cmd_flush",
        e.cmd_flush + t.flush_refused.load(Relaxed),
    );
    stat(out, "cmd_touch", e.cmd_touch);
    stat(out, "cmd_meta", t.meta_cmds.load(Relaxed));
    stat(out, "get_hits", e.get_hits);
    stat(out, "get_misses", e.get_misses);
    stat(out, "get_expired", e.get_expired);
    stat(out, "get_flushed", e.get_flushed);
    stat(out, "delete_misses", e.delete_misses);
    stat(out, "delete_hits", e.delete_hits);
    stat(out, "incr_misses", e.incr_misses);
    stat(out, "incr_hits", e.incr_hits);
    stat(out, "decr_misses", e.decr_misses);
    stat(out, "decr_hits", e.decr_hits);
    stat(out, "cas_misses", e.cas_misses);
    stat(out, "cas_hits", e.cas_hits);
    stat(out, "cas_badval", e.cas_badval);
    stat(out, "touch_hits", e.touch_hits);
    stat(out, "touch_misses", e.touch_misses);
    stat(out, "store_too_large", e.store_too_large);
    stat(out, "store_no_memory", e.store_no_memory);
    stat(out, "auth_cmds", 0);
    stat(out, "auth_errors", 0);
    if sh.idle_timeout > 0 {
        stat(out, "idle_kicks", t.idle_kicks.load(Relaxed));
    }
    stat(out, "bytes_read", t.bytes_read.load(Relaxed));
    stat(out, "bytes_written", t.bytes_written.load(Relaxed));
    stat(out, "limit_maxbytes", e.limit_maxbytes);
    stat(out, "accepting_conns", cs.accepting_conns.load(Relaxed));
    stat(
        out,
        "listen_disabled_num",
        cs.listen_disabled_num.load(Relaxed),
    );
    stat(
        out,
        "time_in_listen_disabled_us",
        cs.time_in_listen_disabled_us.load(Relaxed),
    );
    stat(out, "threads", sh.settings.threads);
    stat(out, "conn_yields", t.conn_yields.load(Relaxed));
    stat(out, "hash_power_level", e.hash_power_level);
    stat(out, "hash_bytes", e.hash_bytes);
    stat(out, "hash_is_expanding", u8::from(e.hash_is_expanding));
    stat(out, "slab_reassign_rescues", e.slab_reassign_rescues);
    stat(
        out,
        "slab_reassign_chunk_rescues",
        e.slab_reassign_chunk_rescues,
    );
    stat(
        out,
        "slab_reassign_evictions_nomem",
        e.slab_reassign_evictions_nomem,
    );
    stat(
        out,
        "slab_reassign_inline_reclaim",
        e.slab_reassign_inline_reclaim,
    );
    stat(out, "slab_reassign_busy_items", e.slab_reassign_busy_items);
    stat(
        out,
        "slab_reassign_busy_deletes",
        e.slab_reassign_busy_deletes,
    );
    stat(
        out,
        "slab_reassign_running",
        u8::from(e.slab_reassign_running),
    );
    stat(out, "slabs_moved", e.slabs_moved);
    stat(out, "lru_crawler_running", u8::from(e.lru_crawler_running));
    stat(out, "lru_crawler_starts", e.lru_crawler_starts);
    stat(out, "lru_maintainer_juggles", e.lru_maintainer_juggles);
    stat(out, "malloc_fails", e.malloc_fails);
    stat(out, "log_worker_dropped", 0);
    stat(out, "log_worker_written", 0);
    stat(out, "log_watcher_skipped", 0);
    stat(out, "log_watcher_sent", 0);
    stat(out, "log_watchers", 0);
    stat(out, "unexpected_napi_ids", 0);
    stat(out, "round_robin_fallback", 0);
    stat(out, "bytes", e.bytes);
    stat(out, "curr_items", e.curr_items);
    stat(out, "total_items", e.total_items);
    stat(out, "slab_global_page_pool", e.slab_global_page_pool);
    stat(out, "expired_unfetched", e.expired_unfetched);
    stat(out, "evicted_unfetched", e.evicted_unfetched);
    stat(out, "evicted_active", e.evicted_active);
    stat(out, "evictions", e.evictions);
    stat(out, "reclaimed", e.reclaimed);
    stat(out, "crawler_reclaimed", e.crawler_reclaimed);
    stat(out, "crawler_items_checked", e.crawler_items_checked);
    stat(out, "lrutail_reflocked", e.lrutail_reflocked);
    stat(out, "moves_to_cold", e.moves_to_cold);
    stat(out, "moves_to_warm", e.moves_to_warm);
    stat(out, "moves_within_lru", e.moves_within_lru);
    stat(out, "direct_reclaims", e.direct_reclaims);
    stat(out, "lru_bumps_dropped", e.lru_bumps_dropped);
}

fn rusage() -> (String, String) {
    use nix::sys::resource::{getrusage, UsageWho};
    match getrusage(UsageWho::RUSAGE_SELF) {
        Ok(r) => {
            let u = r.user_time();
            let s = r.system_time();
            (
                format!("{}.{:06}", u.tv_sec(), u.tv_usec()),
                format!("{}.{:06}", s.tv_sec(), s.tv_usec()),
            )
        }
        Err(_) => ("0.000000".into(), "0.000000".into()),
    }
}

fn port_value(p: PortSetting) -> i32 {
    match p {
        PortSetting::Off => 0,
        PortSetting::Ephemeral => -1,
        PortSetting::Fixed(n) => i32::from(n),
    }
}

fn settings(out: &mut Output<ValueRef>, ctx: &Ctx<'_>) {
    let sh = ctx.shared;
    let s = &sh.settings;
    let eng = sh.engine.stats_settings();
    let from_engine = |name: &str| eng.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
    let rt = sh.engine.tunables();
    stat(out, "maxbytes", sh.engine.memory_limit());
    stat(out, "maxconns", s.max_conns);
    stat(out, "tcpport", port_value(s.port));
    stat(out, "udpport", port_value(s.udp_port));
    stat(out, "inter", s.listen_raw.as_deref().unwrap_or("NULL"));
    stat(out, "verbosity", sh.verbosity.load(Relaxed));
    stat(out, "oldest", sh.engine.oldest_live());
    stat(out, "evictions", if s.evict_to_free { "on" } else { "off" });
    stat(
        out,
        "domain_socket",
        s.unix_socket
            .as_ref()
            .map_or("NULL".to_string(), |p| p.display().to_string()),
    );
    stat(out, "umask", format!("{:o}", s.unix_mask));
    stat(out, "shutdown_command", yes_no(s.enable_shutdown));
    stat(out, "growth_factor", format!("{:.2}", s.growth_factor));
    stat(out, "chunk_size", s.chunk_size);
    stat(out, "num_threads", s.threads);
    stat(out, "num_threads_per_udp", s.threads);
    stat(out, "stat_key_prefix", s.prefix_delimiter as char);
    stat(out, "detail_enabled", yes_no(sh.detail.enabled()));
    stat(out, "reqs_per_event", s.reqs_per_event);
    stat(out, "cas_enabled", yes_no(s.use_cas));
    stat(out, "tcp_backlog", s.backlog);
    stat(out, "binding_protocol", s.protocol.stats_name());
    stat(out, "auth_enabled_sasl", "no");
    stat(out, "auth_enabled_ascii", "no");
    stat(out, "item_size_max", s.item_size_max);
    stat(out, "maxconns_fast", yes_no(s.maxconns_fast));
    stat(out, "hashpower_init", s.hashpower_init);
    stat(out, "slab_reassign", yes_no(s.slab_reassign));
    stat(
        out,
        "slab_automove",
        from_engine("slab_automove").unwrap_or_else(|| s.slab_automove.to_string()),
    );
    stat(
        out,
        "slab_automove_ratio",
        format!("{:.2}", rt.slab_automove_ratio),
    );
    stat(out, "slab_automove_window", s.slab_automove_window);
    stat(out, "slab_chunk_max", s.slab_chunk_max);
    stat(out, "lru_crawler", yes_no(rt.lru_crawler));
    stat(out, "lru_crawler_sleep", rt.lru_crawler_sleep);
    stat(out, "lru_crawler_tocrawl", rt.lru_crawler_tocrawl);
    stat(out, "tail_repair_time", s.tail_repair_time);
    stat(out, "flush_enabled", yes_no(s.flush_enabled));
    stat(out, "dump_enabled", yes_no(s.dump_enabled));
    stat(out, "hash_algorithm", s.hash_algorithm.stats_name());
    stat(out, "lru_maintainer_thread", yes_no(s.lru_maintainer));
    stat(
        out,
        "lru_segmented",
        from_engine("lru_segmented").unwrap_or_else(|| yes_no(s.lru_segmented).into()),
    );
    stat(out, "hot_lru_pct", rt.hot_lru_pct);
    stat(out, "warm_lru_pct", rt.warm_lru_pct);
    stat(out, "hot_max_factor", format!("{:.2}", rt.hot_max_factor));
    stat(out, "warm_max_factor", format!("{:.2}", rt.warm_max_factor));
    // The engine keeps the last TTL after `lru temp_ttl -1`, as memcached does.
    stat(out, "temp_lru", yes_no(rt.temp_lru));
    stat(out, "temporary_ttl", rt.temporary_ttl);
    stat(out, "idle_timeout", s.idle_timeout);
    stat(out, "watcher_logbuf_size", s.watcher_logbuf_size);
    stat(out, "worker_logbuf_size", s.worker_logbuf_size);
    stat(out, "read_buf_mem_limit", s.read_buf_mem_limit);
    stat(out, "track_sizes", yes_no(s.track_sizes));
    stat(
        out,
        "inline_ascii_response",
        yes_no(s.inline_ascii_response),
    );
    stat(out, "num_napi_ids", "(null)");
    stat(out, "memory_file", "(null)");
}
