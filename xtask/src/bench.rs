//! `cargo xtask bench`: every criterion bench of the workspace, then where the reports are.

use crate::util::{cargo, root, run as step};

const USAGE: &str = "\
usage: cargo xtask bench [-p PACKAGE]... [--quick] [-- CRITERION ARGS...]

Runs the criterion benches of the whole workspace (or of the named packages):
event backends beside mio and polling, the storage engine, the parsers.
--quick passes criterion's --quick (fewer samples, for a smoke run).";

/// Runs the benches and prints the path of criterion's HTML report.
pub fn run(args: &[String]) -> Result<(), String> {
    let mut packages = Vec::new();
    let mut extra = Vec::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "-p" | "--package" => packages.push(
                it.next()
                    .ok_or_else(|| format!("{a} needs a package\n{USAGE}"))?
                    .clone(),
            ),
            "--quick" => extra.push("--quick".to_string()),
            "--" => extra.extend(it.by_ref().cloned()),
            "-h" | "--help" => {
                println!("{USAGE}");
                return Ok(());
            }
            other => return Err(format!("unknown option `{other}`\n{USAGE}")),
        }
    }
    let mut cmd = cargo();
    cmd.arg("bench");
    if packages.is_empty() {
        cmd.arg("--workspace");
    }
    for p in &packages {
        cmd.args(["-p", p]);
    }
    // Only `[[bench]]` targets (`--benches` would add lib and bin targets, whose libtest
    // harness rejects criterion's flags).
    cmd.args(["--bench", "*"]);
    if !extra.is_empty() {
        cmd.arg("--").args(&extra);
    }
    step("criterion benches", &mut cmd)?;
    let target = match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) => root().join(dir),
        None => root().join("target"),
    };
    let report = target.join("criterion").join("report").join("index.html");
    if report.exists() {
        println!("criterion HTML report: {}", report.display());
        println!(
            "per-bench reports: {}/<group>/<bench>/report/index.html",
            target.join("criterion").display()
        );
        Ok(())
    } else {
        Err(format!(
            "benches ran but {} is missing (criterion's html_reports feature off?)",
            report.display()
        ))
    }
}
