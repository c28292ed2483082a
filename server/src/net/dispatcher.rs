//! The dispatcher thread: owns the listeners on its own `EventBase`, accepts until
//! `WouldBlock`, enforces `-c`, backs off on `EMFILE`, hands connections round-robin to
//! the workers (inbox + waker), ticks the server clock once a second, and turns
//! SIGINT/SIGTERM into a graceful stop.

use std::io::{self, Read, Write};
use std::os::fd::AsFd;
use std::os::unix::net::UnixStream;
use std::sync::atomic::Ordering::{Relaxed, Release};
use std::sync::Arc;
use std::time::{Duration, Instant};

use event_core::{EventBase, Token, Wake};

use crate::net::listen::Listener;
use crate::net::stream::Stream;
use crate::net::worker::Inbox;
use crate::server::Shared;

/// Token of the signal pipe.
const SIGNALS: Token = Token(u64::MAX - 1);
/// Token of the dispatcher's own waker (stop requests from other threads).
const WAKER: Token = Token(u64::MAX);
/// The reply memcached writes to a connection over the limit before closing it.
const TOO_MANY: &[u8] = b"ERROR Too many open connections\r\n";

/// The dispatcher's state.
pub struct Dispatcher<B: EventBase> {
    base: B,
    listeners: Vec<Listener>,
    workers: Vec<(Arc<Inbox>, B::Waker)>,
    next: usize,
    shared: Arc<Shared>,
    signals: UnixStream,
    /// Set while accept is paused after EMFILE: (since, connections at that moment).
    paused: Option<(Instant, u64)>,
    /// Listener indexes reported by the last wait (reused).
    ready: Vec<usize>,
}

impl<B: EventBase> Dispatcher<B> {
    /// Registers the listeners and the signal pipe on a new base; returns the dispatcher
    /// and a waker other threads may use to make it re-check `shared.stopping`.
    pub fn new(
        listeners: Vec<Listener>,
        workers: Vec<(Arc<Inbox>, B::Waker)>,
        shared: Arc<Shared>,
        signals: UnixStream,
    ) -> io::Result<(Self, B::Waker)> {
        let mut base = B::new()?;
        let waker = base.waker(WAKER)?;
        for (i, l) in listeners.iter().enumerate() {
            base.add_in(listener_fd(l), Token(i as u64))?;
        }
        signals.set_nonblocking(true)?;
        base.add_in(signals.as_fd(), SIGNALS)?;
        shared.conn_stats.accepting_conns.store(1, Relaxed);
        Ok((
            Dispatcher {
                base,
                listeners,
                workers,
                next: 0,
                shared,
                signals,
                paused: None,
                ready: Vec::new(),
            },
            waker,
        ))
    }

    /// Runs until a stop is requested, then tells the workers and returns.
    pub fn run(mut self) {
        let mut next_tick = Instant::now() + Duration::from_secs(1);
        loop {
            if self.shared.stopping.load(Relaxed) {
                break;
            }
            let now = Instant::now();
            if now >= next_tick {
                self.shared.tick();
                next_tick += Duration::from_secs(1);
                if next_tick < now {
                    next_tick = now + Duration::from_secs(1);
                }
            }
            let mut timeout = next_tick.saturating_duration_since(now);
            if self.paused.is_some() {
                timeout = timeout.min(Duration::from_millis(10));
                self.maybe_resume();
            }
            let mut signal = false;
            let ready = &mut self.ready;
            ready.clear();
            let res = self.base.wait(Some(timeout), |_reg, token, _r| {
                if token == SIGNALS || token == WAKER {
                    signal = true;
                } else {
                    ready.push(token.0 as usize);
                }
            });
            if res.is_err() {
                std::thread::sleep(Duration::from_millis(10));
                continue;
            }
            if signal {
                // The pipe only ever carries stop requests (SIGINT, SIGTERM, `shutdown`).
                let mut buf = [0u8; 64];
                let mut got = false;
                while let Ok(n) = self.signals.read(&mut buf) {
                    if n == 0 {
                        break;
                    }
                    got = true;
                }
                if got || self.shared.stop_requested() {
                    break;
                }
            }
            for k in 0..self.ready.len() {
                let i = self.ready[k];
                if i < self.listeners.len() && self.paused.is_none() {
                    self.accept_all(i);
                }
            }
        }
        self.stop();
    }

