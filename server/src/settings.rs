//! The command line: memcached 1.6.18's flags, defaults, messages and exit codes.
//!
//! [`parse`] turns the arguments into [`Parsed`]: either [`Settings`] to run with, or a text
//! to print (`-h`, `-V`, `-i`). Bad input gives a [`CliError`] carrying memcached's message
//! and exit code (1 for option errors found while reading the flags, 64 = `EX_USAGE` for the
//! checks memcached makes after reading them).
//!
//! Numbers are read the way memcached reads them (mostly C `atoi`, so `-t abc` is `-t 0`,
//! which then fails with memcached's "must be greater than 0" message), so a command line
//! that works for memcached works for evcached and one that fails fails with the same words.
//!
//! **Listening address.** Without `-l`, evcached listens on every interface, as memcached
//! does. evcached is meant as a drop-in replacement: deployments (and packagers, e.g.
//! Debian's `/etc/memcached.conf` which passes `-l 127.0.0.1`) already choose the interface
//! explicitly, and a server that silently listened on loopback only would break every
//! multi-host setup after the swap with nothing but refused connections to explain it. The
//! historical abuse of memcached (reflection/amplification) came from UDP, which stays off
//! unless `-U` asks for it. Run with `-l 127.0.0.1` on an untrusted network.
//!
//! Features evcached does not have (SASL `-S`, ASCII auth `-Y`, TLS `-Z`, restartable memory
//! file `-e`) are refused at start-up with an explanation rather than silently ignored, since
//! ignoring auth or TLS would weaken security without the operator noticing.

mod extended;
mod getopt;
mod help;
mod listen;
mod numbers;
#[cfg(test)]
mod tests;
mod validate;

use std::ffi::OsString;
use std::fmt;
use std::path::PathBuf;

pub use listen::ListenAddr;

/// `EX_USAGE` from `sysexits.h`: the exit code of memcached's post-parse checks.
pub const EX_USAGE: i32 = 64;

/// The memcached version evcached's protocol and command line follow.
pub const MEMCACHED_VERSION: &str = "1.6.18";

/// What the command line asks for.
#[derive(Debug, Clone, PartialEq)]
pub enum Parsed {
    /// Run the server with these settings.
    Run(Box<Settings>),
    /// Print this text (the `-h` help) to stdout and exit 0.
    Help(String),
    /// Print this text (the `-V` version line) to stdout and exit 0.
    Version(String),
    /// Print this text (the `-i` license) to stdout and exit 0.
    License(String),
}

/// A rejected command line: print `message` to stderr and exit with `exit_code`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CliError {
    /// The text to print, without a trailing newline (may span several lines).
    pub message: String,
    /// The process exit code memcached uses for this error.
    pub exit_code: i32,
}

impl CliError {
    /// An error found while reading the options (memcached exits with 1).
    pub(crate) fn option(message: impl Into<String>) -> Self {
        CliError {
            message: message.into(),
            exit_code: 1,
        }
    }

    /// An error found by the checks after all options were read (`EX_USAGE`).
    pub(crate) fn usage(message: impl Into<String>) -> Self {
        CliError {
            message: message.into(),
            exit_code: EX_USAGE,
        }
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for CliError {}

/// A TCP or UDP port setting (`-p`, `-U`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PortSetting {
    /// `0`: no listener of this kind.
    Off,
    /// `-1`: bind port 0 and report the kernel's choice in the port file.
    Ephemeral,
    /// A fixed port.
    Fixed(u16),
}

/// `-B`: which protocols a connection may speak.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BindingProtocol {
    /// Decide per connection from the first byte (0x80 = binary).
    Auto,
    /// Text (and meta) protocol only.
    Ascii,
    /// Binary protocol only.
    Binary,
}

impl BindingProtocol {
    /// The name `stats settings` prints (`binding_protocol`).
    pub fn stats_name(self) -> &'static str {
        match self {
            BindingProtocol::Auto => "auto-negotiate",
            BindingProtocol::Ascii => "ascii",
            BindingProtocol::Binary => "binary",
        }
    }
}

