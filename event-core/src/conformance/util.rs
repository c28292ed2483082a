//! Helpers shared by the scenarios: event collection with bounded waits, and the few
//! descriptor operations `std` does not offer (pipes, `SO_LINGER`, `dup2`, signals).

use std::io::{self, Read};
use std::net::{TcpListener, TcpStream};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::time::{Duration, Instant};

use crate::{EventBase, Ready, Token};

/// How long a scenario waits for an event it expects before failing. Generous, so a
/// loaded machine never fails a correct backend; only a broken one pays it.
pub const EXPECT_WITHIN: Duration = Duration::from_secs(10);

/// How long a scenario waits to check that *no* event arrives. A late event on a loaded
/// machine can only make such a check pass wrongly, never fail a correct backend.
pub const QUIET_FOR: Duration = Duration::from_millis(50);

/// Collects every callback of one `wait`.
pub fn collect<B: EventBase>(base: &mut B, timeout: Option<Duration>) -> Vec<(Token, Ready)> {
    let mut seen = Vec::new();
    let n = base
        .wait(timeout, |_, t, r| seen.push((t, r)))
        .expect("wait failed");
    assert_eq!(n, seen.len(), "wait must return the number of callbacks");
    seen
}

/// Waits (bounded by [`EXPECT_WITHIN`]) until an event for `token` arrives and returns
/// the union of its readiness in that batch; panics if none does.
pub fn expect<B: EventBase>(base: &mut B, token: Token) -> Ready {
    let deadline = Instant::now() + EXPECT_WITHIN;
    loop {
        let ready = union_for(&collect(base, Some(Duration::from_millis(500))), token);
        if !ready.is_empty() {
            return ready;
        }
        assert!(
            Instant::now() < deadline,
            "no event for {token:?} within {EXPECT_WITHIN:?}"
        );
    }
}

/// Waits (bounded) until `token` is reported with all of `want`; returns its readiness.
pub fn expect_with<B: EventBase>(base: &mut B, token: Token, want: Ready) -> Ready {
    let deadline = Instant::now() + EXPECT_WITHIN;
    loop {
        let ready = union_for(&collect(base, Some(Duration::from_millis(500))), token);
        if ready.contains(want) {
            return ready;
        }
        assert!(
            Instant::now() < deadline,
            "no {want:?} for {token:?} within {EXPECT_WITHIN:?} (last {ready:?})"
        );
    }
}

/// Asserts that no event for `token` arrives during [`QUIET_FOR`].
pub fn expect_quiet<B: EventBase>(base: &mut B, token: Token) {
    let seen = collect(base, Some(QUIET_FOR));
    assert!(
        seen.iter().all(|(t, _)| *t != token),
        "unexpected event for {token:?}: {seen:?}"
    );
}

/// The union of the readiness reported for `token` in `seen`.
pub fn union_for(seen: &[(Token, Ready)], token: Token) -> Ready {
    seen.iter()
        .filter(|(t, _)| *t == token)
        .fold(Ready::empty(), |acc, (_, r)| acc | *r)
}

/// Reads until `WouldBlock`, returning the bytes read (stops at end of stream too).
pub fn drain(mut r: impl Read) -> io::Result<usize> {
    let mut buf = [0u8; 4096];
    let mut total = 0;
    loop {
        match r.read(&mut buf) {
            Ok(0) => return Ok(total),
            Ok(n) => total += n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(total),
            Err(e) => return Err(e),
        }
    }
}

/// A connected, non-blocking loopback TCP pair `(ours, peer)`.
pub fn tcp_pair() -> (TcpStream, TcpStream) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    let peer = TcpStream::connect(listener.local_addr().unwrap()).expect("connect");
    let (ours, _) = listener.accept().expect("accept");
    ours.set_nonblocking(true).unwrap();
    peer.set_nonblocking(true).unwrap();
    (ours, peer)
}

fn cvt(ret: libc::c_int) -> io::Result<libc::c_int> {
    if ret == -1 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

/// A close-on-exec, non-blocking pipe `(read end, write end)`.
pub fn pipe() -> (OwnedFd, OwnedFd) {
    let mut fds = [0 as libc::c_int; 2];
    #[cfg(not(any(target_vendor = "apple", target_os = "solaris")))]
    // SAFETY: `fds` is a valid array of two ints for the kernel to fill.
    cvt(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC | libc::O_NONBLOCK) })
        .expect("pipe2");
    #[cfg(any(target_vendor = "apple", target_os = "solaris"))]
    // SAFETY: `fds` is a valid array of two ints for the kernel to fill.
    cvt(unsafe { libc::pipe(fds.as_mut_ptr()) }).expect("pipe");
    // SAFETY: the call succeeded, so both are fresh descriptors owned by nobody else.
    let (r, w) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    for fd in [&r, &w] {
        set_flag(
            fd.as_raw_fd(),
            libc::F_GETFD,
            libc::F_SETFD,
            libc::FD_CLOEXEC,
        );
        set_flag(
            fd.as_raw_fd(),
            libc::F_GETFL,
            libc::F_SETFL,
            libc::O_NONBLOCK,
        );
    }
    (r, w)
}

