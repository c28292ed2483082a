//! Running a load: connections spread over threads, one `mio` poll loop per thread.

use std::net::TcpStream as StdStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use mio::{Events, Interest, Poll, Token};

use crate::config::{Config, Pacing};
use crate::conn::{Conn, KeySource, Plan};
use crate::keys::{KeySpace, SplitMix64};
use crate::report::{Report, Stats};

/// Pipeline depth of the prefill: deep enough to keep the server busy.
const PREFILL_DEPTH: usize = 64;
/// Most connections the prefill uses.
const PREFILL_CONNS: usize = 16;
/// Longest poll sleep, so a stop from another thread is noticed soon.
const TICK: Duration = Duration::from_millis(50);

/// Runs the load `cfg` describes (without its prefill; see [`prefill`]).
///
/// Fails only when the run cannot start (a connection is refused); protocol errors and
/// misses are counted in the report, whose [`Report::ok`] says whether the run was clean.
pub fn run(cfg: &Config) -> Result<Report, String> {
    cfg.validate()?;
    let keys = KeySpace::new(cfg.key_size, cfg.keyspace, cfg.value_size)?;
    let cpu_before = crate::cpu::process_cpu_seconds();
    let streams = connect(cfg, cfg.conns)?;
    let start = Instant::now();
    let measure_from = start + cfg.warmup;
    let plan = Plan {
        keys: &keys,
        pacing: cfg.pacing,
        get_weight: cfg.get_weight,
        set_weight: cfg.set_weight,
        keys_per_get: cfg.keys_per_get,
        measure_from,
        deadline: cfg.duration.map(|d| measure_from + d),
    };
    let per_conn_interval = match cfg.pacing {
        Pacing::Open { rate } => Duration::from_secs_f64(cfg.conns as f64 / rate),
        Pacing::Closed { .. } => Duration::ZERO,
    };
    let total = cfg.requests.unwrap_or(u64::MAX);
    let conns = streams
        .into_iter()
        .enumerate()
        .map(|(i, stream)| {
            let quota = share(total, cfg.conns as u64, i as u64);
            // Stagger the open-loop schedules so the connections do not send in lockstep.
            let offset = per_conn_interval.mul_f64(i as f64 / cfg.conns as f64);
            let source = KeySource::Random(SplitMix64::for_connection(cfg.seed, i as u64));
            Conn::new(stream, source, quota, start + offset, per_conn_interval)
        })
        .collect();
    let (stats, end) = drive(cfg, &plan, conns)?;
    let cpu_after = crate::cpu::process_cpu_seconds();
    Ok(Report {
        config: cfg.clone(),
        stats,
        elapsed: end.saturating_duration_since(measure_from),
        client_cpu_s: cpu_before.zip(cpu_after).map(|(b, a)| a - b),
    })
}

/// Stores every key of the keyspace once (pipelined sets over a few connections).
///
/// The report counts the sets; a reply other than `STORED` makes it not [`Report::ok`].
pub fn prefill(cfg: &Config) -> Result<Report, String> {
    cfg.validate()?;
    let keys = KeySpace::new(cfg.key_size, cfg.keyspace, cfg.value_size)?;
    let n = cfg
        .conns
        .min(PREFILL_CONNS)
        .min(usize::try_from(cfg.keyspace).unwrap_or(usize::MAX));
    let streams = connect(cfg, n)?;
    let start = Instant::now();
    let plan = Plan {
        keys: &keys,
        pacing: Pacing::Closed {
            depth: PREFILL_DEPTH,
            burst: false,
        },
        get_weight: 0,
        set_weight: 1,
        keys_per_get: 1,
        measure_from: start,
        deadline: None,
    };
    let conns = streams
        .into_iter()
        .enumerate()
        .map(|(i, stream)| {
            let lo = cfg.keyspace / n as u64 * i as u64 + (i as u64).min(cfg.keyspace % n as u64);
            let len = share(cfg.keyspace, n as u64, i as u64);
            let source = KeySource::Sequential {
                next: lo,
                end: lo + len,
            };
            Conn::new(stream, source, len, start, Duration::ZERO)
        })
        .collect();
    let mut prefill_cfg = cfg.clone();
    prefill_cfg.conns = n;
    prefill_cfg.pacing = plan.pacing;
    prefill_cfg.get_weight = 0;
    prefill_cfg.set_weight = 1;
    prefill_cfg.duration = None;
    prefill_cfg.requests = Some(cfg.keyspace);
    let (stats, end) = drive(&prefill_cfg, &plan, conns)?;
    Ok(Report {
        config: prefill_cfg,
        stats,
        elapsed: end.saturating_duration_since(start),
        client_cpu_s: None,
    })
}

/// Connection `i`'s part of `total` split over `n`.
fn share(total: u64, n: u64, i: u64) -> u64 {
    if total == u64::MAX {
        return u64::MAX;
    }
    total / n + u64::from(i < total % n)
}

