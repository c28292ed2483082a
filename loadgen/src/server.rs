//! Starting a memcached-compatible server on an ephemeral loopback port, the way tests and
//! `cargo xtask compare` need it: `-p -1` plus `MEMCACHED_PORT_FILENAME`, killed on drop.

use std::ffi::OsString;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// A running server process, killed (by its PID) when dropped.
#[derive(Debug)]
pub struct ServerProcess {
    child: Child,
    addr: SocketAddr,
    port_file: PathBuf,
}

/// Distinguishes the port files of servers started by one process.
static NEXT: AtomicU32 = AtomicU32::new(0);

impl ServerProcess {
    /// Starts `command` (a program and its leading arguments, e.g. `taskset -c 1
    /// /usr/bin/memcached`) with `args` plus `-p -1 -U 0 -l 127.0.0.1` (and `-u root` when
    /// running as root, which memcached requires), and waits up to 10 s for its port.
    pub fn start(command: &[OsString], args: &[&str]) -> Result<Self, String> {
        let (program, leading) = command.split_first().ok_or("no server command given")?;
        let port_file = std::env::temp_dir().join(format!(
            "evcached-loadgen-{}-{}.port",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_file(&port_file);
        let mut cmd = Command::new(program);
        cmd.args(leading)
            .args(["-p", "-1", "-U", "0", "-l", "127.0.0.1"])
            .args(args)
            .env("MEMCACHED_PORT_FILENAME", &port_file)
            .stdin(Stdio::null())
            .stdout(Stdio::null());
        if running_as_root() {
            cmd.args(["-u", "root"]);
        }
        let child = cmd
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", program.to_string_lossy()))?;
        let mut server = Self {
            child,
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            port_file,
        };
        let port = server.wait_for_port()?;
        server.addr.set_port(port);
        Ok(server)
    }

    /// Polls for the port file; fails when the server exits or 10 s pass.
    fn wait_for_port(&mut self) -> Result<u16, String> {
        let give_up = Instant::now() + Duration::from_secs(10);
        loop {
            if let Ok(text) = std::fs::read_to_string(&self.port_file) {
                let port = text
                    .lines()
                    .find_map(|l| l.strip_prefix("TCP INET: "))
                    .and_then(|p| p.trim().parse().ok());
                if let Some(port) = port {
                    return Ok(port);
                }
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!("server exited at start-up ({status})"));
            }
            if Instant::now() > give_up {
                return Err("server did not report its port within 10 s".into());
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// The loopback address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Its process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// True while the process runs.
    pub fn running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.port_file);
    }
}

/// True when this process runs with user id 0 (read from `/proc`; false where it is absent).
fn running_as_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Uid:"))
                .and_then(|ids| ids.split_whitespace().nth(1).map(|e| e == "0"))
        })
        .unwrap_or(false)
}
