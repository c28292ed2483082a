//! A worker thread: its own `EventBase`, its connections in a slab, the handoff inbox
//! from the dispatcher, the yielded list for `-R` fairness, idle kicks and the UDP socket.

use std::net::UdpSocket;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::sync::atomic::Ordering::{Acquire, Relaxed};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use event_core::{EventBase, Ready, Registry, Token};
use slab::Slab;

use crate::net::conn::{BufPool, Conn, Outcome, State};
use crate::net::stream::Stream;
use crate::net::udp::UdpServer;
use crate::protocol::{Ctx, Session};
use crate::server::Shared;
use crate::stats::{bump, ThreadStats};

/// Token of the worker's waker.
pub const WAKER: Token = Token(u64::MAX);
/// Token of the worker's first UDP socket; socket `i` uses `UDP_FIRST - i`.
pub const UDP_FIRST: u64 = u64::MAX - 1;
/// At most this many UDP sockets per worker (tokens below are connection slots).
const UDP_MAX: u64 = 1024;
/// How long a stopping worker keeps flushing before it gives up on slow readers.
const STOP_GRACE: Duration = Duration::from_secs(5);

/// Connections handed over by the dispatcher.
#[derive(Default)]
pub struct Inbox {
    queue: Mutex<Vec<Stream>>,
}

impl Inbox {
    /// Queues a connection (the caller then wakes the worker).
    pub fn push(&self, s: Stream) {
        self.queue.lock().unwrap_or_else(|e| e.into_inner()).push(s);
    }

    fn drain_into(&self, dst: &mut Vec<Stream>) {
        dst.append(&mut self.queue.lock().unwrap_or_else(|e| e.into_inner()));
    }
}

/// One worker's state.
pub struct Worker<B: EventBase> {
    base: B,
    conns: Slab<Conn>,
    next_gen: u32,
    inbox: Arc<Inbox>,
    incoming: Vec<Stream>,
    yielded: Vec<Token>,
    resume: Vec<Token>,
    pool: BufPool,
    shared: Arc<Shared>,
    index: usize,
    udp: Vec<UdpServer>,
    /// Most connections held at once (slots allocated).
    peak: usize,
}

impl<B: EventBase> Worker<B> {
    /// Creates the worker's base and waker. Returns the worker and its waker.
    pub fn new(
        shared: Arc<Shared>,
        index: usize,
        inbox: Arc<Inbox>,
        udp_socks: Vec<UdpSocket>,
    ) -> std::io::Result<(Self, B::Waker)> {
        let mut base = B::new()?;
        let waker = base.waker(WAKER)?;
        let mut udp = Vec::new();
        for (i, sock) in udp_socks.into_iter().take(UDP_MAX as usize).enumerate() {
            base.add_in(sock.as_fd(), Token(UDP_FIRST - i as u64))?;
            udp.push(UdpServer::new(sock));
        }
        Ok((
            Worker {
                base,
                conns: Slab::new(),
                next_gen: 0,
                inbox,
                incoming: Vec::new(),
                yielded: Vec::new(),
                resume: Vec::new(),
                pool: BufPool::default(),
                shared,
                index,
                udp,
                peak: 0,
            },
            waker,
        ))
    }

    /// Runs until the server stops and every connection is flushed and closed.
    pub fn run(mut self) {
        let read_to_block = B::NAME == "portable";
        let mut stop_deadline: Option<Instant> = None;
        let mut last_idle_scan = 0u32;
        loop {
            let stopping = self.shared.stopping.load(Acquire);
            if stopping && stop_deadline.is_none() {
                stop_deadline = Some(Instant::now() + STOP_GRACE);
                self.begin_stop();
            }
            if let Some(d) = stop_deadline {
                if self.conns.is_empty() || Instant::now() >= d {
                    break;
                }
            }
            let timeout = if !self.yielded.is_empty() {
                Some(Duration::ZERO)
            } else if stopping || self.shared.idle_timeout > 0 {
                Some(Duration::from_millis(if stopping { 50 } else { 1000 }))
            } else {
                None
            };
            let mut woken = false;
            {
                let Worker {
                    base,
                    conns,
                    pool,
                    shared,
                    index,
                    yielded,
                    udp,
                    ..
                } = &mut self;
                let stats = &shared.thread_stats[*index];
                let shared: &Shared = shared;
                let res = base.wait(timeout, |reg, token, ready| {
                    if token == WAKER {
                        woken = true;
                        return;
                    }
                    if token.0 > UDP_FIRST - UDP_MAX {
                        if let Some(u) = udp.get_mut((UDP_FIRST - token.0) as usize) {
                            u.serve(shared, stats);
                        }
                        return;
                    }
                    drive_one(reg, conns, pool, shared, stats, token, yielded, ready);
                });
                if let Err(e) = res {
                    if shared.verbose() > 0 {
                        eprintln!("worker {}: wait failed: {e}", index);
                    }
                    std::thread::sleep(Duration::from_millis(10));
                }
            }
            if woken {
                self.accept_incoming(read_to_block);
            }
            if !self.yielded.is_empty() {
                std::mem::swap(&mut self.yielded, &mut self.resume);
                let Worker {
                    base,
                    conns,
                    pool,
                    shared,
                    index,
                    yielded,
                    resume,
                    ..
                } = &mut self;
                let stats = &shared.thread_stats[*index];
                let reg = base.registry();
                for token in resume.drain(..) {
                    if let Some(c) = conns.get_mut(token.slot() as usize) {
                        if c.token == token {
                            c.yielded = false;
                        }
                    }
                    drive_one(
                        reg,
                        conns,
                        pool,
                        shared,
                        stats,
                        token,
                        yielded,
                        Ready::empty(),
                    );
                }
            }
            if self.shared.idle_timeout > 0 {
                let now = self.shared.now();
                if now != last_idle_scan {
                    last_idle_scan = now;
                    self.kick_idle(now);
                }
            }
        }
        // Close whatever is left (slow readers after the grace period).
        let ids: Vec<usize> = self.conns.iter().map(|(k, _)| k).collect();
        for id in ids {
            self.close(id);
        }
    }

