//! UDP serving (`-U`): memcached's 8-byte frame header, one request per datagram, each
//! response object sent as its own message split into numbered datagrams of at most
//! 1400 bytes. Text and binary requests are both served (negotiated per datagram).

use std::io;
use std::net::UdpSocket;

use crate::protocol::{Ctx, Output, Progress, Session, ValueRef};
use crate::server::Shared;
use crate::settings::BindingProtocol;
use crate::stats::{add, ThreadStats};

/// Frame header length.
const HEADER: usize = 8;
/// Largest datagram memcached sends.
const MAX_DGRAM: usize = 1400;

/// One worker's view of a UDP socket (each worker holds a clone of the socket).
pub struct UdpServer {
    sock: UdpSocket,
    buf: Vec<u8>,
    out: Output<ValueRef>,
    flat: Vec<u8>,
    frame: Vec<u8>,
}

impl UdpServer {
    /// Wraps a bound, non-blocking socket.
    pub fn new(sock: UdpSocket) -> UdpServer {
        let mut out = Output::new();
        out.set_track_objects(true);
        UdpServer {
            sock,
            buf: vec![0; 65536],
            out,
            flat: Vec::new(),
            frame: Vec::with_capacity(MAX_DGRAM),
        }
    }

    /// The socket (for registration).
    pub fn socket(&self) -> &UdpSocket {
        &self.sock
    }

    /// Serves datagrams until the socket would block.
    pub fn serve(&mut self, shared: &Shared, stats: &ThreadStats) {
        loop {
            let (n, peer) = match self.sock.recv_from(&mut self.buf) {
                Ok(x) => x,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => return,
            };
            add(&stats.bytes_read, n as u64);
            if n <= HEADER {
                continue;
            }
            let req_id = [self.buf[0], self.buf[1]];
            let total = u16::from_be_bytes([self.buf[4], self.buf[5]]);
            if total != 1 {
                continue; // multi-datagram requests are not supported (as in memcached)
            }
            let mut ctx = Ctx::new(shared, stats);
            ctx.udp = true;
            // memcached decides per datagram, whatever -B says: a first byte of 0x80 is
            // a binary request, anything else text.
            let mut session = Session::new(BindingProtocol::Auto);
            let mut pos = HEADER;
            while pos < n {
                match session.step(&self.buf[pos..n], &mut self.out, &mut ctx) {
                    Progress::Consumed(c) | Progress::Partial(c) => pos += c.max(1),
                    _ => break,
                }
            }
            self.send_objects(req_id, peer, stats);
        }
    }

    fn send_objects(&mut self, req_id: [u8; 2], peer: std::net::SocketAddr, stats: &ThreadStats) {
        self.flat.clear();
        self.out.copy_pending(&mut self.flat);
        let mut start = 0;
        let payload = MAX_DGRAM - HEADER;
        for (i, &end) in self.out.objects().iter().enumerate() {
            let obj = &self.flat[start..end.min(self.flat.len())];
            if obj.is_empty() {
                // memcached sends an empty first response object as a bare header with
                // a total of 0 and skips later empty ones.
                if i == 0 {
                    let mut hdr = [0u8; HEADER];
                    hdr[..2].copy_from_slice(&req_id);
                    if let Ok(w) = self.sock.send_to(&hdr, peer) {
                        add(&stats.bytes_written, w as u64);
                    }
                }
                start = end;
                continue;
            }
            let count = obj.len().div_ceil(payload).max(1);
            for (seq, chunk) in obj.chunks(payload).enumerate() {
                self.frame.clear();
                self.frame.extend_from_slice(&req_id);
                self.frame.extend_from_slice(&(seq as u16).to_be_bytes());
                self.frame.extend_from_slice(&(count as u16).to_be_bytes());
                self.frame.extend_from_slice(&[0, 0]);
                self.frame.extend_from_slice(chunk);
                if let Ok(w) = self.sock.send_to(&self.frame, peer) {
                    add(&stats.bytes_written, w as u64);
                }
            }
            start = end;
        }
        self.out.reset();
    }
}
