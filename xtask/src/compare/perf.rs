//! Counting a process's system calls with `perf stat -e raw_syscalls:sys_enter`.

use std::process::Command;
use std::time::{Duration, Instant};

/// The tracepoint counted: every system call entry.
const EVENT: &str = "raw_syscalls:sys_enter";

/// A working `perf`.
#[derive(Debug)]
pub struct Perf;

impl Perf {
    /// Finds `perf` (installing Debian's linux-perf when missing and running as root)
    /// and checks that the syscall tracepoint can be counted here; the error says why not.
    pub fn detect() -> Result<Self, String> {
        if !crate::util::have("perf", &["--version"]) {
            if !super::is_root() {
                return Err("perf is missing; apt-get install linux-perf as root".into());
            }
            super::apt_install("linux-perf")?;
        }
        let out = Command::new("perf")
            .args(["stat", "-e", EVENT, "-x", ",", "--", "true"])
            .output()
            .map_err(|e| format!("perf: {e}"))?;
        match parse_count(&String::from_utf8_lossy(&out.stderr)) {
            Some(_) if out.status.success() => Ok(Self),
            _ => Err(format!(
                "perf cannot count {EVENT} here: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            )),
        }
    }

    /// Counts the system calls of every thread of `pid` for about `window`; returns the
    /// count and the seconds it covered.
    pub fn count(&self, pid: u32, window: Duration) -> Result<(u64, f64), String> {
        let start = Instant::now();
        let out = Command::new("perf")
            .args(["stat", "-e", EVENT, "-x", ",", "-p", &pid.to_string(), "--"])
            .args(["sleep", &format!("{:.3}", window.as_secs_f64())])
            .output()
            .map_err(|e| format!("perf: {e}"))?;
        let secs = start.elapsed().as_secs_f64();
        let text = String::from_utf8_lossy(&out.stderr);
        parse_count(&text)
            .map(|n| (n, secs))
            .ok_or_else(|| format!("perf stat gave no count: {}", text.trim()))
    }
}

/// The count from `perf stat -x ,` output (`<count>,<unit>,<event>,...`).
fn parse_count(text: &str) -> Option<u64> {
    text.lines().find_map(|l| {
        let mut f = l.split(',');
        let count = f.next()?;
        let _unit = f.next()?;
        (f.next()? == EVENT).then(|| count.trim().parse().ok())?
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_csv_output() {
        let text = "12345,,raw_syscalls:sys_enter,7741788,100.00,,\n";
        assert_eq!(parse_count(text), Some(12345));
        assert_eq!(
            parse_count("<not supported>,,raw_syscalls:sys_enter,0,100.00,,"),
            None
        );
        assert_eq!(parse_count("garbage"), None);
    }
}
