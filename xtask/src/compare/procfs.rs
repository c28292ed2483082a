//! What Linux's `/proc` says about a server process: CPU time and resident memory.

use std::process::Command;

/// Clock ticks per second of `/proc/PID/stat` times (`getconf CLK_TCK`, normally 100).
pub fn clock_ticks() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse::<f64>().ok())
        .filter(|&t| t > 0.0)
        .unwrap_or(100.0)
}

/// CPU seconds a process (all its threads) has used so far, split by mode.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct CpuTimes {
    /// In user space (utime).
    pub user: f64,
    /// In the kernel on its behalf (stime): system calls, and here loopback TCP.
    pub sys: f64,
}

impl std::ops::Sub for CpuTimes {
    type Output = CpuTimes;

    fn sub(self, earlier: CpuTimes) -> CpuTimes {
        CpuTimes {
            user: self.user - earlier.user,
            sys: self.sys - earlier.sys,
        }
    }
}

/// The CPU times of process `pid` so far.
pub fn cpu_times(pid: u32, ticks: f64) -> Result<CpuTimes, String> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map_err(|e| format!("/proc/{pid}/stat: {e}"))?;
    let (user, sys) =
        parse_cpu_ticks(&stat).ok_or_else(|| format!("/proc/{pid}/stat: unexpected format"))?;
    Ok(CpuTimes {
        user: user as f64 / ticks,
        sys: sys as f64 / ticks,
    })
}

/// utime and stime (fields 14 and 15) of a `/proc/PID/stat` line. The command name in
/// parentheses may hold spaces, so fields are counted after its closing parenthesis.
fn parse_cpu_ticks(stat: &str) -> Option<(u64, u64)> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace();
    // After ")" comes field 3 (state); utime is field 14, i.e. the 12th from here.
    let utime: u64 = fields.nth(11)?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some((utime, stime))
}

/// Resident set size in bytes (`VmRSS` of `/proc/PID/status`).
pub fn rss_bytes(pid: u32) -> Result<u64, String> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .map_err(|e| format!("/proc/{pid}/status: {e}"))?;
    parse_rss(&status).ok_or_else(|| format!("/proc/{pid}/status: no VmRSS"))
}

fn parse_rss(status: &str) -> Option<u64> {
    let kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()?;
    Some(kb * 1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_stat_with_odd_command_names() {
        let stat = "42 (mem cached) S 1 42 42 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 3 0";
        assert_eq!(parse_cpu_ticks(stat), Some((250, 50)));
        assert_eq!(parse_cpu_ticks("garbage"), None);
    }

    #[test]
    fn parses_rss() {
        let status = "Name:\tmemcached\nVmPeak:\t  1000 kB\nVmRSS:\t    2048 kB\n";
        assert_eq!(parse_rss(status), Some(2048 * 1024));
        assert_eq!(parse_rss("Name: x\n"), None);
    }

    #[test]
    fn reads_this_process() {
        let pid = std::process::id();
        assert!(rss_bytes(pid).unwrap() > 0);
        let t = cpu_times(pid, clock_ticks()).unwrap();
        assert!(t.user >= 0.0 && t.sys >= 0.0);
    }

    #[test]
    fn cpu_times_subtract_per_mode() {
        let later = CpuTimes {
            user: 2.5,
            sys: 1.0,
        };
        let earlier = CpuTimes {
            user: 1.0,
            sys: 0.5,
        };
        assert_eq!(
            later - earlier,
            CpuTimes {
                user: 1.5,
                sys: 0.5
            }
        );
    }
}
