//! Readiness scenarios: which descriptors report what, edges, level checks, closes.

use std::fs::File;
use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream, UdpSocket};
use std::os::fd::AsFd;
use std::os::unix::net::{UnixDatagram, UnixListener, UnixStream};

use super::util::*;
use super::Profile;
use crate::{EventBase, Ready, Token};

/// A unix socketpair: data written by the peer makes the registered end READABLE.
pub fn socketpair_readable<B: EventBase>(_: &Profile) {
    let mut base = B::new().unwrap();
    let (ours, mut peer) = UnixStream::pair().unwrap();
    ours.set_nonblocking(true).unwrap();
    base.add_in(ours.as_fd(), Token(1)).unwrap();
    expect_quiet(&mut base, Token(1));
    peer.write_all(b"hello").unwrap();
    let ready = expect(&mut base, Token(1));
    assert!(ready.is_readable(), "{ready:?}");
    assert!(
        !ready.is_writable(),
        "write interest is not armed: {ready:?}"
    );
    assert_eq!(drain(&ours).unwrap(), 5);
}

/// A pipe's read end becomes READABLE when the write end is written.
pub fn pipe_readable<B: EventBase>(_: &Profile) {
    let mut base = B::new().unwrap();
    let (r, w) = pipe();
    base.add_in(r.as_fd(), Token(2)).unwrap();
    File::from(w).write_all(b"x").unwrap();
    assert!(expect(&mut base, Token(2)).is_readable());
    assert_eq!(drain(File::from(r.try_clone().unwrap())).unwrap(), 1);
    base.del_conn(r.as_fd()).unwrap();
}

/// A UDP socket becomes READABLE when a datagram arrives.
pub fn udp_readable<B: EventBase>(_: &Profile) {
    let mut base = B::new().unwrap();
    let rx = UdpSocket::bind("127.0.0.1:0").unwrap();
    rx.set_nonblocking(true).unwrap();
    let tx = UdpSocket::bind("127.0.0.1:0").unwrap();
    base.add_in(rx.as_fd(), Token(3)).unwrap();
    tx.send_to(b"dgram", rx.local_addr().unwrap()).unwrap();
    assert!(expect(&mut base, Token(3)).is_readable());
    let mut buf = [0u8; 16];
    assert_eq!(rx.recv(&mut buf).unwrap(), 5);
}

/// A unix listener reports a pending connection; a unix datagram socket its datagram.
pub fn unix_socket_readable<B: EventBase>(_: &Profile) {
    let dir =
        std::env::temp_dir().join(format!("evcached-conf-{}-{}", std::process::id(), B::NAME));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("l.sock");
    let _ = std::fs::remove_file(&path);
    let mut base = B::new().unwrap();
    let listener = UnixListener::bind(&path).unwrap();
    listener.set_nonblocking(true).unwrap();
    base.add_in(listener.as_fd(), Token(4)).unwrap();
    let _client = UnixStream::connect(&path).unwrap();
    assert!(expect(&mut base, Token(4)).is_readable());
    let (conn, _) = listener.accept().unwrap();
    base.del_conn(listener.as_fd()).unwrap();
    drop(conn);
    let (a, b) = UnixDatagram::pair().unwrap();
    a.set_nonblocking(true).unwrap();
    base.add_in(a.as_fd(), Token(5)).unwrap();
    b.send(b"d").unwrap();
    assert!(expect(&mut base, Token(5)).is_readable());
    let _ = std::fs::remove_dir_all(&dir);
}

/// A fresh connected socket with write interest reports WRITABLE.
pub fn write_readiness<B: EventBase>(_: &Profile) {
    let mut base = B::new().unwrap();
    let (ours, _peer) = tcp_pair();
    base.add_out(ours.as_fd(), Token(6)).unwrap();
    let ready = expect(&mut base, Token(6));
    assert!(ready.is_writable(), "{ready:?}");
    assert!(
        !ready.is_readable(),
        "read interest is not armed: {ready:?}"
    );
}

/// After a notification and a drain to WouldBlock, nothing more is reported until new
/// data arrives; then a new edge is.
pub fn edge_after_drain_and_refill<B: EventBase>(_: &Profile) {
    let mut base = B::new().unwrap();
    let (ours, mut peer) = UnixStream::pair().unwrap();
    ours.set_nonblocking(true).unwrap();
    base.add_in(ours.as_fd(), Token(7)).unwrap();
    for round in 0..3 {
        peer.write_all(&[round; 100]).unwrap();
        assert!(expect(&mut base, Token(7)).is_readable());
        assert_eq!(drain(&ours).unwrap(), 100);
        expect_quiet(&mut base, Token(7));
    }
}

/// `add_in` of an fd that already holds data, and `add_out` of a socket that is already
/// writable, both report on the next wait (arming checks the level).
pub fn level_check_on_add<B: EventBase>(_: &Profile) {
    let mut base = B::new().unwrap();
    let (ours, mut peer) = UnixStream::pair().unwrap();
    ours.set_nonblocking(true).unwrap();
    peer.write_all(b"early").unwrap();
    base.add_in(ours.as_fd(), Token(8)).unwrap();
    assert!(expect(&mut base, Token(8)).is_readable());
    assert_eq!(drain(&ours).unwrap(), 5);
    // Already writable long before write interest is armed.
    base.add_out(ours.as_fd(), Token(8)).unwrap();
    assert!(expect_with(&mut base, Token(8), Ready::WRITABLE).is_writable());
    // Re-arming after a del_out checks the level again.
    base.del_out(ours.as_fd()).unwrap();
    expect_quiet(&mut base, Token(8));
    base.add_out(ours.as_fd(), Token(8)).unwrap();
    assert!(expect_with(&mut base, Token(8), Ready::WRITABLE).is_writable());
    // And so does re-arming input that arrived while read interest was off.
    base.del_in(ours.as_fd()).unwrap();
    peer.write_all(b"while off").unwrap();
    base.add_in(ours.as_fd(), Token(8)).unwrap();
    assert!(expect_with(&mut base, Token(8), Ready::READABLE).is_readable());
}

