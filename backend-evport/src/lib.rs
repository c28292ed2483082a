//! The event-port [`event_core::EventBase`] backend for illumos and Solaris.
//!
//! [`EvportBase`] keeps event-core's contract over `port_associate`/`port_getn`: event
//! ports are one-shot, so the fds delivered in one batch are re-associated with their
//! current interest at the start of the next `wait` (no lost edges; spurious events
//! possible). [`EvportWaker`] wakes through `port_send` behind an atomic flag. illumos
//! also ships an epoll emulation; this crate is what the server picks there instead.
//! The files mirror `backend-epoll`: `sys` (the only `unsafe`), `base` (the trait impl
//! in twemproxy's order), `waker`, `ready` (the flag mapping).
//!
//! The crate is empty on other operating systems, so `cargo build --workspace` works
//! everywhere.
#![cfg(any(target_os = "illumos", target_os = "solaris"))]

mod base;
mod ready;
mod sys;
mod waker;

pub use base::{EvportBase, EvportRegistry};
pub use waker::EvportWaker;
