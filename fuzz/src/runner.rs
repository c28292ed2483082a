//! The stable-toolchain fuzz loop: replay the seed corpus, then mutate and generate
//! inputs until the time is up, keeping inputs whose replies have a new shape. A
//! failing input is saved under the artifacts directory and reported.

use std::panic::{self, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::mutate;
use crate::rng::{hash, Rng};
use crate::Target;

/// Largest input the loop builds (bounded so one execution stays short).
pub const MAX_INPUT: usize = 16 * 1024;
/// How many inputs the in-memory pool keeps.
const POOL_CAP: usize = 4096;

/// What one run did.
#[derive(Debug, Clone)]
pub struct Report {
    /// Target name.
    pub target: &'static str,
    /// Inputs executed.
    pub execs: u64,
    /// Wall time spent.
    pub elapsed: Duration,
    /// Seed files replayed.
    pub seeds: usize,
    /// Distinct reply shapes seen.
    pub shapes: usize,
    /// Inputs in the pool at the end.
    pub pool: usize,
}

/// Reads every file of `dir` (sorted by name) as one input.
pub fn load_corpus(dir: &Path) -> Vec<Vec<u8>> {
    let mut paths: Vec<PathBuf> = match std::fs::read_dir(dir) {
        Ok(rd) => rd.filter_map(|e| e.ok().map(|e| e.path())).collect(),
        Err(_) => Vec::new(),
    };
    paths.sort();
    paths
        .into_iter()
        .filter(|p| p.is_file())
        .filter_map(|p| std::fs::read(p).ok())
        .collect()
}

/// Runs `input` on `target`, turning a panic into its message.
pub fn execute(target: &Target, input: &[u8]) -> Result<u64, String> {
    let message: Arc<Mutex<Option<String>>> = Arc::default();
    let sink = message.clone();
    let previous = panic::take_hook();
    panic::set_hook(Box::new(move |info| {
        let text = match info.payload().downcast_ref::<&str>() {
            Some(s) => (*s).to_string(),
            None => info
                .payload()
                .downcast_ref::<String>()
                .cloned()
                .unwrap_or_else(|| "panic".to_string()),
        };
        let at = info
            .location()
            .map(|l| format!(" at {}:{}", l.file(), l.line()))
            .unwrap_or_default();
        *sink.lock().unwrap_or_else(|e| e.into_inner()) = Some(format!("{text}{at}"));
    }));
    let result = panic::catch_unwind(AssertUnwindSafe(|| (target.run)(input)));
    panic::set_hook(previous);
    result.map_err(|_| {
        message
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
            .unwrap_or_else(|| "panic".to_string())
    })
}

/// Saves a failing input and describes the failure.
fn fail(target: &Target, input: &[u8], why: String, artifacts: &Path) -> String {
    let dir = artifacts.join(target.name);
    let path = dir.join(format!("crash-{:016x}", hash(input)));
    let saved = std::fs::create_dir_all(&dir)
        .and_then(|()| std::fs::write(&path, input))
        .map(|()| format!("saved to {}", path.display()))
        .unwrap_or_else(|e| format!("could not save it: {e}"));
    format!(
        "target {}: {why}\n  input ({} bytes, {saved}): {}",
        target.name,
        input.len(),
        crate::escape(input)
    )
}

/// Fuzzes `target` for `time`, starting from `seeds`. Returns the report, or the first
/// failure (with the saved input's path).
pub fn fuzz(
    target: &Target,
    seeds: &[Vec<u8>],
    time: Duration,
    seed: u64,
    artifacts: &Path,
) -> Result<Report, String> {
    let start = Instant::now();
    let mut rng = Rng::new(seed ^ hash(target.name.as_bytes()));
    let mut shapes = std::collections::HashSet::new();
    let mut pool: Vec<Vec<u8>> = Vec::new();
    let mut execs = 0u64;
    for input in seeds {
        let sig = execute(target, input).map_err(|e| fail(target, input, e, artifacts))?;
        execs += 1;
        shapes.insert(sig);
        pool.push(input.clone());
    }
    if pool.is_empty() {
        pool.push(b"version\r\n".to_vec());
    }
    while start.elapsed() < time {
        let input = if rng.one_in(4) {
            mutate::generate(&mut rng)
        } else {
            let base = &pool[rng.below(pool.len())];
            let other = &pool[rng.below(pool.len())];
            mutate::mutate(base, other, &mut rng, MAX_INPUT)
        };
        let sig = execute(target, &input).map_err(|e| fail(target, &input, e, artifacts))?;
        execs += 1;
        if shapes.insert(sig) {
            if pool.len() >= POOL_CAP {
                // Replace a kept input, never a seed.
                let kept = pool.len() - seeds.len().min(pool.len() - 1);
                let i = (pool.len() - kept) + rng.below(kept);
                pool[i] = input;
            } else {
                pool.push(input);
            }
        }
    }
    Ok(Report {
        target: target.name,
        execs,
        elapsed: start.elapsed(),
        seeds: seeds.len(),
        shapes: shapes.len(),
        pool: pool.len(),
    })
}