/// `-o hash_algorithm`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HashAlgorithm {
    /// MurmurHash3 x86_32 (memcached's default).
    Murmur3,
    /// Bob Jenkins' one-at-a-time lookup hash (`no_modern`).
    Jenkins,
    /// xxHash3.
    Xxh3,
}

impl HashAlgorithm {
    /// The name `stats settings` prints (`hash_algorithm`).
    pub fn stats_name(self) -> &'static str {
        match self {
            HashAlgorithm::Murmur3 => "murmur3",
            HashAlgorithm::Jenkins => "jenkins",
            HashAlgorithm::Xxh3 => "xxh3",
        }
    }
}

/// `-o ev_backend=...` (evcached only): which event backend the server runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventBackendChoice {
    /// The OS's native backend chosen at compile time (epoll, kqueue or event ports).
    Native,
    /// The portable backend over the `polling` crate.
    Portable,
}

/// Everything the command line sets. `Settings::default()` holds memcached 1.6.18's defaults.
///
/// The struct is plain data with public fields so later options are one field away; the
/// server reads it, the parser fills it.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// `-p`: TCP port (11211). When only `-U` is given, the TCP port follows it.
    pub port: PortSetting,
    /// `-U`: UDP port (off).
    pub udp_port: PortSetting,
    /// `-s`: unix socket path; when set, no TCP or UDP listener is opened.
    pub unix_socket: Option<PathBuf>,
    /// `-a`: permission bits for the unix socket (0o700).
    pub unix_mask: u32,
    /// `-A`: allow the `shutdown` command.
    pub enable_shutdown: bool,
    /// `-l` (repeatable, comma/semicolon lists): interfaces to listen on; empty = all
    /// interfaces (IPv4 and IPv6), as memcached. An entry's own port overrides `-p`.
    pub listen: Vec<ListenAddr>,
    /// The `-l` text as given (several `-l` joined by `,`), for `stats settings` `inter`.
    pub listen_raw: Option<String>,
    /// `-d`: run as a daemon.
    pub daemonize: bool,
    /// `-r`: raise the core-file limit.
    pub enable_coredumps: bool,
    /// `-u`: user to switch to (required when started as root).
    pub user: Option<String>,
    /// `-m`: item memory in bytes (64 MB).
    pub max_bytes: u64,
    /// `-M` clears it: evict when memory is full (on) instead of failing stores.
    pub evict_to_free: bool,
    /// `-c`: maximum simultaneous connections (1024).
    pub max_conns: u32,
    /// `-k`: lock all paged memory.
    pub lock_memory: bool,
    /// `-v` count: 1 errors/warnings, 2 commands and replies, 3 state transitions.
    pub verbose: u8,
    /// `-P`: write the pid here (used with `-d`).
    pub pidfile: Option<PathBuf>,
    /// `-f`: slab class growth factor (1.25).
    pub growth_factor: f64,
    /// `-n`: minimum space for key + value + flags in the smallest class (48).
    pub chunk_size: u32,
    /// `-L`: try large pages and preallocate the memory.
    pub large_pages: bool,
    /// `-D`: key prefix delimiter for `stats detail` (`:`).
    pub prefix_delimiter: u8,
    /// `stats detail` collection on at start (`-D` turns it on).
    pub detail_enabled: bool,
    /// `-t`: worker threads (4).
    pub threads: usize,
    /// `-R`: commands served per connection per event before yielding (20).
    pub reqs_per_event: u32,
    /// `-C` clears it: keep CAS ids in items.
    pub use_cas: bool,
    /// `-b`: listen backlog (1024).
    pub backlog: i32,
    /// `-B`: protocol (auto).
    pub protocol: BindingProtocol,
    /// `-I`: largest item in bytes, header included (1 MB).
    pub item_size_max: usize,
    /// `-F` clears it: `flush_all` allowed.
    pub flush_enabled: bool,
    /// `-X` clears it: `stats cachedump` and `lru_crawler metadump` allowed.
    pub dump_enabled: bool,
    /// `-W` clears it: `watch` allowed.
    pub watch_enabled: bool,
    /// `-N`: NAPI ids (0 = off); accepted for compatibility, evcached does not steer by NAPI id.
    pub napi_ids: u32,
    /// `-o maxconns_fast`: reject over-limit connections with an error line (on).
    pub maxconns_fast: bool,
    /// `-o hashpower`: initial hash table size exponent; 0 = the default (16).
    pub hashpower_init: u32,
    /// `-o no_hashexpand` clears it: grow the hash table when full.
    pub hash_expand: bool,
    /// `-o slab_reassign`: allow moving pages between classes (on).
    pub slab_reassign: bool,
    /// `-o slab_automove`: 0 off, 1 background balancing (default), 2 on every eviction.
    pub slab_automove: u8,
    /// `-o slab_automove_ratio` (0.8).
    pub slab_automove_ratio: f64,
    /// `-o slab_automove_window` (30).
    pub slab_automove_window: u32,
    /// `-o slab_chunk_max`: largest slab chunk in bytes (half a page); bigger items are chained.
    pub slab_chunk_max: usize,
    /// `-o slab_sizes`: explicit chunk sizes instead of the `-f` progression.
    pub slab_sizes: Option<Vec<u32>>,
    /// Size of a slab page in bytes (1 MB; not settable in 1.6.18).
    pub slab_page_size: usize,
    /// `-o lru_crawler` / `no_lru_crawler`: run the LRU crawler thread (on).
    pub lru_crawler: bool,
    /// `-o lru_crawler_sleep`: µs to sleep between crawler batches (100).
    pub lru_crawler_sleep: u32,
    /// `-o lru_crawler_tocrawl`: items per class per run, 0 = all.
    pub lru_crawler_tocrawl: u32,
    /// `-o lru_maintainer` / `no_lru_maintainer`: run the LRU maintainer thread (on).
    pub lru_maintainer: bool,
    /// Segmented LRU (HOT/WARM/COLD) rather than flat (on; `no_modern` and
    /// `no_lru_maintainer` turn it off).
    pub lru_segmented: bool,
    /// `-o hot_lru_pct` (20).
    pub hot_lru_pct: u32,
    /// `-o warm_lru_pct` (40).
    pub warm_lru_pct: u32,
    /// `-o hot_max_factor` (0.2).
    pub hot_max_factor: f64,
    /// `-o warm_max_factor` (2.0).
    pub warm_max_factor: f64,
    /// TEMP LRU on (`-o temporary_ttl` given).
    pub temp_lru: bool,
    /// `-o temporary_ttl`: items with a TTL up to this go to the TEMP LRU (61).
    pub temporary_ttl: u32,
    /// `-o idle_timeout`: close connections idle this many seconds; 0 = never.
    pub idle_timeout: u32,
    /// `-o tail_repair_time`: seconds before a stuck LRU tail item is freed; 0 = never.
    pub tail_repair_time: u32,
    /// `-o hash_algorithm` (murmur3).
    pub hash_algorithm: HashAlgorithm,
    /// `-o watcher_logbuf_size` in bytes (256 KB).
    pub watcher_logbuf_size: u32,
    /// `-o worker_logbuf_size` in bytes (64 KB).
    pub worker_logbuf_size: u32,
    /// `-o read_buf_mem_limit` in bytes; 0 = unlimited.
    pub read_buf_mem_limit: u64,
    /// `-o track_sizes`: keep the `stats sizes` histogram.
    pub track_sizes: bool,
    /// `-o drop_privileges`: accepted for compatibility (a seccomp sandbox in memcached).
    pub drop_privileges: bool,
    /// `-o inline_ascii_resp`: accepted for compatibility (no effect in 1.6).
    pub inline_ascii_response: bool,
    /// `-o sock_cookie_id`: SO_MARK-style id for listening sockets; 0 = none.
    pub sock_cookie_id: u32,
    /// `-o ev_backend=native|portable` (evcached only): the event backend.
    pub event_backend: EventBackendChoice,
    /// Notes to print to stderr before starting (memcached prints them too, e.g. for `-t` > 64).
    pub warnings: Vec<String>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            port: PortSetting::Fixed(11211),
            udp_port: PortSetting::Off,
            unix_socket: None,
            unix_mask: 0o700,
            enable_shutdown: false,
            listen: Vec::new(),
            listen_raw: None,
            daemonize: false,
            enable_coredumps: false,
            user: None,
            max_bytes: 64 * 1024 * 1024,
            evict_to_free: true,
            max_conns: 1024,
            lock_memory: false,
            verbose: 0,
            pidfile: None,
            growth_factor: 1.25,
            chunk_size: 48,
            large_pages: false,
            prefix_delimiter: b':',
            detail_enabled: false,
            threads: 4,
            reqs_per_event: 20,
            use_cas: true,
            backlog: 1024,
            protocol: BindingProtocol::Auto,
            item_size_max: 1024 * 1024,
            flush_enabled: true,
            dump_enabled: true,
            watch_enabled: true,
            napi_ids: 0,
            maxconns_fast: true,
            hashpower_init: 0,
            hash_expand: true,
            slab_reassign: true,
            slab_automove: 1,
            slab_automove_ratio: 0.8,
            slab_automove_window: 30,
            slab_chunk_max: 512 * 1024,
            slab_sizes: None,
            slab_page_size: 1024 * 1024,
            lru_crawler: true,
            lru_crawler_sleep: 100,
            lru_crawler_tocrawl: 0,
            lru_maintainer: true,
            lru_segmented: true,
            hot_lru_pct: 20,
            warm_lru_pct: 40,
            hot_max_factor: 0.2,
            warm_max_factor: 2.0,
            temp_lru: false,
            temporary_ttl: 61,
            idle_timeout: 0,
            tail_repair_time: 0,
            hash_algorithm: HashAlgorithm::Murmur3,
            watcher_logbuf_size: 256 * 1024,
            worker_logbuf_size: 64 * 1024,
            read_buf_mem_limit: 0,
            track_sizes: false,
            drop_privileges: false,
            inline_ascii_response: false,
            sock_cookie_id: 0,
            event_backend: EventBackendChoice::Native,
            warnings: Vec::new(),
        }
    }
}

