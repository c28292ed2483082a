//! UDP framing and the unix-domain socket, against the real binary on every backend.

mod net_common;

use std::io::{Read, Write};
use std::net::UdpSocket;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixStream;

use net_common::{Server, IO_TIMEOUT};

fn udp_request(sock: &UdpSocket, port: u16, id: u16, body: &[u8]) -> Vec<([u16; 4], Vec<u8>)> {
    let mut d = Vec::new();
    for v in [id, 0, 1, 0] {
        d.extend_from_slice(&v.to_be_bytes());
    }
    d.extend_from_slice(body);
    sock.send_to(&d, ("127.0.0.1", port)).unwrap();
    let mut out = Vec::new();
    let mut buf = [0u8; 2048];
    sock.set_read_timeout(Some(std::time::Duration::from_millis(500)))
        .unwrap();
    while let Ok(n) = sock.recv(&mut buf) {
        let h = |i: usize| u16::from_be_bytes([buf[i], buf[i + 1]]);
        out.push(([h(0), h(2), h(4), h(6)], buf[8..n].to_vec()));
        assert!(n <= 1400);
    }
    out
}

fn udp_frames_each_response_object(backend: &str) {
    let srv = Server::start(backend, &["-U", "-1"]);
    assert_ne!(srv.udp_port, 0);
    let mut c = srv.connect();
    let big = vec![b'y'; 3000];
    let mut req = b"set a 0 0 1\r\nx\r\nset b 0 0 3000\r\n".to_vec();
    req.extend_from_slice(&big);
    req.extend_from_slice(b"\r\n");
    c.roundtrip(&req, b"STORED\r\nSTORED\r\n");

    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    let replies = udp_request(&sock, srv.udp_port, 7, b"get a b nope\r\n");
    // One object per key: VALUE a (1 datagram), VALUE b (3 datagrams), and END in the
    // object of the last key (a miss), each its own message.
    let headers: Vec<[u16; 4]> = replies.iter().map(|r| r.0).collect();
    assert_eq!(
        headers,
        vec![
            [7, 0, 1, 0],
            [7, 0, 3, 0],
            [7, 1, 3, 0],
            [7, 2, 3, 0],
            [7, 0, 1, 0]
        ]
    );
    assert_eq!(replies[0].1, b"VALUE a 0 1\r\nx\r\n");
    let b: Vec<u8> = replies[1..4].iter().flat_map(|r| r.1.clone()).collect();
    assert_eq!(&b[..16], b"VALUE b 0 3000\r\n");
    assert_eq!(replies[4].1, b"END\r\n");

    // Multi-datagram requests and short datagrams are dropped silently.
    let mut d = vec![0, 1, 0, 0, 0, 2, 0, 0];
    d.extend_from_slice(b"get a\r\n");
    sock.send_to(&d, ("127.0.0.1", srv.udp_port)).unwrap();
    sock.send_to(&[0, 1, 0, 0], ("127.0.0.1", srv.udp_port))
        .unwrap();
    assert_eq!(
        udp_request(&sock, srv.udp_port, 9, b"set c 0 0 1\r\nz\r\n"),
        vec![([9, 0, 1, 0], b"STORED\r\n".to_vec())]
    );
}

fn udp_is_off_by_default(backend: &str) {
    let srv = Server::start(backend, &[]);
    assert_eq!(srv.udp_port, 0);
}

fn unix_socket_with_mask(backend: &str) {
    let dir = net_common::scratch_dir();
    let path = dir.join("evcached.sock");
    let p = path.to_str().unwrap().to_string();
    let _srv = Server::start_raw(backend, &["-s", &p, "-a", "0760"], &[]);
    let deadline = std::time::Instant::now() + IO_TIMEOUT;
    while !path.exists() {
        assert!(std::time::Instant::now() < deadline);
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o760);
    let mut s = UnixStream::connect(&path).unwrap();
    s.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    s.write_all(b"set u 1 0 2\r\nhi\r\nget u\r\n").unwrap();
    let expect = b"STORED\r\nVALUE u 1 2\r\nhi\r\nEND\r\n";
    let mut got = vec![0; expect.len()];
    s.read_exact(&mut got).unwrap();
    assert_eq!(got, expect);
    let _ = std::fs::remove_dir_all(&dir);
}

per_backend!(
    udp_frames_each_response_object,
    udp_is_off_by_default,
    unix_socket_with_mask
);
