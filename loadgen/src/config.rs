//! What to run: the settings of one load run and their command-line spelling.

use std::net::{SocketAddr, ToSocketAddrs};
use std::time::Duration;

/// How requests are paced.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Pacing {
    /// Closed loop: each connection keeps up to `depth` requests in flight.
    Closed {
        /// Requests in flight per connection (1 = no pipelining).
        depth: usize,
        /// Send `depth` requests, wait for all their replies, repeat (instead of a
        /// sliding window that sends one as soon as one completes).
        burst: bool,
    },
    /// Open loop: requests are sent on a fixed schedule whatever the server does, and
    /// latency is measured from the scheduled send time (no coordinated omission).
    Open {
        /// Total requests per second over all connections.
        rate: f64,
    },
}

/// Settings of one run.
#[derive(Clone, Debug)]
pub struct Config {
    /// The server to load.
    pub server: SocketAddr,
    /// Client threads; connections are spread evenly over them.
    pub threads: usize,
    /// Total connections.
    pub conns: usize,
    /// Measured run time (after the warm-up); `None` when only `requests` bounds the run.
    pub duration: Option<Duration>,
    /// Total requests to send (warm-up included); `None` when only `duration` bounds it.
    pub requests: Option<u64>,
    /// Time at the start whose requests are sent but not measured.
    pub warmup: Duration,
    /// Closed or open loop.
    pub pacing: Pacing,
    /// Relative weight of gets in the mix.
    pub get_weight: u32,
    /// Relative weight of sets in the mix.
    pub set_weight: u32,
    /// Keys per get request (multi-key gets when above 1).
    pub keys_per_get: usize,
    /// Bytes per key.
    pub key_size: usize,
    /// Bytes per value.
    pub value_size: usize,
    /// Distinct keys.
    pub keyspace: u64,
    /// Store every key of the keyspace before the run.
    pub prefill: bool,
    /// Prefill and stop.
    pub prefill_only: bool,
    /// Count every get miss as an error (on by default when prefilling).
    pub expect_hits: bool,
    /// Seed of the per-connection key sequences.
    pub seed: u64,
    /// How long to wait for outstanding replies once sending stops.
    pub drain_timeout: Duration,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            server: SocketAddr::from(([127, 0, 0, 1], 11211)),
            threads: 1,
            conns: 50,
            duration: Some(Duration::from_secs(5)),
            requests: None,
            warmup: Duration::ZERO,
            pacing: Pacing::Closed {
                depth: 1,
                burst: false,
            },
            get_weight: 9,
            set_weight: 1,
            keys_per_get: 1,
            key_size: 32,
            value_size: 100,
            keyspace: 100_000,
            prefill: false,
            prefill_only: false,
            expect_hits: false,
            seed: 1,
            drain_timeout: Duration::from_secs(10),
        }
    }
}

/// The `--help` text.
pub const USAGE: &str = "\
usage: evcached-loadgen [options]

  --server HOST:PORT   server to load (default 127.0.0.1:11211)
  --threads N          client threads (default 1)
  --conns N            connections in total (default 50)
  --duration SECS      measured seconds after the warm-up (default 5)
  --requests N         stop after N requests in total (alone: no time limit)
  --warmup SECS        unmeasured seconds at the start (default 0)
  --depth N            closed loop: requests in flight per connection (default 1)
  --burst              closed loop: send depth requests, await all, repeat
  --rate OPS           open loop at OPS requests/s in total, latency from the
                       intended send time (the client spins when a send is due
                       within 1 ms, so its CPU use says nothing here)
  --ratio G:S          get:set mix (default 9:1)
  --multiget N         keys per get (default 1)
  --key-size B         key bytes (default 32)
  --value-size B       value bytes (default 100)
  --keyspace N         distinct keys (default 100000)
  --prefill            set every key before the run (implies --expect-hits)
  --prefill-only       set every key and exit
  --expect-hits        count get misses as errors
  --allow-misses       do not (overrides the --prefill default)
  --seed N             key sequence seed (default 1)
  --json PATH          write the JSON summary to PATH (`-` = stdout; the
                       human summary then goes to stderr)