/// A listener with a backlog: `del_in` silences it, `add_in` reports the backlog again
/// (the dispatcher's EMFILE back-off).
pub fn listener_readd_with_backlog<B: EventBase>(_: &Profile) {
    let mut base = B::new().unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let addr = listener.local_addr().unwrap();
    base.add_in(listener.as_fd(), Token(9)).unwrap();
    let _c1 = TcpStream::connect(addr).unwrap();
    assert!(expect(&mut base, Token(9)).is_readable());
    base.del_in(listener.as_fd()).unwrap();
    let _c2 = TcpStream::connect(addr).unwrap();
    expect_quiet(&mut base, Token(9));
    base.add_in(listener.as_fd(), Token(9)).unwrap();
    assert!(expect(&mut base, Token(9)).is_readable());
    let mut accepted = 0;
    while listener.accept().is_ok() {
        accepted += 1;
    }
    assert_eq!(accepted, 2, "both connections were in the backlog");
}

/// `del_out` hides WRITABLE while read interest keeps reporting input.
pub fn del_out_keeps_input<B: EventBase>(_: &Profile) {
    let mut base = B::new().unwrap();
    let (ours, mut peer) = tcp_pair();
    base.add_conn(ours.as_fd(), Token(10)).unwrap();
    assert!(expect_with(&mut base, Token(10), Ready::WRITABLE).is_writable());
    base.del_out(ours.as_fd()).unwrap();
    peer.write_all(b"in").unwrap();
    let ready = expect(&mut base, Token(10));
    assert!(ready.is_readable(), "{ready:?}");
    assert!(
        !ready.is_writable(),
        "del_out must hide WRITABLE: {ready:?}"
    );
    // Interest in neither direction: the fd stays registered but silent.
    base.del_in(ours.as_fd()).unwrap();
    peer.write_all(b"more").unwrap();
    expect_quiet(&mut base, Token(10));
    base.del_conn(ours.as_fd()).unwrap();
}

/// The peer's FIN reports READABLE (and READ_CLOSED where the OS says so); the read
/// returns the remaining data, then 0.
pub fn peer_fin_read_closed<B: EventBase>(p: &Profile) {
    let mut base = B::new().unwrap();
    let (mut ours, mut peer) = tcp_pair();
    base.add_in(ours.as_fd(), Token(11)).unwrap();
    peer.write_all(b"last").unwrap();
    peer.shutdown(Shutdown::Write).unwrap();
    let want = if p.read_closed {
        Ready::READABLE | Ready::READ_CLOSED
    } else {
        Ready::READABLE
    };
    expect_with(&mut base, Token(11), want);
    let mut got = Vec::new();
    let mut buf = [0u8; 16];
    loop {
        match ours.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                expect(&mut base, Token(11));
            }
            Err(e) => panic!("read after FIN: {e}"),
        }
    }
    assert_eq!(got, b"last");
}

/// A reset (SO_LINGER 0 then close) reports ERROR or HUP with the armed direction, and
/// the read fails or returns 0.
pub fn peer_reset_error_or_hup<B: EventBase>(p: &Profile) {
    let mut base = B::new().unwrap();
    let (mut ours, peer) = tcp_pair();
    base.add_in(ours.as_fd(), Token(12)).unwrap();
    set_linger_zero(&peer);
    drop(peer);
    let ready = expect(&mut base, Token(12));
    assert!(ready.is_readable(), "{ready:?}");
    if p.hup_error_hints {
        assert!(ready.intersects(Ready::ERROR | Ready::HUP), "{ready:?}");
    }
    let mut buf = [0u8; 8];
    match ours.read(&mut buf) {
        Ok(n) => assert_eq!(n, 0),
        Err(e) => assert_eq!(e.kind(), std::io::ErrorKind::ConnectionReset),
    }
}

/// Shutting down our own sending side keeps input working: the peer sees end of
/// stream, and data it sends afterwards still reports READABLE.
pub fn half_close<B: EventBase>(_: &Profile) {
    let mut base = B::new().unwrap();
    let (ours, mut peer) = tcp_pair();
    base.add_in(ours.as_fd(), Token(13)).unwrap();
    ours.shutdown(Shutdown::Write).unwrap();
    peer.set_nonblocking(false).unwrap();
    let mut buf = [0u8; 4];
    assert_eq!(peer.read(&mut buf).unwrap(), 0, "peer sees our FIN");
    peer.write_all(b"late").unwrap();
    assert!(expect_with(&mut base, Token(13), Ready::READABLE).is_readable());
    assert_eq!(drain(&ours).unwrap(), 4);
}

/// The write end of a pipe whose reader is gone reports ERROR or WRITABLE (EPIPE).
pub fn pipe_reader_gone<B: EventBase>(_: &Profile) {
    let mut base = B::new().unwrap();
    let (r, w) = pipe();
    base.add_out(w.as_fd(), Token(14)).unwrap();
    assert!(expect(&mut base, Token(14)).is_writable());
    drop(r);
    let ready = expect(&mut base, Token(14));
    assert!(
        ready.intersects(Ready::WRITABLE | Ready::ERROR | Ready::HUP),
        "{ready:?}"
    );
    let err = File::from(w.try_clone().unwrap()).write(b"x").unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::BrokenPipe);
    base.del_conn(w.as_fd()).unwrap();
}