    /// Accepts from listener `i` until `WouldBlock` (or EMFILE).
    fn accept_all(&mut self, i: usize) {
        loop {
            let res = match &self.listeners[i] {
                Listener::Tcp(l) => l.accept().map(|(s, _)| Stream::Tcp(s)),
                Listener::Unix(l) => l.accept().map(|(s, _)| Stream::Unix(s)),
            };
            match res {
                Ok(stream) => self.hand_off(stream),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if matches!(e.raw_os_error(), Some(libc::EMFILE) | Some(libc::ENFILE)) => {
                    self.pause();
                    return;
                }
                // ECONNABORTED and friends: that one connection is gone; go on.
                Err(_) => {}
            }
        }
    }

    fn hand_off(&mut self, mut stream: Stream) {
        let cs = &self.shared.conn_stats;
        add_atomic(&cs.total_connections);
        if self.shared.maxconns_fast && cs.curr_connections.load(Relaxed) >= self.shared.max_conns {
            // Best effort: a fresh socket always has room for one short line.
            let _ = stream.write(TOO_MANY);
            add_atomic(&cs.rejected_connections);
            return;
        }
        let ok = match &stream {
            Stream::Tcp(s) => s.set_nonblocking(true).and_then(|_| s.set_nodelay(true)),
            Stream::Unix(s) => s.set_nonblocking(true),
        };
        if ok.is_err() {
            return;
        }
        cs.curr_connections.fetch_add(1, Relaxed);
        let n = self.workers.len();
        let (inbox, waker) = &self.workers[self.next % n];
        self.next = self.next.wrapping_add(1);
        inbox.push(stream);
        let _ = waker.wake();
    }

    /// EMFILE back-off: stop listening until a connection closes.
    fn pause(&mut self) {
        for l in &self.listeners {
            let _ = self.base.del_in(listener_fd(l));
        }
        let conns = self.shared.conn_stats.curr_connections.load(Relaxed);
        self.paused = Some((Instant::now(), conns));
        add_atomic(&self.shared.conn_stats.listen_disabled_num);
        self.shared.conn_stats.accepting_conns.store(0, Relaxed);
    }

    fn maybe_resume(&mut self) {
        let Some((since, conns)) = self.paused else {
            return;
        };
        if self.shared.conn_stats.curr_connections.load(Relaxed) >= conns {
            return;
        }
        for (i, l) in self.listeners.iter().enumerate() {
            let _ = self.base.add_in(listener_fd(l), Token(i as u64));
        }
        let us = since.elapsed().as_micros() as u64;
        self.shared
            .conn_stats
            .time_in_listen_disabled_us
            .fetch_add(us, Relaxed);
        self.shared.conn_stats.accepting_conns.store(1, Relaxed);
        self.paused = None;
    }

    /// Stops accepting, removes the unix socket file, and wakes every worker so it
    /// flushes and closes its connections.
    fn stop(&mut self) {
        for l in self.listeners.drain(..) {
            let _ = self.base.del_conn(listener_fd(&l));
            if let Listener::Unix(u) = &l {
                if let Ok(addr) = u.local_addr() {
                    if let Some(p) = addr.as_pathname() {
                        let _ = std::fs::remove_file(p);
                    }
                }
            }
        }
        self.shared.stopping.store(true, Release);
        for (_, w) in &self.workers {
            let _ = w.wake();
        }
    }
}

fn listener_fd(l: &Listener) -> std::os::fd::BorrowedFd<'_> {
    match l {
        Listener::Tcp(t) => t.as_fd(),
        Listener::Unix(u) => u.as_fd(),
    }
}

/// A multi-writer counter increment (the dispatcher and workers share these).
fn add_atomic(c: &std::sync::atomic::AtomicU64) {
    c.fetch_add(1, Relaxed);
}

/// Writes one byte to the signal pipe (used by the `shutdown` command path too).
pub fn poke(pipe: &UnixStream) {
    let mut p = pipe;
    let _ = p.write(&[1]);
}
