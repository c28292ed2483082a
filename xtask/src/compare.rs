//! `cargo xtask compare`: evcached against memcached, side by side, on this machine.
//!
//! Both servers get the same flags (`-t`, `-m`, loopback only) and the same pinning
//! (client on one CPU, server on another; "shared-core" when there is only one), are
//! prefilled identically, and are loaded alternately, the order flipping every
//! repetition so drift on a shared machine hits both. Results (table, JSON, SVG chart)
//! go to `<target dir>/compare/`.

mod chart;
mod perf;
mod procfs;
mod summary;
mod workloads;

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use evcached_loadgen::server::ServerProcess;
use serde_json::Value;

use crate::util::{cargo, root, run as step};
use summary::{spread, MemoryResult, PerRequest, Results, Sample, WorkloadResult};
use workloads::Workload;

/// Seconds a counted run (syscalls, context switches) should take at the slower
/// server's median throughput.
const COUNTED_SECS: f64 = 2.0;
/// Fewest requests of a counted run: 1000 for each of the 50 connections, so the few
/// system calls of connection set-up and tear-down stay far below 1% of the count.
const MIN_COUNTED_REQUESTS: u64 = 50_000;

const USAGE: &str = "\
usage: cargo xtask compare [options]

  --quick            smoke run: 2 reps x 1 s, 10k keys, 100k items for memory
  --reps N           repetitions per workload and server (default 5)
  --duration SECS    seconds per run (default 5)
  --threads N        server worker threads, -t (default 1)
  --memory MB        server memory limit, -m (default 1024)
  --keys N           keyspace of the throughput workloads (default 100000)
  --items N          items loaded for the memory test (default 1000000)
  --workloads LIST   comma-separated subset of a,b,c,d,e20k,e40k,e60k (e = all three;
                     an empty list runs only the memory test)
  --evcached PATH    use this binary as the candidate instead of building evcached
  --name NAME        the candidate's name in the table (default evcached)
  --memcached PATH   memcached binary (default: memcached on PATH, installed if missing)
  --no-memory        skip the memory test
  --no-syscalls      skip counting syscalls and context switches with perf
  --out DIR          where results go (default <target dir>/compare)";

/// Settings of a comparison.
#[derive(Debug)]
struct Options {
    reps: usize,
    duration: f64,
    threads: u32,
    memory_mb: u32,
    keys: u64,
    items: u64,
    workloads: String,
    evcached: Option<PathBuf>,
    name: String,
    memcached: Option<PathBuf>,
    memory_test: bool,
    syscalls: bool,
    out: Option<PathBuf>,
}

fn parse(args: &[String]) -> Result<Options, String> {
    let mut o = Options {
        reps: 5,
        duration: 5.0,
        threads: 1,
        memory_mb: 1024,
        keys: 100_000,
        items: 1_000_000,
        workloads: "a,b,c,d,e".into(),
        evcached: None,
        name: "evcached".into(),
        memcached: None,
        memory_test: true,
        syscalls: true,
        out: None,
    };
    // --quick first, so explicit options after it still win.
    if args.iter().any(|a| a == "--quick") {
        o.reps = 2;
        o.duration = 1.0;
        o.keys = 10_000;
        o.items = 100_000;
    }
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        let mut value = || {
            it.next()
                .cloned()
                .ok_or_else(|| format!("{flag} needs a value\n{USAGE}"))
        };
        let num = |s: String| {
            s.parse::<f64>()
                .ok()
                .filter(|v| *v > 0.0 && v.is_finite())
                .ok_or_else(|| format!("{flag}: `{s}` is not a positive number"))
        };
        match flag.as_str() {
            "--quick" => {}
            "--reps" => o.reps = num(value()?)? as usize,
            "--duration" => o.duration = num(value()?)?,
            "--threads" => o.threads = num(value()?)? as u32,
            "--memory" => o.memory_mb = num(value()?)? as u32,
            "--keys" => o.keys = num(value()?)? as u64,
            "--items" => o.items = num(value()?)? as u64,
            "--workloads" => o.workloads = value()?,
            "--evcached" => o.evcached = Some(value()?.into()),
            "--name" => o.name = value()?,
            "--memcached" => o.memcached = Some(value()?.into()),
            "--no-memory" => o.memory_test = false,
            "--no-syscalls" => o.syscalls = false,
            "--out" => o.out = Some(value()?.into()),
            other => return Err(format!("unknown option `{other}`\n{USAGE}")),
        }
    }
    if o.reps == 0 || o.threads == 0 || o.keys == 0 || o.items == 0 {
        return Err("--reps, --threads, --keys and --items must be at least 1".into());
    }
    Ok(o)
}

