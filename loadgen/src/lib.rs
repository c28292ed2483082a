//! A load generator for memcached-compatible servers, speaking the ASCII protocol over TCP.
//!
//! Many connections share a few threads (one `mio` poll loop per thread). Each connection
//! walks its own reproducible key sequence and either keeps a window of requests in flight
//! (closed loop, optionally in bursts) or sends on a fixed schedule (open loop, latency
//! measured from the intended send time, so a stalled server cannot hide its queueing).
//! Every reply is checked: a reply that is not what the request asked for, or a value
//! with the wrong bytes, is a protocol error; with [`Config::expect_hits`] a miss is one
//! too. Latencies go to HDR histograms.
//!
//! ```no_run
//! use evcached_loadgen::{prefill, run, Config};
//! let cfg = Config { prefill: true, expect_hits: true, ..Config::default() };
//! prefill(&cfg).unwrap();
//! let report = run(&cfg).unwrap();
//! println!("{report}");
//! assert!(report.ok());
//! ```

pub mod config;
mod conn;
mod cpu;
pub mod keys;
pub mod protocol;
pub mod report;
mod run;
pub mod server;

pub use config::{Config, Pacing};
pub use report::{Percentiles, Report, Stats};
pub use run::{prefill, run};
