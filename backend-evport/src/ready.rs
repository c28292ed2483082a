//! From one event-port event to the shared [`Ready`] set.
//!
//! | poll flag delivered | `Ready` |
//! |---|---|
//! | `POLLIN` | `READABLE` |
//! | `POLLOUT` | `WRITABLE` |
//! | `POLLHUP` | `HUP \| READABLE` (Solaris has no `POLLRDHUP`, so never `READ_CLOSED`) |
//! | `POLLERR` | `ERROR` |
//! | `POLLNVAL` | nothing: the fd was closed behind the base's back |
//!
//! `POLLHUP`, `POLLERR` and `POLLNVAL` arrive even when not requested. Directions are
//! then filtered by the interest armed *now* (the table), and `ERROR` or `HUP` come with
//! every armed direction, so the handler that owns the fd sees them.

use event_core::{Interest, Ready};

/// The poll(2) events to associate for `interest` (never `POLLOUT` without write
/// interest: a writable socket would fire at every re-association).
pub fn poll_events(interest: Interest) -> i32 {
    let mut events = 0;
    if interest.contains(Interest::IN) {
        events |= i32::from(libc::POLLIN);
    }
    if interest.contains(Interest::OUT) {
        events |= i32::from(libc::POLLOUT);
    }
    events
}

/// The readiness reported for poll flags `revents` on an fd whose armed interest is
/// `interest`; empty when nothing is left to deliver.
pub fn ready_from(revents: i32, interest: Interest) -> Ready {
    let has = |flag: libc::c_short| revents & i32::from(flag) != 0;
    if has(libc::POLLNVAL) || interest.is_empty() {
        return Ready::empty();
    }
    let mut ready = Ready::empty();
    if has(libc::POLLIN) {
        ready |= Ready::READABLE;
    }
    if has(libc::POLLOUT) {
        ready |= Ready::WRITABLE;
    }
    if has(libc::POLLHUP) {
        ready |= Ready::HUP | Ready::READABLE;
    }
    if has(libc::POLLERR) {
        ready |= Ready::ERROR;
    }
    let mut armed = Ready::empty();
    if interest.contains(Interest::IN) {
        armed |= Ready::READABLE;
    }
    if interest.contains(Interest::OUT) {
        armed |= Ready::WRITABLE;
    }
    ready &= armed | Ready::HUP | Ready::ERROR;
    if ready.intersects(Ready::HUP | Ready::ERROR) {
        ready |= armed;
    }
    ready
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn poll_flags_map_and_filter_by_interest() {
        let both = Interest::IN | Interest::OUT;
        let f = |flag: libc::c_short| i32::from(flag);
        assert_eq!(poll_events(both), f(libc::POLLIN) | f(libc::POLLOUT));
        assert_eq!(poll_events(Interest::IN), f(libc::POLLIN));
        assert_eq!(ready_from(f(libc::POLLIN), both), Ready::READABLE);
        assert_eq!(ready_from(f(libc::POLLOUT), Interest::IN), Ready::empty());
        assert_eq!(
            ready_from(f(libc::POLLHUP), Interest::OUT),
            Ready::HUP | Ready::WRITABLE
        );
        assert_eq!(
            ready_from(f(libc::POLLERR), both),
            Ready::ERROR | Ready::READABLE | Ready::WRITABLE
        );
        assert_eq!(
            ready_from(f(libc::POLLNVAL) | f(libc::POLLIN), both),
            Ready::empty()
        );
        assert_eq!(
            ready_from(f(libc::POLLIN), Interest::empty()),
            Ready::empty()
        );
    }
}
