//! Criterion benchmarks of every `EventBase` this host has, beside `polling` used
//! directly and `mio`, on the same workloads:
//!
//! - `wait/N/K`: N registered fds (N/2 socketpairs, both ends registered for read) of
//!   which K are ready; the time of one `wait` plus dispatch of the K events. Making
//!   the K fds ready (one write each) and draining them afterwards is not timed.
//! - `add_del`: registering one fd for read and removing it again.
//! - `waker_round_trip`: thread A wakes thread B's loop, B wakes A back; one round trip.
//!
//! Every loop waits with a 1 s timeout, as a server loop with a clock tick does (this
//! is where `polling` pays for its timerfd). `polling` runs in `PollMode::Edge`, the
//! mode with the contract's semantics. Short measurement times keep the whole run to a
//! few minutes: `cargo bench -p event-core`.

use std::hint::black_box;
use std::io::{Read, Write};
use std::os::fd::{AsFd, AsRawFd};
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{criterion_main, BenchmarkId, Criterion};
use event_core::{EventBase, PortableBase, Ready, Token, Wake};

const TIMEOUT: Option<Duration> = Some(Duration::from_secs(1));
const CASES: [(usize, usize); 5] = [(16, 1), (1024, 1), (1024, 64), (10_000, 1), (10_000, 64)];

/// N registered fds as N/2 socketpairs; pair `i` is `(fds[2i], fds[2i+1])`.
struct Fixture {
    pairs: Vec<(UnixStream, UnixStream)>,
    ready: Vec<usize>,
}

impl Fixture {
    fn new(n: usize, k: usize) -> Fixture {
        event_core::conformance::util::raise_nofile(20_000);
        let pairs: Vec<_> = (0..n / 2)
            .map(|_| {
                let (a, b) = UnixStream::pair().unwrap();
                a.set_nonblocking(true).unwrap();
                b.set_nonblocking(true).unwrap();
                (a, b)
            })
            .collect();
        let step = pairs.len() / k;
        let ready = (0..k).map(|i| i * step).collect();
        Fixture { pairs, ready }
    }

    /// Every fd with its token (= its index).
    fn fds(&self) -> impl Iterator<Item = (std::os::fd::BorrowedFd<'_>, usize)> {
        self.pairs
            .iter()
            .enumerate()
            .flat_map(|(i, (a, b))| [(a.as_fd(), 2 * i), (b.as_fd(), 2 * i + 1)])
    }

    /// Makes the K chosen fds (the `b` ends) readable: one new edge each.
    fn arm(&self) {
        for &i in &self.ready {
            (&self.pairs[i].0).write_all(b"x").unwrap();
        }
    }

    fn drain(&self) {
        let mut buf = [0u8; 8];
        for &i in &self.ready {
            let _ = (&self.pairs[i].1).read(&mut buf);
        }
    }

    /// Times `iters` rounds of `wait_all` (which must return once K events are seen).
    fn time(&self, iters: u64, mut wait_all: impl FnMut(usize)) -> Duration {
        let k = self.ready.len();
        let mut total = Duration::ZERO;
        for _ in 0..iters {
            self.arm();
            let start = Instant::now();
            wait_all(k);
            total += start.elapsed();
            self.drain();
        }
        total
    }
}

fn wait_base<B: EventBase>(c: &mut Criterion) {
    let mut g = c.benchmark_group("wait");
    for (n, k) in CASES {
        let fx = Fixture::new(n, k);
        let mut base = B::new().unwrap();
        for (fd, t) in fx.fds() {
            base.add_in(fd, Token(t as u64)).unwrap();
        }
        g.bench_function(BenchmarkId::new(B::NAME, format!("{n}/{k}")), |bch| {
            bch.iter_custom(|iters| {
                fx.time(iters, |k| {
                    let mut got = 0;
                    while got < k {
                        got += base
                            .wait(TIMEOUT, |_, t, r| {
                                black_box((t, r));
                            })
                            .unwrap();
                    }
                })
            })
        });
        for (fd, _) in fx.fds() {
            base.del_conn(fd).unwrap();
        }
    }
}

