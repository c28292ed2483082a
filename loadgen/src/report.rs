//! Counters and latency histograms of a run, and its summaries (human and JSON).

use std::fmt;
use std::time::Duration;

use hdrhistogram::Histogram;
use serde_json::{json, Value};

use crate::config::{Config, Pacing};

/// What one client thread observed.
#[derive(Clone, Debug)]
pub struct Stats {
    /// Latency of measured requests, in nanoseconds.
    pub latency: Histogram<u64>,
    /// Measured requests (completed, sent after the warm-up).
    pub ops: u64,
    /// Get requests completed (warm-up included).
    pub gets: u64,
    /// Set requests completed (warm-up included).
    pub sets: u64,
    /// Keys asked for by completed gets.
    pub keys_requested: u64,
    /// Keys returned.
    pub hits: u64,
    /// Keys asked for and not returned.
    pub misses: u64,
    /// Protocol errors (each one ends its connection and stops the run).
    pub errors: u64,
    /// The first protocol error, for the summary.
    pub first_error: Option<String>,
}

/// Highest latency the histograms track: 100 s, far beyond any sane run.
const MAX_LATENCY_NS: u64 = 100_000_000_000;

impl Stats {
    /// Empty counters.
    pub fn new() -> Self {
        Self {
            latency: Histogram::new_with_bounds(1, MAX_LATENCY_NS, 3)
                .expect("static histogram bounds are valid"),
            ops: 0,
            gets: 0,
            sets: 0,
            keys_requested: 0,
            hits: 0,
            misses: 0,
            errors: 0,
            first_error: None,
        }
    }

    /// Records one measured latency.
    pub fn record(&mut self, latency: Duration) {
        let ns = u64::try_from(latency.as_nanos()).unwrap_or(u64::MAX);
        self.latency.saturating_record(ns.clamp(1, MAX_LATENCY_NS));
        self.ops += 1;
    }

    /// Records a protocol error.
    pub fn error(&mut self, what: String) {
        self.errors += 1;
        self.first_error.get_or_insert(what);
    }

    /// Adds another thread's counters to these.
    pub fn merge(&mut self, other: &Stats) {
        self.latency
            .add(&other.latency)
            .expect("histograms share their bounds");
        self.ops += other.ops;
        self.gets += other.gets;
        self.sets += other.sets;
        self.keys_requested += other.keys_requested;
        self.hits += other.hits;
        self.misses += other.misses;
        self.errors += other.errors;
        if self.first_error.is_none() {
            self.first_error.clone_from(&other.first_error);
        }
    }
}

impl Default for Stats {
    fn default() -> Self {
        Self::new()
    }
}

/// The outcome of a run.
#[derive(Clone, Debug)]
pub struct Report {
    /// The settings it ran with.
    pub config: Config,
    /// Merged counters of every thread.
    pub stats: Stats,
    /// From the end of the warm-up to the last reply.
    pub elapsed: Duration,
    /// CPU seconds the whole client process used during the run (warm-up and
    /// connecting included), where the OS tells.
    pub client_cpu_s: Option<f64>,
}

/// Latency percentiles, in microseconds.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Percentiles {
    /// Median.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 99th percentile.
    pub p99: f64,
    /// 99.9th percentile.
    pub p99_9: f64,
    /// Largest.
    pub max: f64,
    /// Mean.
    pub mean: f64,
}

impl Report {
    /// Measured requests per second.
    pub fn ops_per_sec(&self) -> f64 {
        let secs = self.elapsed.as_secs_f64();
        if secs > 0.0 {
            self.stats.ops as f64 / secs
        } else {
            0.0
        }
    }

    /// Misses that count as errors (all of them under `expect_hits`).
    pub fn unexpected_misses(&self) -> u64 {
        if self.config.expect_hits {
            self.stats.misses
        } else {
            0
        }
    }

    /// True when no protocol error happened and no expected hit missed.
    pub fn ok(&self) -> bool {
        self.stats.errors == 0 && self.unexpected_misses() == 0
    }

    /// Latency percentiles of the measured requests.
    pub fn percentiles(&self) -> Percentiles {
        let h = &self.stats.latency;
        let us = |ns: u64| ns as f64 / 1000.0;
        Percentiles {
            p50: us(h.value_at_quantile(0.50)),
            p90: us(h.value_at_quantile(0.90)),
            p99: us(h.value_at_quantile(0.99)),
            p99_9: us(h.value_at_quantile(0.999)),
            max: us(h.max()),
            mean: h.mean() / 1000.0,
        }
    }

