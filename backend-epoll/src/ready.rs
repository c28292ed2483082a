//! Mapping between the contract's [`Interest`]/[`Ready`] and epoll's flags.
//!
//! | epoll flag | `Ready` | delivered when |
//! |---|---|---|
//! | `EPOLLIN` | `READABLE` | read interest armed |
//! | `EPOLLRDHUP` | `READABLE` + `READ_CLOSED` | read interest armed (requested with it) |
//! | `EPOLLOUT` | `WRITABLE` | write interest armed |
//! | `EPOLLHUP` | `HUP` + every armed direction | any interest armed (always reported) |
//! | `EPOLLERR` | `ERROR` + every armed direction | any interest armed (always reported) |
//!
//! Registration: read interest is `EPOLLIN | EPOLLRDHUP`, write interest `EPOLLOUT`,
//! both with `EPOLLET`. The write end of a pipe whose reader is gone reports only
//! `EPOLLERR`, which becomes `ERROR | WRITABLE`, so the handler tries the write and
//! sees `EPIPE`.

use event_core::{Interest, Ready};

/// The `events` mask registered for `interest` (edge-triggered).
pub fn epoll_flags(interest: Interest) -> u32 {
    let mut flags = libc::EPOLLET as u32;
    if interest.contains(Interest::IN) {
        flags |= (libc::EPOLLIN | libc::EPOLLRDHUP) as u32;
    }
    if interest.contains(Interest::OUT) {
        flags |= libc::EPOLLOUT as u32;
    }
    flags
}

/// The readiness an event with `flags` reports, filtered by the armed `interest`.
/// Empty when nothing armed is concerned (the event is dropped).
pub fn ready_from(flags: u32, interest: Interest) -> Ready {
    let has = |f: libc::c_int| flags & f as u32 != 0;
    let mut ready = Ready::empty();
    let readable = interest.contains(Interest::IN);
    let writable = interest.contains(Interest::OUT);
    if readable && has(libc::EPOLLIN) {
        ready |= Ready::READABLE;
    }
    if readable && has(libc::EPOLLRDHUP) {
        ready |= Ready::READABLE | Ready::READ_CLOSED;
    }
    if writable && has(libc::EPOLLOUT) {
        ready |= Ready::WRITABLE;
    }
    if !interest.is_empty() {
        let mut armed = Ready::empty();
        armed.set(Ready::READABLE, readable);
        armed.set(Ready::WRITABLE, writable);
        if has(libc::EPOLLHUP) {
            ready |= Ready::HUP | armed;
        }
        if has(libc::EPOLLERR) {
            ready |= Ready::ERROR | armed;
        }
    }
    ready
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_follow_interest() {
        let both = epoll_flags(Interest::IN | Interest::OUT);
        assert_eq!(
            both,
            (libc::EPOLLET | libc::EPOLLIN | libc::EPOLLRDHUP | libc::EPOLLOUT) as u32
        );
        assert_eq!(epoll_flags(Interest::empty()), libc::EPOLLET as u32);
    }

    #[test]
    fn directions_are_filtered_and_errors_carry_armed_directions() {
        let all = (libc::EPOLLIN | libc::EPOLLOUT) as u32;
        assert_eq!(ready_from(all, Interest::IN), Ready::READABLE);
        assert_eq!(ready_from(all, Interest::OUT), Ready::WRITABLE);
        assert_eq!(ready_from(all, Interest::empty()), Ready::empty());
        assert_eq!(
            ready_from(libc::EPOLLERR as u32, Interest::OUT),
            Ready::ERROR | Ready::WRITABLE
        );
        assert_eq!(
            ready_from((libc::EPOLLHUP | libc::EPOLLRDHUP) as u32, Interest::IN),
            Ready::HUP | Ready::READABLE | Ready::READ_CLOSED
        );
    }
}
