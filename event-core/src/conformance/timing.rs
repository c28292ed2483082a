//! Timeout and signal scenarios. Only lower bounds on elapsed time are checked.

use std::io::Write;
use std::os::fd::AsFd;
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Once};
use std::time::{Duration, Instant};

use super::util::*;
use super::Profile;
use crate::{EventBase, Token, Wake};

/// A zero timeout polls: it returns `Ok(0)` with nothing ready, and reports what is.
pub fn zero_timeout_polls<B: EventBase>(_: &Profile) {
    let mut base = B::new().unwrap();
    let (ours, mut peer) = UnixStream::pair().unwrap();
    ours.set_nonblocking(true).unwrap();
    base.add_in(ours.as_fd(), Token(70)).unwrap();
    assert_eq!(base.wait(Some(Duration::ZERO), |_, _, _| {}).unwrap(), 0);
    peer.write_all(b"z").unwrap();
    // The data is in the socket before the poll, so one zero-timeout wait sees it.
    let seen = collect(&mut base, Some(Duration::ZERO));
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert_eq!(seen[0].0, Token(70));
}

/// Timeouts below the backend's granularity are rounded up, never down to a busy zero
/// wait: every wait lasts at least what was asked.
pub fn sub_millisecond_timeout_lower_bound<B: EventBase>(_: &Profile) {
    let mut base = B::new().unwrap();
    for micros in [1u64, 300, 999, 1_500] {
        let asked = Duration::from_micros(micros);
        let start = Instant::now();
        let n = base.wait(Some(asked), |_, _, _| {}).unwrap();
        let took = start.elapsed();
        assert_eq!(n, 0);
        assert!(took >= asked, "wait({asked:?}) returned after {took:?}");
    }
}

/// `None` blocks until an event arrives (written by another thread later).
pub fn none_blocks_until_event<B: EventBase>(_: &Profile) {
    let mut base = B::new().unwrap();
    let (ours, peer) = UnixStream::pair().unwrap();
    ours.set_nonblocking(true).unwrap();
    base.add_in(ours.as_fd(), Token(71)).unwrap();
    let start = Instant::now();
    let writer = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(30));
        (&peer).write_all(b"late").unwrap();
        peer
    });
    let mut seen = Vec::new();
    while seen.is_empty() {
        seen = collect(&mut base, None);
    }
    assert!(start.elapsed() >= Duration::from_millis(30));
    assert_eq!(seen[0].0, Token(71));
    drop(writer.join().unwrap());
}

/// A signal handled without `SA_RESTART` interrupts the wait: `Ok(0)`, no callback.
///
/// The waiting thread is signalled every few milliseconds until `wait` returns. A
/// watchdog wakes the base after 20 s so a broken backend fails instead of hanging:
/// its event would make `wait` return 1. Backends whose profile says
/// `eintr_returns: false` (the portable one: `polling` retries EINTR) are checked with
/// a bounded timeout instead, which must still end in `Ok(0)`.
pub fn eintr_returns_ok_zero<B: EventBase>(p: &Profile) {
    static HANDLER: Once = Once::new();
    HANDLER.call_once(install_sigusr1_without_restart);
    let mut base = B::new().unwrap();
    let waker = base.waker(Token(72)).unwrap();
    let done = Arc::new(AtomicBool::new(false));
    let target = current_thread();
    let d = done.clone();
    let signaller = std::thread::spawn(move || {
        let start = Instant::now();
        while !d.load(Ordering::SeqCst) {
            signal_thread(target);
            std::thread::sleep(Duration::from_millis(5));
            if start.elapsed() > Duration::from_secs(20) {
                let _ = waker.wake();
            }
        }
    });
    let timeout = if p.eintr_returns {
        None
    } else {
        Some(Duration::from_millis(200))
    };
    let res = base.wait(timeout, |_, _, _| {});
    done.store(true, Ordering::SeqCst);
    signaller.join().unwrap();
    assert_eq!(res.unwrap(), 0, "EINTR must be Ok(0) without callbacks");
}