/// Opens `n` connections to the server.
fn connect(cfg: &Config, n: usize) -> Result<Vec<mio::net::TcpStream>, String> {
    (0..n)
        .map(|_| {
            let s = StdStream::connect_timeout(&cfg.server, Duration::from_secs(5))
                .map_err(|e| format!("connect to {}: {e}", cfg.server))?;
            s.set_nodelay(true)
                .map_err(|e| format!("TCP_NODELAY: {e}"))?;
            s.set_nonblocking(true)
                .map_err(|e| format!("non-blocking: {e}"))?;
            Ok(mio::net::TcpStream::from_std(s))
        })
        .collect()
}

/// Spreads `conns` over the configured threads and runs them; returns the merged stats
/// and when the last thread finished.
fn drive(cfg: &Config, plan: &Plan<'_>, conns: Vec<Conn>) -> Result<(Stats, Instant), String> {
    let threads = cfg.threads.min(conns.len()).max(1);
    let mut groups: Vec<Vec<Conn>> = (0..threads).map(|_| Vec::new()).collect();
    for (i, c) in conns.into_iter().enumerate() {
        groups[i % threads].push(c);
    }
    let stop = AtomicBool::new(false);
    let results: Vec<Result<(Stats, Instant), String>> = std::thread::scope(|s| {
        let handles: Vec<_> = groups
            .into_iter()
            .map(|group| {
                let stop = &stop;
                let drain = cfg.drain_timeout;
                s.spawn(move || worker(plan, group, stop, drain))
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err("client thread panicked".into()))
            })
            .collect()
    });
    let mut stats = Stats::new();
    let mut end = plan.measure_from;
    for r in results {
        let (s, e) = r?;
        stats.merge(&s);
        end = end.max(e);
    }
    Ok((stats, end))
}

/// One thread's poll loop over its connections.
fn worker(
    plan: &Plan<'_>,
    mut conns: Vec<Conn>,
    stop: &AtomicBool,
    drain_timeout: Duration,
) -> Result<(Stats, Instant), String> {
    let mut poll = Poll::new().map_err(|e| format!("poll: {e}"))?;
    let mut events = Events::with_capacity(1024);
    for (i, c) in conns.iter_mut().enumerate() {
        poll.registry()
            .register(
                c.stream(),
                Token(i),
                Interest::READABLE | Interest::WRITABLE,
            )
            .map_err(|e| format!("register: {e}"))?;
    }
    let mut stats = Stats::new();
    let mut live = vec![true; conns.len()];
    let open = matches!(plan.pacing, Pacing::Open { .. });
    let mut stopping_since: Option<Instant> = None;
    let fail = |stats: &mut Stats, live: &mut bool, what: String| {
        stats.error(what);
        *live = false;
        stop.store(true, Ordering::Relaxed);
    };
    let now = Instant::now();
    for (i, c) in conns.iter_mut().enumerate() {
        if let Err(e) = c.refill(plan, now) {
            fail(&mut stats, &mut live[i], format!("write: {e}"));
        }
    }
    loop {
        let now = Instant::now();
        let stopped = stop.load(Ordering::Relaxed);
        if open && !stopped {
            for (i, c) in conns.iter_mut().enumerate() {
                if live[i] {
                    if let Err(e) = c.refill(plan, now) {
                        fail(&mut stats, &mut live[i], format!("write: {e}"));
                    }
                }
            }
        }
        let issuing = !stopped
            && conns
                .iter()
                .zip(&live)
                .any(|(c, &l)| l && c.may_issue(plan, now));
        let busy = conns.iter().zip(&live).any(|(c, &l)| l && !c.idle());
        if !issuing && !busy {
            return Ok((stats, now));
        }
        if !issuing {
            let since = *stopping_since.get_or_insert(now);
            if now.duration_since(since) > drain_timeout {
                let waiting: usize = conns
                    .iter()
                    .zip(&live)
                    .filter(|(_, &l)| l)
                    .map(|(c, _)| c.in_flight())
                    .sum();
                stats.error(format!(
                    "timed out waiting for {waiting} replies after {drain_timeout:?}"
                ));
                stop.store(true, Ordering::Relaxed);
                return Ok((stats, now));
            }
        }
        let timeout = if open && issuing {
            let due = conns
                .iter()
                .zip(&live)
                .filter(|(_, &l)| l)
                .filter_map(|(c, _)| c.next_due(plan))
                .min();
            // Whole milliseconds, rounded down (epoll rounds up); under 1 ms, spin so
            // requests leave on time.
            due.map_or(TICK, |d| {
                let ms = d.saturating_duration_since(now).as_millis().min(50) as u64;
                Duration::from_millis(ms)
            })
        } else {
            TICK
        };
        match poll.poll(&mut events, Some(timeout)) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(format!("poll: {e}")),
        }
        let now = Instant::now();
        for ev in events.iter() {
            let i = ev.token().0;
            if !live[i] {
                continue;
            }
            let c = &mut conns[i];
            if ev.is_readable() || ev.is_read_closed() || ev.is_error() {
                if let Err(e) = c.on_readable(plan, &mut stats) {
                    fail(&mut stats, &mut live[i], e);
                    continue;
                }
            }
            let res = if open || stop.load(Ordering::Relaxed) {
                c.flush()
            } else {
                c.refill(plan, now)
            };
            if let Err(e) = res {
                fail(&mut stats, &mut live[i], format!("write: {e}"));
            }
        }
    }
}
