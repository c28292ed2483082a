//! Shared harness for integration tests: start the real `evcached` binary (or the reference
//! memcached) on an ephemeral loopback port, talk to it with bounded reads, kill it by PID.
//!
//! ```ignore
//! mod support;
//! let server = support::Server::evcached(&["-t", "2"]);
//! let mut c = server.connect();
//! c.send(b"version\r\n");
//! assert!(c.read_until(b"\r\n").bytes.starts_with(b"VERSION "));
//! ```
//!
//! Servers start with `-p -1 -U 0 -l 127.0.0.1` and `MEMCACHED_PORT_FILENAME` pointing into a
//! private temporary directory; the harness waits (with a deadline) for the port file, which
//! both memcached and evcached publish once every listener is up.
#![allow(dead_code)] // Each test crate uses a different part of the harness.

pub mod corpus;
pub mod normalize;
pub mod scratch;

pub use scratch::{running_as_root, Scratch};

use std::fs;
use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::thread;
use std::time::{Duration, Instant};

/// How long a server may take to publish its port file.
pub const START_DEADLINE: Duration = Duration::from_secs(20);
/// Default bound on waiting for a reply.
pub const REPLY_DEADLINE: Duration = Duration::from_secs(10);

/// Which server program to run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    /// The `evcached` binary cargo built for this test run, on the given backend
    /// (`None` = native; passed as `-o ev_backend=<name>`).
    Evcached(Option<&'static str>),
    /// The reference memcached.
    Memcached,
}

impl Kind {
    /// A short label for messages.
    pub fn label(&self) -> String {
        match self {
            Kind::Evcached(None) => "evcached(native)".to_string(),
            Kind::Evcached(Some(b)) => format!("evcached({b})"),
            Kind::Memcached => "memcached".to_string(),
        }
    }
}

/// Path of the `evcached` binary built by cargo for integration tests.
pub fn evcached_bin() -> PathBuf {
    match option_env!("CARGO_BIN_EXE_evcached") {
        Some(p) => PathBuf::from(p),
        None => panic!("the evcached binary target is not built (no CARGO_BIN_EXE_evcached)"),
    }
}

/// The reference memcached, if installed. When it is missing the caller should skip; under
/// CI (`CI` set) a missing memcached is a failure, since CI installs it.
pub fn memcached_bin() -> Option<PathBuf> {
    static BIN: OnceLock<Option<PathBuf>> = OnceLock::new();
    BIN.get_or_init(|| {
        if let Some(p) = std::env::var_os("EVCACHED_REFERENCE_MEMCACHED") {
            return Some(PathBuf::from(p));
        }
        let candidates = [
            "/usr/bin/memcached",
            "/usr/local/bin/memcached",
            "/opt/homebrew/bin/memcached",
        ];
        candidates.iter().map(PathBuf::from).find(|p| p.is_file())
    })
    .clone()
}

/// Returns memcached's path, or prints a loud skip notice and returns `None` (panics instead
/// when `CI` is set: CI installs memcached, so its absence there is a setup bug).
pub fn memcached_or_skip(test: &str) -> Option<PathBuf> {
    let bin = memcached_bin();
    if bin.is_none() {
        let ci = std::env::var_os("CI").is_some_and(|v| !v.is_empty() && v != "false");
        assert!(
            !ci,
            "{test}: memcached is not installed but CI is set (apt-get install memcached)"
        );
        eprintln!(
            "\n*** SKIPPING {test}: memcached is not installed (apt-get install memcached) ***\n"
        );
    }
    bin
}

/// A running server process; killed by PID and reaped on drop.
pub struct Server {
    child: Child,
    /// What runs.
    pub kind: Kind,
    /// The TCP port it bound on 127.0.0.1.
    pub port: u16,
    /// Every line of the port file (`TCP INET: 1234`, `UDP INET: 5678`, ...).
    pub port_lines: Vec<String>,
    scratch: Scratch,
}

impl Server {
    /// Starts evcached on the native backend with extra flags.
    pub fn evcached(extra: &[&str]) -> Server {
        Server::start(Kind::Evcached(None), extra).unwrap_or_else(|e| panic!("{e}"))
    }

    /// Starts memcached with extra flags, or returns `None` when it is not installed
    /// (see [`memcached_or_skip`]).
    pub fn memcached(test: &str, extra: &[&str]) -> Option<Server> {
        memcached_or_skip(test)?;
        Some(Server::start(Kind::Memcached, extra).unwrap_or_else(|e| panic!("{e}")))
    }

