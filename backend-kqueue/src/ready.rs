//! From one kqueue event to the shared [`Ready`] set.
//!
//! | kqueue event | `Ready` |
//! |---|---|
//! | `EVFILT_READ` | `READABLE` |
//! | `EVFILT_READ` + `EV_EOF` | `READABLE \| READ_CLOSED` (a local `shutdown(SHUT_RD)` too) |
//! | `EVFILT_WRITE` | `WRITABLE` |
//! | `EVFILT_WRITE` + `EV_EOF` | `WRITABLE \| HUP` |
//! | `EV_EOF` with `fflags` != 0 (the socket's errno, e.g. a refused connect) | adds `ERROR` |
//! | `EV_ERROR` (a queued change failed; errno in `data`) | `ERROR` |
//!
//! Directions are then filtered by the interest armed *now* (the table), and `ERROR` or
//! `HUP` come with every armed direction, so the handler that owns the fd sees them.

use event_core::{Interest, Ready};

use crate::sys::{Filter, Flags};

/// The filter of a direction (`IN` or `OUT`) and its slot in a per-fd `[read, write]`
/// pair.
pub fn filter_of(dir: Interest) -> (Filter, usize) {
    if dir == Interest::IN {
        (libc::EVFILT_READ, 0)
    } else {
        (libc::EVFILT_WRITE, 1)
    }
}

/// The errnos of a failed queued change that mean nothing for the registration:
/// `ENOENT` (deleting a filter the kernel does not have) and `EPIPE` (registering a pipe
/// whose other end is closed, old macOS; events still arrive, mio#582).
pub fn ignorable_change_error(errno: i64) -> bool {
    errno == i64::from(libc::ENOENT) || errno == i64::from(libc::EPIPE)
}

/// The direction and `[read, write]` slot of a read or write filter.
pub fn dir_of(filter: Filter) -> (Interest, usize) {
    if filter == libc::EVFILT_READ {
        (Interest::IN, 0)
    } else {
        (Interest::OUT, 1)
    }
}

/// The readiness reported for an event with `filter`, `flags` and `fflags` on an fd
/// whose armed interest is `interest`; empty when nothing is left to deliver.
pub fn ready_from(filter: Filter, flags: Flags, fflags: u32, interest: Interest) -> Ready {
    let eof = flags & libc::EV_EOF != 0;
    let mut ready = if flags & libc::EV_ERROR != 0 {
        Ready::ERROR
    } else if filter == libc::EVFILT_READ {
        Ready::READABLE
            | if eof {
                Ready::READ_CLOSED
            } else {
                Ready::empty()
            }
    } else if filter == libc::EVFILT_WRITE {
        Ready::WRITABLE | if eof { Ready::HUP } else { Ready::empty() }
    } else {
        Ready::empty()
    };
    if eof && fflags != 0 {
        ready |= Ready::ERROR;
    }
    filter_by_interest(ready, interest)
}

/// Keeps the directions `interest` arms and adds them all when `ERROR` or `HUP` is set.
fn filter_by_interest(mut ready: Ready, interest: Interest) -> Ready {
    if interest.is_empty() {
        return Ready::empty();
    }
    let armed = if interest.contains(Interest::IN) {
        Ready::READABLE | Ready::READ_CLOSED
    } else {
        Ready::empty()
    } | if interest.contains(Interest::OUT) {
        Ready::WRITABLE
    } else {
        Ready::empty()
    };
    ready &= armed | Ready::HUP | Ready::ERROR;
    if ready.intersects(Ready::HUP | Ready::ERROR) {
        ready |= armed & (Ready::READABLE | Ready::WRITABLE);
    }
    ready
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eof_maps_per_filter_and_errors_reach_armed_directions() {
        let both = Interest::IN | Interest::OUT;
        assert_eq!(ready_from(libc::EVFILT_READ, 0, 0, both), Ready::READABLE);
        assert_eq!(
            ready_from(libc::EVFILT_READ, libc::EV_EOF, 0, Interest::IN),
            Ready::READABLE | Ready::READ_CLOSED
        );
        assert_eq!(
            ready_from(libc::EVFILT_WRITE, libc::EV_EOF, 0, Interest::OUT),
            Ready::WRITABLE | Ready::HUP
        );
        assert_eq!(
            ready_from(libc::EVFILT_WRITE, libc::EV_EOF, 61, both),
            Ready::READABLE | Ready::WRITABLE | Ready::HUP | Ready::ERROR
        );
        assert_eq!(
            ready_from(libc::EVFILT_READ, libc::EV_ERROR, 0, Interest::OUT),
            Ready::WRITABLE | Ready::ERROR
        );
        assert_eq!(
            ready_from(libc::EVFILT_WRITE, 0, 0, Interest::IN),
            Ready::empty()
        );
        assert_eq!(
            ready_from(libc::EVFILT_READ, 0, 0, Interest::empty()),
            Ready::empty()
        );
        assert!(ignorable_change_error(i64::from(libc::ENOENT)));
        assert!(!ignorable_change_error(i64::from(libc::EBADF)));
    }
}
