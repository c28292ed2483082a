//! The conformance suite: the contract as executable scenarios, generic over
//! `B: EventBase`, run by every backend from its own crate's tests.
//!
//! ```text
//! // backend-foo/tests/conformance.rs
//! event_core::conformance_tests!(backend_foo::FooBase);
//! // or, for a backend with documented gaps:
//! event_core::conformance_tests!(
//!     backend_foo::FooBase,
//!     event_core::conformance::Profile { read_closed: false, ..event_core::conformance::Profile::STRICT }
//! );
//! ```
//!
//! The macro expands to one `#[test] fn conformance_<scenario>()` per scenario. Each
//! scenario creates its own base(s), uses only loopback and socketpairs, bounds every
//! wait, and checks elapsed time only from below. Scenarios may be run in parallel
//! threads of one process (cargo test) or one per process (nextest).

mod readiness;
mod registration;
mod timing;
pub mod util;
mod waker;

pub use readiness::*;
pub use registration::*;
pub use timing::*;
pub use waker::*;

/// What a backend promises beyond the guaranteed core, for the few scenarios whose
/// checks depend on OS support. A backend that cannot give a hint says so here (and in
/// its docs); everything else in the suite is the same for every backend.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Profile {
    /// The peer's FIN is reported as `READ_CLOSED` (epoll `EPOLLRDHUP`, kqueue `EV_EOF`).
    /// Event ports and `polling` report only `READABLE`.
    pub read_closed: bool,
    /// A reset connection reports `ERROR` or `HUP` besides the armed direction.
    pub hup_error_hints: bool,
    /// A signal during `wait` makes it return `Ok(0)` at once. `false` when the
    /// backend's library retries `EINTR` internally (then `wait` still returns `Ok(0)`,
    /// at its timeout).
    pub eintr_returns: bool,
}

impl Profile {
    /// Everything the contract describes, as the native backends give it.
    pub const STRICT: Profile = Profile {
        read_closed: true,
        hup_error_hints: true,
        eintr_returns: true,
    };
}

impl Default for Profile {
    fn default() -> Profile {
        Profile::STRICT
    }
}

/// Expands to one `#[test] fn conformance_<scenario>()` per scenario of
/// [`conformance`](crate::conformance) for the given `EventBase` type, optionally
/// with a [`Profile`](crate::conformance::Profile) expression (default `Profile::STRICT`).
#[macro_export]
macro_rules! conformance_tests {
    ($base:ty) => {
        $crate::conformance_tests!($base, $crate::conformance::Profile::STRICT);
    };
    ($base:ty, $profile:expr) => {
        $crate::__conformance_each!($base, $profile;
            conformance_socketpair_readable => socketpair_readable,
            conformance_pipe_readable => pipe_readable,
            conformance_udp_readable => udp_readable,
            conformance_unix_socket_readable => unix_socket_readable,
            conformance_write_readiness => write_readiness,
            conformance_edge_after_drain_and_refill => edge_after_drain_and_refill,
            conformance_level_check_on_add => level_check_on_add,
            conformance_listener_readd_with_backlog => listener_readd_with_backlog,
            conformance_del_out_keeps_input => del_out_keeps_input,
            conformance_peer_fin_read_closed => peer_fin_read_closed,
            conformance_peer_reset_error_or_hup => peer_reset_error_or_hup,
            conformance_half_close => half_close,
            conformance_pipe_reader_gone => pipe_reader_gone,
            conformance_idempotent_add_and_del => idempotent_add_and_del,
            conformance_not_found_for_unregistered => not_found_for_unregistered,
            conformance_token_replaced => token_replaced,
            conformance_del_conn_in_callback_hides_pending => del_conn_in_callback_hides_pending,
            conformance_fd_reuse_in_one_batch => fd_reuse_in_one_batch,
            conformance_close_conn_in_callback => close_conn_in_callback,
            conformance_capacity_one_loses_nothing => capacity_one_loses_nothing,
            conformance_directions_are_filtered => directions_are_filtered,
            conformance_ten_thousand_fds => ten_thousand_fds,
            conformance_drop_base_with_registrations => drop_base_with_registrations,
            conformance_fds_are_cloexec => fds_are_cloexec,
            conformance_waker_from_another_thread => waker_from_another_thread,
            conformance_wakes_coalesce => wakes_coalesce,
            conformance_wake_before_wait => wake_before_wait,
            conformance_wake_after_base_dropped => wake_after_base_dropped,
            conformance_second_waker_refused => second_waker_refused,
            conformance_zero_timeout_polls => zero_timeout_polls,
            conformance_sub_millisecond_timeout_lower_bound => sub_millisecond_timeout_lower_bound,
            conformance_none_blocks_until_event => none_blocks_until_event,
            conformance_eintr_returns_ok_zero => eintr_returns_ok_zero,
        );
    };
}

/// Implementation detail of [`conformance_tests!`].
#[doc(hidden)]
#[macro_export]
macro_rules! __conformance_each {
    ($base:ty, $profile:expr; $($test:ident => $scenario:ident),* $(,)?) => {
        $(
            #[test]
            fn $test() {
                $crate::conformance::$scenario::<$base>(&$profile);
            }
        )*
    };
}
