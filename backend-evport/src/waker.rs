//! The cross-thread waker: `port_send` behind an atomic flag.
//!
//! `port_send` does not coalesce (every call queues one more event) and fails with
//! `EAGAIN` once the port holds `process.max-port-events`, so the flag is what keeps a
//! burst of wakes down to one queued event. Retrieving the event is the drain; on
//! delivery the flag is cleared after it, so a wake that races with the handler either
//! sees the flag still set (its item is consumed by the callback that follows) or sets
//! it again and sends again. `port_alert` is not used: its alert mode is sticky.

use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use event_core::Wake;

use crate::sys::{self, PortEvent};

/// The `portev_user` cookie of the waker's `PORT_SOURCE_USER` events.
const WAKER_USER: u64 = 0x7761_6b65; // "wake"

/// The waker of [`crate::EvportBase`]: `port_send` behind an atomic flag.
#[derive(Clone, Debug)]
pub struct EvportWaker {
    /// The port, kept open by this `Arc` after the base is dropped.
    port: Arc<OwnedFd>,
    pending: Arc<AtomicBool>,
}

/// The base's side of the waker: how to recognise and clear its event.
#[derive(Debug)]
pub struct WakerSource {
    pending: Arc<AtomicBool>,
}

impl WakerSource {
    /// Creates a waker on `port` and returns the base's side and the waker handle.
    pub fn new(port: &Arc<OwnedFd>) -> (WakerSource, EvportWaker) {
        let pending = Arc::new(AtomicBool::new(false));
        let waker = EvportWaker {
            port: port.clone(),
            pending: pending.clone(),
        };
        (WakerSource { pending }, waker)
    }

    /// True when `ev` is this waker's event.
    pub fn matches(&self, ev: &PortEvent) -> bool {
        ev.source() == libc::PORT_SOURCE_USER && ev.user() == WAKER_USER
    }

    /// Clears the pending flag; retrieving the event already drained the source (see
    /// the module docs for the order).
    pub fn reset(&self) {
        self.pending.store(false, Ordering::Release);
    }
}

impl Wake for EvportWaker {
    fn wake(&self) -> io::Result<()> {
        if self.pending.swap(true, Ordering::AcqRel) {
            return Ok(());
        }
        let res = sys::port_send(self.port.as_fd(), i32::from(libc::POLLIN), WAKER_USER);
        if res.is_err() {
            // Nothing was queued: let the next wake try again.
            self.pending.store(false, Ordering::Release);
        }
        res
    }
}
