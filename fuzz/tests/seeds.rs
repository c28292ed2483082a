//! Every fuzz target replays its committed seed corpus (and saved regressions): the
//! quick, deterministic part of fuzzing that runs with the normal test suite.

use std::path::PathBuf;

#[test]
fn every_target_passes_its_seed_corpus() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("corpus");
    for t in evcached_fuzz::TARGETS {
        let seeds = evcached_fuzz::runner::load_corpus(&root.join(t.corpus));
        assert!(!seeds.is_empty(), "{}: empty seed corpus", t.name);
        for (i, s) in seeds.iter().enumerate() {
            if let Err(e) = evcached_fuzz::runner::execute(t, s) {
                panic!("{}: seed #{i} failed: {e}", t.name);
            }
        }
    }
}

#[test]
fn a_short_fuzz_run_finds_nothing() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let artifacts = std::env::temp_dir().join(format!("evcached-fuzz-{}", std::process::id()));
    for t in evcached_fuzz::TARGETS {
        let seeds = evcached_fuzz::runner::load_corpus(&root.join("corpus").join(t.corpus));
        let r = evcached_fuzz::runner::fuzz(
            t,
            &seeds,
            std::time::Duration::from_millis(1500),
            7,
            &artifacts,
        );
        if let Err(e) = r {
            panic!("{e}");
        }
    }
    let _ = std::fs::remove_dir_all(&artifacts);
}
