//! `cargo xtask cluster`: a local evcached pool behind nutcracker (twemproxy), for trying
//! scale-out by hand. A developer convenience, not an orchestrator: the production recipe is
//! the README's "Scaling out" section.
//!
//! It starts N backends on loopback ephemeral ports (`-p -1` with `MEMCACHED_PORT_FILENAME`,
//! as memcached does), writes a nutcracker config (ketama distribution, `fnv1a_64` key hash,
//! servers named `evcached-<i>` so placement follows names rather than ports), starts
//! nutcracker, prints the endpoints, shows each backend's counters every few seconds or on
//! Enter, and on Ctrl-C stops everything by PID and removes its scratch directory.

use std::fs;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use crate::util::{cargo, have, root};

const USAGE: &str = "\
usage: cargo xtask cluster [options]

Starts N evcached backends on 127.0.0.1 ephemeral ports behind one nutcracker
(ketama distribution, fnv1a_64 key hash, servers named evcached-0..N-1), prints
each backend's curr_items and get/set counters every few seconds (or on Enter),
and stops everything on Ctrl-C.

options:
  --servers N           backends to start (default 3)
  --eject               auto_eject_hosts: true (a dead backend's keys move to the others)
  --retry-ms MS         server_retry_timeout when ejecting (default 2000)
  --failure-limit N     server_failure_limit when ejecting (default 1)
  --port PORT           proxy port on 127.0.0.1 (default 22121; 0 picks a free one)
  --interval SECS       seconds between stats prints (default 5)
  --backend-bin PATH    run this server binary instead of building evcached
                        (e.g. --backend-bin memcached)
  --release             build evcached with --release
";

/// Parsed command-line options.
#[derive(Debug)]
struct Options {
    servers: usize,
    eject: bool,
    retry_ms: u64,
    failure_limit: u32,
    port: u16,
    interval: Duration,
    backend_bin: Option<PathBuf>,
    release: bool,
}

/// Parses a numeric option value.
fn number<T: std::str::FromStr>(name: &str, raw: String) -> Result<T, String> {
    raw.parse()
        .map_err(|_| format!("{name}: not a valid number: {raw}"))
}

impl Options {
    /// The options, or `None` when help was asked for.
    fn parse(args: &[String]) -> Result<Option<Options>, String> {
        let mut opts = Options {
            servers: 3,
            eject: false,
            retry_ms: 2_000,
            failure_limit: 1,
            port: 22121,
            interval: Duration::from_secs(5),
            backend_bin: None,
            release: false,
        };
        let mut args = args.iter();
        while let Some(arg) = args.next() {
            let mut value = |name: &str| {
                args.next()
                    .cloned()
                    .ok_or_else(|| format!("{name} needs a value\n{USAGE}"))
            };
            match arg.as_str() {
                "--servers" => opts.servers = number("--servers", value("--servers")?)?,
                "--eject" => opts.eject = true,
                "--retry-ms" => opts.retry_ms = number("--retry-ms", value("--retry-ms")?)?,
                "--failure-limit" => {
                    opts.failure_limit = number("--failure-limit", value("--failure-limit")?)?
                }
                "--port" => opts.port = number("--port", value("--port")?)?,
                "--interval" => {
                    let secs: u64 = number("--interval", value("--interval")?)?;
                    opts.interval = Duration::from_secs(secs.max(1));
                }
                "--backend-bin" => opts.backend_bin = Some(value("--backend-bin")?.into()),
                "--release" => opts.release = true,
                "-h" | "--help" => return Ok(None),
                other => return Err(format!("unknown option `{other}`\n{USAGE}")),
            }
        }
        if opts.servers == 0 {
            return Err("--servers must be at least 1".into());
        }
        Ok(Some(opts))
    }
}

/// What wakes the main loop.
enum Event {
    /// Ctrl-C, SIGTERM or SIGHUP: stop.
    Stop,
    /// Enter on stdin: print stats now.
    Enter,
}

/// Runs `cargo xtask cluster`.
pub fn run(args: &[String]) -> Result<(), String> {
    let Some(opts) = Options::parse(args)? else {
        print!("{USAGE}");
        return Ok(());
    };
    ensure_nutcracker()?;
    let backend_bin = match &opts.backend_bin {
        Some(bin) => bin.clone(),
        None => build_evcached(opts.release)?,
    };

    let (events, wake) = mpsc::channel();
    let on_signal = events.clone();
    ctrlc::set_handler(move || {
        let _ = on_signal.send(Event::Stop);
    })
    .map_err(|e| format!("cannot install the Ctrl-C handler: {e}"))?;

    let mut cluster = Cluster::new()?;
    for i in 0..opts.servers {
        cluster.start_backend(&backend_bin, &format!("evcached-{i}"))?;
    }
    cluster.start_proxy(&opts)?;
    cluster.print_endpoints(&opts);

    // Stdin is read on its own thread so Enter can interrupt the periodic wait; at end of
    // input (stdin not a terminal) the thread just stops sending.
    thread::spawn(move || {
        for line in io::stdin().lock().lines() {
            if line.is_err() || events.send(Event::Enter).is_err() {
                break;
            }
        }
    });

    let mut next = Instant::now();
    loop {
        if let Some(dead) = cluster.proxy_exit() {
            return Err(format!("nutcracker exited ({dead}); see {}", cluster.log()));
        }
        match wake.recv_timeout(next.saturating_duration_since(Instant::now())) {
            Ok(Event::Stop) => break,
            Ok(Event::Enter) | Err(mpsc::RecvTimeoutError::Timeout) => {
                cluster.print_stats();
                next = Instant::now() + opts.interval;
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        }
    }
    eprintln!(
        "stopping nutcracker and {} backends",
        cluster.backends.len()
    );
    drop(cluster);
    Ok(())
}

/// nutcracker on `PATH`, installed with apt-get when missing and we are root.
fn ensure_nutcracker() -> Result<(), String> {
    if have("nutcracker", &["-V"]) {
        return Ok(());
    }
    if is_root() && have("apt-get", &["--version"]) {
        eprintln!("==> nutcracker not found; installing it with apt-get");
        crate::util::run(
            "apt-get install nutcracker",
            Command::new("apt-get").args(["install", "-y", "-q", "nutcracker"]),
        )?;
        if have("nutcracker", &["-V"]) {
            return Ok(());
        }
    }
    Err(
        "nutcracker (twemproxy) is not installed: `sudo apt-get install nutcracker`, \
         `brew install twemproxy`, or build it from github.com/twitter/twemproxy"
            .into(),
    )
}

/// True when running as root (memcached-style servers then need `-u`).
fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|out| out.stdout.trim_ascii() == b"0")
        .unwrap_or(false)
}