/// Runs the comparison.
pub fn run(args: &[String]) -> Result<(), String> {
    if args.iter().any(|a| a == "-h" || a == "--help") {
        println!("{USAGE}");
        return Ok(());
    }
    let opts = parse(args)?;
    let chosen = workloads::select(opts.keys, &opts.workloads)?;
    let memcached = ensure_memcached(opts.memcached.as_deref())?;
    let release = target_dir().join("release");
    let candidate = match &opts.evcached {
        Some(path) => {
            step(
                "build load generator",
                cargo().args(["build", "--release", "-p", "evcached-loadgen"]),
            )?;
            path.clone()
        }
        None => {
            step(
                "build evcached and the load generator",
                cargo().args([
                    "build",
                    "--release",
                    "-p",
                    "evcached",
                    "-p",
                    "evcached-loadgen",
                ]),
            )?;
            release.join("evcached")
        }
    };
    let loadgen = release.join("evcached-loadgen");
    let pin = Pinning::detect();
    let perf = if opts.syscalls {
        perf::Perf::detect()
    } else {
        Err("--no-syscalls".into())
    };
    let names = [opts.name.clone(), "memcached".to_string()];
    let server_flags = [
        "-t".to_string(),
        opts.threads.to_string(),
        "-m".into(),
        opts.memory_mb.to_string(),
    ];
    let cx = Context {
        bins: [candidate.clone(), memcached.clone()],
        names: names.clone(),
        flags: server_flags.to_vec(),
        loadgen,
        pin,
        ticks: procfs::clock_ticks(),
        duration: opts.duration,
    };
    let setup = vec![
        format!("{}: {} ({})", names[0], candidate.display(), version(&candidate)),
        format!("memcached: {} ({})", memcached.display(), version(&memcached)),
        format!(
            "server flags (both): {} -l 127.0.0.1 -U 0",
            server_flags.join(" ")
        ),
        format!("pinning: {}", cx.pin.label),
        format!(
            "runs: {} reps x {} s per workload and server, alternating, order flipped every rep; medians [min..max]",
            opts.reps, opts.duration
        ),
        format!("machine: {}", machine()),
        match &perf {
            Ok(_) => format!(
                "syscalls and context switches per request: perf stat -e raw_syscalls:sys_enter,context-switches \
                 -p PID around one more run per server of exactly N requests \
                 (N = {COUNTED_SECS} s at the slower server's median ops/s, at least {MIN_COUNTED_REQUESTS})"
            ),
            Err(why) => format!("syscalls and context switches: not counted ({why})"),
        },
    ];
    for line in &setup {
        eprintln!("compare: {line}");
    }
    let runs = chosen.len() * opts.reps * 2;
    let mut progress = Progress::new(runs);
    let mut results = Results {
        names,
        setup,
        workloads: Vec::new(),
        memory: None,
    };
    for w in &chosen {
        let r = cx.workload(w, opts.reps, perf.as_ref().ok(), &mut progress)?;
        results.workloads.push(r);
    }
    if opts.memory_test {
        results.memory = Some(cx.memory(opts.items)?);
    }
    let out = opts
        .out
        .clone()
        .unwrap_or_else(|| target_dir().join("compare"));
    std::fs::create_dir_all(&out).map_err(|e| format!("{}: {e}", out.display()))?;
    let json = serde_json::to_string_pretty(&results.to_json()).expect("JSON values serialise");
    let files = [
        ("compare.json", json + "\n"),
        ("compare.md", results.markdown()),
        ("compare.svg", chart::svg(&results)),
    ];
    for (name, text) in &files {
        let path = out.join(name);
        std::fs::write(&path, text).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    println!("\n{}", results.text());
    println!(
        "results: {} (table), {} (chart), {} (every sample)",
        out.join("compare.md").display(),
        out.join("compare.svg").display(),
        out.join("compare.json").display()
    );
    Ok(())
}

/// How the client and the servers are pinned to CPUs.
struct Pinning {
    client: Vec<OsString>,
    server: Vec<OsString>,
    label: String,
}

impl Pinning {
    /// Client on the first allowed CPU, servers on the second; both on the first
    /// ("shared-core") with one CPU; unpinned without `taskset`.
    fn detect() -> Self {
        let cpus = allowed_cpus();
        let taskset = |cpu: u32| -> Vec<OsString> {
            vec!["taskset".into(), "-c".into(), cpu.to_string().into()]
        };
        if !crate::util::have("taskset", &["--version"]) || cpus.is_empty() {
            return Self {
                client: vec![],
                server: vec![],
                label: "unpinned (taskset or the CPU list is missing)".into(),
            };
        }
        match cpus[..] {
            [c, s, ..] => Self {
                client: taskset(c),
                server: taskset(s),
                label: format!("client on CPU {c}, server on CPU {s} (taskset)"),
            },
            [c] => Self {
                client: taskset(c),
                server: taskset(c),
                label: format!("shared-core: client and server both on CPU {c}"),
            },
            [] => unreachable!("checked above"),
        }
    }
}

/// The CPUs this process may run on (`Cpus_allowed_list` of `/proc/self/status`).
fn allowed_cpus() -> Vec<u32> {
    let Ok(status) = std::fs::read_to_string("/proc/self/status") else {
        return Vec::new();
    };
    let Some(list) = status
        .lines()
        .find_map(|l| l.strip_prefix("Cpus_allowed_list:"))
    else {
        return Vec::new();
    };
    let mut cpus = Vec::new();
    for part in list.trim().split(',') {
        let (lo, hi) = part.split_once('-').unwrap_or((part, part));
        if let (Ok(lo), Ok(hi)) = (lo.parse::<u32>(), hi.parse::<u32>()) {
            cpus.extend(lo..=hi);
        }
    }
    cpus
}

/// What every run needs.
struct Context {
    bins: [PathBuf; 2],
    names: [String; 2],
    flags: Vec<String>,
    loadgen: PathBuf,
    pin: Pinning,
    ticks: f64,
    duration: f64,
}

impl Context {
    /// Starts server `i` (0 = candidate, 1 = memcached), pinned.
    fn start(&self, i: usize) -> Result<ServerProcess, String> {
        let mut command = self.pin.server.clone();
        command.push(self.bins[i].clone().into());
        let flags: Vec<&str> = self.flags.iter().map(String::as_str).collect();
        ServerProcess::start(&command, &flags).map_err(|e| format!("{}: {e}", self.names[i]))
    }

    /// The load generator's command line, pinned, with `args` plus `--server addr --json -`.
    fn loadgen(&self, addr: &str, args: &[String]) -> Vec<OsString> {
        let mut argv = self.pin.client.clone();
        argv.push(self.loadgen.clone().into());
        argv.extend(args.iter().map(OsString::from));
        argv.extend(["--server", addr, "--json", "-"].map(OsString::from));
        argv
    }

    /// Runs the load generator to completion and returns its JSON summary.
    fn load(&self, server: &str, addr: &str, args: &[String]) -> Result<Value, String> {
        let argv = self.loadgen(addr, args);
        let out = Command::new(&argv[0])
            .args(&argv[1..])
            .output()
            .map_err(|e| format!("cannot start the load generator: {e}"))?;
        finish_load(server, out)
    }

    /// Every repetition of workload `w` on both servers, plus the per-request counts.
    fn workload(
        &self,
        w: &Workload,
        reps: usize,
        perf: Option<&perf::Perf>,
        progress: &mut Progress,
    ) -> Result<WorkloadResult, String> {
        let mut servers = [self.start(0)?, self.start(1)?];
        for (i, s) in servers.iter().enumerate() {
            let mut args = w.args.clone();
            args.push("--prefill-only".into());
            self.load(&self.names[i], &s.addr().to_string(), &args)?;
        }
        let mut args = w.args.clone();
        args.extend(["--expect-hits".into(), "--duration".into()]);
        args.push(self.duration.to_string());
        let mut samples = [Vec::new(), Vec::new()];
        for rep in 0..reps {
            let order = if rep % 2 == 0 { [0, 1] } else { [1, 0] };
            for i in order {
                let sample = self.sample(&mut servers[i], &self.names[i], &args)?;
                progress.step(&format!(
                    "{} rep {}/{reps} {:<10} {:>9.0} ops/s  p50 {:>7.1} us  p99 {:>8.1} us  server cpu {:.2} s ({:.0}% sys)  client cpu {:.0}%",
                    w.id,
                    rep + 1,
                    self.names[i],
                    sample.ops_per_sec,
                    sample.p50,
                    sample.p99,
                    sample.cpu_s(),
                    sample.sys_s / sample.cpu_s() * 100.0,
                    sample.client_cpu_pct
                ));
                samples[i].push(sample);
            }
        }
        let per_request = perf.map(|perf| {
            let ops = samples
                .each_ref()
                .map(|s| spread(s.iter().map(|s| s.ops_per_sec)).median);
            let requests = counted_requests(ops);
            // The order the next repetition would have, so neither server always goes first.
            let order = if reps % 2 == 0 { [0, 1] } else { [1, 0] };
            let mut counted = [PerRequest::default(); 2];
            for i in order {
                counted[i] = self.count(perf, &servers[i], &self.names[i], &w.args, requests)?;
                eprintln!(
                    "  {} {}: {:.3} syscalls, {:.3} context switches per request ({requests} requests)",
                    w.id,
                    self.names[i],
                    counted[i].syscalls_per_op(),
                    counted[i].switches_per_op()
                );
            }
            Ok(counted)
        });
        if let Some(Err(why)) = &per_request {
            eprintln!("  {}: not counted: {why}", w.id);
        }
        Ok(WorkloadResult {
            workload: w.clone(),
            samples,
            per_request,
        })
    }

    /// One measured run against `server`.
    fn sample(
        &self,
        server: &mut ServerProcess,
        name: &str,
        args: &[String],
    ) -> Result<Sample, String> {
        let pid = server.pid();
        let before = procfs::cpu_times(pid, self.ticks)?;
        let json = self.load(name, &server.addr().to_string(), args)?;
        let cpu = procfs::cpu_times(pid, self.ticks)? - before;
        if !server.running() {
            return Err(format!("{name} exited during the run"));
        }
        let run = &json["run"];
        let num = |v: &Value| v.as_f64().unwrap_or(f64::NAN);
        Ok(Sample {
            ops_per_sec: num(&run["ops_per_sec"]),
            ops: num(&run["ops"]),
            p50: num(&run["latency_us"]["p50"]),
            p99: num(&run["latency_us"]["p99"]),
            p99_9: num(&run["latency_us"]["p99_9"]),
            user_s: cpu.user,
            sys_s: cpu.sys,
            client_cpu_pct: num(&run["client_cpu_s"]) / num(&run["elapsed_s"]) * 100.0,
        })
    }

    /// System calls and context switches of `server` over a run of exactly `requests`
    /// requests: `perf stat` attaches before the load generator starts and stops when
    /// it exits, so both counts and the request count cover the same work.
    fn count(
        &self,
        perf: &perf::Perf,
        server: &ServerProcess,
        name: &str,
        workload_args: &[String],
        requests: u64,
    ) -> Result<PerRequest, String> {
        let mut args = workload_args.to_vec();
        args.extend(["--expect-hits".into(), "--requests".into()]);
        args.push(requests.to_string());
        let argv = self.loadgen(&server.addr().to_string(), &args);
        let file =
            std::env::temp_dir().join(format!("evcached-compare-perf-{}.csv", std::process::id()));
        let _ = std::fs::remove_file(&file);
        let out = perf
            .around(server.pid(), &file, &argv)
            .output()
            .map_err(|e| format!("perf: {e}"));
        let counts = perf::read_counts(&file);
        let _ = std::fs::remove_file(&file);
        // Without counts perf itself failed (and the load may never have run).
        let counts = counts?;
        let json = finish_load(name, out?)?;
        let done = json["run"]["ops"].as_u64().unwrap_or(0);
        if done != requests {
            return Err(format!("{name} answered {done} of {requests} requests"));
        }
        Ok(PerRequest {
            requests,
            syscalls: counts.syscalls,
            context_switches: counts.context_switches,
        })
    }

    /// RSS growth per item after loading `items` items of 32 B key + 100 B value into a
    /// fresh instance of each server.
    fn memory(&self, items: u64) -> Result<MemoryResult, String> {
        let mut result = MemoryResult {
            items,
            payload: 132,
            rss_empty: [0; 2],
            rss_full: [0; 2],
        };
        let args: Vec<String> =
            format!("--prefill-only --conns 50 --key-size 32 --value-size 100 --keyspace {items}")
                .split_whitespace()
                .map(String::from)
                .collect();
        for i in 0..2 {
            eprintln!("memory: loading {items} items into {}", self.names[i]);
            let server = self.start(i)?;
            // Let start-up allocations settle before the baseline.
            std::thread::sleep(Duration::from_millis(500));
            result.rss_empty[i] = procfs::rss_bytes(server.pid())?;
            self.load(&self.names[i], &server.addr().to_string(), &args)?;
            std::thread::sleep(Duration::from_millis(300));
            result.rss_full[i] = procfs::rss_bytes(server.pid())?;
            eprintln!(
                "memory: {}: {:.1} B per item",
                self.names[i],
                result.per_item(i)
            );
        }
        Ok(result)
    }
}

/// Requests of a counted run, given both servers' median throughput in the timed runs:
/// [`COUNTED_SECS`] at the slower one, and at least [`MIN_COUNTED_REQUESTS`].
fn counted_requests(ops_per_sec: [f64; 2]) -> u64 {
    let slower = ops_per_sec[0].min(ops_per_sec[1]);
    // `as` saturates, and NaN (no samples) becomes 0.
    ((slower * COUNTED_SECS) as u64).max(MIN_COUNTED_REQUESTS)
}

/// Checks a finished load-generator run and parses its JSON.
fn finish_load(server: &str, out: std::process::Output) -> Result<Value, String> {
    if !out.status.success() {
        return Err(format!(
            "load against {server} failed ({}):\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    serde_json::from_slice(&out.stdout).map_err(|e| format!("load generator JSON: {e}"))
}

/// Progress lines with elapsed time and an estimate of what is left.
struct Progress {
    total: usize,
    done: usize,
    start: Instant,
}

impl Progress {
    fn new(total: usize) -> Self {
        Self {
            total,
            done: 0,
            start: Instant::now(),
        }
    }

    fn step(&mut self, what: &str) {
        self.done += 1;
        let elapsed = self.start.elapsed().as_secs_f64();
        let left = elapsed / self.done as f64 * (self.total - self.done) as f64;
        eprintln!(
            "[{:>3}/{} {:>4.0}s, ~{:.0}s left] {what}",
            self.done, self.total, elapsed, left
        );
    }
}

/// The memcached binary: the given path, the one on PATH, or installed with apt-get
/// when running as root.
fn ensure_memcached(given: Option<&Path>) -> Result<PathBuf, String> {
    if let Some(p) = given {
        return if p.exists() {
            Ok(p.to_path_buf())
        } else {
            Err(format!("{} does not exist", p.display()))
        };
    }
    if let Some(p) = which("memcached") {
        return Ok(p);
    }
    if !is_root() {
        return Err(
            "memcached is not installed; run `apt-get install memcached` as root, or pass --memcached PATH"
                .into(),
        );
    }
    apt_install("memcached")?;
    which("memcached").ok_or_else(|| "apt-get installed memcached but it is not on PATH".into())
}

/// `apt-get install -y pkg`, refreshing the package lists when the first try fails.
pub(crate) fn apt_install(pkg: &str) -> Result<(), String> {
    let install = || {
        Command::new("apt-get")
            .args(["install", "-y", "-q", pkg])
            .env("DEBIAN_FRONTEND", "noninteractive")
            .status()
            .map(|s| s.success())
            .unwrap_or(false)
    };
    if install() {
        return Ok(());
    }
    step("apt-get update", Command::new("apt-get").arg("update"))?;
    if install() {
        Ok(())
    } else {
        Err(format!("apt-get install {pkg} failed"))
    }
}

/// True when running as user id 0.
pub(crate) fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| o.stdout.trim_ascii() == b"0")
        .unwrap_or(false)
}

/// `program` found on PATH.
fn which(program: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join(program))
            .find(|p| p.is_file())
    })
}

