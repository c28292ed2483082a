//! The whole connection state machine: a real [`Conn`] serving one end of a unix socket
//! pair, the other end written in chunks and read like a client would, driven the way a
//! worker drives it (resume after a yield, write readiness once the client has read).

use std::io::{self, Read, Write};
use std::os::fd::BorrowedFd;
use std::os::unix::net::UnixStream;

use evcached::net::conn::{BufPool, Conn, Outcome, State, OUT_LIMIT};
use evcached::net::stream::Stream;
use evcached::protocol::{Ctx, Session};
use evcached::server::Shared;
use evcached::stats::ThreadStats;
use event_core::{Interest, Registry, Token};

use crate::session::{End, Transcript};

/// A registry that only records write interest: the harness itself decides when the
/// connection is driven, so no kernel readiness is needed.
#[derive(Default)]
struct WriteInterest {
    write: bool,
}

impl Registry for WriteInterest {
    fn add(&mut self, _fd: BorrowedFd<'_>, _token: Token, interest: Interest) -> io::Result<()> {
        self.write |= interest.contains(Interest::OUT);
        Ok(())
    }
    fn del(&mut self, _fd: BorrowedFd<'_>, interest: Interest) -> io::Result<()> {
        self.write &= !interest.contains(Interest::OUT);
        Ok(())
    }
    fn del_conn(&mut self, _fd: BorrowedFd<'_>) -> io::Result<()> {
        self.write = false;
        Ok(())
    }
}

/// The client end and what it has read.
struct Peer {
    sock: UnixStream,
    got: Vec<u8>,
    eof: bool,
}

impl Peer {
    /// Reads everything available now.
    fn drain(&mut self) {
        let mut buf = [0u8; 65536];
        while !self.eof {
            match self.sock.read(&mut buf) {
                Ok(0) => self.eof = true,
                Ok(n) => self.got.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => self.eof = true,
            }
        }
    }
}

/// Drives until the connection waits for input, or closes. Returns false once closed.
fn pump(
    conn: &mut Conn,
    reg: &mut WriteInterest,
    shared: &Shared,
    stats: &ThreadStats,
    pool: &mut BufPool,
    peer: &mut Peer,
) -> bool {
    for _ in 0..1_000_000 {
        let mut ctx = Ctx::new(shared, stats);
        let outcome = conn.drive(reg, &mut ctx, pool, shared.reqs_per_event);
        // Back-pressure: while a full output limit is queued the connection must not be
        // reading (it waits in Writing for the client to drain it).
        if conn.out.pending() >= OUT_LIMIT {
            assert!(
                matches!(conn.state, State::Writing | State::Closing | State::Closed),
                "{} bytes queued in state {:?}",
                conn.out.pending(),
                conn.state
            );
        }
        if conn.state != State::Closed {
            assert_eq!(
                reg.write,
                !conn.out.is_empty(),
                "write interest armed ({}) while {} bytes are pending in {:?}",
                reg.write,
                conn.out.pending(),
                conn.state
            );
        }
        peer.drain();
        match outcome {
            Outcome::Close => return false,
            Outcome::Yield => {}
            Outcome::Idle => {
                if conn.state != State::Writing && conn.state != State::Closing {
                    return true;
                }
                // The client just read: the socket is writable again.
            }
        }
    }
    panic!("the connection made no progress in a million drives");
}

/// Delivers `input` in `chunks` to a real connection and returns what the client saw.
/// A connection that closed ends as `End::Quit` whatever the reason (the client cannot
/// tell them apart); [`crate::session::check_against`] only needs the reference's reason.
pub fn deliver(shared: &Shared, input: &[u8], chunks: &[usize]) -> Transcript {
    let (srv, cli) = UnixStream::pair().expect("socketpair");
    srv.set_nonblocking(true).expect("nonblocking");
    cli.set_nonblocking(true).expect("nonblocking");
    let stats = ThreadStats::default();
    let mut pool = BufPool::default();
    let mut reg = WriteInterest::default();
    let session = Session::new(shared.protocol_mode);
    let mut conn = Conn::new(Stream::Unix(srv), Token(1), session, shared.now(), false);
    let mut peer = Peer {
        sock: cli,
        got: Vec::new(),
        eof: false,
    };
    let mut off = 0usize;
    let mut open = true;
    'chunks: for &n in chunks {
        let mut chunk = &input[off..off + n];
        off += n;
        while !chunk.is_empty() {
            match peer.sock.write(chunk) {
                Ok(w) => chunk = &chunk[w..],
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    // The server is not reading (back-pressure): let it run, read its output.
                    if !pump(&mut conn, &mut reg, shared, &stats, &mut pool, &mut peer) {
                        open = false;
                        break 'chunks;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => {
                    open = false;
                    break 'chunks;
                }
            }
        }
        if !pump(&mut conn, &mut reg, shared, &stats, &mut pool, &mut peer) {
            open = false;
            break;
        }
    }
    if open {
        // Everything delivered and answered: nothing may be left half-handled in output.
        assert!(
            conn.out.is_empty(),
            "{} reply bytes stuck after the input was handled",
            conn.out.pending()
        );
    } else {
        conn.recycle(&mut pool);
        drop(conn);
        peer.drain();
    }
    let end = if open { End::Open } else { End::Quit };
    Transcript {
        out: peer.got,
        end,
        steps: Vec::new(),
    }
}
