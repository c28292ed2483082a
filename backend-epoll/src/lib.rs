//! The epoll [`event_core::EventBase`] backend for Linux and Android.
//!
//! The crate is empty on other operating systems, so `cargo build --workspace` works
//! everywhere.
#![cfg(any(target_os = "linux", target_os = "android"))]
