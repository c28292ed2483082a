//! One client connection and its explicit state machine.
//!
//! States (memcached's `conn_states`, reduced to what an edge-triggered loop needs):
//!
//! * `Waiting`: nothing buffered that forms a command; waiting for a read edge.
//! * `Parsing`: commands are parsed and executed from the read buffer (pipelining); a
//!   storage command whose value is incomplete (`read value`) or a swallow in progress
//!   stays here with the protocol session remembering it.
//! * `Writing`: output could not be fully written; write interest is armed and reading is
//!   paused until it drains (this is also the back-pressure state).
//! * `Closing`: write what is queued, then close (`quit`); `Closed` once gone.
//!
//! One readiness event runs: read once, parse up to `-R` commands, write once with
//! `writev`. A connection that used up its `-R` budget with input left yields and is
//! resumed from the worker's yielded list without waiting for a new edge.
//!
//! `lru_crawler metadump` streams: the connection holds a [`MetaDump`] and, instead of
//! parsing, writes one batch of it per drive: when the batch is written out it yields
//! (other connections run, then it is resumed for the next batch); when the client reads
//! slowly it waits in `Writing` for write readiness like any large reply. Its later
//! commands stay buffered until `END`.

use std::io::{self, IoSlice};
use std::os::fd::{AsFd, AsRawFd};
use std::sync::atomic::{AtomicU32, Ordering::Relaxed};
use std::sync::Arc;

use event_core::{Registry, Token};

use crate::net::stream::Stream;
use crate::protocol::ascii::MetaDump;
use crate::protocol::{Ctx, Output, Progress, Session, ValueRef};
use crate::stats::add;

/// Initial (and pooled) read-buffer size, as memcached's 16 KB read buffers.
pub const READ_BUF: usize = 16 * 1024;
/// Stop parsing and reading while this much output is queued (back-pressure).
pub const OUT_LIMIT: usize = 1024 * 1024;
/// Command lines without a newline longer than this close the connection (memcached:
/// 2048, except `get`/`gets` lines which may grow).
pub const MAX_LINE: usize = 2048;

/// Connection state (see the module docs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    /// Waiting for input.
    Waiting,
    /// Parsing and executing buffered commands.
    Parsing,
    /// Output pending, write interest armed, reading paused.
    Writing,
    /// Flushing before close.
    Closing,
    /// Gone; the worker removes it.
    Closed,
}

impl State {
    /// memcached's name for the state, for `stats conns`.
    pub fn memcached_name(self) -> &'static str {
        match self {
            State::Waiting => "conn_waiting",
            State::Parsing => "conn_parse_cmd",
            State::Writing => "conn_write",
            State::Closing | State::Closed => "conn_closing",
        }
    }
}

/// What the worker must do after driving a connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Nothing: wait for the next event.
    Idle,
    /// Budget used up with input left: resume soon without a new edge.
    Yield,
    /// The connection is finished; close it.
    Close,
}

/// A reusable pool of read buffers so idle connections hold none.
#[derive(Default)]
pub struct BufPool {
    free: Vec<Vec<u8>>,
}

impl BufPool {
    /// Takes a zero-filled buffer of `READ_BUF` bytes (allocates only when the pool is dry).
    pub fn take(&mut self) -> Vec<u8> {
        self.free.pop().unwrap_or_else(|| vec![0; READ_BUF])
    }

    /// Returns a standard-size buffer; oversized ones are freed (shrink after large values).
    pub fn give(&mut self, buf: Vec<u8>) {
        if buf.len() == READ_BUF && self.free.len() < 256 {
            self.free.push(buf);
        }
    }
}

