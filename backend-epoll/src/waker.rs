//! The epoll waker: an eventfd (a pipe where eventfd is refused) behind a pending flag.
//!
//! `wake` sets the flag and writes only when it was clear, so any number of wakes before
//! a `wait` cost one syscall and give one event. On delivery the base drains the source
//! *first* and clears the flag *after*, then calls back: a wake racing with that either
//! sees the flag still set (its queued item is consumed by the callback that follows)
//! or sets it again and writes, producing another event. The other order would lose a
//! wake for good (drained without an event while the flag stays set).

use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use event_core::Wake;

use crate::sys;

/// Shared between the base and every clone of the waker. Owning the write side here
/// means a wake after the base is dropped writes to a live (now unwatched) eventfd,
/// never to a reused descriptor number.
#[derive(Debug)]
struct Shared {
    write: OwnedFd,
    pending: AtomicBool,
}

/// The cross-thread waker of [`crate::EpollBase`].
#[derive(Clone, Debug)]
pub struct EpollWaker {
    shared: Arc<Shared>,
}

/// The base's side of the waker: what it registers, drains and clears.
#[derive(Debug)]
pub(crate) struct WakerSource {
    shared: Arc<Shared>,
    /// The pipe's read end; `None` for an eventfd (read and written on one fd).
    read: Option<OwnedFd>,
}

/// Which kernel object backs a waker.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    /// eventfd, with a pipe as fallback when eventfd fails (sandboxes).
    EventFd,
    /// Always a pipe (tests of the fallback path).
    #[cfg_attr(not(test), allow(dead_code))]
    Pipe,
}

impl WakerSource {
    /// Creates the source and its waker handle.
    pub(crate) fn new(kind: Kind) -> io::Result<(WakerSource, EpollWaker)> {
        let (write, read) = match kind {
            Kind::EventFd => match sys::eventfd() {
                Ok(fd) => (fd, None),
                Err(_) => pipe_pair()?,
            },
            Kind::Pipe => pipe_pair()?,
        };
        let shared = Arc::new(Shared {
            write,
            pending: AtomicBool::new(false),
        });
        let waker = EpollWaker {
            shared: shared.clone(),
        };
        Ok((WakerSource { shared, read }, waker))
    }

    /// The descriptor to register for read readiness.
    pub(crate) fn fd(&self) -> BorrowedFd<'_> {
        match &self.read {
            Some(r) => r.as_fd(),
            None => self.shared.write.as_fd(),
        }
    }

    /// Drains the source, then clears the pending flag (in that order, see the module
    /// docs).
    pub(crate) fn reset(&self) {
        let mut buf = [0u8; 64];
        match &self.read {
            // An eventfd read returns the whole counter at once.
            None => {
                let _ = sys::read(self.fd(), &mut buf[..8]);
            }
            Some(r) => while matches!(sys::read(r.as_fd(), &mut buf), Ok(n) if n > 0) {},
        }
        self.shared.pending.store(false, Ordering::Release);
    }
}

fn pipe_pair() -> io::Result<(OwnedFd, Option<OwnedFd>)> {
    let (r, w) = sys::pipe()?;
    Ok((w, Some(r)))
}

impl Wake for EpollWaker {
    fn wake(&self) -> io::Result<()> {
        if self.shared.pending.swap(true, Ordering::AcqRel) {
            return Ok(());
        }
        match sys::write(self.shared.write.as_fd(), &1u64.to_ne_bytes()) {
            Ok(_) => Ok(()),
            // Counter saturated or pipe full: an event is pending anyway.
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(()),
            Err(e) => {
                // Nothing was written: let the next wake try again.
                self.shared.pending.store(false, Ordering::Release);
                Err(e)
            }
        }
    }
}
