//! The conformance suite on the portable backend (`polling`).
//!
//! Its documented gaps (see `event_core::portable`): no `READ_CLOSED`, and `EINTR` is
//! retried inside `polling` until the timeout.

event_core::conformance_tests!(
    event_core::PortableBase,
    event_core::conformance::Profile {
        read_closed: false,
        hup_error_hints: cfg!(any(target_os = "linux", target_os = "android")),
        eintr_returns: false,
    }
);