/// Builds the evcached binary and returns its path.
fn build_evcached(release: bool) -> Result<PathBuf, String> {
    let mut cmd = cargo();
    cmd.args(["build", "-p", "evcached", "--bin", "evcached"]);
    if release {
        cmd.arg("--release");
    }
    crate::util::run("build evcached", &mut cmd)?;
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .map(|dir| {
            if dir.is_absolute() {
                dir
            } else {
                root().join(dir)
            }
        })
        .unwrap_or_else(|| root().join("target"));
    let bin = target
        .join(if release { "release" } else { "debug" })
        .join(format!("evcached{}", std::env::consts::EXE_SUFFIX));
    if bin.is_file() {
        Ok(bin)
    } else {
        Err(format!(
            "built evcached but found no binary at {}",
            bin.display()
        ))
    }
}

/// A started backend.
struct Backend {
    name: String,
    port: u16,
    child: Child,
}

/// Everything the command started; dropping it kills the processes by PID and removes the
/// scratch directory, on every exit path.
struct Cluster {
    dir: PathBuf,
    backends: Vec<Backend>,
    proxy: Option<(Child, u16, u16)>,
}

/// How long a process may take to start listening.
const START_TIMEOUT: Duration = Duration::from_secs(20);

impl Cluster {
    fn new() -> Result<Cluster, String> {
        let dir = std::env::temp_dir().join(format!("evcached-cluster-{}", std::process::id()));
        fs::create_dir_all(&dir).map_err(|e| format!("create {}: {e}", dir.display()))?;
        Ok(Cluster {
            dir,
            backends: Vec::new(),
            proxy: None,
        })
    }

