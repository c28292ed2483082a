//! The event-core conformance suite on the event-port backend. Solaris has no
//! `POLLRDHUP`, so a peer's FIN shows as `READABLE` (the read returns 0), never as
//! `READ_CLOSED`; everything else is strict.
#![cfg(any(target_os = "illumos", target_os = "solaris"))]

event_core::conformance_tests!(
    backend_evport::EvportBase,
    event_core::conformance::Profile {
        read_closed: false,
        ..event_core::conformance::Profile::STRICT
    }
);