    fn accept_incoming(&mut self, read_to_block: bool) {
        self.inbox.drain_into(&mut self.incoming);
        let stopping = self.shared.stopping.load(Relaxed);
        let mut incoming = std::mem::take(&mut self.incoming);
        for stream in incoming.drain(..) {
            if stopping {
                drop(stream);
                self.shared
                    .conn_stats
                    .curr_connections
                    .fetch_sub(1, Relaxed);
                continue;
            }
            let entry = self.conns.vacant_entry();
            let slot = entry.key() as u32;
            self.next_gen = self.next_gen.wrapping_add(1);
            let token = Token::from_parts(slot, self.next_gen);
            let session = Session::new(self.shared.protocol_mode);
            let conn = Conn::new(stream, token, session, self.shared.now(), read_to_block);
            if self.base.add_in(conn.stream.as_fd(), token).is_err() {
                drop(conn);
                self.shared
                    .conn_stats
                    .curr_connections
                    .fetch_sub(1, Relaxed);
                continue;
            }
            self.shared
                .conns
                .add_client(&conn.stream, conn.last_cmd.clone());
            entry.insert(conn);
            if self.conns.len() > self.peak {
                // memcached's connection_structures: connection slots ever allocated.
                self.peak = self.conns.len();
                self.shared
                    .conn_stats
                    .connection_structures
                    .fetch_add(1, Relaxed);
            }
        }
        self.incoming = incoming;
    }

    fn kick_idle(&mut self, now: u32) {
        let limit = self.shared.idle_timeout;
        let victims: Vec<usize> = self
            .conns
            .iter()
            .filter(|(_, c)| {
                c.state == State::Waiting
                    && c.is_idle()
                    && now.saturating_sub(c.last_cmd.load(Relaxed)) > limit
            })
            .map(|(k, _)| k)
            .collect();
        for id in victims {
            bump(&self.shared.thread_stats[self.index].idle_kicks);
            self.close(id);
        }
    }

    /// Graceful stop: idle connections close now, busy ones after their output drains.
    fn begin_stop(&mut self) {
        let ids: Vec<usize> = self.conns.iter().map(|(k, _)| k).collect();
        for id in ids {
            let conn = &mut self.conns[id];
            if !conn.busy() {
                self.close(id);
            } else {
                conn.state = State::Closing;
            }
        }
    }

    fn close(&mut self, id: usize) {
        let mut conn = self.conns.remove(id);
        self.shared.conns.remove(conn.stream.as_fd().as_raw_fd());
        conn.recycle(&mut self.pool);
        let _ = self.base.close_conn(OwnedFd::from(conn.stream));
        self.shared
            .conn_stats
            .curr_connections
            .fetch_sub(1, Relaxed);
    }
}

/// Drives the connection behind `token` (if it is still the same connection) and applies
/// the outcome.
#[allow(clippy::too_many_arguments)]
fn drive_one<R: Registry>(
    reg: &mut R,
    conns: &mut Slab<Conn>,
    pool: &mut BufPool,
    shared: &Shared,
    stats: &ThreadStats,
    token: Token,
    yielded: &mut Vec<Token>,
    ready: Ready,
) {
    let slot = token.slot() as usize;
    let Some(conn) = conns.get_mut(slot) else {
        return;
    };
    if conn.token != token {
        return; // stale event for a previous occupant of the slot
    }
    if ready.is_closing() {
        // The peer sent FIN (or the socket failed): a short read no longer means the
        // socket is drained, the end of stream is still to be read.
        conn.peer_closed = true;
    }
    let mut ctx = Ctx::new(shared, stats);
    match conn.drive(reg, &mut ctx, pool, shared.reqs_per_event) {
        Outcome::Idle => {}
        Outcome::Yield => {
            if !conn.yielded {
                conn.yielded = true;
                yielded.push(token);
            }
        }
        Outcome::Close => {
            let mut conn = conns.remove(slot);
            shared.conns.remove(conn.stream.as_fd().as_raw_fd());
            conn.recycle(pool);
            let _ = reg.close_conn(OwnedFd::from(conn.stream));
            shared.conn_stats.curr_connections.fetch_sub(1, Relaxed);
        }
    }
}