fn wait_polling(c: &mut Criterion) {
    use polling::{Event, Events, PollMode, Poller};
    let mut g = c.benchmark_group("wait");
    for (n, k) in CASES {
        let fx = Fixture::new(n, k);
        let poller = Poller::new().unwrap();
        for (fd, t) in fx.fds() {
            // SAFETY: every fd is deleted from the poller below, before the fixture
            // (which owns the fds) is dropped.
            unsafe { poller.add_with_mode(fd.as_raw_fd(), Event::readable(t), PollMode::Edge) }
                .unwrap();
        }
        let mut events = Events::new();
        g.bench_function(BenchmarkId::new("polling", format!("{n}/{k}")), |bch| {
            bch.iter_custom(|iters| {
                fx.time(iters, |k| {
                    let mut got = 0;
                    while got < k {
                        events.clear();
                        poller.wait(&mut events, TIMEOUT).unwrap();
                        for ev in events.iter() {
                            black_box(ev);
                            got += 1;
                        }
                    }
                })
            })
        });
        for (fd, _) in fx.fds() {
            poller.delete(fd).unwrap();
        }
    }
}

fn wait_mio(c: &mut Criterion) {
    use mio::unix::SourceFd;
    use mio::{Events, Interest, Poll};
    let mut g = c.benchmark_group("wait");
    for (n, k) in CASES {
        let fx = Fixture::new(n, k);
        let mut poll = Poll::new().unwrap();
        for (fd, t) in fx.fds() {
            poll.registry()
                .register(
                    &mut SourceFd(&fd.as_raw_fd()),
                    mio::Token(t),
                    Interest::READABLE,
                )
                .unwrap();
        }
        let mut events = Events::with_capacity(1024);
        g.bench_function(BenchmarkId::new("mio", format!("{n}/{k}")), |bch| {
            bch.iter_custom(|iters| {
                fx.time(iters, |k| {
                    let mut got = 0;
                    while got < k {
                        poll.poll(&mut events, TIMEOUT).unwrap();
                        for ev in events.iter() {
                            black_box((ev.token(), ev.is_readable()));
                            got += 1;
                        }
                    }
                })
            })
        });
        for (fd, _) in fx.fds() {
            poll.registry()
                .deregister(&mut SourceFd(&fd.as_raw_fd()))
                .unwrap();
        }
    }
}

fn add_del_base<B: EventBase>(c: &mut Criterion) {
    let (a, _b) = UnixStream::pair().unwrap();
    let mut base = B::new().unwrap();
    c.benchmark_group("add_del").bench_function(B::NAME, |bch| {
        bch.iter(|| {
            base.add_in(a.as_fd(), Token(1)).unwrap();
            base.del_conn(a.as_fd()).unwrap();
        })
    });
}

fn add_del_peers(c: &mut Criterion) {
    let (a, _b) = UnixStream::pair().unwrap();
    let poller = polling::Poller::new().unwrap();
    let mut g = c.benchmark_group("add_del");
    g.bench_function("polling", |bch| {
        bch.iter(|| {
            let ev = polling::Event::readable(1);
            // SAFETY: the fd is deleted right after, long before `a` is dropped.
            unsafe { poller.add_with_mode(a.as_raw_fd(), ev, polling::PollMode::Edge) }.unwrap();
            poller.delete(a.as_fd()).unwrap();
        })
    });
    let poll = mio::Poll::new().unwrap();
    g.bench_function("mio", |bch| {
        bch.iter(|| {
            let raw = a.as_raw_fd();
            let mut src = mio::unix::SourceFd(&raw);
            poll.registry()
                .register(&mut src, mio::Token(1), mio::Interest::READABLE)
                .unwrap();
            poll.registry().deregister(&mut src).unwrap();
        })
    });
}

/// Runs `iters` round trips: A wakes B, B's loop wakes A, A waits for it.
fn round_trips<B: EventBase + 'static>(iters: u64) -> Duration {
    let mut a = B::new().unwrap();
    let wake_a = a.waker(Token(1)).unwrap();
    let mut b = B::new().unwrap();
    let wake_b = b.waker(Token(2)).unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let stop2 = stop.clone();
    let echo = std::thread::spawn(move || loop {
        let mut woke = false;
        b.wait(TIMEOUT, |_, _, r| woke |= r == Ready::READABLE)
            .unwrap();
        if stop2.load(Ordering::Acquire) {
            return;
        }
        if woke {
            wake_a.wake().unwrap();
        }
    });
    let start = Instant::now();
    for _ in 0..iters {
        wake_b.wake().unwrap();
        while a.wait(TIMEOUT, |_, _, _| {}).unwrap() == 0 {}
    }
    let took = start.elapsed();
    stop.store(true, Ordering::Release);
    wake_b.wake().unwrap();
    echo.join().unwrap();
    took
}

