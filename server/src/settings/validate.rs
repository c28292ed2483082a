//! Applies each option to the settings (with memcached's per-option checks, exit 1) and then
//! runs the checks memcached makes once every option is known (exit 64), in its order.

use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;
use std::path::PathBuf;

use super::numbers::{atof, atoi};
use super::{extended, listen, BindingProtocol, CliError, PortSetting, Settings};

/// Largest `-I` memcached accepts (1 GB).
const ITEM_SIZE_MAX_UPPER: i64 = 1024 * 1024 * 1024;
/// Smallest `-I` memcached accepts.
const ITEM_SIZE_MAX_LOWER: i64 = 1024;

/// Settings under construction plus what the final checks need to know.
#[derive(Default)]
pub(crate) struct Builder {
    pub(crate) s: Settings,
    /// Raw `-p` value (checked at the end).
    tcp_port: Option<i32>,
    /// Raw `-U` value (checked at the end).
    udp_port: Option<i32>,
    /// Raw `-I` value as memcached's `int`.
    item_size: Option<i32>,
    /// `-o slab_chunk_max` was given.
    pub(crate) slab_chunk_max_set: bool,
    /// Raw `-o slab_sizes` (parsed at the end, as memcached does).
    pub(crate) slab_sizes_raw: Option<String>,
}

fn text(value: Vec<u8>) -> String {
    String::from_utf8_lossy(&value).into_owned()
}

fn path(value: Vec<u8>) -> PathBuf {
    PathBuf::from(OsString::from_vec(value))
}

impl Builder {
    /// Applies one option (`letter` is the short form; `value` is empty for flags).
    pub(crate) fn apply(&mut self, letter: u8, value: Vec<u8>) -> Result<(), CliError> {
        let s = &mut self.s;
        match letter {
            b'a' => {
                // strtol(optarg, NULL, 8): the octal prefix, 0 when none.
                let t = text(value);
                let digits: String = t
                    .trim_start()
                    .chars()
                    .take_while(|c| ('0'..='7').contains(c))
                    .collect();
                s.unix_mask = u32::from_str_radix(&digits, 8).unwrap_or(0);
            }
            b'A' => s.enable_shutdown = true,
            b'p' => self.tcp_port = Some(atoi(&text(value))),
            b's' => s.unix_socket = Some(path(value)),
            b'U' => self.udp_port = Some(atoi(&text(value))),
            b'm' => {
                // (size_t)atoi(optarg) * 1024 * 1024, wrapping like C.
                let mb = i64::from(atoi(&text(value))) as u64;
                s.max_bytes = mb.wrapping_mul(1024 * 1024);
            }
            b'M' => s.evict_to_free = false,
            b'c' => {
                let n = atoi(&text(value));
                if n <= 0 {
                    return Err(CliError::option(
                        "Maximum connections must be greater than 0",
                    ));
                }
                s.max_conns = n as u32;
            }
            b'k' => s.lock_memory = true,
            b'r' => s.enable_coredumps = true,
            b'v' => s.verbose = s.verbose.saturating_add(1),
            b'd' => s.daemonize = true,
            b'l' => {
                let t = text(value);
                s.listen.extend(listen::parse_list(&t)?);
                s.listen_raw = Some(match s.listen_raw.take() {
                    Some(prev) => format!("{prev},{t}"),
                    None => t,
                });
            }
            b'u' => s.user = Some(text(value)),
            b'P' => s.pidfile = Some(path(value)),
            b'f' => {
                let f = atof(&text(value));
                if f <= 1.0 {
                    return Err(CliError::option("Factor must be greater than 1"));
                }
                s.growth_factor = f;
            }
            b'n' => {
                let n = atoi(&text(value));
                if n <= 0 {
                    return Err(CliError::option("Chunk size must be greater than 0"));
                }
                s.chunk_size = n as u32;
            }
            b't' => {
                let n = atoi(&text(value));
                if n <= 0 {
                    return Err(CliError::option("Number of threads must be greater than 0"));
                }
                if n > 64 {
                    s.warnings.push(
                        "WARNING: Setting a high number of workerthreads is not recommended.\n \
                         Set this value to the number of cores in your machine or less."
                            .to_string(),
                    );
                }
                s.threads = n as usize;
            }
            b'D' => {
                let v = value;
                match v.first() {
                    None => return Err(CliError::option("No delimiter specified")),
                    Some(&c) => {
                        s.prefix_delimiter = c;
                        s.detail_enabled = true;
                    }
                }
            }
            b'L' => s.large_pages = true,
            b'R' => {
                let n = atoi(&text(value));
                if n <= 0 {
                    return Err(CliError::option(
                        "Number of requests per event must be greater than 0",
                    ));
                }
                s.reqs_per_event = n as u32;
            }
            b'C' => s.use_cas = false,
            b'b' => s.backlog = atoi(&text(value)),
            b'B' => {
                let t = text(value);
                s.protocol = match t.as_str() {
                    "auto" => BindingProtocol::Auto,
                    "binary" => BindingProtocol::Binary,
                    "ascii" => BindingProtocol::Ascii,
                    _ => {
                        return Err(CliError::usage(format!(
                            "Invalid value for binding protocol: {t}\n \
                             -- should be one of auto, binary, or ascii"
                        )))
                    }
                };
            }
            b'I' => self.item_size = Some(parse_item_size(&text(value))),
            b'F' => s.flush_enabled = false,
            b'X' => s.dump_enabled = false,
            b'W' => s.watch_enabled = false,
            b'N' => {
                let n = atoi(&text(value));
                if n <= 0 {
                    return Err(CliError::option(
                        "Maximum number of NAPI IDs must be greater than 0",
                    ));
                }
                s.napi_ids = n as u32;
            }
            b'o' => extended::apply_list(self, &text(value))?,
            b'S' => return Err(unsupported("-S (SASL authentication)")),
            b'Y' => return Err(unsupported("-Y (ASCII protocol authentication)")),
            b'Z' => return Err(unsupported("-Z (TLS)")),
            b'e' => return Err(unsupported("-e (restartable memory file)")),
            other => {
                // getopt only yields letters from its table, and every one is handled above.
                return Err(CliError::option(format!(
                    "Illegal argument \"{}\"",
                    other as char
                )));
            }
        }
        Ok(())
    }

