//! Starting and stopping the processes of a pool: backends on ephemeral ports (found through
//! `MEMCACHED_PORT_FILENAME` and `-p -1`, as memcached does) and one nutcracker in front of them.
//! Every process is killed by PID when its handle drops, so a failing test leaves nothing behind.

use std::fs;
use std::io::Read;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;
use std::thread;
use std::time::{Duration, Instant};

use super::ketama::Ring;
use super::scratch::running_as_root;
pub use super::scratch::Scratch;

/// How long a process may take to start listening before the test gives up.
const START_TIMEOUT: Duration = Duration::from_secs(20);

/// The backend server binary: `$EVCACHED_CLUSTER_BACKEND` (e.g. `memcached`, to check the
/// tests themselves), else the `evcached` binary cargo built for this test run.
pub fn backend_bin() -> PathBuf {
    if let Some(bin) = std::env::var_os("EVCACHED_CLUSTER_BACKEND") {
        return PathBuf::from(bin);
    }
    PathBuf::from(env!("CARGO_BIN_EXE_evcached"))
}

/// Kills `child` by PID and reaps it.
fn kill(child: &mut Child) {
    let _ = child.kill();
    let _ = child.wait();
}

/// One backend server process.
pub struct Backend {
    /// The name it has in the proxy's server list (what the ketama ring hashes).
    pub name: String,
    /// Its TCP port on 127.0.0.1.
    pub port: u16,
    child: Child,
}

impl Backend {
    /// Starts the backend binary on an ephemeral loopback port, logs and port file in `dir`.
    pub fn start(name: &str, dir: &Path) -> Backend {
        let port_file = dir.join(format!("{name}.ports"));
        let log = fs::File::create(dir.join(format!("{name}.log"))).expect("backend log");
        let mut cmd = Command::new(backend_bin());
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
        if running_as_root() {
            cmd.args(["-u", "root"]);
        }
        let mut child = cmd
            .env("MEMCACHED_PORT_FILENAME", &port_file)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", backend_bin().display()));
        let deadline = Instant::now() + START_TIMEOUT;
        let port = loop {
            if let Some(port) = read_port_file(&port_file) {
                break port;
            }
            if let Ok(Some(status)) = child.try_wait() {
                let log = fs::read_to_string(dir.join(format!("{name}.log"))).unwrap_or_default();
                panic!("backend {name} exited before listening ({status}): {log}");
            }
            if Instant::now() > deadline {
                kill(&mut child);
                panic!("backend {name} wrote no port file within {START_TIMEOUT:?}");
            }
            thread::sleep(Duration::from_millis(10));
        };
        Backend {
            name: name.to_string(),
            port,
            child,
        }
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Kills the process (SIGKILL by PID) and reaps it.
    pub fn kill(&mut self) {
        kill(&mut self.child);
    }
}

impl Drop for Backend {
    fn drop(&mut self) {
        kill(&mut self.child);
    }
}

/// The TCP port from a `MEMCACHED_PORT_FILENAME` file (`TCP INET: <port>` lines), once the
/// server has written it.
fn read_port_file(path: &Path) -> Option<u16> {
    let text = fs::read_to_string(path).ok()?;
    text.lines()
        .find_map(|line| line.strip_prefix("TCP INET: "))
        .and_then(|port| port.trim().parse().ok())
}

/// A port that was free a moment ago (nutcracker cannot bind port 0 and report it back).
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("bind an ephemeral port")
}

/// Options of the generated nutcracker pool.
#[derive(Debug, Clone, Copy)]
pub struct PoolOptions {
    /// Number of backends.
    pub servers: usize,
    /// `auto_eject_hosts`.
    pub eject: bool,
    /// `server_retry_timeout` in milliseconds.
    pub retry_ms: u64,
    /// `server_failure_limit`.
    pub failure_limit: u32,
}

impl Default for PoolOptions {
    fn default() -> Self {
        PoolOptions {
            servers: 3,
            eject: false,
            retry_ms: 2_000,
            failure_limit: 1,
        }
    }
}

/// The nutcracker YAML for `backends` listening on `listen_port`: ketama distribution, the
/// `fnv1a_64` key hash, named servers (placement follows names, not ports).
pub fn nutcracker_config(backends: &[Backend], listen_port: u16, opts: PoolOptions) -> String {
    let mut yaml = format!(
        "evcached:\n  listen: 127.0.0.1:{listen_port}\n  hash: fnv1a_64\n  distribution: ketama\n  \
         timeout: 5000\n  auto_eject_hosts: {}\n  server_retry_timeout: {}\n  \
         server_failure_limit: {}\n  servers:\n",
        opts.eject, opts.retry_ms, opts.failure_limit
    );
    for b in backends {
        yaml.push_str(&format!("   - 127.0.0.1:{}:1 {}\n", b.port, b.name));
    }
    yaml
}

