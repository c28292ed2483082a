//! The `evcached` binary: memcached's command line, then the server.
//!
//! ```text
//! evcached -p 11211 -l 127.0.0.1 -m 64 -t 4
//! ```
//!
//! The event backend is the platform's native one (epoll, kqueue, event ports); run with
//! `-o ev_backend=portable` or `EVCACHED_BACKEND=portable` to use the portable backend.

use std::process::ExitCode;

use evcached::settings::{self, Parsed};

fn main() -> ExitCode {
    let parsed = match settings::parse(std::env::args_os().skip(1)) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("{}", e.message);
            return ExitCode::from(e.exit_code as u8);
        }
    };
    let settings = match parsed {
        Parsed::Run(s) => *s,
        Parsed::Help(t) | Parsed::Version(t) | Parsed::License(t) => {
            print!("{t}");
            return ExitCode::SUCCESS;
        }
    };
    if let Err(e) = settings.check_root(nix::unistd::geteuid().is_root()) {
        eprintln!("{}", e.message);
        return ExitCode::from(e.exit_code as u8);
    }
    for w in &settings.warnings {
        eprintln!("{w}");
    }
    // Daemonize before any event base exists (kqueues are not inherited across fork).
    if settings.daemonize {
        if let Err(e) = daemonize(&settings) {
            eprintln!("failed to daemon() in order to daemonize: {e}");
            return ExitCode::from(71);
        }
    }
    match evcached::server::run(settings) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{e}");
            ExitCode::from(71)
        }
    }
}

cfg_if::cfg_if! {
    if #[cfg(any(
        target_os = "linux",
        target_os = "android",
        target_os = "freebsd",
        target_os = "netbsd",
        target_os = "openbsd",
        target_os = "dragonfly",
        target_os = "illumos",
        target_os = "solaris"
    ))] {
        fn daemonize(s: &settings::Settings) -> Result<(), String> {
            nix::unistd::daemon(false, s.verbose > 0).map_err(|e| e.to_string())?;
            write_pidfile(s)
        }
    } else {
        fn daemonize(s: &settings::Settings) -> Result<(), String> {
            // No daemon(3) binding here: stay in the foreground and still honour -P.
            write_pidfile(s)
        }
    }
}

fn write_pidfile(s: &settings::Settings) -> Result<(), String> {
    if let Some(p) = &s.pidfile {
        std::fs::write(p, format!("{}\n", std::process::id())).map_err(|e| {
            format!(
                "Could not open the pid file {} for writing: {e}",
                p.display()
            )
        })?;
    }
    Ok(())
}
