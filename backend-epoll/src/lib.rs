//! The epoll [`event_core::EventBase`] backend for Linux and Android.
//!
//! [`EpollBase`] keeps event-core's contract with `EPOLLET` registrations
//! (`EPOLLRDHUP` with read interest), a per-fd [`event_core::FdTable`] whose
//! `(fd, generation)` cookie lets every event be checked against the live table right
//! before its callback, an eventfd [`EpollWaker`] (a pipe where eventfd is refused)
//! drained on delivery, close-on-exec descriptors, and exactly one `epoll_wait` per
//! `wait` into a fixed buffer (no timerfd, no allocation). Timeouts are rounded up to
//! whole milliseconds.
//!
//! Layout (mirrored by the kqueue and event-port crates): `sys.rs` holds the only
//! `unsafe`; `base.rs` the trait impl in twemproxy's order; `waker.rs`; `ready.rs` the
//! flag mapping table.
//!
//! The crate is empty on other operating systems, so `cargo build --workspace` works
//! everywhere.
#![cfg(any(target_os = "linux", target_os = "android"))]

mod base;
mod ready;
mod sys;
mod waker;

pub use base::{EpollBase, EpollRegistry};
pub use waker::EpollWaker;