    fn log(&self) -> String {
        self.dir.join("nutcracker.log").display().to_string()
    }

    fn start_backend(&mut self, bin: &Path, name: &str) -> Result<(), String> {
        let port_file = self.dir.join(format!("{name}.ports"));
        let log_path = self.dir.join(format!("{name}.log"));
        let log = fs::File::create(&log_path).map_err(|e| e.to_string())?;
        let mut cmd = Command::new(bin);
        cmd.args([
            "-p",
            "-1",
            "-U",
            "0",
            "-l",
            "127.0.0.1",
            "-t",
            "2",
            "-m",
            "64",
        ]);
        if is_root() {
            cmd.args(["-u", "root"]);
        }
        cmd.env("MEMCACHED_PORT_FILENAME", &port_file)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log);
        own_process_group(&mut cmd);
        let child = cmd
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", bin.display()))?;
        // Registered before waiting, so a failure below still kills it.
        self.backends.push(Backend {
            name: name.to_string(),
            port: 0,
            child,
        });
        let backend = self.backends.last_mut().expect("just pushed");
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if let Some(port) = read_port_file(&port_file) {
                backend.port = port;
                return Ok(());
            }
            if let Ok(Some(status)) = backend.child.try_wait() {
                let log = fs::read_to_string(&log_path).unwrap_or_default();
                return Err(format!("{name} exited before listening ({status}): {log}"));
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "{name} wrote no port file within {START_TIMEOUT:?}"
                ));
            }
            thread::sleep(Duration::from_millis(10));
        }
    }

    fn config(&self, opts: &Options, port: u16) -> String {
        let mut yaml = format!(
            "# Generated by `cargo xtask cluster`.\nevcached:\n  listen: 127.0.0.1:{port}\n  \
             hash: fnv1a_64\n  distribution: ketama\n  timeout: 1000\n  \
             auto_eject_hosts: {}\n",
            opts.eject
        );
        if opts.eject {
            yaml.push_str(&format!(
                "  server_retry_timeout: {}\n  server_failure_limit: {}\n",
                opts.retry_ms, opts.failure_limit
            ));
        }
        yaml.push_str("  servers:\n");
        for b in &self.backends {
            yaml.push_str(&format!("   - 127.0.0.1:{}:1 {}\n", b.port, b.name));
        }
        yaml
    }

    fn start_proxy(&mut self, opts: &Options) -> Result<(), String> {
        let port = if opts.port == 0 {
            free_port()?
        } else {
            opts.port
        };
        let stats_port = free_port()?;
        let conf = self.dir.join("nutcracker.yml");
        fs::write(&conf, self.config(opts, port)).map_err(|e| e.to_string())?;
        let mut cmd = Command::new("nutcracker");
        cmd.arg("-c")
            .arg(&conf)
            .args(["-a", "127.0.0.1", "-s", &stats_port.to_string(), "-o"])
            .arg(self.log())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        own_process_group(&mut cmd);
        let child = cmd
            .spawn()
            .map_err(|e| format!("cannot start nutcracker: {e}"))?;
        self.proxy = Some((child, port, stats_port));
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            // Ready once the client port accepts and the stats port answers as nutcracker
            // (so a port already taken by another service is not mistaken for ours).
            if TcpStream::connect(("127.0.0.1", port)).is_ok() && is_nutcracker(stats_port) {
                return Ok(());
            }
            if let Some(status) = self.proxy_exit() {
                let log = fs::read_to_string(self.log()).unwrap_or_default();
                return Err(format!(
                    "nutcracker exited ({status}); is port {port} taken? {log}"
                ));
            }
            if Instant::now() > deadline {
                return Err(format!("nutcracker not listening on {port}"));
            }
            thread::sleep(Duration::from_millis(10));
        }
    }

    /// The proxy's exit status, once it has exited.
    fn proxy_exit(&mut self) -> Option<std::process::ExitStatus> {
        self.proxy
            .as_mut()
            .and_then(|(child, _, _)| child.try_wait().ok().flatten())
    }

    fn print_endpoints(&self, opts: &Options) {
        let (_, port, stats_port) = self.proxy.as_ref().expect("proxy started");
        println!("proxy    127.0.0.1:{port}   (nutcracker; ketama, fnv1a_64)");
        for b in &self.backends {
            println!("backend  127.0.0.1:{:<5}  {}", b.port, b.name);
        }
        if opts.eject {
            println!(
                "ejection on: after {} failure(s) a backend is ejected for {} ms",
                opts.failure_limit, opts.retry_ms
            );
        } else {
            println!("ejection off: a dead backend's keys fail until it returns (--eject)");
        }
        println!("config   {}", self.dir.join("nutcracker.yml").display());
        println!("log      {}", self.log());
        println!("proxy stats (JSON): 127.0.0.1:{stats_port}");
        println!("try:     printf 'set k 0 0 1\\r\\nv\\r\\nget k\\r\\n' | nc -q1 127.0.0.1 {port}");
        println!(
            "stats every {}s, Enter prints now, Ctrl-C stops everything",
            opts.interval.as_secs()
        );
    }

    fn print_stats(&mut self) {
        println!(
            "{:<12} {:>6} {:>10} {:>10} {:>10} {:>10} {:>10}",
            "backend", "port", "curr_items", "cmd_get", "get_hits", "cmd_set", "conns"
        );
        for b in &mut self.backends {
            if let Ok(Some(status)) = b.child.try_wait() {
                println!("{:<12} {:>6} exited ({status})", b.name, b.port);
                continue;
            }
            match backend_stats(b.port) {
                Ok(stats) => {
                    let get = |name: &str| {
                        stats
                            .iter()
                            .find(|(k, _)| k == name)
                            .map_or("?", |(_, v)| v.as_str())
                            .to_string()
                    };
                    println!(
                        "{:<12} {:>6} {:>10} {:>10} {:>10} {:>10} {:>10}",
                        b.name,
                        b.port,
                        get("curr_items"),
                        get("cmd_get"),
                        get("get_hits"),
                        get("cmd_set"),
                        get("curr_connections")
                    );
                }
                Err(e) => println!("{:<12} {:>6} unreachable: {e}", b.name, b.port),
            }
        }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if let Some((child, _, _)) = self.proxy.as_mut() {
            let _ = child.kill();
            let _ = child.wait();
        }
        for b in &mut self.backends {
            let _ = b.child.kill();
            let _ = b.child.wait();
        }
        let _ = fs::remove_dir_all(&self.dir);
    }
}

