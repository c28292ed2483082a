//! `evcached-fuzz`: the stable-toolchain fuzzer (what `cargo xtask fuzz` and CI run).
//!
//! ```text
//! evcached-fuzz list
//! evcached-fuzz run [--seconds N] [--seed S] [TARGET...]      N seconds per target
//! evcached-fuzz replay TARGET FILE...                           re-run saved inputs
//! ```

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use evcached_fuzz::{runner, target, TARGETS};

const USAGE: &str =
    "usage: evcached-fuzz list | run [--seconds N] [--seed S] [TARGET...] | replay TARGET FILE...";

fn fuzz_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("list") => {
            for t in TARGETS {
                println!("{:<10} {}", t.name, t.about);
            }
            ExitCode::SUCCESS
        }
        Some("run") => run(&args[1..]),
        Some("replay") => replay(&args[1..]),
        _ => {
            eprintln!("{USAGE}");
            ExitCode::from(2)
        }
    }
}

fn run(args: &[String]) -> ExitCode {
    let mut seconds = 10.0f64;
    let mut seed = 0x5eed_u64;
    let mut names = Vec::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--seconds" => match it.next().and_then(|v| v.parse().ok()) {
                Some(v) => seconds = v,
                None => return usage(),
            },
            "--seed" => match it.next().and_then(|v| v.parse().ok()) {
                Some(v) => seed = v,
                None => return usage(),
            },
            name => names.push(name.to_string()),
        }
    }
    let targets: Vec<_> = if names.is_empty() {
        TARGETS.iter().collect()
    } else {
        let mut v = Vec::new();
        for n in &names {
            match target(n) {
                Some(t) => v.push(t),
                None => {
                    eprintln!("unknown target {n}; try `evcached-fuzz list`");
                    return ExitCode::from(2);
                }
            }
        }
        v
    };
    let artifacts = fuzz_dir().join("artifacts");
    let mut failed = false;
    let mut total = 0u64;
    for t in targets {
        let seeds = runner::load_corpus(&fuzz_dir().join("corpus").join(t.corpus));
        match runner::fuzz(
            t,
            &seeds,
            Duration::from_secs_f64(seconds),
            seed,
            &artifacts,
        ) {
            Ok(r) => {
                let secs = r.elapsed.as_secs_f64();
                println!(
                    "fuzz {:<10} {:>9} execs in {:>5.1} s ({:>7.0}/s), {} seeds, {} reply shapes, pool {}",
                    r.target,
                    r.execs,
                    secs,
                    r.execs as f64 / secs.max(1e-9),
                    r.seeds,
                    r.shapes,
                    r.pool
                );
                total += r.execs;
            }
            Err(e) => {
                eprintln!("FAILED {e}");
                failed = true;
            }
        }
    }
    println!("fuzz total: {total} execs");
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

fn replay(args: &[String]) -> ExitCode {
    let Some(t) = args.first().and_then(|n| target(n)) else {
        return usage();
    };
    let mut failed = false;
    for f in &args[1..] {
        let input = match std::fs::read(f) {
            Ok(b) => b,
            Err(e) => {
                eprintln!("{f}: {e}");
                return ExitCode::from(2);
            }
        };
        match runner::execute(t, &input) {
            Ok(_) => println!("{f}: ok"),
            Err(e) => {
                println!("{f}: FAILED {e}");
                failed = true;
            }
        }
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

fn usage() -> ExitCode {
    eprintln!("{USAGE}");
    ExitCode::from(2)
}
