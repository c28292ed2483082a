//! Criterion benches of the engine's get and set: 1 and 2 threads, 32-byte and 4 KB values.

use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use criterion::{criterion_main, Criterion, Throughput};
use evcached_storage::{Engine, EngineConfig, StoreMode};

const KEYS: usize = 10_000;

fn engine() -> Arc<Engine> {
    Arc::new(Engine::new(EngineConfig {
        memory_limit: 256 << 20,
        background_threads: false,
        ..EngineConfig::default()
    }))
}

fn key(i: usize) -> Vec<u8> {
    format!("bench:key:{i:08}").into_bytes()
}

/// Runs `iters` operations split over `threads` threads and returns the wall time.
fn run(
    e: &Arc<Engine>,
    keys: &Arc<Vec<Vec<u8>>>,
    threads: usize,
    iters: u64,
    value: &Arc<Vec<u8>>,
    get: bool,
) -> Duration {
    let per = iters.div_ceil(threads as u64);
    let start = Instant::now();
    let hs: Vec<_> = (0..threads)
        .map(|t| {
            let e = e.clone();
            let v = value.clone();
            let keys = keys.clone();
            thread::spawn(move || {
                for i in 0..per as usize {
                    let k = &keys[(i * 7 + t * 13) % KEYS];
                    if get {
                        std::hint::black_box(e.get(k));
                    } else {
                        std::hint::black_box(e.store(StoreMode::Set, k, 0, 0, &v).ok());
                    }
                }
            })
        })
        .collect();
    for h in hs {
        h.join().expect("bench thread");
    }
    start.elapsed()
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("engine");
    g.measurement_time(Duration::from_secs(2))
        .warm_up_time(Duration::from_millis(500))
        .sample_size(10);
    g.throughput(Throughput::Elements(1));
    let keys = Arc::new((0..KEYS).map(key).collect::<Vec<_>>());
    for size in [32usize, 4096] {
        let value = Arc::new(vec![b'v'; size]);
        let e = engine();
        for i in 0..KEYS {
            e.store(StoreMode::Set, &key(i), 0, 0, &value)
                .expect("prefill");
        }
        for threads in [1usize, 2] {
            for get in [true, false] {
                let name = format!("{}/{}B/{}t", if get { "get" } else { "set" }, size, threads);
                g.bench_function(name, |b| {
                    b.iter_custom(|iters| run(&e, &keys, threads, iters, &value, get))
                });
            }
        }
    }
    g.finish();
}

/// The bench group (criterion's generated function needs its own doc scope).
mod group {
    #![allow(missing_docs)]
    criterion::criterion_group!(benches, super::bench);
}
use group::benches;
criterion_main!(benches);
