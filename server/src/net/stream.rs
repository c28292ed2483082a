//! The byte streams a worker serves: TCP or unix-domain connections.

use std::io::{self, IoSlice, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::net::UnixStream;

/// An accepted, non-blocking connection.
#[derive(Debug)]
pub enum Stream {
    /// A TCP connection.
    Tcp(TcpStream),
    /// A unix-domain socket connection.
    Unix(UnixStream),
}

impl Stream {
    /// Reads into `buf` (one `read` syscall).
    pub fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.read(buf),
            Stream::Unix(s) => s.read(buf),
        }
    }

    /// Writes the slices with one `writev`.
    pub fn write_vectored(&mut self, iov: &[IoSlice<'_>]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.write_vectored(iov),
            Stream::Unix(s) => s.write_vectored(iov),
        }
    }

    /// Writes a small buffer directly (used for the rejection message).
    pub fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.write(buf),
            Stream::Unix(s) => s.write(buf),
        }
    }

    /// Peer address in memcached's `stats conns` notation (a unix socket peer has no
    /// path of its own: memcached shows the socket's).
    pub fn describe_peer(&self) -> String {
        self.describe(TcpStream::peer_addr)
    }

    /// Local address in memcached's `stats conns` notation.
    pub fn describe_local(&self) -> String {
        self.describe(TcpStream::local_addr)
    }

    fn describe(&self, tcp_addr: fn(&TcpStream) -> io::Result<SocketAddr>) -> String {
        match self {
            Stream::Tcp(s) => match tcp_addr(s) {
                Ok(a) => format!("tcp:{a}"),
                Err(_) => "tcp:unknown".to_string(),
            },
            Stream::Unix(s) => match s
                .local_addr()
                .ok()
                .and_then(|a| a.as_pathname().map(|p| p.display().to_string()))
            {
                Some(p) => format!("unix:{p}"),
                None => "unix:".to_string(),
            },
        }
    }
}

impl AsFd for Stream {
    fn as_fd(&self) -> BorrowedFd<'_> {
        match self {
            Stream::Tcp(s) => s.as_fd(),
            Stream::Unix(s) => s.as_fd(),
        }
    }
}

impl From<Stream> for OwnedFd {
    fn from(s: Stream) -> OwnedFd {
        match s {
            Stream::Tcp(s) => s.into(),
            Stream::Unix(s) => s.into(),
        }
    }
}
