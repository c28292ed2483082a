//! `cargo xtask <command>`: the project's automation, in Rust so it runs wherever cargo does.

mod bench;
mod ci;
mod cluster;
mod compare;
mod cross_check;
mod fuzz;
mod soak;
mod util;

use std::process::ExitCode;

const USAGE: &str = "\
usage: cargo xtask <command>

commands:
  bench         [-p PKG] [--quick] every criterion bench; prints the HTML report path
  ci            fmt check, clippy -D warnings, every test (what .ci/run runs)
  cluster       [--servers N] [--eject] [--backend-bin PATH] evcached pool behind nutcracker
  compare       [--quick] evcached vs memcached side by side (table, JSON, SVG chart)
  cross-check   [TARGET...] check + clippy the workspace for macOS, FreeBSD, NetBSD, illumos
  fuzz          [SECONDS] [--dev] [TARGET...] every fuzz target for SECONDS each (default 60)
  soak          [--dev] [--fuzz SECONDS] long reliability runs, evcached vs memcached, summary table
";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(cmd) = args.first() else {
        eprint!("{USAGE}");
        return ExitCode::from(2);
    };
    let rest = &args[1..];
    let result = match cmd.as_str() {
        "bench" => bench::run(rest),
        "ci" => ci::run(rest),
        "cluster" => cluster::run(rest),
        "compare" => compare::run(rest),
        "cross-check" => cross_check::run(rest),
        "fuzz" => fuzz::run(rest),
        "soak" => soak::run(rest),
        "-h" | "--help" | "help" => {
            print!("{USAGE}");
            Ok(())
        }
        other => Err(format!("unknown command `{other}`\n{USAGE}")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: {e}");
            ExitCode::FAILURE
        }
    }
}
