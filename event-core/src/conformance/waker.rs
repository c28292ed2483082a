//! Waker scenarios: cross-thread wakes, coalescing, wake before wait, after drop.

use std::io;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use super::util::*;
use super::Profile;
use crate::{EventBase, Ready, Token, Wake};

const WAKER: Token = Token(u64::MAX - 1);

fn waker_events(seen: &[(Token, Ready)]) -> usize {
    seen.iter()
        .filter(|(t, r)| {
            if *t == WAKER {
                assert_eq!(*r, Ready::READABLE, "waker events carry READABLE");
            }
            *t == WAKER
        })
        .count()
}

/// A wake from another thread interrupts a blocked wait with the waker's token, and the
/// item the producer queued before waking is visible to the callback.
pub fn waker_from_another_thread<B: EventBase>(_: &Profile) {
    let mut base = B::new().unwrap();
    let waker = base.waker(WAKER).unwrap();
    let queue = Arc::new(AtomicUsize::new(0));
    for round in 1..=3 {
        let (w, q) = (waker.clone(), queue.clone());
        let producer = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            q.fetch_add(1, Ordering::SeqCst);
            w.wake().unwrap();
        });
        let mut consumed = 0;
        for _ in 0..20 {
            let seen = collect(&mut base, Some(Duration::from_millis(500)));
            if waker_events(&seen) > 0 {
                consumed = queue.load(Ordering::SeqCst);
                if consumed == round {
                    break;
                }
            }
        }
        assert_eq!(
            consumed, round,
            "wake {round} was not delivered after its push"
        );
        producer.join().unwrap();
    }
}

/// 1000 wakes before a wait coalesce: at most one waker event per batch, at least one
/// in total, and a later wake is delivered again (the pending flag was reset).
pub fn wakes_coalesce<B: EventBase>(_: &Profile) {
    let mut base = B::new().unwrap();
    let waker = base.waker(WAKER).unwrap();
    for _ in 0..1000 {
        waker.wake().unwrap();
    }
    let mut total = 0;
    for _ in 0..3 {
        let seen = collect(&mut base, Some(QUIET_FOR));
        let n = waker_events(&seen);
        assert!(n <= 1, "{n} waker events in one batch");
        total += n;
    }
    assert!(total >= 1, "1000 wakes gave no event");
    assert!(total <= 2, "1000 wakes were not coalesced: {total} events");
    waker.wake().unwrap();
    assert_eq!(
        expect(&mut base, WAKER),
        Ready::READABLE,
        "a wake after delivery must fire again"
    );
}

/// A wake issued before `wait` (no thread involved) makes a blocking wait return with
/// the waker's token; so do wakes from clones.
pub fn wake_before_wait<B: EventBase>(_: &Profile) {
    let mut base = B::new().unwrap();
    let waker = base.waker(WAKER).unwrap();
    waker.wake().unwrap();
    let seen = collect(&mut base, Some(EXPECT_WITHIN));
    assert_eq!(waker_events(&seen), 1, "{seen:?}");
    waker.clone().wake().unwrap();
    assert_eq!(expect(&mut base, WAKER), Ready::READABLE);
}

/// Waking after the base is dropped touches no reused descriptor: it returns (Ok or an
/// error) without panicking, from this thread and another.
pub fn wake_after_base_dropped<B: EventBase>(_: &Profile) {
    let mut base = B::new().unwrap();
    let waker = base.waker(WAKER).unwrap();
    drop(base);
    let _ = waker.wake();
    let w = waker.clone();
    std::thread::spawn(move || {
        for _ in 0..100 {
            let _ = w.wake();
        }
    })
    .join()
    .unwrap();
    // A new base may reuse the old descriptor numbers; it must not see those wakes.
    let mut fresh = B::new().unwrap();
    let _ = waker.wake();
    assert!(collect(&mut fresh, Some(QUIET_FOR)).is_empty());
}

/// A base has at most one waker: the second call is `AlreadyExists`.
pub fn second_waker_refused<B: EventBase>(_: &Profile) {
    let mut base = B::new().unwrap();
    let _w = base.waker(WAKER).unwrap();
    match base.waker(Token(1)) {
        Err(e) => assert_eq!(e.kind(), io::ErrorKind::AlreadyExists),
        Ok(_) => panic!("a second waker was created"),
    }
}
