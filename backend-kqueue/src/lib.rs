//! The kqueue [`event_core::EventBase`] backend for macOS, iOS, FreeBSD, NetBSD, OpenBSD
//! and DragonFly.
//!
//! [`KqueueBase`] keeps event-core's contract with `EVFILT_READ`/`EVFILT_WRITE` and
//! `EV_CLEAR`, batches interest changes into the next waiting `kevent` (no syscall for
//! `add_out`/`del_out`), and wakes through `EVFILT_USER` ([`KqueueWaker`]; a pipe on
//! OpenBSD and NetBSD before 10). The files mirror `backend-epoll`: `sys` (the only
//! `unsafe`), `base` (the trait impl in twemproxy's order), `waker`, `ready` (the flag
//! mapping).
//!
//! The crate is empty on other operating systems, so `cargo build --workspace` works
//! everywhere.
#![cfg(any(
    target_os = "macos",
    target_os = "ios",
    target_os = "tvos",
    target_os = "watchos",
    target_os = "freebsd",
    target_os = "netbsd",
    target_os = "openbsd",
    target_os = "dragonfly"
))]

mod base;
mod ready;
mod sys;
mod waker;

pub use base::{KqueueBase, KqueueRegistry};
pub use waker::KqueueWaker;
