//! Listening sockets: TCP on every `-l` address (IPv4 and IPv6), UDP (`-U`), the unix
//! socket (`-s` with `-a`).

use std::io;
use std::net::{SocketAddr, TcpListener, UdpSocket};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixListener;
use std::path::Path;

use socket2::{Domain, Protocol, SockAddr, Socket, Type};

/// A bound listener the dispatcher accepts from.
#[derive(Debug)]
pub enum Listener {
    /// TCP.
    Tcp(TcpListener),
    /// Unix-domain stream socket.
    Unix(UnixListener),
}

fn new_socket(addr: &SocketAddr, ty: Type, proto: Protocol) -> io::Result<Socket> {
    let domain = if addr.is_ipv6() {
        Domain::IPV6
    } else {
        Domain::IPV4
    };
    let s = Socket::new(domain, ty, Some(proto))?;
    if addr.is_ipv6() {
        s.set_only_v6(true)?;
    }
    s.set_reuse_address(true)?;
    Ok(s)
}

/// Binds one TCP listener (non-blocking, `SO_REUSEADDR`, `TCP_NODELAY` inherited by
/// accepted sockets on Linux, backlog `-b`).
pub fn bind_tcp(addr: SocketAddr, backlog: i32) -> io::Result<TcpListener> {
    let s = new_socket(&addr, Type::STREAM, Protocol::TCP)?;
    let _ = s.set_nodelay(true);
    s.bind(&SockAddr::from(addr))?;
    s.listen(backlog)?;
    s.set_nonblocking(true)?;
    Ok(s.into())
}

/// Binds one UDP socket (non-blocking, large send buffer as memcached asks for).
pub fn bind_udp(addr: SocketAddr) -> io::Result<UdpSocket> {
    let s = new_socket(&addr, Type::DGRAM, Protocol::UDP)?;
    s.bind(&SockAddr::from(addr))?;
    s.set_nonblocking(true)?;
    // memcached grows the send buffer towards 256 MB; the kernel caps it anyway.
    let _ = s.set_send_buffer_size(4 * 1024 * 1024);
    Ok(s.into())
}

/// Binds the unix socket at `path` with permissions `mask` (an existing socket file is
/// removed first, as memcached does).
pub fn bind_unix(path: &Path, mask: u32, backlog: i32) -> io::Result<UnixListener> {
    if let Ok(meta) = std::fs::symlink_metadata(path) {
        use std::os::unix::fs::FileTypeExt;
        if meta.file_type().is_socket() {
            std::fs::remove_file(path)?;
        }
    }
    // Restrict the mode through the umask while binding so the socket never exists with
    // wider permissions than asked, then set it exactly.
    // `mode_t` is u32 on Linux and illumos, u16 on macOS and the BSDs; the masked value
    // fits either.
    let umask = (!mask & 0o777) as nix::libc::mode_t;
    let old = nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(umask));
    let res = (|| {
        let s = Socket::new(Domain::UNIX, Type::STREAM, None)?;
        s.bind(&SockAddr::unix(path)?)?;
        s.listen(backlog)?;
        s.set_nonblocking(true)?;
        Ok::<_, io::Error>(s)
    })();
    nix::sys::stat::umask(old);
    let s = res?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mask & 0o777))?;
    Ok(s.into())
}