fn set_flag(fd: RawFd, get: libc::c_int, set: libc::c_int, flag: libc::c_int) {
    // SAFETY: fcntl with F_GETFD/F_GETFL takes no pointer argument; `fd` is open.
    let old = cvt(unsafe { libc::fcntl(fd, get) }).expect("fcntl get");
    // SAFETY: as above, the third argument is an int.
    cvt(unsafe { libc::fcntl(fd, set, old | flag) }).expect("fcntl set");
}

/// True when `fd` is open and close-on-exec; `None` when it is not open.
pub fn is_cloexec(fd: RawFd) -> Option<bool> {
    // SAFETY: F_GETFD takes no pointer; an fd that is not open just gives EBADF.
    let flags = unsafe { libc::fcntl(fd, libc::F_GETFD) };
    (flags != -1).then_some(flags & libc::FD_CLOEXEC != 0)
}

/// The open descriptors of this process below `limit` (probed with `fcntl`).
pub fn open_fds(limit: RawFd) -> Vec<RawFd> {
    (0..limit).filter(|&fd| is_cloexec(fd).is_some()).collect()
}

/// Sets `SO_LINGER` to `{on, 0}`, so dropping the socket sends RST instead of FIN.
pub fn set_linger_zero(s: &TcpStream) {
    let linger = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // SAFETY: the option value points to a live `linger` of the size passed.
    cvt(unsafe {
        libc::setsockopt(
            s.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            (&linger as *const libc::linger).cast(),
            std::mem::size_of::<libc::linger>() as libc::socklen_t,
        )
    })
    .expect("setsockopt SO_LINGER");
}

/// Atomically makes the number `target` refer to `src`'s open file (dup2, close-on-exec
/// kept), closing whatever `target` referred to. The caller keeps owning `target`.
pub fn dup2_onto(src: RawFd, target: RawFd) {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    // SAFETY: dup3 takes plain ints; `target` is owned by the caller, who deregistered it
    // from the base first, so replacing its open file breaks no other owner.
    cvt(unsafe { libc::dup3(src, target, libc::O_CLOEXEC) }).expect("dup3");
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    {
        // SAFETY: as above, with dup2.
        cvt(unsafe { libc::dup2(src, target) }).expect("dup2");
        set_flag(target, libc::F_GETFD, libc::F_SETFD, libc::FD_CLOEXEC);
    }
}

/// The soft `RLIMIT_NOFILE`, raised to the hard limit (capped at `want`) if lower.
pub fn raise_nofile(want: u64) -> u64 {
    // SAFETY: an all-zero rlimit is a valid value for the kernel to overwrite.
    let mut lim: libc::rlimit = unsafe { std::mem::zeroed() };
    // SAFETY: `lim` is a valid, writable rlimit.
    cvt(unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) }).expect("getrlimit");
    let target = want.min(lim.rlim_max as u64);
    if (lim.rlim_cur as u64) < target {
        lim.rlim_cur = target as libc::rlim_t;
        // SAFETY: `lim` is a valid rlimit with cur <= max.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &lim) } == 0 {
            return target;
        }
    }
    lim.rlim_cur as u64
}

extern "C" fn on_sigusr1(_: libc::c_int) {}

/// Installs a no-op SIGUSR1 handler *without* `SA_RESTART`, so a blocking syscall in
/// the thread that receives the signal fails with `EINTR`.
pub fn install_sigusr1_without_restart() {
    // SAFETY: an all-zero sigaction is a valid starting value (empty mask, no flags).
    let mut sa: libc::sigaction = unsafe { std::mem::zeroed() };
    sa.sa_sigaction = on_sigusr1 as extern "C" fn(libc::c_int) as libc::sighandler_t;
    sa.sa_flags = 0;
    // SAFETY: `sa.sa_mask` is a valid sigset_t to initialise.
    unsafe { libc::sigemptyset(&mut sa.sa_mask) };
    // SAFETY: the handler is an async-signal-safe no-op and `sa` is fully initialised.
    cvt(unsafe { libc::sigaction(libc::SIGUSR1, &sa, std::ptr::null_mut()) }).expect("sigaction");
}

/// The calling thread's pthread id, for [`signal_thread`].
pub fn current_thread() -> libc::pthread_t {
    // SAFETY: pthread_self has no preconditions.
    unsafe { libc::pthread_self() }
}

/// Sends SIGUSR1 to `thread`, which must still be running (the caller joins it later).
pub fn signal_thread(thread: libc::pthread_t) {
    // SAFETY: `thread` is a live thread of this process: the scenario only signals while
    // the waiting thread is blocked in the test and stops before that thread returns.
    let rc = unsafe { libc::pthread_kill(thread, libc::SIGUSR1) };
    assert_eq!(rc, 0, "pthread_kill");
}
