//! A minimal blocking memcached ASCII client for tests: enough to drive storage commands,
//! multi-gets and `stats`, with every read bounded by a socket timeout.

use std::collections::HashMap;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::time::Duration;

/// How long any single read or write may block before the test fails instead of hanging.
const IO_TIMEOUT: Duration = Duration::from_secs(15);

/// One `VALUE` block of a retrieval reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    /// The key as the server echoed it.
    pub key: String,
    /// Client flags.
    pub flags: u32,
    /// The value bytes.
    pub value: Vec<u8>,
    /// The CAS id, present for `gets`.
    pub cas: Option<u64>,
}

/// A connection to a memcached-protocol endpoint (a backend or the proxy).
pub struct Conn {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

impl Conn {
    /// Connects to `127.0.0.1:port` with bounded reads and writes.
    pub fn connect(port: u16) -> io::Result<Conn> {
        let stream = TcpStream::connect(("127.0.0.1", port))?;
        stream.set_read_timeout(Some(IO_TIMEOUT))?;
        stream.set_write_timeout(Some(IO_TIMEOUT))?;
        stream.set_nodelay(true)?;
        Ok(Conn {
            reader: BufReader::new(stream.try_clone()?),
            writer: stream,
        })
    }

    /// Writes `bytes` in one call.
    pub fn send(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.writer.write_all(bytes)
    }

    /// Reads one `\r\n`-terminated line and returns it without the terminator.
    /// End of stream before a full line is `UnexpectedEof`.
    pub fn line(&mut self) -> io::Result<String> {
        let mut buf = Vec::new();
        self.reader.read_until(b'\n', &mut buf)?;
        if !buf.ends_with(b"\r\n") {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!("connection ended inside a line: {buf:?}"),
            ));
        }
        buf.truncate(buf.len() - 2);
        String::from_utf8(buf).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
    }

    /// Sends `request` and returns the one-line reply.
    pub fn call(&mut self, request: &[u8]) -> io::Result<String> {
        self.send(request)?;
        self.line()
    }

    /// `set key flags 0 len` with `value`; returns the reply line.
    pub fn set(&mut self, key: &str, flags: u32, value: &[u8]) -> io::Result<String> {
        self.send(&storage("set", key, flags, value, ""))?;
        self.line()
    }

    /// Reads `VALUE` blocks up to and including `END`.
    pub fn values(&mut self) -> io::Result<Vec<Item>> {
        let mut items = Vec::new();
        loop {
            let line = self.line()?;
            if line == "END" {
                return Ok(items);
            }
            let fields: Vec<&str> = line.split(' ').collect();
            if fields.len() < 4 || fields[0] != "VALUE" {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("expected VALUE or END, got {line:?}"),
                ));
            }
            let bad = |e: std::num::ParseIntError| io::Error::new(io::ErrorKind::InvalidData, e);
            let len: usize = fields[3].parse().map_err(bad)?;
            let mut value = vec![0; len + 2];
            self.reader.read_exact(&mut value)?;
            if !value.ends_with(b"\r\n") {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    "data block not followed by \\r\\n",
                ));
            }
            value.truncate(len);
            items.push(Item {
                key: fields[1].to_string(),
                flags: fields[2].parse().map_err(bad)?,
                value,
                cas: fields.get(4).map(|c| c.parse()).transpose().map_err(bad)?,
            });
        }
    }

    /// `get` (or `gets` when `cas`) of all `keys` in one command.
    pub fn get_multi<S: AsRef<str>>(&mut self, keys: &[S], cas: bool) -> io::Result<Vec<Item>> {
        let mut req = if cas {
            b"gets".to_vec()
        } else {
            b"get".to_vec()
        };
        for key in keys {
            req.push(b' ');
            req.extend_from_slice(key.as_ref().as_bytes());
        }
        req.extend_from_slice(b"\r\n");
        self.send(&req)?;
        self.values()
    }

    /// The value of one key, if present.
    pub fn get(&mut self, key: &str) -> io::Result<Option<Item>> {
        Ok(self.get_multi(&[key], false)?.pop())
    }

    /// The general-purpose `stats` of a backend, name to value.
    pub fn stats(&mut self) -> io::Result<HashMap<String, String>> {
        self.send(b"stats\r\n")?;
        let mut stats = HashMap::new();
        loop {
            let line = self.line()?;
            if line == "END" {
                return Ok(stats);
            }
            let mut parts = line.splitn(3, ' ');
            if let (Some("STAT"), Some(name), Some(value)) =
                (parts.next(), parts.next(), parts.next())
            {
                stats.insert(name.to_string(), value.to_string());
            }
        }
    }

    /// One numeric `stats` field.
    pub fn stat(&mut self, name: &str) -> io::Result<u64> {
        let stats = self.stats()?;
        let raw = stats
            .get(name)
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, format!("no stat {name}")))?;
        raw.parse()
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
    }

    /// Reads until the peer closes; returns whatever arrived before the close.
    pub fn read_to_close(&mut self) -> io::Result<Vec<u8>> {
        let mut rest = Vec::new();
        self.reader.read_to_end(&mut rest)?;
        Ok(rest)
    }

    /// Half-closes the write side (tells the peer no more requests come).
    pub fn shutdown_write(&mut self) -> io::Result<()> {
        self.writer.shutdown(Shutdown::Write)
    }
}

/// The bytes of a storage command (`set`, `add`, `replace`, `append`, `prepend`) with its data
/// block; `tail` is appended to the command line (e.g. `" noreply"`).
pub fn storage(cmd: &str, key: &str, flags: u32, value: &[u8], tail: &str) -> Vec<u8> {
    let mut req = format!("{cmd} {key} {flags} 0 {}{tail}\r\n", value.len()).into_bytes();
    req.extend_from_slice(value);
    req.extend_from_slice(b"\r\n");
    req
}
