//! `cargo xtask soak [--dev] [--fuzz SECONDS]`: the long versions of the reliability tests
//! (`server/tests/reliability_*.rs` with `EVCACHED_SOAK=1`: 10,000 connections, 3,000
//! slowloris clients, 1,000,000 pipelined requests, 10 churn rounds, ...) against evcached
//! and memcached side by side, then every fuzz target for SECONDS (default 300), with the
//! test output streamed as progress and a summary table of every `FIGURE` line at the end.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use crate::util::cargo;

const SUITES: &[&str] = &[
    "reliability_conns",
    "reliability_slow",
    "reliability_memory",
    "reliability_shutdown",
    "reliability_security",
];

/// Runs `cmd`, echoing its output with a prefix; returns (success, lines).
fn stream(what: &str, cmd: &mut Command) -> Result<(bool, Vec<String>), String> {
    eprintln!("==> {what}");
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("{what}: {e}"))?;
    let err = child.stderr.take().expect("piped stderr");
    let echo = std::thread::spawn(move || {
        let mut lines = Vec::new();
        for line in BufReader::new(err).lines().map_while(Result::ok) {
            eprintln!("    {line}");
            lines.push(line);
        }
        lines
    });
    let mut lines = Vec::new();
    if let Some(out) = child.stdout.take() {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            eprintln!("    {line}");
            lines.push(line);
        }
    }
    lines.extend(echo.join().unwrap_or_default());
    let ok = child.wait().map(|s| s.success()).unwrap_or(false);
    Ok((ok, lines))
}

/// Entry point.
pub fn run(args: &[String]) -> Result<(), String> {
    let mut release = true;
    let mut fuzz_secs = "300".to_string();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--dev" => release = false,
            "--fuzz" => fuzz_secs = it.next().ok_or("--fuzz SECONDS")?.clone(),
            other => return Err(format!("soak: unknown argument {other}")),
        }
    }
    // figure name -> server label -> value
    let mut table: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    let mut failed = Vec::new();
    for suite in SUITES {
        let mut cmd = cargo();
        cmd.args(["test", "-p", "evcached", "--test", suite]);
        if release {
            cmd.arg("--release");
        }
        cmd.args(["--", "--nocapture", "--test-threads=1"])
            .env("EVCACHED_SOAK", "1");
        let (ok, lines) = stream(&format!("soak: {suite}"), &mut cmd)?;
        if !ok {
            failed.push(suite.to_string());
        }
        for l in lines {
            if let Some(rest) = l.strip_prefix("FIGURE ") {
                let parts: Vec<&str> = rest.splitn(3, " | ").collect();
                if let [name, label, value] = parts[..] {
                    table
                        .entry(name.to_string())
                        .or_default()
                        .insert(label.to_string(), value.to_string());
                }
            }
        }
    }
    let profile = if release { "fuzz" } else { "dev" };
    let mut cmd = crate::fuzz::command(profile, &fuzz_secs);
    let (ok, lines) = stream(&format!("soak: fuzz, {fuzz_secs} s per target"), &mut cmd)?;
    if !ok {
        failed.push("fuzz".to_string());
    }
    for l in lines {
        let w: Vec<&str> = l.split_whitespace().collect();
        if w.len() > 3 && w[0] == "fuzz" && w[1] != "total:" && w[3] == "execs" {
            table
                .entry(format!("fuzz executions: {}", w[1]))
                .or_default()
                .insert("evcached(native)".to_string(), w[2].to_string());
        }
    }
    print_table(&table);
    if failed.is_empty() {
        Ok(())
    } else {
        Err(format!("soak: failures in {}", failed.join(", ")))
    }
}

fn print_table(table: &BTreeMap<String, BTreeMap<String, String>>) {
    let w = table.keys().map(|k| k.len()).max().unwrap_or(10).min(70);
    println!("\n{:<w$} | {:<40} | memcached 1.6.18", "figure", "evcached");
    println!("{}", "-".repeat(w + 64));
    for (name, by) in table {
        let ev = by
            .iter()
            .find(|(k, _)| k.starts_with("evcached"))
            .map(|(_, v)| v.as_str())
            .unwrap_or("-");
        let mc = by.get("memcached").map(String::as_str).unwrap_or("-");
        println!("{name:<w$} | {ev:<40} | {mc}");
    }
}
