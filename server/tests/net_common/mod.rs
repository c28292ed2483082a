//! Helpers for the `net_*` integration tests: start the real `evcached` binary on an
//! ephemeral loopback port (found through `MEMCACHED_PORT_FILENAME`), talk to it, and kill
//! it by PID when the test ends.

#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// Every test's I/O deadline.
pub const IO_TIMEOUT: Duration = Duration::from_secs(20);

/// The event backends this host offers to the binary (`-o ev_backend=`).
pub const BACKENDS: &[&str] = &["native", "portable"];

#[path = "../support/scratch.rs"]
mod scratch;
use scratch::running_as_root;

static SEQ: AtomicUsize = AtomicUsize::new(0);

/// A running server, killed on drop.
pub struct Server {
    child: Option<Child>,
    /// TCP port (0 when there is no TCP listener).
    pub port: u16,
    /// UDP port (0 when UDP is off).
    pub udp_port: u16,
    dir: PathBuf,
}

/// A fresh scratch directory under the system temp dir.
pub fn scratch_dir() -> PathBuf {
    let n = SEQ.fetch_add(1, Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("evcached-net-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir
}

impl Server {
    /// Starts `evcached` on `backend` with `args` (added after `-p -1 -l 127.0.0.1`).
    pub fn start(backend: &str, args: &[&str]) -> Server {
        Self::start_raw(backend, &["-p", "-1", "-l", "127.0.0.1"], args)
    }

    /// Starts `evcached` with exactly `base` + `args` (plus the backend and `-u`).
    pub fn start_raw(backend: &str, base: &[&str], args: &[&str]) -> Server {
        Self::start_cmd(
            Command::new(env!("CARGO_BIN_EXE_evcached")),
            backend,
            base,
            args,
        )
    }

    /// Starts `evcached` under a hard `RLIMIT_NOFILE` of `nofile` (set by `sh`'s `ulimit`).
    pub fn start_with_nofile(backend: &str, nofile: u32, args: &[&str]) -> Server {
        let mut cmd = Command::new("sh");
        cmd.arg("-c")
            .arg(format!("ulimit -n {nofile} && exec \"$0\" \"$@\""))
            .arg(env!("CARGO_BIN_EXE_evcached"));
        Self::start_cmd(cmd, backend, &["-p", "-1", "-l", "127.0.0.1"], args)
    }

    fn start_cmd(mut cmd: Command, backend: &str, base: &[&str], args: &[&str]) -> Server {
        let dir = scratch_dir();
        let ports = dir.join("ports");
        cmd.args(base)
            .args(args)
            .arg("-o")
            .arg(format!("ev_backend={backend}"));
        if running_as_root() {
            cmd.args(["-u", "root"]);
        }
        cmd.env("MEMCACHED_PORT_FILENAME", &ports)
            .stdin(Stdio::null());
        let child = cmd.spawn().expect("spawn evcached");
        let mut s = Server {
            child: Some(child),
            port: 0,
            udp_port: 0,
            dir,
        };
        let deadline = Instant::now() + IO_TIMEOUT;
        loop {
            if let Ok(text) = std::fs::read_to_string(&ports) {
                for line in text.lines() {
                    let port: u16 = line
                        .rsplit(": ")
                        .next()
                        .and_then(|p| p.parse().ok())
                        .unwrap_or(0);
                    if line.starts_with("TCP") && s.port == 0 {
                        s.port = port;
                    } else if line.starts_with("UDP") && s.udp_port == 0 {
                        s.udp_port = port;
                    }
                }
                return s;
            }
            if let Some(st) = s.child.as_mut().and_then(|c| c.try_wait().ok().flatten()) {
                panic!("evcached exited during start-up: {st}");
            }
            assert!(
                Instant::now() < deadline,
                "evcached did not write its port file"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The scratch directory of this server (for unix sockets).
    pub fn dir(&self) -> &PathBuf {
        &self.dir
    }

    /// A new client connection.
    pub fn connect(&self) -> Client {
        let s = TcpStream::connect(("127.0.0.1", self.port)).expect("connect");
        s.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
        s.set_write_timeout(Some(IO_TIMEOUT)).unwrap();
        s.set_nodelay(true).unwrap();
        Client { s }
    }

    /// The child's PID.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().map(|c| c.id()).unwrap_or(0)
    }

    /// Sends a signal by PID and waits (bounded) for the exit status.
    pub fn signal_and_wait(&mut self, sig: &str) -> ExitStatus {
        let pid = self.pid().to_string();
        Command::new("kill")
            .args(["-s", sig, &pid])
            .status()
            .expect("kill");
        self.wait_exit()
    }

    /// Waits (bounded) for the server to exit by itself.
    pub fn wait_exit(&mut self) -> ExitStatus {
        let deadline = Instant::now() + IO_TIMEOUT;
        let child = self.child.as_mut().expect("running");
        loop {
            if let Some(st) = child.try_wait().expect("wait") {
                self.child = None;
                return st;
            }
            assert!(Instant::now() < deadline, "evcached did not exit");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A blocking test client.
pub struct Client {
    /// The socket.
    pub s: TcpStream,
}

impl Client {
    /// Sends `data`.
    pub fn send(&mut self, data: &[u8]) {
        self.s.write_all(data).expect("write");
    }

    /// Reads exactly `n` bytes.
    pub fn read_exact(&mut self, n: usize) -> Vec<u8> {
        let mut buf = vec![0; n];
        self.s.read_exact(&mut buf).expect("read_exact");
        buf
    }

    /// Reads until the buffer ends with `end`.
    pub fn read_until(&mut self, end: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        let mut buf = [0u8; 65536];
        while !out.ends_with(end) {
            let n = self.s.read(&mut buf).expect("read");
            assert!(
                n > 0,
                "closed early; got {:?}",
                String::from_utf8_lossy(&out)
            );
            out.extend_from_slice(&buf[..n]);
        }
        out
    }

    /// Sends `req` and reads exactly as many bytes as `expect` has, then compares.
    pub fn roundtrip(&mut self, req: &[u8], expect: &[u8]) {
        self.send(req);
        let got = self.read_exact(expect.len());
        assert_eq!(
            String::from_utf8_lossy(&got),
            String::from_utf8_lossy(expect)
        );
    }

    /// True when the server closes the connection (reads EOF within the deadline).
    pub fn is_closed(&mut self) -> bool {
        let mut buf = [0u8; 1024];
        loop {
            match self.s.read(&mut buf) {
                Ok(0) => return true,
                Ok(_) => continue,
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return true,
                Err(_) => return false,
            }
        }
    }
}

/// Generates one `#[test]` per backend for each listed test function `fn name(backend: &str)`.
#[macro_export]
macro_rules! per_backend {
    ($($name:ident),* $(,)?) => {
        mod native {
            $(#[test] fn $name() { super::$name("native"); })*
        }
        mod portable {
            $(#[test] fn $name() { super::$name("portable"); })*
        }
    };
}
