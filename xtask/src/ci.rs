//! `cargo xtask ci`: every check a submission must pass.

use crate::util::{cargo, have, run as step};

/// Runs formatting, lints and every test of the workspace.
pub fn run(_args: &[String]) -> Result<(), String> {
    step("rustfmt", cargo().args(["fmt", "--all", "--", "--check"]))?;
    step(
        "clippy",
        cargo().args([
            "clippy",
            "--workspace",
            "--all-targets",
            "--",
            "-D",
            "warnings",
        ]),
    )?;
    step(
        "clippy (portable backend)",
        cargo().args([
            "clippy",
            "-p",
            "evcached",
            "--all-targets",
            "--features",
            "portable",
            "--",
            "-D",
            "warnings",
        ]),
    )?;
    if have("cargo-nextest", &["nextest", "--version"]) {
        step(
            "tests (nextest)",
            cargo().args(["nextest", "run", "--workspace", "--no-fail-fast"]),
        )?;
    } else {
        step(
            "tests",
            cargo().args(["test", "--workspace", "--no-fail-fast"]),
        )?;
    }
    step("doc tests", cargo().args(["test", "--workspace", "--doc"]))?;
    // A short fuzz run of every target on the debug build the tests just made.
    crate::fuzz::run(&["15".to_string(), "--dev".to_string()])?;
    crate::cross_check::run(&[])?;
    Ok(())
}
