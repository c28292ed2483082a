//! Compile-time choice of the event backend.
//!
//! Linux and Android get epoll, macOS and the BSDs kqueue, illumos and Solaris event
//! ports (never illumos' epoll emulation). `--features portable` forces the backend over
//! the `polling` crate on every OS.

cfg_if::cfg_if! {
    if #[cfg(feature = "portable")] {
        /// The event backend this build uses.
        pub type Backend = event_core::PortableBase;
    } else if #[cfg(any(target_os = "linux", target_os = "android"))] {
        /// The event backend this build uses.
        pub type Backend = backend_epoll::EpollBase;
    } else if #[cfg(any(
        target_os = "macos", target_os = "ios", target_os = "tvos", target_os = "watchos",
        target_os = "freebsd", target_os = "netbsd", target_os = "openbsd", target_os = "dragonfly"
    ))] {
        /// The event backend this build uses.
        pub type Backend = backend_kqueue::KqueueBase;
    } else if #[cfg(any(target_os = "illumos", target_os = "solaris"))] {
        /// The event backend this build uses.
        pub type Backend = backend_evport::EvportBase;
    } else {
        /// The event backend this build uses.
        pub type Backend = event_core::PortableBase;
    }
}