    /// Starts `kind` with `-p -1 -U 0 -l 127.0.0.1` plus `extra` (later flags win) and waits
    /// for its port file.
    pub fn start(kind: Kind, extra: &[&str]) -> Result<Server, String> {
        let program = match &kind {
            Kind::Evcached(_) => evcached_bin(),
            Kind::Memcached => memcached_bin().ok_or("memcached is not installed")?,
        };
        let scratch = Scratch::new("srv");
        let port_file = scratch.path().join("ports");
        let stderr_path = scratch.path().join("stderr");
        let mut cmd = Command::new(&program);
        cmd.args(["-p", "-1", "-U", "0", "-l", "127.0.0.1"]);
        if running_as_root() {
            cmd.args(["-u", "root"]);
        }
        if let Kind::Evcached(Some(backend)) = &kind {
            cmd.arg("-o").arg(format!("ev_backend={backend}"));
        }
        cmd.args(extra)
            .env("MEMCACHED_PORT_FILENAME", &port_file)
            .env_remove("EVCACHED_BACKEND")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(fs::File::create(&stderr_path).map_err(|e| e.to_string())?);
        let child = cmd
            .spawn()
            .map_err(|e| format!("spawn {}: {e}", program.display()))?;
        let mut server = Server {
            child,
            kind,
            port: 0,
            port_lines: Vec::new(),
            scratch,
        };
        server.wait_for_ports(&port_file, &stderr_path)?;
        Ok(server)
    }

    fn wait_for_ports(&mut self, port_file: &Path, stderr_path: &Path) -> Result<(), String> {
        let deadline = Instant::now() + START_DEADLINE;
        loop {
            if let Ok(text) = fs::read_to_string(port_file) {
                self.port_lines = text.lines().map(str::to_string).collect();
                let tcp = self
                    .port_lines
                    .iter()
                    .find_map(|l| l.strip_prefix("TCP INET: "))
                    .and_then(|p| p.trim().parse().ok());
                return match tcp {
                    Some(p) => {
                        self.port = p;
                        Ok(())
                    }
                    None => Err(format!(
                        "{}: no TCP INET line in port file: {text:?}",
                        self.kind.label()
                    )),
                };
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                let err = fs::read_to_string(stderr_path).unwrap_or_default();
                return Err(format!(
                    "{} exited at start ({status}): {err}",
                    self.kind.label()
                ));
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "{} wrote no port file within {START_DEADLINE:?}",
                    self.kind.label()
                ));
            }
            thread::sleep(Duration::from_millis(10));
        }
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// What the server printed on stderr so far.
    pub fn stderr(&self) -> String {
        fs::read_to_string(self.scratch.path().join("stderr")).unwrap_or_default()
    }

    /// A new client connection.
    pub fn connect(&self) -> Client {
        Client::connect(self.port)
    }

    /// True while the process runs.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        // Child::kill sends SIGKILL to exactly this PID.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What a bounded read returned.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Reply {
    /// The bytes received.
    pub bytes: Vec<u8>,
    /// The server closed the connection (EOF or reset).
    pub closed: bool,
    /// The deadline passed before the wanted end was seen.
    pub timed_out: bool,
}

/// A blocking loopback client whose reads are bounded by deadlines.
pub struct Client {
    stream: TcpStream,
    /// Bytes read past the end of the last reply.
    pending: Vec<u8>,
    closed: bool,
}

impl Client {
    /// Connects to 127.0.0.1:`port`.
    pub fn connect(port: u16) -> Client {
        let stream = TcpStream::connect(("127.0.0.1", port))
            .unwrap_or_else(|e| panic!("connect :{port}: {e}"));
        stream.set_nodelay(true).expect("nodelay");
        stream
            .set_write_timeout(Some(REPLY_DEADLINE))
            .expect("write timeout");
        Client {
            stream,
            pending: Vec::new(),
            closed: false,
        }
    }

    /// Writes all of `bytes`. A peer that closed mid-write is not an error here (the
    /// following read reports `closed`).
    pub fn send(&mut self, bytes: &[u8]) {
        match self.stream.write_all(bytes) {
            Ok(()) => {}
            Err(e) if matches!(e.kind(), ErrorKind::BrokenPipe | ErrorKind::ConnectionReset) => {
                self.closed = true
            }
            Err(e) => panic!("send: {e}"),
        }
    }

    /// Half-closes the write side.
    pub fn shutdown_write(&mut self) {
        let _ = self.stream.shutdown(Shutdown::Write);
    }