Exits 0 on success, 1 on any protocol error or unexpected miss, 2 on bad usage.";

/// Options of the binary that are not part of a run.
#[derive(Clone, Debug, Default)]
pub struct Output {
    /// Where the JSON summary goes (`-` = stdout).
    pub json: Option<String>,
}

/// Parses the command line (without the program name).
pub fn parse_args(args: &[String]) -> Result<(Config, Output), String> {
    let mut cfg = Config::default();
    let mut out = Output::default();
    let mut duration_given = false;
    let mut misses: Option<bool> = None;
    let mut depth = 1;
    let mut burst = false;
    let mut rate = None;
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        let mut value = || {
            it.next()
                .map(String::as_str)
                .ok_or_else(|| format!("{flag} needs a value"))
        };
        match flag.as_str() {
            "--server" => cfg.server = resolve(value()?)?,
            "--threads" => cfg.threads = positive(flag, value()?)?,
            "--conns" => cfg.conns = positive(flag, value()?)?,
            "--duration" => {
                cfg.duration = Some(seconds(flag, value()?)?);
                duration_given = true;
            }
            "--requests" => cfg.requests = Some(positive(flag, value()?)? as u64),
            "--warmup" => cfg.warmup = seconds(flag, value()?)?,
            "--depth" => depth = positive(flag, value()?)?,
            "--burst" => burst = true,
            "--rate" => {
                let r: f64 = value()?
                    .parse()
                    .map_err(|_| format!("{flag}: not a number"))?;
                if !(r.is_finite() && r > 0.0) {
                    return Err(format!("{flag} must be above 0"));
                }
                rate = Some(r);
            }
            "--ratio" => (cfg.get_weight, cfg.set_weight) = ratio(value()?)?,
            "--multiget" => cfg.keys_per_get = positive(flag, value()?)?,
            "--key-size" => cfg.key_size = positive(flag, value()?)?,
            "--value-size" => cfg.value_size = number(flag, value()?)?,
            "--keyspace" => cfg.keyspace = positive(flag, value()?)? as u64,
            "--prefill" => cfg.prefill = true,
            "--prefill-only" => {
                cfg.prefill = true;
                cfg.prefill_only = true;
            }
            "--expect-hits" => misses = Some(false),
            "--allow-misses" => misses = Some(true),
            "--seed" => cfg.seed = number(flag, value()?)? as u64,
            "--json" => out.json = Some(value()?.to_string()),
            other => return Err(format!("unknown option `{other}`")),
        }
    }
    if cfg.requests.is_some() && !duration_given {
        cfg.duration = None;
    }
    cfg.expect_hits = !misses.unwrap_or(!cfg.prefill);
    cfg.pacing = match rate {
        Some(rate) => Pacing::Open { rate },
        None => Pacing::Closed { depth, burst },
    };
    cfg.validate()?;
    Ok((cfg, out))
}

impl Config {
    /// Checks that the settings describe a run that can happen.
    pub fn validate(&self) -> Result<(), String> {
        if self.threads == 0 || self.conns == 0 {
            return Err("threads and conns must be at least 1".into());
        }
        if self.get_weight == 0 && self.set_weight == 0 {
            return Err("the get:set ratio must not be 0:0".into());
        }
        if self.keys_per_get == 0 {
            return Err("multiget must be at least 1".into());
        }
        if !self.prefill_only && self.duration.is_none() && self.requests.is_none() {
            return Err("a run needs --duration or --requests".into());
        }
        if let Pacing::Closed { depth: 0, .. } = self.pacing {
            return Err("depth must be at least 1".into());
        }
        crate::keys::KeySpace::new(self.key_size, self.keyspace, self.value_size).map(|_| ())
    }
}