/// One client connection owned by a worker.
pub struct Conn {
    /// The socket.
    pub stream: Stream,
    /// Its registration token (slot + generation).
    pub token: Token,
    /// Current state.
    pub state: State,
    /// Read buffer (`len()` is its capacity; `rbuf[rpos..rlen]` is unparsed input).
    rbuf: Vec<u8>,
    rpos: usize,
    rlen: usize,
    /// Protocol state (negotiation, pending value, swallow).
    session: Session,
    /// Queued replies.
    pub out: Output<ValueRef>,
    /// A metadump being streamed: the connection belongs to it until `END`.
    dump: Option<Box<MetaDump>>,
    /// Write interest currently armed.
    write_armed: bool,
    /// Server clock (seconds) of the last command, for idle_timeout and `stats conns`
    /// (shared with the connection table; a relaxed store per command).
    pub last_cmd: Arc<AtomicU32>,
    /// The peer has shut down its sending side (an event said so): read to the end.
    pub peer_closed: bool,
    /// On the worker's yielded list (so it is queued once).
    pub yielded: bool,
    /// True when reads until `WouldBlock` are needed (backends without edge guarantees
    /// for short reads).
    read_to_block: bool,
}

impl Conn {
    /// Wraps an accepted stream.
    pub fn new(
        stream: Stream,
        token: Token,
        session: Session,
        now: u32,
        read_to_block: bool,
    ) -> Conn {
        Conn {
            stream,
            token,
            state: State::Waiting,
            rbuf: Vec::new(),
            rpos: 0,
            rlen: 0,
            session,
            out: Output::new(),
            dump: None,
            write_armed: false,
            last_cmd: Arc::new(AtomicU32::new(now)),
            yielded: false,
            peer_closed: false,
            read_to_block,
        }
    }

    /// True when the connection has no partial command buffered (idle_timeout may kick it).
    pub fn is_idle(&self) -> bool {
        self.rpos == self.rlen
            && self.out.is_empty()
            && self.session.is_idle()
            && self.dump.is_none()
    }

    /// Makes room for `need` more bytes after the unparsed data.
    fn reserve(&mut self, pool: &mut BufPool, need: usize) {
        if self.rbuf.is_empty() {
            self.rbuf = pool.take();
        }
        if self.rpos > 0 && self.rpos == self.rlen {
            self.rpos = 0;
            self.rlen = 0;
        }
        if self.rbuf.len() - self.rlen >= need.max(1) {
            return;
        }
        // Compact first, then grow if still short.
        if self.rpos > 0 {
            self.rbuf.copy_within(self.rpos..self.rlen, 0);
            self.rlen -= self.rpos;
            self.rpos = 0;
        }
        let want = self.rlen + need.max(1);
        if self.rbuf.len() < want {
            let new_len = want.next_power_of_two().max(READ_BUF);
            self.rbuf.resize(new_len, 0);
        }
    }

    /// Releases the read buffer to the pool when nothing is buffered (idle connections
    /// hold no buffer; buffers grown for large values are freed).
    fn release_buf(&mut self, pool: &mut BufPool) {
        if self.rpos == self.rlen && !self.rbuf.is_empty() {
            pool.give(std::mem::take(&mut self.rbuf));
            self.rpos = 0;
            self.rlen = 0;
        }
    }

