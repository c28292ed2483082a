//! `evcached-loadgen`: load a memcached-compatible server and summarise what it did.

use std::io::Write;
use std::process::ExitCode;

use evcached_loadgen::config::{parse_args, USAGE};
use evcached_loadgen::{prefill, run, Report};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "-h" || a == "--help") {
        println!("{USAGE}");
        return ExitCode::SUCCESS;
    }
    let (cfg, out) = match parse_args(&args) {
        Ok(parsed) => parsed,
        Err(e) => {
            eprintln!("evcached-loadgen: {e}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    // With the JSON on stdout, the human summary goes to stderr.
    let json_to_stdout = out.json.as_deref() == Some("-");
    let say = |text: String| {
        if json_to_stdout {
            eprintln!("{text}");
        } else {
            println!("{text}");
        }
    };
    let mut reports: Vec<(&str, Report)> = Vec::new();
    if cfg.prefill {
        match prefill(&cfg) {
            Ok(r) => {
                say(format!(
                    "prefill: {} keys in {:.2} s, errors {}",
                    r.stats.sets,
                    r.elapsed.as_secs_f64(),
                    r.stats.errors
                ));
                reports.push(("prefill", r));
            }
            Err(e) => {
                eprintln!("evcached-loadgen: prefill: {e}");
                return ExitCode::FAILURE;
            }
        }
    }
    if !cfg.prefill_only && reports.iter().all(|(_, r)| r.ok()) {
        match run(&cfg) {
            Ok(r) => {
                say(r.to_string());
                reports.push(("run", r));
            }
            Err(e) => {
                eprintln!("evcached-loadgen: {e}");
                return ExitCode::FAILURE;
            }
        }
    }
    if let Some(path) = &out.json {
        let mut doc = serde_json::Map::new();
        for (name, r) in &reports {
            doc.insert((*name).to_string(), r.to_json());
        }
        let text = serde_json::to_string_pretty(&doc).expect("JSON values serialise") + "\n";
        let written = if path == "-" {
            std::io::stdout().write_all(text.as_bytes())
        } else {
            std::fs::write(path, text)
        };
        if let Err(e) = written {
            eprintln!("evcached-loadgen: writing {path}: {e}");
            return ExitCode::FAILURE;
        }
    }
    if reports.iter().all(|(_, r)| r.ok()) {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