fn resolve(s: &str) -> Result<SocketAddr, String> {
    s.to_socket_addrs()
        .map_err(|e| format!("--server {s}: {e}"))?
        .next()
        .ok_or_else(|| format!("--server {s}: no address"))
}

fn number(flag: &str, s: &str) -> Result<usize, String> {
    s.parse()
        .map_err(|_| format!("{flag}: `{s}` is not a whole number"))
}

fn positive(flag: &str, s: &str) -> Result<usize, String> {
    match number(flag, s)? {
        0 => Err(format!("{flag} must be at least 1")),
        n => Ok(n),
    }
}

fn seconds(flag: &str, s: &str) -> Result<Duration, String> {
    let secs: f64 = s
        .parse()
        .map_err(|_| format!("{flag}: `{s}` is not a number of seconds"))?;
    Duration::try_from_secs_f64(secs).map_err(|_| format!("{flag}: `{s}` is out of range"))
}

fn ratio(s: &str) -> Result<(u32, u32), String> {
    let (g, st) = s
        .split_once(':')
        .ok_or_else(|| format!("--ratio `{s}`: expected GETS:SETS"))?;
    let parse = |x: &str| {
        x.parse::<u32>()
            .map_err(|_| format!("--ratio `{s}`: expected GETS:SETS"))
    };
    Ok((parse(g)?, parse(st)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn defaults_are_workload_a() {
        let (cfg, out) = parse_args(&[]).unwrap();
        assert_eq!(cfg.conns, 50);
        assert_eq!((cfg.get_weight, cfg.set_weight), (9, 1));
        assert_eq!((cfg.key_size, cfg.value_size), (32, 100));
        assert_eq!(
            cfg.pacing,
            Pacing::Closed {
                depth: 1,
                burst: false
            }
        );
        assert!(!cfg.expect_hits);
        assert!(out.json.is_none());
    }

    #[test]
    fn parses_every_option() {
        let (cfg, out) = parse_args(&args(
            "--server 127.0.0.1:9 --threads 2 --conns 4 --requests 100 --warmup 0.5 \
             --depth 8 --burst --ratio 1:0 --multiget 16 --key-size 10 --value-size 0 \
             --keyspace 50 --prefill --seed 7 --json -",
        ))
        .unwrap();
        assert_eq!(cfg.server.port(), 9);
        assert_eq!((cfg.threads, cfg.conns), (2, 4));
        assert_eq!(cfg.requests, Some(100));
        assert_eq!(cfg.duration, None);
        assert_eq!(cfg.warmup, Duration::from_millis(500));
        assert_eq!(
            cfg.pacing,
            Pacing::Closed {
                depth: 8,
                burst: true
            }
        );
        assert_eq!(
            (cfg.get_weight, cfg.set_weight, cfg.keys_per_get),
            (1, 0, 16)
        );
        assert_eq!((cfg.key_size, cfg.value_size, cfg.keyspace), (10, 0, 50));
        assert!(cfg.prefill && cfg.expect_hits && !cfg.prefill_only);
        assert_eq!(cfg.seed, 7);
        assert_eq!(out.json.as_deref(), Some("-"));
    }

    #[test]
    fn open_loop_and_miss_policy() {
        let (cfg, _) =
            parse_args(&args("--rate 2000 --duration 1 --prefill --allow-misses")).unwrap();
        assert_eq!(cfg.pacing, Pacing::Open { rate: 2000.0 });
        assert!(!cfg.expect_hits);
        let (cfg, _) = parse_args(&args("--expect-hits")).unwrap();
        assert!(cfg.expect_hits);
    }

    #[test]
    fn rejects_bad_usage() {
        for bad in [
            "--conns 0",
            "--conns",
            "--rate -1",
            "--ratio 9",
            "--ratio 0:0",
            "--key-size 3 --keyspace 100000",
            "--duration x",
            "--frobnicate",
        ] {
            assert!(parse_args(&args(bad)).is_err(), "{bad}");
        }
    }
}