impl Settings {
    /// memcached refuses to run as root unless `-u` names a user to switch to. The caller
    /// passes whether the effective user is root (the settings module makes no syscalls).
    pub fn check_root(&self, running_as_root: bool) -> Result<(), CliError> {
        if running_as_root && self.user.as_deref().map_or(true, str::is_empty) {
            return Err(CliError::usage("can't run as root without the -u switch"));
        }
        Ok(())
    }

    /// The `-l` list to bind: the given entries, or both wildcard addresses when none.
    pub fn listen_addrs(&self) -> Vec<ListenAddr> {
        if self.listen.is_empty() {
            vec![ListenAddr::wildcard_v4(), ListenAddr::wildcard_v6()]
        } else {
            self.listen.clone()
        }
    }
}

/// Parses the arguments that follow the program name.
///
/// Like memcached, `-h`, `-V` and `-i` act as soon as they are reached: options before them
/// must be valid, options after them are not looked at.
pub fn parse(args: impl IntoIterator<Item = OsString>) -> Result<Parsed, CliError> {
    let (opts, getopt_error) = getopt::getopt(args.into_iter().collect());
    let mut b = validate::Builder::default();
    for opt in opts {
        let value = opt.value.unwrap_or_default();
        match opt.letter {
            b'h' => return Ok(Parsed::Help(help::help_text())),
            b'V' => return Ok(Parsed::Version(help::version_text())),
            b'i' => return Ok(Parsed::License(help::license_text())),
            letter => b.apply(letter, value)?,
        }
    }
    if let Some(e) = getopt_error {
        return Err(CliError::option(format!(
            "evcached: {}\nIllegal argument \"?\"",
            e.0
        )));
    }
    b.finish().map(|s| Parsed::Run(Box::new(s)))
}
