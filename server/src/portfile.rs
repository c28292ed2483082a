//! `MEMCACHED_PORT_FILENAME`: tells a test harness which ports were bound.
//!
//! memcached appends one line per bound socket, `TCP INET: <port>`, `TCP INET6: <port>`,
//! `UDP INET: <port>` or `UDP INET6: <port>`, to `<file>.lck` and renames it to `<file>` once
//! every listener is up, so a reader that sees `<file>` sees all of them. With `-p -1` the
//! kernel picks the port; this is how tests find it.

use std::fs;
use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// The environment variable memcached reads.
pub const PORT_FILE_ENV: &str = "MEMCACHED_PORT_FILENAME";

/// The kind of listener a line describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// A TCP listener.
    Tcp,
    /// A UDP socket.
    Udp,
}

/// Collects bound ports and publishes them atomically.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortFile {
    path: PathBuf,
    contents: String,
}

impl PortFile {
    /// The port file named by `MEMCACHED_PORT_FILENAME`, if the variable is set and not empty.
    pub fn from_env() -> Option<Self> {
        let path = std::env::var_os(PORT_FILE_ENV).filter(|p| !p.is_empty())?;
        Some(Self::new(PathBuf::from(path)))
    }

    /// A port file at `path` (nothing is written until [`PortFile::publish`]).
    pub fn new(path: impl Into<PathBuf>) -> Self {
        PortFile {
            path: path.into(),
            contents: String::new(),
        }
    }

    /// The final path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Records one bound socket.
    pub fn record(&mut self, transport: Transport, bound: SocketAddr) {
        self.contents.push_str(&Self::line(transport, bound));
    }

    /// The line memcached writes for a bound socket (with its trailing newline).
    pub fn line(transport: Transport, bound: SocketAddr) -> String {
        let proto = match transport {
            Transport::Tcp => "TCP",
            Transport::Udp => "UDP",
        };
        let family = if bound.is_ipv6() { "INET6" } else { "INET" };
        format!("{proto} {family}: {}\n", bound.port())
    }

    /// The text recorded so far.
    pub fn contents(&self) -> &str {
        &self.contents
    }

    /// Writes `<path>.lck` and renames it to `<path>`.
    pub fn publish(&self) -> io::Result<()> {
        let mut lck = self.path.clone().into_os_string();
        lck.push(".lck");
        let lck = PathBuf::from(lck);
        fs::write(&lck, &self.contents)?;
        fs::rename(&lck, &self.path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_match_memcached() {
        let v4: SocketAddr = "127.0.0.1:34165".parse().unwrap();
        let v6: SocketAddr = "[::1]:41915".parse().unwrap();
        assert_eq!(PortFile::line(Transport::Tcp, v4), "TCP INET: 34165\n");
        assert_eq!(PortFile::line(Transport::Tcp, v6), "TCP INET6: 41915\n");
        assert_eq!(PortFile::line(Transport::Udp, v4), "UDP INET: 34165\n");
        assert_eq!(PortFile::line(Transport::Udp, v6), "UDP INET6: 41915\n");
    }

    #[test]
    fn publish_writes_then_renames() {
        let dir = std::env::temp_dir().join(format!("evcached-portfile-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let path = dir.join("ports");
        let mut pf = PortFile::new(&path);
        pf.record(Transport::Tcp, "127.0.0.1:1000".parse().unwrap());
        pf.record(Transport::Udp, "[::1]:2000".parse().unwrap());
        pf.publish().unwrap();
        assert_eq!(
            fs::read_to_string(&path).unwrap(),
            "TCP INET: 1000\nUDP INET6: 2000\n"
        );
        assert!(!dir.join("ports.lck").exists());
        assert_eq!(pf.path(), path.as_path());
        fs::remove_dir_all(&dir).unwrap();
    }
}