    /// Runs memcached's post-parse checks and returns the finished settings.
    pub(crate) fn finish(mut self) -> Result<Settings, CliError> {
        let item_size = i64::from(self.item_size.unwrap_or(1024 * 1024));
        let s = &mut self.s;
        if item_size < ITEM_SIZE_MAX_LOWER {
            return Err(CliError::usage(
                "Item max size cannot be less than 1024 bytes.",
            ));
        }
        if item_size as u64 > s.max_bytes / 2 {
            return Err(CliError::usage(
                "Cannot set item size limit higher than 1/2 of memory max.",
            ));
        }
        if item_size > ITEM_SIZE_MAX_UPPER {
            return Err(CliError::usage(
                "Cannot set item size limit higher than a gigabyte.",
            ));
        }
        s.item_size_max = item_size as usize;
        let chunk_max = s.slab_chunk_max;
        if chunk_max > s.item_size_max {
            return Err(CliError::usage(format!(
                "slab_chunk_max (bytes: {chunk_max}) cannot be larger than -I (item_size_max {})",
                s.item_size_max
            )));
        }
        if chunk_max == 0 || s.item_size_max % chunk_max != 0 {
            return Err(CliError::usage(format!(
                "-I (item_size_max: {}) must be evenly divisible by slab_chunk_max (bytes: {chunk_max})",
                s.item_size_max
            )));
        }
        if s.slab_page_size % chunk_max != 0 {
            return Err(CliError::usage(format!(
                "slab_chunk_max (bytes: {chunk_max}) must divide evenly into {} (slab_page_size)",
                s.slab_page_size
            )));
        }
        if let Some(raw) = self.slab_sizes_raw.take() {
            s.slab_sizes = Some(parse_slab_sizes(&raw, s.chunk_size, chunk_max)?);
        }
        if s.hot_lru_pct + s.warm_lru_pct > 80 {
            return Err(CliError::usage(
                "hot_lru_pct + warm_lru_pct cannot be more than 80% combined",
            ));
        }
        if s.temp_lru && !s.lru_maintainer {
            return Err(CliError::usage(
                "temporary_ttl requires lru_maintainer to be enabled",
            ));
        }
        let tcp = self.tcp_port;
        let udp = self.udp_port;
        if let Some(p) = udp {
            s.udp_port = port_setting(p)?;
        }
        s.port = match (tcp, udp) {
            (Some(p), _) => port_setting(p)?,
            // Only -U given: TCP follows it, as in memcached.
            (None, Some(_)) if s.udp_port != PortSetting::Off => s.udp_port,
            _ => s.port,
        };
        Ok(self.s)
    }
}

/// `-I`: a number with an optional `k`/`m` suffix (either case), read with `atoi` into
/// memcached's `int`; any other suffix is read by `atoi` and so ignored.
fn parse_item_size(t: &str) -> i32 {
    let (num, mult): (&str, i64) = match t.as_bytes().last() {
        Some(b'k' | b'K') => (&t[..t.len() - 1], 1024),
        Some(b'm' | b'M') => (&t[..t.len() - 1], 1024 * 1024),
        _ => (t, 1),
    };
    (i64::from(atoi(num)) * mult) as i32
}

/// Checks a raw `-p`/`-U` value. memcached accepts 0 (off), -1 (ephemeral) and 1..=65535;
/// other negative numbers make its bind fail later, evcached rejects them up front.
fn port_setting(p: i32) -> Result<PortSetting, CliError> {
    match p {
        0 => Ok(PortSetting::Off),
        -1 => Ok(PortSetting::Ephemeral),
        1..=65535 => Ok(PortSetting::Fixed(p as u16)),
        _ => Err(CliError::usage(format!("ERROR: Invalid port number {p}."))),
    }
}

/// `-o slab_sizes=a-b-c`, read once every option is known (as memcached does, so `-n`
/// counts wherever it appears): sizes from `-n` to `slab_chunk_max`, each more than 8 bytes
/// above the previous, at most 62; an unreadable number reads as 0. An empty list makes
/// memcached exit 64 without a message.
fn parse_slab_sizes(raw: &str, chunk_size: u32, chunk_max: usize) -> Result<Vec<u32>, CliError> {
    if raw.is_empty() {
        return Err(CliError::usage(""));
    }
    let sizes: Vec<u32> = raw
        .split('-')
        .filter(|p| !p.is_empty())
        .map(|p| super::numbers::safe_strtoul(p).unwrap_or(0))
        .collect();
    let chunk_max = u32::try_from(chunk_max).unwrap_or(u32::MAX);
    evcached_storage::config::check_slab_sizes(&sizes, chunk_size, chunk_max)
        .map_err(|e| CliError::usage(e.message()))?;
    Ok(sizes)
}

/// The error for a memcached feature evcached does not implement.
fn unsupported(what: &str) -> CliError {
    CliError::usage(format!(
        "evcached: {what} is not supported; refusing to start rather than run without it"
    ))
}