/// A nutcracker process and its ports.
pub struct Proxy {
    /// The proxy's client port on 127.0.0.1.
    pub port: u16,
    /// nutcracker's stats port (JSON counters) on 127.0.0.1.
    pub stats_port: u16,
    child: Child,
}

impl Proxy {
    /// Starts nutcracker with the config built by `config(listen_port)`; retries with other
    /// ports if the free ports it picked were taken meanwhile.
    pub fn start(dir: &Path, config: impl Fn(u16) -> String) -> Proxy {
        let conf = dir.join("nutcracker.yml");
        let log = dir.join("nutcracker.log");
        let mut last_error = String::new();
        for _attempt in 0..5 {
            let port = free_port();
            fs::write(&conf, config(port)).expect("write nutcracker.yml");
            let stats_port = free_port();
            let mut child = Command::new("nutcracker")
                .arg("-c")
                .arg(&conf)
                // Stats aggregated every 100 ms (default 30 s) so tests can read counters.
                .args([
                    "-a",
                    "127.0.0.1",
                    "-s",
                    &stats_port.to_string(),
                    "-i",
                    "100",
                    "-o",
                ])
                .arg(&log)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("cannot start nutcracker (apt-get install nutcracker)");
            let deadline = Instant::now() + START_TIMEOUT;
            loop {
                // Ready once the client port accepts and the stats port is nutcracker's (so
                // neither free port was taken by someone else meanwhile).
                if TcpStream::connect(("127.0.0.1", port)).is_ok()
                    && read_stats(stats_port).is_ok_and(|json| json.contains(NUTCRACKER_STATS))
                {
                    return Proxy {
                        port,
                        stats_port,
                        child,
                    };
                }
                if let Ok(Some(status)) = child.try_wait() {
                    last_error = format!(
                        "nutcracker exited ({status}): {}",
                        fs::read_to_string(&log).unwrap_or_default()
                    );
                    break;
                }
                if Instant::now() > deadline {
                    kill(&mut child);
                    last_error = format!("nutcracker not listening within {START_TIMEOUT:?}");
                    break;
                }
                thread::sleep(Duration::from_millis(10));
            }
        }
        panic!("cannot start nutcracker: {last_error}");
    }
}

/// How nutcracker's stats JSON starts.
const NUTCRACKER_STATS: &str = "\"service\":\"nutcracker\"";

/// The JSON nutcracker writes to a connection on its stats port.
fn read_stats(port: u16) -> std::io::Result<String> {
    let mut stream = TcpStream::connect(("127.0.0.1", port))?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    let mut json = String::new();
    stream.read_to_string(&mut json)?;
    Ok(json)
}

impl Proxy {
    /// A pool-level counter from nutcracker's stats (e.g. `server_ejects`, `forward_error`).
    pub fn pool_counter(&self, name: &str) -> u64 {
        let json = read_stats(self.stats_port).expect("nutcracker stats");
        let pool = &json[json.find("\"evcached\":").expect("pool in stats")..];
        let at = pool
            .find(&format!("\"{name}\":"))
            .expect("counter in stats")
            + name.len()
            + 3;
        let digits: String = pool[at..]
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        digits.parse().expect("numeric counter")
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        kill(&mut self.child);
    }
}

/// Backends behind one nutcracker, with the ring the proxy uses.
pub struct Pool {
    /// The proxy (dropped, so killed, before the backends).
    pub proxy: Proxy,
    /// The backends, in server-list order (`evcached-0`, `evcached-1`, ...).
    pub backends: Vec<Backend>,
    /// The ketama ring over all backends.
    pub ring: Ring,
    _dir: Scratch,
}

impl Pool {
    /// Starts `opts.servers` backends and a nutcracker in front of them.
    pub fn start(opts: PoolOptions) -> Pool {
        let dir = Scratch::new("pool");
        let backends: Vec<Backend> = (0..opts.servers)
            .map(|i| Backend::start(&format!("evcached-{i}"), dir.path()))
            .collect();
        let proxy = Proxy::start(dir.path(), |port| nutcracker_config(&backends, port, opts));
        let ring = Ring::new(&Pool::names_of(&backends), &vec![true; backends.len()]);
        Pool {
            proxy,
            backends,
            ring,
            _dir: dir,
        }
    }

    fn names_of(backends: &[Backend]) -> Vec<String> {
        backends.iter().map(|b| b.name.clone()).collect()
    }

    /// The server names, in order.
    pub fn names(&self) -> Vec<String> {
        Pool::names_of(&self.backends)
    }

    /// A client connection to the proxy.
    pub fn proxy_conn(&self) -> super::Conn {
        super::Conn::connect(self.proxy.port).expect("connect to nutcracker")
    }

    /// A direct connection to backend `i`.
    pub fn backend_conn(&self, i: usize) -> super::Conn {
        super::Conn::connect(self.backends[i].port).expect("connect to backend")
    }
}