fn waker_base<B: EventBase + 'static>(c: &mut Criterion) {
    c.benchmark_group("waker_round_trip")
        .bench_function(B::NAME, |bch| bch.iter_custom(round_trips::<B>));
}

fn waker_peers(c: &mut Criterion) {
    let mut g = c.benchmark_group("waker_round_trip");
    g.bench_function("polling", |bch| {
        bch.iter_custom(|iters| {
            let a = Arc::new(polling::Poller::new().unwrap());
            let b = Arc::new(polling::Poller::new().unwrap());
            let stop = Arc::new(AtomicBool::new(false));
            let (a2, b2, stop2) = (a.clone(), b.clone(), stop.clone());
            let echo = std::thread::spawn(move || {
                let mut events = polling::Events::new();
                loop {
                    events.clear();
                    b2.wait(&mut events, TIMEOUT).unwrap();
                    if stop2.load(Ordering::Acquire) {
                        return;
                    }
                    a2.notify().unwrap();
                }
            });
            let mut events = polling::Events::new();
            let start = Instant::now();
            for _ in 0..iters {
                b.notify().unwrap();
                events.clear();
                a.wait(&mut events, TIMEOUT).unwrap();
            }
            let took = start.elapsed();
            stop.store(true, Ordering::Release);
            b.notify().unwrap();
            echo.join().unwrap();
            took
        })
    });
    g.bench_function("mio", |bch| {
        bch.iter_custom(|iters| {
            let mut a = mio::Poll::new().unwrap();
            let wake_a = mio::Waker::new(a.registry(), mio::Token(1)).unwrap();
            let mut b = mio::Poll::new().unwrap();
            let wake_b = Arc::new(mio::Waker::new(b.registry(), mio::Token(2)).unwrap());
            let stop = Arc::new(AtomicBool::new(false));
            let stop2 = stop.clone();
            let echo = std::thread::spawn(move || {
                let mut events = mio::Events::with_capacity(8);
                loop {
                    b.poll(&mut events, TIMEOUT).unwrap();
                    if stop2.load(Ordering::Acquire) {
                        return;
                    }
                    if !events.is_empty() {
                        wake_a.wake().unwrap();
                    }
                }
            });
            let mut events = mio::Events::with_capacity(8);
            let start = Instant::now();
            for _ in 0..iters {
                wake_b.wake().unwrap();
                loop {
                    a.poll(&mut events, TIMEOUT).unwrap();
                    if !events.is_empty() {
                        break;
                    }
                }
            }
            let took = start.elapsed();
            stop.store(true, Ordering::Release);
            wake_b.wake().unwrap();
            echo.join().unwrap();
            took
        })
    });
}

/// Runs every workload for one `EventBase`.
fn bench_base<B: EventBase + 'static>(c: &mut Criterion) {
    wait_base::<B>(c);
    add_del_base::<B>(c);
    waker_base::<B>(c);
}

fn native(c: &mut Criterion) {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    bench_base::<backend_epoll::EpollBase>(c);
    #[cfg(any(
        target_os = "macos",
        target_os = "ios",
        target_os = "tvos",
        target_os = "watchos",
        target_os = "freebsd",
        target_os = "netbsd",
        target_os = "openbsd",
        target_os = "dragonfly"
    ))]
    bench_base::<backend_kqueue::KqueueBase>(c);
    #[cfg(any(target_os = "illumos", target_os = "solaris"))]
    bench_base::<backend_evport::EvportBase>(c);
    let _ = c;
}

fn portable(c: &mut Criterion) {
    bench_base::<PortableBase>(c);
}

fn peers(c: &mut Criterion) {
    wait_polling(c);
    wait_mio(c);
    add_del_peers(c);
    waker_peers(c);
}

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_millis(1500))
        .sample_size(20)
}

/// `criterion_group!` generates an undocumented `pub fn`; keep it in its own module.
#[allow(missing_docs)]
mod group {
    use super::{config, native, peers, portable};
    criterion::criterion_group! {
        name = benches;
        config = config();
        targets = native, portable, peers
    }
}
criterion_main!(group::benches);