/// Cargo's target directory (`CARGO_TARGET_DIR` or `target/` in the workspace).
fn target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) => root().join(dir),
        None => root().join("target"),
    }
}

/// The first line of `bin -V` (memcached and evcached both print their version).
fn version(bin: &Path) -> String {
    Command::new(bin)
        .arg("-V")
        .output()
        .ok()
        .and_then(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .next()
                .map(str::to_string)
        })
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "version unknown".into())
}

/// CPU model, CPU count and kernel.
fn machine() -> String {
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("model name"))
                .map(|m| m.trim_start_matches([' ', '\t', ':']).to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    let kernel = Command::new("uname")
        .arg("-sr")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default();
    format!("{model}, {cpus} CPUs, {kernel}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn quick_mode_shrinks_everything_but_explicit_options_win() {
        let o = parse(&args("--quick")).unwrap();
        assert_eq!(
            (o.reps, o.duration, o.keys, o.items),
            (2, 1.0, 10_000, 100_000)
        );
        let o = parse(&args("--reps 7 --quick --no-memory")).unwrap();
        assert_eq!(o.reps, 7);
        assert!(!o.memory_test);
        let o = parse(&[]).unwrap();
        assert_eq!((o.reps, o.threads, o.memory_mb), (5, 1, 1024));
    }

    #[test]
    fn rejects_bad_options() {
        assert!(parse(&args("--reps 0")).is_err());
        assert!(parse(&args("--duration")).is_err());
        assert!(parse(&args("--bogus")).is_err());
    }

    #[test]
    fn counted_runs_last_two_seconds_of_the_slower_server() {
        assert_eq!(counted_requests([90_000.0, 60_000.0]), 120_000);
        assert_eq!(counted_requests([1_000.0, 60_000.0]), MIN_COUNTED_REQUESTS);
        assert_eq!(counted_requests([f64::NAN, f64::NAN]), MIN_COUNTED_REQUESTS);
    }

    #[test]
    fn finds_this_process_cpus() {
        assert!(!allowed_cpus().is_empty());
    }
}