    /// Reads once, waiting at most `wait`. Returns false on timeout.
    fn fill(&mut self, wait: Duration) -> bool {
        if self.closed {
            return true;
        }
        let wait = wait.max(Duration::from_millis(1));
        self.stream
            .set_read_timeout(Some(wait))
            .expect("read timeout");
        let mut buf = [0u8; 65536];
        match self.stream.read(&mut buf) {
            Ok(0) => {
                self.closed = true;
                true
            }
            Ok(n) => {
                self.pending.extend_from_slice(&buf[..n]);
                true
            }
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => false,
            Err(e) if e.kind() == ErrorKind::Interrupted => true,
            Err(_) => {
                // Reset by peer: treat as closed.
                self.closed = true;
                true
            }
        }
    }

    /// Reads until the received bytes end with `suffix`, the server closes, or the default
    /// deadline passes; returns everything up to and including the suffix.
    pub fn read_until(&mut self, suffix: &[u8]) -> Reply {
        self.read_until_within(suffix, REPLY_DEADLINE)
    }

    /// [`Client::read_until`] with an explicit deadline. The suffix is searched anywhere in
    /// what has arrived, and bytes after it stay buffered for the next read.
    pub fn read_until_within(&mut self, suffix: &[u8], limit: Duration) -> Reply {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(pos) = find(&self.pending, suffix) {
                let rest = self.pending.split_off(pos + suffix.len());
                let bytes = std::mem::replace(&mut self.pending, rest);
                return Reply {
                    bytes,
                    closed: false,
                    timed_out: false,
                };
            }
            let now = Instant::now();
            if self.closed || now >= deadline {
                let timed_out = !self.closed;
                return Reply {
                    bytes: std::mem::take(&mut self.pending),
                    closed: self.closed,
                    timed_out,
                };
            }
            self.fill(deadline - now);
        }
    }

    /// Reads `n` bytes (or less if the server closes or the deadline passes).
    pub fn read_exact(&mut self, n: usize) -> Reply {
        let deadline = Instant::now() + REPLY_DEADLINE;
        while self.pending.len() < n && !self.closed {
            let now = Instant::now();
            if now >= deadline {
                return Reply {
                    bytes: std::mem::take(&mut self.pending),
                    closed: false,
                    timed_out: true,
                };
            }
            self.fill(deadline - now);
        }
        let take = n.min(self.pending.len());
        let rest = self.pending.split_off(take);
        Reply {
            bytes: std::mem::replace(&mut self.pending, rest),
            closed: self.closed,
            timed_out: false,
        }
    }

    /// Reads until the server closes the connection (or `limit` passes: `timed_out`).
    pub fn read_to_close(&mut self, limit: Duration) -> Reply {
        let deadline = Instant::now() + limit;
        while !self.closed {
            let now = Instant::now();
            if now >= deadline {
                return Reply {
                    bytes: std::mem::take(&mut self.pending),
                    closed: false,
                    timed_out: true,
                };
            }
            self.fill(deadline - now);
        }
        Reply {
            bytes: std::mem::take(&mut self.pending),
            closed: true,
            timed_out: false,
        }
    }

    /// Collects whatever arrives until the line has been quiet for `quiet` (or the server
    /// closes). Used where the server is expected to send nothing more, e.g. while it waits
    /// for the rest of a data block. Not a timing assertion: a slow server only makes the
    /// caller see its reply later, in the next read.
    pub fn read_quiet(&mut self, quiet: Duration) -> Reply {
        while !self.closed && self.fill(quiet) {}
        Reply {
            bytes: std::mem::take(&mut self.pending),
            closed: self.closed,
            timed_out: false,
        }
    }

    /// Sends `request` and reads through `suffix`.
    pub fn request(&mut self, request: &[u8], suffix: &[u8]) -> Vec<u8> {
        self.send(request);
        let r = self.read_until(suffix);
        assert!(
            !r.timed_out && !r.closed,
            "no {:?} after {:?}; got {:?} (closed {})",
            escape(suffix),
            escape(request),
            escape(&r.bytes),
            r.closed
        );
        r.bytes
    }
}

/// Position of `needle` in `hay`.
pub fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() {
        return Some(0);
    }
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Bytes shown with `\r`, `\n`, `\t`, `\\` and `\xHH` escapes.
pub fn escape(bytes: &[u8]) -> String {
    let mut s = String::new();
    for &b in bytes {
        match b {
            b'\r' => s.push_str("\\r"),
            b'\n' => s.push_str("\\n"),
            b'\t' => s.push_str("\\t"),
            b'\\' => s.push_str("\\\\"),
            0x20..=0x7e => s.push(b as char),
            _ => s.push_str(&format!("\\x{b:02x}")),
        }
    }
    s
}