    /// The JSON summary.
    pub fn to_json(&self) -> Value {
        let c = &self.config;
        let p = self.percentiles();
        let (mode, depth, burst, rate) = match c.pacing {
            Pacing::Closed { depth, burst } => ("closed", Some(depth), burst, None),
            Pacing::Open { rate } => ("open", None, false, Some(rate)),
        };
        json!({
            "server": c.server.to_string(),
            "threads": c.threads,
            "conns": c.conns,
            "mode": mode,
            "depth": depth,
            "burst": burst,
            "target_rate": rate,
            "get_weight": c.get_weight,
            "set_weight": c.set_weight,
            "keys_per_get": c.keys_per_get,
            "key_size": c.key_size,
            "value_size": c.value_size,
            "keyspace": c.keyspace,
            "seed": c.seed,
            "warmup_s": c.warmup.as_secs_f64(),
            "elapsed_s": self.elapsed.as_secs_f64(),
            "ops": self.stats.ops,
            "ops_per_sec": self.ops_per_sec(),
            "gets": self.stats.gets,
            "sets": self.stats.sets,
            "keys_requested": self.stats.keys_requested,
            "hits": self.stats.hits,
            "misses": self.stats.misses,
            "expect_hits": c.expect_hits,
            "errors": self.stats.errors,
            "first_error": self.stats.first_error,
            "ok": self.ok(),
            "client_cpu_s": self.client_cpu_s,
            "latency_us": {
                "p50": p.p50, "p90": p.p90, "p99": p.p99, "p99_9": p.p99_9,
                "max": p.max, "mean": p.mean,
            },
        })
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let c = &self.config;
        let pacing = match c.pacing {
            Pacing::Closed {
                depth,
                burst: false,
            } => format!("closed loop, window {depth}"),
            Pacing::Closed { depth, burst: true } => format!("closed loop, bursts of {depth}"),
            Pacing::Open { rate } => format!("open loop at {rate:.0} ops/s"),
        };
        writeln!(
            f,
            "{} | {} conns on {} threads | {pacing} | get:set {}:{} | {} keys/get | \
             key {} B, value {} B, keyspace {}",
            c.server,
            c.conns,
            c.threads,
            c.get_weight,
            c.set_weight,
            c.keys_per_get,
            c.key_size,
            c.value_size,
            c.keyspace
        )?;
        let s = &self.stats;
        writeln!(
            f,
            "{} ops in {:.2} s = {:.0} ops/s (gets {}, sets {}, hits {}, misses {})",
            s.ops,
            self.elapsed.as_secs_f64(),
            self.ops_per_sec(),
            s.gets,
            s.sets,
            s.hits,
            s.misses
        )?;
        let p = self.percentiles();
        writeln!(
            f,
            "latency us: p50 {:.1}  p90 {:.1}  p99 {:.1}  p99.9 {:.1}  max {:.1}  mean {:.1}",
            p.p50, p.p90, p.p99, p.p99_9, p.max, p.mean
        )?;
        if let Some(cpu) = self.client_cpu_s {
            let secs = self.elapsed.as_secs_f64();
            if secs > 0.0 {
                writeln!(
                    f,
                    "client CPU {cpu:.2} s ({:.0}% of one core)",
                    cpu / secs * 100.0
                )?;
            }
        }
        write!(f, "errors {}", s.errors)?;
        if let Some(e) = &s.first_error {
            write!(f, " (first: {e})")?;
        }
        if self.unexpected_misses() > 0 {
            write!(f, "; {} misses where hits were expected", s.misses)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merges_and_summarises() {
        let mut a = Stats::new();
        let mut b = Stats::new();
        for us in 1..=100 {
            a.record(Duration::from_micros(us));
        }
        b.record(Duration::from_millis(5));
        b.misses = 2;
        b.error("unexpected reply: ERROR".into());
        a.merge(&b);
        let report = Report {
            config: Config {
                expect_hits: true,
                ..Config::default()
            },
            stats: a,
            elapsed: Duration::from_secs(2),
            client_cpu_s: Some(1.0),
        };
        assert_eq!(report.stats.ops, 101);
        assert!((report.ops_per_sec() - 50.5).abs() < 1e-9);
        let p = report.percentiles();
        assert!((49.0..=52.0).contains(&p.p50), "{p:?}");
        assert!((4990.0..=5010.0).contains(&p.max), "{p:?}");
        assert!(!report.ok());
        let j = report.to_json();
        assert_eq!(j["ops"], 101);
        assert_eq!(j["errors"], 1);
        assert_eq!(j["ok"], false);
        assert_eq!(j["mode"], "closed");
        assert_eq!(j["first_error"], "unexpected reply: ERROR");
        let text = report.to_string();
        assert!(text.contains("misses where hits were expected"), "{text}");
        assert!(
            text.contains("client CPU 1.00 s (50% of one core)"),
            "{text}"
        );
        assert_eq!(j["client_cpu_s"], 1.0);
    }

    #[test]
    fn misses_are_fine_unless_hits_are_expected() {
        let mut stats = Stats::new();
        stats.misses = 3;
        let report = Report {
            config: Config::default(),
            stats,
            elapsed: Duration::ZERO,
            client_cpu_s: None,
        };
        assert!(report.ok());
        assert_eq!(report.ops_per_sec(), 0.0);
    }
}
