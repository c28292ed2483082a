//! Helpers shared by the `reliability_*` tests: process probes (RSS, open descriptors,
//! descriptor flags), `stats` as a map, a spawner for flag sets the common harness does
//! not cover (no `-U 0`, lowered limits), and the `FIGURE` lines `cargo xtask soak`
//! collects into its summary table.
//!
//! Scale: every test runs in CI size by default; `EVCACHED_SOAK=1` (set by
//! `cargo xtask soak`) selects the long versions.
#![allow(dead_code)] // Each reliability test crate uses a different part.

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use crate::support::{self, Client, Kind, Scratch, Server};

/// True for the long (`cargo xtask soak`) versions.
pub fn soak() -> bool {
    std::env::var_os("EVCACHED_SOAK").is_some_and(|v| v != "0" && !v.is_empty())
}

/// `ci` in CI size, `long` under soak.
pub fn scale(ci: usize, long: usize) -> usize {
    if soak() {
        long
    } else {
        ci
    }
}

/// Prints one measured figure for the summary (`cargo xtask soak` greps these lines).
pub fn figure(name: &str, label: &str, value: impl std::fmt::Display) {
    eprintln!("FIGURE {name} | {label} | {value}");
}

/// Raises this test process's open-file soft limit to its hard limit (it is about to
/// open thousands of sockets); returns the new soft limit.
pub fn raise_own_nofile() -> u64 {
    use nix::sys::resource::{getrlimit, setrlimit, Resource};
    let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE).expect("getrlimit");
    if soft < hard {
        let _ = setrlimit(Resource::RLIMIT_NOFILE, hard, hard);
    }
    let now = getrlimit(Resource::RLIMIT_NOFILE).map_or(soft, |l| l.0);
    limit_to_u64(now)
}

/// `rlim_t` is `u64` on Linux but `i64` on FreeBSD; a negative value means unlimited.
fn limit_to_u64<T: TryInto<u64>>(limit: T) -> u64 {
    limit.try_into().unwrap_or(u64::MAX)
}

/// Resident set size of `pid` in KiB.
pub fn rss_kib(pid: u32) -> u64 {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// Number of open descriptors of `pid`.
pub fn fd_count(pid: u32) -> usize {
    fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|d| d.count())
        .unwrap_or(0)
}

/// Every descriptor of `pid` with its `flags:` word from fdinfo (octal) and its target.
pub fn fd_flags(pid: u32) -> Vec<(u32, u32, String)> {
    let mut v = Vec::new();
    let Ok(dir) = fs::read_dir(format!("/proc/{pid}/fdinfo")) else {
        return v;
    };
    for e in dir.flatten() {
        let Some(fd) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
            continue;
        };
        let info = fs::read_to_string(e.path()).unwrap_or_default();
        let flags = info
            .lines()
            .find_map(|l| l.strip_prefix("flags:"))
            .and_then(|f| u32::from_str_radix(f.trim(), 8).ok())
            .unwrap_or(0);
        let target = fs::read_link(format!("/proc/{pid}/fd/{fd}"))
            .map(|p| p.display().to_string())
            .unwrap_or_default();
        v.push((fd, flags, target));
    }
    v.sort();
    v
}

/// `stats` as a name → value map.
pub fn stats(c: &mut Client) -> HashMap<String, String> {
    let bytes = c.request(b"stats\r\n", b"END\r\n");
    String::from_utf8_lossy(&bytes)
        .lines()
        .filter_map(|l| {
            let mut w = l.strip_prefix("STAT ")?.splitn(2, ' ');
            Some((w.next()?.to_string(), w.next()?.to_string()))
        })
        .collect()
}

/// One numeric `stats` field.
pub fn stat(c: &mut Client, name: &str) -> u64 {
    stats(c)
        .get(name)
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no numeric stat {name}"))
}

/// Polls until `f` holds or `limit` passes; returns whether it held.
pub fn wait_for(limit: Duration, mut f: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        if f() {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        thread::sleep(Duration::from_millis(20));
    }
}

/// evcached, then memcached when installed, both started with `flags`.
pub fn both(test: &str, flags: &[&str]) -> Vec<Server> {
    let mut v = vec![Server::evcached(flags)];
    if let Some(m) = Server::memcached(test, flags) {
        v.push(m);
    }
    v
}

/// A server process started with exactly the given arguments (plus the port file and,
/// as root, `-u root`), for the cases the common harness's fixed flags do not fit.
pub struct Proc {
    /// The child.
    pub child: Child,
    /// Every line of the port file.
    pub port_lines: Vec<String>,
    /// The first TCP port (0 if none).
    pub port: u16,
    scratch: Scratch,
}

impl Proc {
    /// Starts `kind` with `args`; `adjust` may change the command (environment, limits).
    pub fn start(kind: &Kind, args: &[&str], adjust: impl FnOnce(&mut Command)) -> Proc {
        let program = match kind {
            Kind::Evcached(_) => support::evcached_bin(),
            Kind::Memcached => support::memcached_bin().expect("memcached installed"),
        };
        let scratch = Scratch::new("rel");
        // A server that drops privileges (`-u`) before writing its port file must be able
        // to write there.
        {
            use std::os::unix::fs::PermissionsExt;
            let _ = fs::set_permissions(scratch.path(), fs::Permissions::from_mode(0o777));
        }
        let ports = scratch.path().join("ports");
        let err = scratch.path().join("stderr");
        let mut cmd = Command::new(&program);
        if support::running_as_root() && !args.contains(&"-u") {
            cmd.args(["-u", "root"]);
        }
        cmd.args(args)
            .env("MEMCACHED_PORT_FILENAME", &ports)
            .env_remove("EVCACHED_BACKEND")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(fs::File::create(&err).expect("stderr file"));
        adjust(&mut cmd);
        let child = cmd.spawn().expect("spawn server");
        let mut p = Proc {
            child,
            port_lines: Vec::new(),
            port: 0,
            scratch,
        };
        let ok = wait_for(support::START_DEADLINE, || {
            if let Ok(text) = fs::read_to_string(&ports) {
                if text.ends_with('\n') || !text.is_empty() {
                    p.port_lines = text.lines().map(str::to_string).collect();
                    return true;
                }
            }
            matches!(p.child.try_wait(), Ok(Some(_)))
        });
        assert!(ok, "{program:?} wrote no port file; stderr: {}", p.stderr());
        p.port = p
            .port_lines
            .iter()
            .find_map(|l| l.strip_prefix("TCP INET: "))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0);
        p
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// What it printed on stderr.
    pub fn stderr(&self) -> String {
        fs::read_to_string(self.scratch.path().join("stderr")).unwrap_or_default()
    }

    /// Its private directory (for unix sockets).
    pub fn dir(&self) -> PathBuf {
        self.scratch.path().to_path_buf()
    }

    /// A client on its TCP port.
    pub fn connect(&self) -> Client {
        Client::connect(self.port)
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Waits (bounded) for `child` to exit; returns its exit code and how long it took.
pub fn wait_exit(child: &mut Child, limit: Duration) -> Option<(Option<i32>, Duration)> {
    let start = Instant::now();
    while start.elapsed() < limit {
        if let Ok(Some(status)) = child.try_wait() {
            return Some((status.code(), start.elapsed()));
        }
        thread::sleep(Duration::from_millis(5));
    }
    None
}

/// Sends `signal` to exactly `pid`.
pub fn signal(pid: u32, signal: nix::sys::signal::Signal) {
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid as i32), signal).expect("kill");
}

/// A path that exists only as long as `dir`.
pub fn in_dir(dir: &Path, name: &str) -> String {
    dir.join(name).display().to_string()
}
