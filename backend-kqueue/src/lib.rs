//! The kqueue [`event_core::EventBase`] backend for macOS, iOS, FreeBSD, NetBSD, OpenBSD and DragonFly.
//!
//! The crate is empty on other operating systems, so `cargo build --workspace` works
//! everywhere.
#![cfg(any(target_os = "macos", target_os = "ios", target_os = "tvos", target_os = "watchos", target_os = "freebsd", target_os = "netbsd", target_os = "openbsd", target_os = "dragonfly"))]