/// Puts the child in its own process group, so the terminal's Ctrl-C reaches only xtask,
/// which then stops the children in order.
fn own_process_group(cmd: &mut Command) {
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt;
        cmd.process_group(0);
    }
    #[cfg(not(unix))]
    let _ = cmd;
}

/// The TCP port from a `MEMCACHED_PORT_FILENAME` file (`TCP INET: <port>`).
fn read_port_file(path: &Path) -> Option<u16> {
    fs::read_to_string(path)
        .ok()?
        .lines()
        .find_map(|line| line.strip_prefix("TCP INET: "))
        .and_then(|port| port.trim().parse().ok())
}

/// A loopback port that was free a moment ago.
fn free_port() -> Result<u16, String> {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| format!("cannot find a free port: {e}"))
}

/// True when the stats port answers with nutcracker's JSON.
fn is_nutcracker(stats_port: u16) -> bool {
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", stats_port)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    let mut json = String::new();
    stream.read_to_string(&mut json).is_ok() && json.contains("\"service\":\"nutcracker\"")
}

/// A backend's `stats` as (name, value) pairs.
fn backend_stats(port: u16) -> io::Result<Vec<(String, String)>> {
    let mut stream = TcpStream::connect(("127.0.0.1", port))?;
    stream.set_read_timeout(Some(Duration::from_secs(2)))?;
    stream.write_all(b"stats\r\n")?;
    let mut stats = Vec::new();
    for line in BufReader::new(stream.take(1 << 20)).lines() {
        let line = line?;
        if line.trim_end() == "END" {
            return Ok(stats);
        }
        let mut parts = line.trim_end().splitn(3, ' ');
        if let (Some("STAT"), Some(name), Some(value)) = (parts.next(), parts.next(), parts.next())
        {
            stats.push((name.to_string(), value.to_string()));
        }
    }
    Err(io::Error::new(io::ErrorKind::UnexpectedEof, "no END"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn options_have_defaults_and_parse_every_flag() {
        let opts = Options::parse(&[]).unwrap().unwrap();
        assert_eq!((opts.servers, opts.eject, opts.port), (3, false, 22121));
        let opts = Options::parse(&args(&[
            "--servers",
            "5",
            "--eject",
            "--retry-ms",
            "900",
            "--failure-limit",
            "2",
            "--port",
            "0",
            "--interval",
            "1",
            "--backend-bin",
            "memcached",
            "--release",
        ]))
        .unwrap()
        .unwrap();
        assert_eq!(opts.servers, 5);
        assert!(opts.eject && opts.release);
        assert_eq!((opts.retry_ms, opts.failure_limit, opts.port), (900, 2, 0));
        assert_eq!(opts.interval, Duration::from_secs(1));
        assert_eq!(opts.backend_bin, Some(PathBuf::from("memcached")));
        assert!(Options::parse(&args(&["--help"])).unwrap().is_none());
    }

    #[test]
    fn bad_options_are_errors() {
        for bad in [
            &["--servers", "0"][..],
            &["--servers", "x"],
            &["--port"],
            &["--port", "70000"],
            &["--frobnicate"],
        ] {
            assert!(Options::parse(&args(bad)).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn generated_config_names_servers_and_sets_ejection() {
        let mut cluster = Cluster::new().unwrap();
        for (i, port) in [4001u16, 4002].into_iter().enumerate() {
            let child = Command::new("true").spawn().unwrap();
            cluster.backends.push(Backend {
                name: format!("evcached-{i}"),
                port,
                child,
            });
        }
        let mut opts = Options::parse(&args(&["--eject", "--retry-ms", "700"]))
            .unwrap()
            .unwrap();
        let yaml = cluster.config(&opts, 5000);
        for line in [
            "listen: 127.0.0.1:5000",
            "hash: fnv1a_64",
            "distribution: ketama",
            "auto_eject_hosts: true",
            "server_retry_timeout: 700",
            "server_failure_limit: 1",
            "- 127.0.0.1:4001:1 evcached-0",
            "- 127.0.0.1:4002:1 evcached-1",
        ] {
            assert!(yaml.contains(line), "{line} in\n{yaml}");
        }
        opts.eject = false;
        let yaml = cluster.config(&opts, 5000);
        assert!(yaml.contains("auto_eject_hosts: false"));
        assert!(!yaml.contains("server_retry_timeout"));
        // nutcracker itself accepts the file, when it is installed (CI installs it).
        if have("nutcracker", &["-V"]) {
            let conf = cluster.dir.join("test.yml");
            fs::write(&conf, yaml).unwrap();
            let out = Command::new("nutcracker")
                .arg("-t")
                .arg("-c")
                .arg(&conf)
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
}
