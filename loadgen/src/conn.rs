//! One client connection: what it has sent, what it expects back, and its buffers.

use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::time::{Duration, Instant};

use mio::net::TcpStream;

use crate::config::Pacing;
use crate::keys::{KeySpace, SplitMix64};
use crate::protocol::{encode_get, encode_set, next_reply, Parsed, Reply};
use crate::report::Stats;

/// Where a connection's keys come from.
#[derive(Debug)]
pub enum KeySource {
    /// The run's mix: random keys from the connection's own sequence.
    Random(SplitMix64),
    /// Prefill: a set of every id in `next..end`, in order.
    Sequential {
        /// Next id to set.
        next: u64,
        /// One past the last id.
        end: u64,
    },
}

/// The shared, read-only part of a run, seen by every connection of a thread.
#[derive(Debug)]
pub struct Plan<'a> {
    /// Key and value spelling.
    pub keys: &'a KeySpace,
    /// Pacing of requests.
    pub pacing: Pacing,
    /// Get weight of the mix.
    pub get_weight: u32,
    /// Set weight of the mix.
    pub set_weight: u32,
    /// Keys per get.
    pub keys_per_get: usize,
    /// Requests sent before this instant are not measured.
    pub measure_from: Instant,
    /// No request is scheduled at or after this instant.
    pub deadline: Option<Instant>,
}

/// A request on the wire, awaiting its reply.
#[derive(Clone, Copy, Debug)]
struct Pending {
    /// Keys of a get (their ids are in `Conn::get_keys`), or 0 for a set.
    get_keys: usize,
    /// When it was meant to be sent; latency is measured from here.
    intended: Instant,
}

/// Read buffer size; grown when one reply does not fit.
const READ_CHUNK: usize = 64 * 1024;

/// One connection's state.
#[derive(Debug)]
pub struct Conn {
    stream: TcpStream,
    source: KeySource,
    rbuf: Vec<u8>,
    rstart: usize,
    rend: usize,
    wbuf: Vec<u8>,
    wpos: usize,
    inflight: VecDeque<Pending>,
    /// Key ids of in-flight gets, in request order.
    get_keys: VecDeque<u64>,
    /// Keys of the head get not yet answered or counted as missed.
    head_left: Option<usize>,
    issued: u64,
    quota: u64,
    /// Open loop: when this connection's next request is due.
    next_due: Instant,
    /// Open loop: time between this connection's requests.
    interval: Duration,
    ids: Vec<u64>,
}

impl Conn {
    /// A connection that will send at most `quota` requests; under open loop its first
    /// request is due at `first_due` and the next ones every `interval`.
    pub fn new(
        stream: TcpStream,
        source: KeySource,
        quota: u64,
        first_due: Instant,
        interval: Duration,
    ) -> Self {
        Self {
            stream,
            source,
            rbuf: vec![0; READ_CHUNK],
            rstart: 0,
            rend: 0,
            wbuf: Vec::with_capacity(4096),
            wpos: 0,
            inflight: VecDeque::new(),
            get_keys: VecDeque::new(),
            head_left: None,
            issued: 0,
            quota,
            next_due: first_due,
            interval,
            ids: Vec::new(),
        }
    }

    /// The socket, for registration.
    pub fn stream(&mut self) -> &mut TcpStream {
        &mut self.stream
    }

    /// True when nothing is in flight and nothing waits to be written.
    pub fn idle(&self) -> bool {
        self.inflight.is_empty() && self.wpos == self.wbuf.len()
    }

    /// Requests awaiting replies.
    pub fn in_flight(&self) -> usize {
        self.inflight.len()
    }

    /// True when this connection may still schedule a request at `at`.
    pub fn may_issue(&self, plan: &Plan<'_>, at: Instant) -> bool {
        self.issued < self.quota
            && plan.deadline.is_none_or_before(at)
            && match self.source {
                KeySource::Random(_) => true,
                KeySource::Sequential { next, end } => next < end,
            }
    }

    /// Open loop: when the next request is due, if one will be.
    pub fn next_due(&self, plan: &Plan<'_>) -> Option<Instant> {
        self.may_issue(plan, self.next_due).then_some(self.next_due)
    }

    /// Schedules what pacing allows at `now` and writes it out.
    pub fn refill(&mut self, plan: &Plan<'_>, now: Instant) -> io::Result<()> {
        match plan.pacing {
            Pacing::Closed { depth, burst } => {
                if !burst || self.inflight.is_empty() {
                    while self.inflight.len() < depth && self.may_issue(plan, now) {
                        self.issue(plan, now);
                    }
                }
            }
            Pacing::Open { .. } => {
                while self.next_due <= now && self.may_issue(plan, self.next_due) {
                    let due = self.next_due;
                    self.issue(plan, due);
                    self.next_due += self.interval;
                }
            }
        }
        self.flush()
    }

