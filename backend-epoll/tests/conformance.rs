//! The event-core conformance suite on the epoll backend (every scenario, strict).
#![cfg(any(target_os = "linux", target_os = "android"))]

event_core::conformance_tests!(backend_epoll::EpollBase);
