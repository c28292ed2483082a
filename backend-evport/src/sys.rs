//! The only `unsafe` of the crate: thin wrappers over the event-port syscalls.

use std::io;
use std::mem::MaybeUninit;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::ptr;

/// Calls a libc function and turns `-1` into `io::Error::last_os_error()`.
macro_rules! syscall {
    ($fn:ident ( $($arg:expr),* $(,)? )) => {{
        #[allow(unused_unsafe)]
        // SAFETY: the caller of the macro documents why the arguments are valid.
        let res = unsafe { libc::$fn($($arg),*) };
        if res == -1 {
            Err(io::Error::last_os_error())
        } else {
            Ok(res)
        }
    }};
}

/// One retrieved event: libc's `port_event_t`.
#[derive(Clone, Copy)]
#[repr(transparent)]
pub struct PortEvent(libc::port_event);

// SAFETY: the only non-`Send` field is `portev_user`, a pointer-sized field this crate
// fills with an integer (a registration generation) and never dereferences.
unsafe impl Send for PortEvent {}

impl std::fmt::Debug for PortEvent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PortEvent")
            .field("events", &self.events())
            .field("source", &self.source())
            .field("object", &self.object())
            .field("user", &self.user())
            .finish()
    }
}

impl PortEvent {
    /// An all-zero entry (the initial content of the event buffer).
    pub fn zeroed() -> PortEvent {
        // SAFETY: `port_event_t` holds only integers and a raw pointer, for which
        // all-zero bytes are valid values (0 and null).
        PortEvent(unsafe { MaybeUninit::<libc::port_event>::zeroed().assume_init() })
    }

    /// The poll(2) flags that fired (`PORT_SOURCE_FD`), or `port_send`'s `events`.
    pub fn events(&self) -> i32 {
        self.0.portev_events
    }

    /// The event source (`PORT_SOURCE_FD`, `PORT_SOURCE_USER`, ...).
    pub fn source(&self) -> i32 {
        i32::from(self.0.portev_source)
    }

    /// The object: the fd for `PORT_SOURCE_FD`.
    pub fn object(&self) -> usize {
        self.0.portev_object
    }

    /// The user cookie given to `port_associate` or `port_send`.
    pub fn user(&self) -> u64 {
        self.0.portev_user as usize as u64
    }
}

/// A new event port, close-on-exec (`port_create` has no flags, so `fcntl` right after).
pub fn port_create() -> io::Result<OwnedFd> {
    let fd = syscall!(port_create())?;
    // SAFETY: port_create succeeded, so `fd` is a fresh descriptor nobody else owns.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    // `fd` is open and owned here; F_SETFD takes an int.
    syscall!(fcntl(fd.as_raw_fd(), libc::F_SETFD, libc::FD_CLOEXEC))?;
    Ok(fd)
}

/// Associates `fd` with the port for the poll(2) `events`, with cookie `user`
/// (replacing the events and cookie of an existing association). Checks the level:
/// an fd that is ready now produces an event at once.
pub fn port_associate(port: BorrowedFd<'_>, fd: RawFd, events: i32, user: u64) -> io::Result<()> {
    // Plain values; `user` is an opaque integer the kernel hands back, never a pointer
    // it dereferences.
    syscall!(port_associate(
        port.as_raw_fd(),
        libc::PORT_SOURCE_FD,
        fd as usize,
        events,
        user as usize as *mut libc::c_void,
    ))
    .map(drop)
}

/// Removes `fd`'s association (and its queued event, if any).
pub fn port_dissociate(port: BorrowedFd<'_>, fd: RawFd) -> io::Result<()> {
    // Plain values.
    syscall!(port_dissociate(
        port.as_raw_fd(),
        libc::PORT_SOURCE_FD,
        fd as usize
    ))
    .map(drop)
}

/// Queues one `PORT_SOURCE_USER` event carrying `events` and `user`.
pub fn port_send(port: BorrowedFd<'_>, events: i32, user: u64) -> io::Result<()> {
    // Plain values; `user` is an opaque integer.
    syscall!(port_send(
        port.as_raw_fd(),
        events,
        user as usize as *mut libc::c_void
    ))
    .map(drop)
}

/// `port_getn(port, events, nget = 1, timeout)`: waits up to `timeout` (`None`:
/// forever) for at least one event and retrieves up to `events.len()`. Returns how many
/// were retrieved. With `ETIME`, and with `EINTR`, the kernel may still have retrieved
/// some (`port_get.3c`: "nget is updated"; APR and redis hit this), and retrieved fd
/// events are already dissociated, so those errors return that count instead (a bare
/// `EINTR` stays an error).
pub fn port_getn(
    port: BorrowedFd<'_>,
    events: &mut [PortEvent],
    timeout: Option<&mut libc::timespec>,
) -> io::Result<usize> {
    let ts = timeout.map_or(ptr::null_mut(), |t| t as *mut libc::timespec);
    let max = libc::c_uint::try_from(events.len()).unwrap_or(libc::c_uint::MAX);
    let mut nget: libc::c_uint = 1;
    // Should the kernel leave `nget` alone on a bare ETIME, the entry it then points at
    // is blank (source 0), never a stale event from the previous batch.
    if let Some(first) = events.first_mut() {
        *first = PortEvent::zeroed();
    }
    // `PortEvent` is `repr(transparent)` over `port_event_t`, so `events` is a writable
    // array of at least `max` entries; `nget` is a live `uint_t`; `ts` is null or points
    // at a live timespec. The kernel keeps none of these pointers.
    let res = syscall!(port_getn(
        port.as_raw_fd(),
        events.as_mut_ptr().cast::<libc::port_event>(),
        max,
        &mut nget,
        ts,
    ));
    let got = (nget as usize).min(events.len());
    match res {
        Ok(_) => Ok(got),
        // Events retrieved are dissociated: dropping them would lose their edges.
        Err(e) if e.raw_os_error() == Some(libc::ETIME) => Ok(got),
        Err(e) if e.raw_os_error() == Some(libc::EINTR) && got > 0 => Ok(got),
        Err(e) => Err(e),
    }
}
