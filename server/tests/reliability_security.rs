//! Security defaults: UDP off unless asked for, every descriptor close-on-exec, privilege
//! drop with `-u` when started as root, unix socket permissions from `-a`, and no key or
//! value bytes in the log below `-vv`. evcached beside memcached 1.6.18.

mod reliability_support;
mod support;

use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Stdio};
use std::time::Duration;

use reliability_support::*;
use support::{Kind, Scratch};

fn kinds() -> Vec<Kind> {
    let mut v = vec![Kind::Evcached(None)];
    if support::memcached_or_skip("security").is_some() {
        v.push(Kind::Memcached);
    }
    v
}

#[test]
fn udp_is_off_unless_asked_for() {
    for kind in kinds() {
        let p = Proc::start(&kind, &["-p", "-1", "-l", "127.0.0.1"], |_| {});
        let udp: Vec<_> = p
            .port_lines
            .iter()
            .filter(|l| l.starts_with("UDP"))
            .collect();
        figure("UDP listeners by default", &kind.label(), udp.len());
        assert!(
            udp.is_empty(),
            "{}: UDP on by default: {udp:?}",
            kind.label()
        );
        let p = Proc::start(&kind, &["-p", "-1", "-U", "-1", "-l", "127.0.0.1"], |_| {});
        assert!(
            p.port_lines.iter().any(|l| l.starts_with("UDP INET: ")),
            "{}: -U -1 bound no UDP port: {:?}",
            kind.label(),
            p.port_lines
        );
    }
}

#[test]
fn every_descriptor_is_close_on_exec() {
    const O_CLOEXEC: u32 = 0o2000000;
    for kind in kinds() {
        let label = kind.label();
        let p = Proc::start(
            &kind,
            &["-p", "-1", "-U", "-1", "-l", "127.0.0.1", "-t", "4"],
            |_| {},
        );
        let mut clients: Vec<_> = (0..3).map(|_| p.connect()).collect();
        for c in &mut clients {
            c.request(b"version\r\n", b"\r\n");
        }
        let leaks: Vec<_> = fd_flags(p.pid())
            .into_iter()
            .filter(|(fd, flags, _)| *fd > 2 && flags & O_CLOEXEC == 0)
            // Descriptors this test process itself passes to its children are inherited,
            // not the server's own.
            .filter(|(fd, _, _)| {
                let own = std::fs::read_to_string(format!("/proc/self/fdinfo/{fd}"));
                !own.is_ok_and(|i| {
                    i.lines()
                        .find_map(|l| l.strip_prefix("flags:"))
                        .and_then(|f| u32::from_str_radix(f.trim(), 8).ok())
                        .is_some_and(|f| f & O_CLOEXEC == 0)
                })
            })
            .collect();
        figure(
            "descriptors without close-on-exec (beyond 0-2)",
            &label,
            leaks.len(),
        );
        if matches!(kind, Kind::Evcached(_)) {
            assert!(
                leaks.is_empty(),
                "{label}: inheritable descriptors: {leaks:?}"
            );
        }
    }
}

#[test]
fn u_drops_root_privileges() {
    if !support::running_as_root() {
        eprintln!("*** SKIPPING -u test: not running as root ***");
        return;
    }
    for kind in kinds() {
        let p = Proc::start(
            &kind,
            &["-p", "-1", "-l", "127.0.0.1", "-u", "nobody"],
            |_| {},
        );
        let status = std::fs::read_to_string(format!("/proc/{}/status", p.pid())).unwrap();
        let uid_line = status.lines().find(|l| l.starts_with("Uid:")).unwrap_or("");
        let uids: Vec<u32> = uid_line
            .split_whitespace()
            .skip(1)
            .filter_map(|v| v.parse().ok())
            .collect();
        figure(
            "uids after -u nobody (real eff saved fs)",
            &kind.label(),
            format!("{uids:?}"),
        );
        assert!(
            uids.len() == 4 && uids.iter().all(|&u| u != 0),
            "{}: still root after -u nobody: {uid_line}",
            kind.label()
        );
        let mut c = p.connect();
        c.request(b"version\r\n", b"\r\n");
    }
}

#[test]
fn unix_socket_mode_follows_a() {
    for kind in kinds() {
        for (mask, want) in [("600", 0o600), ("0644", 0o644)] {
            let dir = Scratch::new("sock");
            let path = in_dir(dir.path(), "mc.sock");
            let program = match &kind {
                Kind::Evcached(_) => support::evcached_bin(),
                Kind::Memcached => support::memcached_bin().unwrap(),
            };
            let mut cmd = Command::new(program);
            if support::running_as_root() {
                cmd.args(["-u", "root"]);
            }
            let mut child = cmd
                .args(["-s", &path, "-a", mask])
                .env_remove("EVCACHED_BACKEND")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("spawn");
            let up = wait_for(Duration::from_secs(20), || {
                std::os::unix::net::UnixStream::connect(&path).is_ok()
            });
            let mode = std::fs::metadata(&path).map(|m| m.permissions().mode() & 0o777);
            let _ = child.kill();
            let _ = child.wait();
            assert!(up, "{}: unix socket {path} never accepted", kind.label());
            let mode = mode.expect("socket file");
            figure(
                &format!("-a {mask}: socket mode"),
                &kind.label(),
                format!("{mode:o}"),
            );
            assert_eq!(mode, want, "{}: -a {mask}", kind.label());
        }
    }
}

#[test]
fn keys_and_values_stay_out_of_logs_below_vv() {
    for kind in kinds() {
        for (flag, must_hide) in [("-v", true), ("-vv", false)] {
            let p = Proc::start(&kind, &["-p", "-1", "-l", "127.0.0.1", flag], |_| {});
            let mut c = p.connect();
            c.request(b"set SECRETKEY123 0 0 14\r\nSECRETVALUE456\r\n", b"\r\n");
            c.request(b"get SECRETKEY123\r\n", b"END\r\n");
            c.request(b"bogus SECRETKEY123\r\n", b"\r\n");
            drop(c);
            std::thread::sleep(Duration::from_millis(200));
            let log = p.stderr();
            let key = log.contains("SECRETKEY123");
            let value = log.contains("SECRETVALUE456");
            figure(
                &format!("{flag}: key / value bytes in the log"),
                &kind.label(),
                format!("{key} / {value}"),
            );
            if must_hide {
                assert!(
                    !key && !value,
                    "{}: {flag} logged client data:\n{log}",
                    kind.label()
                );
            }
        }
    }
}