    /// Appends one request to the write buffer.
    fn issue(&mut self, plan: &Plan<'_>, intended: Instant) {
        let keys = plan.keys;
        let get_keys = match &mut self.source {
            KeySource::Sequential { next, .. } => {
                encode_set(keys, *next, &mut self.wbuf);
                *next += 1;
                0
            }
            KeySource::Random(rng) => {
                let total = u64::from(plan.get_weight) + u64::from(plan.set_weight);
                if rng.below(total) < u64::from(plan.get_weight) {
                    self.ids.clear();
                    for _ in 0..plan.keys_per_get {
                        let id = rng.below(keys.count());
                        self.ids.push(id);
                        self.get_keys.push_back(id);
                    }
                    encode_get(keys, &self.ids, &mut self.wbuf);
                    plan.keys_per_get
                } else {
                    encode_set(keys, rng.below(keys.count()), &mut self.wbuf);
                    0
                }
            }
        };
        self.issued += 1;
        self.inflight.push_back(Pending { get_keys, intended });
    }

    /// Writes buffered requests until done or the socket is full.
    pub fn flush(&mut self) -> io::Result<()> {
        while self.wpos < self.wbuf.len() {
            match self.stream.write(&self.wbuf[self.wpos..]) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => self.wpos += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        self.wbuf.clear();
        self.wpos = 0;
        Ok(())
    }

    /// Reads what the socket has and completes the replies it holds.
    pub fn on_readable(&mut self, plan: &Plan<'_>, stats: &mut Stats) -> Result<(), String> {
        loop {
            if self.rend == self.rbuf.len() {
                self.make_room();
            }
            match self.stream.read(&mut self.rbuf[self.rend..]) {
                Ok(0) => return Err("server closed the connection".into()),
                Ok(n) => {
                    self.rend += n;
                    let drained = self.rend < self.rbuf.len();
                    self.parse(plan, stats, Instant::now())?;
                    // A short read emptied the socket; a later arrival is a new edge.
                    if drained {
                        return Ok(());
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(format!("read: {e}")),
            }
        }
    }

    /// Moves unparsed bytes to the front, or doubles the buffer when they fill it.
    fn make_room(&mut self) {
        if self.rstart > 0 {
            self.rbuf.copy_within(self.rstart..self.rend, 0);
            self.rend -= self.rstart;
            self.rstart = 0;
        } else {
            let len = self.rbuf.len();
            self.rbuf.resize(len * 2, 0);
        }
    }

    /// Consumes every complete reply in the read buffer.
    fn parse(&mut self, plan: &Plan<'_>, stats: &mut Stats, now: Instant) -> Result<(), String> {
        while self.rstart < self.rend {
            let Some(&head) = self.inflight.front() else {
                return Err("reply bytes with no request in flight".into());
            };
            let (reply, used) = match next_reply(&self.rbuf[self.rstart..self.rend])? {
                Parsed::Incomplete => break,
                Parsed::Reply(reply, used) => (reply, used),
            };
            let done = match (head.get_keys, reply) {
                (0, Reply::Stored) => {
                    stats.sets += 1;
                    true
                }
                (0, other) => return Err(format!("a set got {other:?} instead of STORED")),
                (n, Reply::Value { key, data }) => {
                    let left = self.head_left.get_or_insert(n);
                    // Keys come back in request order; skipped ones missed.
                    loop {
                        let Some(id) = self.get_keys.pop_front().filter(|_| *left > 0) else {
                            return Err(format!(
                                "VALUE for a key that was not requested: {}",
                                String::from_utf8_lossy(key)
                            ));
                        };
                        *left -= 1;
                        if plan.keys.key_matches(id, key) {
                            if data != plan.keys.value(id) {
                                return Err(format!(
                                    "wrong value for {} ({} bytes)",
                                    String::from_utf8_lossy(key),
                                    data.len()
                                ));
                            }
                            stats.hits += 1;
                            break;
                        }
                        stats.misses += 1;
                    }
                    false
                }
                (n, Reply::End) => {
                    let left = self.head_left.take().unwrap_or(n);
                    for _ in 0..left {
                        self.get_keys.pop_front();
                    }
                    stats.misses += left as u64;
                    stats.gets += 1;
                    stats.keys_requested += n as u64;
                    true
                }
                (_, Reply::Stored) => return Err("a get got STORED".into()),
            };
            self.rstart += used;
            if done {
                self.inflight.pop_front();
                if head.intended >= plan.measure_from {
                    stats.record(now.saturating_duration_since(head.intended));
                }
            }
        }
        if self.rstart == self.rend {
            self.rstart = 0;
            self.rend = 0;
        }
        Ok(())
    }
}

/// `Option<Instant>` as "no deadline, or before it".
trait DeadlineExt {
    fn is_none_or_before(&self, at: Instant) -> bool;
}

impl DeadlineExt for Option<Instant> {
    fn is_none_or_before(&self, at: Instant) -> bool {
        self.map_or(true, |d| at < d)
    }
}
