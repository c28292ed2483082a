//! `-l`: the interfaces to listen on.
//!
//! memcached takes a list separated by `,` or `;`; each entry is `host`, `host:port`,
//! `[v6]`, `[v6]:port`, or a bare IPv6 address (more than one `:`, no port). An entry's port
//! overrides `-p`/`-U` for that address.

use super::numbers::safe_strtol;
use super::CliError;

/// `EX_OSERR`: memcached fails to set up its listeners with this code.
const EX_OSERR: i32 = 71;

/// One `-l` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListenAddr {
    /// Host name or address literal, brackets removed (`::1`, `127.0.0.1`, `localhost`).
    pub host: String,
    /// The entry's own port, when it has one.
    pub port: Option<u16>,
}

impl ListenAddr {
    /// All IPv4 interfaces (memcached's default together with [`ListenAddr::wildcard_v6`]).
    pub fn wildcard_v4() -> Self {
        ListenAddr {
            host: "0.0.0.0".to_string(),
            port: None,
        }
    }

    /// All IPv6 interfaces.
    pub fn wildcard_v6() -> Self {
        ListenAddr {
            host: "::".to_string(),
            port: None,
        }
    }

    /// Parses one entry as memcached does.
    pub fn parse(entry: &str) -> Result<Self, CliError> {
        if let Some(inner) = entry.strip_prefix('[') {
            let Some((host, after)) = inner.split_once(']') else {
                return Err(CliError {
                    message: format!("Invalid IPV6 address: \"{entry}\""),
                    exit_code: EX_OSERR,
                });
            };
            let port = match after.strip_prefix(':') {
                Some(p) => Some(entry_port(p)?),
                None => None,
            };
            return Ok(ListenAddr {
                host: host.to_string(),
                port,
            });
        }
        match entry.split_once(':') {
            // One colon: host:port. More: an IPv6 literal without a port.
            Some((host, p)) if !p.contains(':') => Ok(ListenAddr {
                host: host.to_string(),
                port: Some(entry_port(p)?),
            }),
            _ => Ok(ListenAddr {
                host: entry.to_string(),
                port: None,
            }),
        }
    }
}

fn entry_port(p: &str) -> Result<u16, CliError> {
    safe_strtol(p)
        .and_then(|n| u16::try_from(n).ok())
        .ok_or_else(|| CliError {
            message: "Invalid port in listen address".to_string(),
            exit_code: EX_OSERR,
        })
}

/// Splits a `-l` value into entries (empty entries are skipped, like `strtok`).
pub(crate) fn parse_list(list: &str) -> Result<Vec<ListenAddr>, CliError> {
    list.split([',', ';'])
        .filter(|e| !e.is_empty())
        .map(ListenAddr::parse)
        .collect()
}
