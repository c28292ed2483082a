//! The event-core conformance suite on the kqueue backend (every scenario, strict).
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

event_core::conformance_tests!(backend_kqueue::KqueueBase);
