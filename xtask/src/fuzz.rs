//! `cargo xtask fuzz [SECONDS] [--dev] [TARGET...]`: runs every fuzz target of
//! `fuzz/` (the stable-toolchain mutational fuzzer, `evcached-fuzz`) for SECONDS each
//! (default 60), optimised with debug assertions on (`--profile fuzz`). `--dev` reuses the
//! debug build instead (what CI does after its tests, so no extra compile). A failing
//! input is saved under `fuzz/artifacts/<target>/` and the command fails.
//!
//! Long coverage-guided runs use libFuzzer through `cargo fuzz` on a nightly toolchain:
//! `cd fuzz/libfuzzer && cargo +nightly fuzz run ascii` (see `fuzz/README.md`).

use std::process::Command;

use crate::util::{cargo, run as step};

/// Parses the arguments, builds the fuzzer and runs it.
pub fn run(args: &[String]) -> Result<(), String> {
    let mut seconds = "60".to_string();
    let mut dev = false;
    let mut targets = Vec::new();
    for a in args {
        match a.as_str() {
            "--dev" => dev = true,
            s if s.parse::<f64>().is_ok() => seconds = s.to_string(),
            s if s.starts_with('-') => return Err(format!("fuzz: unknown option {s}")),
            s => targets.push(s.to_string()),
        }
    }
    let profile = if dev { "dev" } else { "fuzz" };
    let mut cmd = command(profile, &seconds);
    cmd.args(&targets);
    step(
        &format!("fuzz ({seconds} s per target, {profile} build)"),
        &mut cmd,
    )
}

/// `cargo run` of the fuzzer with `profile`, every target (unless more arguments follow)
/// for `seconds` each.
pub fn command(profile: &str, seconds: &str) -> Command {
    let mut cmd = cargo();
    cmd.args([
        "run",
        "-q",
        "-p",
        "evcached-fuzz",
        "--profile",
        profile,
        "--",
    ])
    .args(["run", "--seconds", seconds]);
    cmd
}