    /// Reads once into the buffer. Returns the bytes read (0 on `WouldBlock`) and whether
    /// the read filled all the free space; EOF is an `UnexpectedEof` error.
    fn fill(
        &mut self,
        pool: &mut BufPool,
        need: usize,
        ctx: &Ctx<'_>,
    ) -> io::Result<(usize, bool)> {
        self.reserve(pool, need);
        let space = self.rbuf.len() - self.rlen;
        match self.stream.read(&mut self.rbuf[self.rlen..]) {
            Ok(0) => Err(io::ErrorKind::UnexpectedEof.into()),
            Ok(n) => {
                self.rlen += n;
                add(&ctx.stats.bytes_read, n as u64);
                Ok((n, n == space))
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok((0, false)),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => Ok((0, false)),
            Err(e) => Err(e),
        }
    }

    /// Writes queued output with `writev` until done or `WouldBlock`.
    /// Returns Ok(true) when everything was written.
    fn flush(&mut self, ctx: &Ctx<'_>) -> io::Result<bool> {
        // The iovec array lives on the stack and is initialised on every call, so its
        // size follows the reply: a single reply is a few segments, a multiget or a
        // pipelined batch dozens (one writev each), never more than IOV_MAX (1024).
        match self.out.segments_pending() {
            0..=4 => self.flush_with::<4>(ctx),
            5..=64 => self.flush_with::<64>(ctx),
            _ => self.flush_with::<512>(ctx),
        }
    }

    fn flush_with<const IOVS: usize>(&mut self, ctx: &Ctx<'_>) -> io::Result<bool> {
        while !self.out.is_empty() {
            let mut iov = [IoSlice::new(&[]); IOVS];
            let n = self.out.fill_iovecs(&mut iov);
            match self.stream.write_vectored(&iov[..n]) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(w) => {
                    add(&ctx.stats.bytes_written, w as u64);
                    self.out.advance(w);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(true)
    }

    /// Runs the state machine after a readiness event (or a resume from the yielded list).
    pub fn drive<R: Registry>(
        &mut self,
        reg: &mut R,
        ctx: &mut Ctx<'_>,
        pool: &mut BufPool,
        budget: usize,
    ) -> Outcome {
        ctx.conn_fd = self.stream.as_fd().as_raw_fd();
        ctx.stream_dumps = true;
        match self.run(reg, ctx, pool, budget) {
            Ok(o) => o,
            Err(_) => {
                self.state = State::Closed;
                Outcome::Close
            }
        }
    }

    fn run<R: Registry>(
        &mut self,
        reg: &mut R,
        ctx: &mut Ctx<'_>,
        pool: &mut BufPool,
        budget: usize,
    ) -> io::Result<Outcome> {
        // Writing/Closing: drain first; nothing else happens until the output is gone.
        if matches!(self.state, State::Writing | State::Closing) {
            if !self.flush(ctx)? {
                self.arm_write(reg)?;
                return Ok(Outcome::Idle);
            }
            if self.state == State::Closing {
                if self.dump.is_some() {
                    // A graceful stop lets a metadump in progress finish (within the
                    // worker's grace period).
                    return Ok(self.dump_batch(reg, ctx)?.unwrap_or(Outcome::Close));
                }
                self.state = State::Closed;
                return Ok(Outcome::Close);
            }
            self.disarm_write(reg)?;
            self.state = State::Parsing;
        }

        let mut left = budget.max(1);
        let mut need = 0usize;
        let mut read_done = false;
        loop {
            if self.dump.is_some() {
                if let Some(outcome) = self.dump_batch(reg, ctx)? {
                    return Ok(outcome);
                }
            }
            // Parse everything buffered, within budget and the output limit.
            while left > 0
                && self.rpos < self.rlen
                && self.out.pending() < OUT_LIMIT
                && self.dump.is_none()
            {
                self.state = State::Parsing;
                match self
                    .session
                    .step(&self.rbuf[self.rpos..self.rlen], &mut self.out, ctx)
                {
                    Progress::Consumed(n) => {
                        self.rpos += n;
                        left -= 1;
                        need = 0;
                        self.last_cmd.store(ctx.now, Relaxed);
                        self.dump = ctx.dump.take();
                    }
                    Progress::Partial(n) => {
                        self.rpos += n;
                        need = 0;
                    }
                    Progress::NeedMore(total) => {
                        need = total.saturating_sub(self.rlen - self.rpos);
                        break;
                    }
                    Progress::Close => {
                        self.rpos = self.rlen;
                        self.state = State::Closing;
                        break;
                    }
                    Progress::Abort => {
                        self.state = State::Closed;
                        return Ok(Outcome::Close);
                    }
                }
            }
            if self.state == State::Closing {
                if self.flush(ctx)? {
                    self.state = State::Closed;
                    return Ok(Outcome::Close);
                }
                self.arm_write(reg)?;
                return Ok(Outcome::Idle);
            }
            if self.dump.is_some() {
                continue; // a metadump started: its first batch
            }
            if self.out.pending() >= OUT_LIMIT {
                // Back-pressure: write what we can; stop reading while it stays high.
                if !self.flush(ctx)? {
                    self.state = State::Writing;
                    self.arm_write(reg)?;
                    return Ok(Outcome::Idle);
                }
                continue;
            }
            if left == 0 {
                // Fairness: flush, then yield if input is left (buffered or maybe unread).
                if !self.flush(ctx)? {
                    self.state = State::Writing;
                    self.arm_write(reg)?;
                    return Ok(Outcome::Idle);
                }
                if self.rpos < self.rlen || !read_done {
                    crate::stats::bump(&ctx.stats.conn_yields);
                    self.state = State::Parsing;
                    return Ok(Outcome::Yield);
                }
                break;
            }
            if read_done {
                break;
            }
            // Input exhausted (or incomplete): read once.
            let (n, full) = match self.fill(pool, need, ctx) {
                Ok(r) => r,
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => {
                    // The peer half-closed after its requests: deliver what is queued
                    // (as memcached does), then close.
                    self.state = State::Closing;
                    if self.flush(ctx)? {
                        self.state = State::Closed;
                        return Ok(Outcome::Close);
                    }
                    self.arm_write(reg)?;
                    return Ok(Outcome::Idle);
                }
                Err(e) => return Err(e),
            };
            if n == 0 {
                read_done = true;
                if left == 0 || self.rpos == self.rlen || need > 0 {
                    break;
                }
                continue;
            }
            // A short read drained the socket on edge-triggered backends; with
            // `read_to_block` we keep reading until WouldBlock.
            if !self.read_to_block && !self.peer_closed && !full && need <= n {
                read_done = true;
            }
            if need > n {
                need -= n;
            }
            if self.rlen - self.rpos > MAX_LINE
                && self.session.line_too_long(&self.rbuf[self.rpos..self.rlen])
            {
                self.state = State::Closed;
                return Ok(Outcome::Close);
            }
        }

        // One writev for the whole batch.
        if !self.flush(ctx)? {
            self.state = State::Writing;
            self.arm_write(reg)?;
            return Ok(Outcome::Idle);
        }
        self.disarm_write(reg)?;
        self.state = State::Waiting;
        self.release_buf(pool);
        self.out.shrink_idle(64 * 1024);
        Ok(Outcome::Idle)
    }

    /// Writes the next batch of the metadump in progress. Returns the outcome when the
    /// drive ends here (waiting for the client to read, or yielding between batches), or
    /// None once `END` is written and the connection goes back to its commands (a
    /// `Closing` connection is `Closed` then).
    fn dump_batch<R: Registry>(
        &mut self,
        reg: &mut R,
        ctx: &mut Ctx<'_>,
    ) -> io::Result<Option<Outcome>> {
        if let Some(dump) = self.dump.as_mut() {
            if dump.next_batch(&mut self.out, &ctx.shared.engine) {
                self.dump = None;
            }
        }
        let closing = self.state == State::Closing;
        if !self.flush(ctx)? {
            if !closing {
                self.state = State::Writing;
            }
            self.arm_write(reg)?;
            return Ok(Some(Outcome::Idle));
        }
        self.disarm_write(reg)?;
        if self.dump.is_some() {
            // Written out: let the worker serve others, then come back for the next batch.
            if !closing {
                self.state = State::Parsing;
            }
            return Ok(Some(Outcome::Yield));
        }
        if closing {
            self.state = State::Closed;
        }
        Ok(None)
    }

    fn arm_write<R: Registry>(&mut self, reg: &mut R) -> io::Result<()> {
        if !self.write_armed {
            reg.add_out(self.stream.as_fd(), self.token)?;
            self.write_armed = true;
        }
        Ok(())
    }

    fn disarm_write<R: Registry>(&mut self, reg: &mut R) -> io::Result<()> {
        if self.write_armed {
            reg.del_out(self.stream.as_fd())?;
            self.write_armed = false;
        }
        Ok(())
    }

    /// True while replies are queued or a metadump is in progress (a graceful stop waits
    /// for them).
    pub fn busy(&self) -> bool {
        !self.out.is_empty() || self.dump.is_some()
    }

    /// Read-buffer bytes held (for shrink checks and tests).
    pub fn buffered(&self) -> usize {
        self.rlen - self.rpos
    }

    /// Gives back the read buffer (used at close).
    pub fn recycle(&mut self, pool: &mut BufPool) {
        self.rpos = self.rlen;
        self.release_buf(pool);
    }
}
