//! Counting a server's system calls and context switches with `perf stat`.

use std::ffi::OsString;
use std::path::Path;
use std::process::Command;

/// Every system call entry.
const SYSCALLS: &str = "raw_syscalls:sys_enter";
/// Every time one of the process's threads leaves a CPU (a software event, so it works
/// on VMs without hardware counters).
const SWITCHES: &str = "context-switches";

/// What one `perf stat` run counted.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Counts {
    /// System calls entered.
    pub syscalls: u64,
    /// Context switches.
    pub context_switches: u64,
}

/// A working `perf`.
#[derive(Debug)]
pub struct Perf;

impl Perf {
    /// Finds `perf` (installing Debian's linux-perf when missing and running as root)
    /// and checks that both events can be counted here; the error says why not.
    pub fn detect() -> Result<Self, String> {
        if !crate::util::have("perf", &["--version"]) {
            if !super::is_root() {
                return Err("perf is missing; apt-get install linux-perf as root".into());
            }
            super::apt_install("linux-perf")?;
        }
        let out = Command::new("perf")
            .args(["stat", "-e", &events(), "-x", ",", "--", "true"])
            .output()
            .map_err(|e| format!("perf: {e}"))?;
        let text = String::from_utf8_lossy(&out.stderr);
        match parse_counts(&text) {
            Some(_) if out.status.success() => Ok(Self),
            _ => Err(format!(
                "perf cannot count {} here: {}",
                events(),
                text.trim()
            )),
        }
    }

    /// `perf stat` counting the process `pid` (all its threads) while `command` runs:
    /// the counters are enabled before the command starts and read when it exits, and
    /// the exit status is the command's. The counts go to `counts_file` (see
    /// [`read_counts`]), leaving the command's own stdout and stderr untouched.
    pub fn around(&self, pid: u32, counts_file: &Path, command: &[OsString]) -> Command {
        let mut cmd = Command::new("perf");
        cmd.args(["stat", "-e", &events(), "-x", ","])
            .arg("-o")
            .arg(counts_file)
            .args(["-p", &pid.to_string(), "--"])
            .args(command);
        cmd
    }
}

/// The counts a [`Perf::around`] run wrote to `counts_file`.
pub fn read_counts(counts_file: &Path) -> Result<Counts, String> {
    let text = std::fs::read_to_string(counts_file)
        .map_err(|e| format!("perf wrote no counts ({}: {e})", counts_file.display()))?;
    parse_counts(&text).ok_or_else(|| format!("perf stat gave no counts: {}", text.trim()))
}

/// The `-e` argument.
fn events() -> String {
    format!("{SYSCALLS},{SWITCHES}")
}

/// Both counts from `perf stat -x ,` output.
fn parse_counts(text: &str) -> Option<Counts> {
    Some(Counts {
        syscalls: parse_count(text, SYSCALLS)?,
        context_switches: parse_count(text, SWITCHES)?,
    })
}

/// The count of `event` in `perf stat -x ,` output (`<count>,<unit>,<event>,...`).
fn parse_count(text: &str, event: &str) -> Option<u64> {
    text.lines().find_map(|l| {
        let mut f = l.split(',');
        let count = f.next()?;
        let _unit = f.next()?;
        (f.next()? == event).then(|| count.trim().parse().ok())?
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_csv_output() {
        let text = "# started on Mon Nov 30 09:06:08 2026\n\n\
                    12345,,raw_syscalls:sys_enter,7741788,100.00,,\n\
                    67,,context-switches,7741788,100.00,,\n";
        assert_eq!(
            parse_counts(text),
            Some(Counts {
                syscalls: 12345,
                context_switches: 67
            })
        );
        let unsupported = "<not supported>,,raw_syscalls:sys_enter,0,100.00,,\n\
                           3,,context-switches,7741788,100.00,,\n";
        assert_eq!(parse_counts(unsupported), None);
        assert_eq!(parse_count(unsupported, SWITCHES), Some(3));
        assert_eq!(parse_counts("garbage"), None);
    }

    #[test]
    fn wraps_the_command() {
        let cmd = Perf.around(42, Path::new("/tmp/c.csv"), &["taskset".into(), "x".into()]);
        let args: Vec<_> = cmd.get_args().map(|a| a.to_string_lossy()).collect();
        assert_eq!(
            args.join(" "),
            "stat -e raw_syscalls:sys_enter,context-switches -x , -o /tmp/c.csv -p 42 -- taskset x"
        );
    }
}
