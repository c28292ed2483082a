//! The evport [`event_core::EventBase`] backend for illumos and Solaris.
//!
//! The crate is empty on other operating systems, so `cargo build --workspace` works
//! everywhere.
#![cfg(any(target_os = "illumos", target_os = "solaris"))]
