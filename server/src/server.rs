//! Server assembly: the state every thread shares ([`Shared`]), and [`run`], which binds
//! the listeners, starts the workers and runs the dispatcher on the calling thread until
//! SIGINT/SIGTERM or `shutdown`, then stops everything in order.

use std::collections::BTreeMap;
use std::io;
use std::net::{SocketAddr, ToSocketAddrs, UdpSocket};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use evcached_storage::{Engine, EngineConfig};
use event_core::EventBase;

use crate::net::dispatcher::{poke, Dispatcher};
use crate::net::listen::{bind_tcp, bind_udp, bind_unix, Listener};
use crate::net::stream::Stream;
use crate::net::worker::{Inbox, Worker};
use crate::portfile::{PortFile, Transport};
use crate::settings::{BindingProtocol, EventBackendChoice, PortSetting, Settings};
use crate::stats::{ConnStats, ThreadStats};

/// `stats detail`: per-prefix get/hit/set/delete counts (only while enabled).
pub struct Detail {
    enabled: AtomicBool,
    delimiter: u8,
    prefixes: Mutex<BTreeMap<Vec<u8>, [u64; 4]>>,
}

impl Detail {
    fn new(enabled: bool, delimiter: u8) -> Detail {
        Detail {
            enabled: AtomicBool::new(enabled),
            delimiter,
            prefixes: Mutex::new(BTreeMap::new()),
        }
    }

    /// Whether recording is on.
    pub fn enabled(&self) -> bool {
        self.enabled.load(Relaxed)
    }

    /// `stats detail on|off`.
    pub fn set_enabled(&self, on: bool) {
        self.enabled.store(on, Relaxed);
    }

    fn record(&self, key: &[u8], slot: usize, hit: bool) {
        let Some(end) = key.iter().position(|&b| b == self.delimiter) else {
            return;
        };
        let mut map = self.prefixes.lock().unwrap_or_else(|e| e.into_inner());
        let e = map.entry(key[..end].to_vec()).or_insert([0; 4]);
        e[slot] += 1;
        if slot == 0 && hit {
            e[1] += 1;
        }
    }

    /// Records a lookup of `key` (only called while enabled).
    pub fn record_get(&self, key: &[u8], hit: bool) {
        self.record(key, 0, hit);
    }

    /// Records a store of `key`.
    pub fn record_set(&self, key: &[u8]) {
        self.record(key, 2, false);
    }

    /// Records a delete of `key`.
    pub fn record_delete(&self, key: &[u8]) {
        self.record(key, 3, false);
    }

    /// `stats detail dump` lines (without the final `END`).
    pub fn dump(&self) -> Vec<u8> {
        let map = self.prefixes.lock().unwrap_or_else(|e| e.into_inner());
        let mut out = Vec::new();
        for (k, v) in map.iter() {
            out.extend_from_slice(b"PREFIX ");
            out.extend_from_slice(k);
            out.extend_from_slice(
                format!(" get {} hit {} set {} del {}\r\n", v[0], v[1], v[2], v[3]).as_bytes(),
            );
        }
        out
    }

    fn reset(&self) {
        self.prefixes
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
    }
}

/// One row of the connection table behind `stats conns`.
struct ConnRow {
    addr: String,
    listen_addr: Option<String>,
    /// Clock of the last command (clients only).
    last_cmd: Option<Arc<AtomicU32>>,
}

/// Every listener and client connection by descriptor, for `stats conns`. Updated on
/// accept and close only (never per request).
#[derive(Default)]
pub struct ConnTable {
    rows: Mutex<BTreeMap<i32, ConnRow>>,
}

/// `unix:<path>` as `stats conns` shows a unix-socket listener or client.
fn unix_name(addr: std::io::Result<std::os::unix::net::SocketAddr>) -> String {
    let path = addr
        .ok()
        .and_then(|a| a.as_pathname().map(|p| p.display().to_string()))
        .unwrap_or_default();
    format!("unix:{path}")
}

fn sock_name(prefix: &str, a: &SocketAddr) -> String {
    match a {
        SocketAddr::V4(v) => format!("{prefix}:{v}"),
        SocketAddr::V6(v) => format!("{prefix}6:{v}"),
    }
}

impl ConnTable {
    fn rows(&self) -> std::sync::MutexGuard<'_, BTreeMap<i32, ConnRow>> {
        self.rows.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn add_listener(&self, l: &Listener) {
        let (fd, addr) = match l {
            Listener::Tcp(t) => (
                t.as_raw_fd(),
                t.local_addr()
                    .map(|a| sock_name("tcp", &a))
                    .unwrap_or_default(),
            ),
            Listener::Unix(u) => (u.as_raw_fd(), unix_name(u.local_addr())),
        };
        self.rows().insert(
            fd,
            ConnRow {
                addr,
                listen_addr: None,
                last_cmd: None,
            },
        );
    }

    /// Records an accepted connection.
    pub fn add_client(&self, s: &Stream, last_cmd: Arc<AtomicU32>) {
        let (fd, addr, listen_addr) = match s {
            Stream::Tcp(t) => (
                t.as_raw_fd(),
                t.peer_addr()
                    .map(|a| sock_name("tcp", &a))
                    .unwrap_or_default(),
                t.local_addr()
                    .map(|a| sock_name("tcp", &a))
                    .unwrap_or_default(),
            ),
            // memcached 1.6.18 prints unix clients' peer this way.
            Stream::Unix(u) => (
                u.as_raw_fd(),
                "?:<AF 0>".to_string(),
                unix_name(u.local_addr()),
            ),
        };
        self.rows().insert(
            fd,
            ConnRow {
                addr,
                listen_addr: Some(listen_addr),
                last_cmd: Some(last_cmd),
            },
        );
    }

    /// Forgets a closed connection.
    pub fn remove(&self, fd: i32) {
        self.rows().remove(&fd);
    }

    /// The `stats conns` lines (without `END`); `current` is the asking connection.
    pub fn report(&self, current: i32, now: u32) -> Vec<u8> {
        use std::io::Write;
        let mut out = Vec::new();
        let rows = self.rows();
        // Clients first, then listeners (memcached's fd order in the common case: its
        // first client reuses the descriptor the port file had, below the listener's).
        let clients = rows.iter().filter(|(_, r)| r.last_cmd.is_some());
        let listeners = rows.iter().filter(|(_, r)| r.last_cmd.is_none());
        for (fd, row) in clients.chain(listeners) {
            let _ = write!(out, "STAT {fd}:addr {}\r\n", row.addr);
            if let Some(l) = &row.listen_addr {
                let _ = write!(out, "STAT {fd}:listen_addr {l}\r\n");
            }
            let (state, secs) = match &row.last_cmd {
                None => ("conn_listening", 0),
                Some(t) => (
                    if *fd == current {
                        "conn_parse_cmd"
                    } else {
                        "conn_waiting"
                    },
                    if *fd == current {
                        0
                    } else {
                        now.saturating_sub(t.load(Relaxed))
                    },
                ),
            };
            let _ = write!(
                out,
                "STAT {fd}:state {state}\r\nSTAT {fd}:secs_since_last_cmd {secs}\r\n"
            );
        }
        out
    }
}

/// State shared by the dispatcher, the workers and the protocol layer.
pub struct Shared {
    /// The storage engine.
    pub engine: Engine,
    /// The command line.
    pub settings: Settings,
    /// `verbosity` (changed at run time by the command).
    pub verbosity: AtomicU32,
    /// `stats detail`.
    pub detail: Detail,
    /// One counter block per worker.
    pub thread_stats: Vec<ThreadStats>,
    /// Connection counters.
    pub conn_stats: ConnStats,
    /// Listeners and clients for `stats conns`.
    pub conns: ConnTable,
    /// Set when the server is stopping (workers flush and close).
    pub stopping: AtomicBool,
    stop_req: AtomicBool,
    signal_pipe: UnixStream,
    /// `-o idle_timeout` seconds (0: off).
    pub idle_timeout: u32,
    /// `-R`.
    pub reqs_per_event: usize,
    /// `-B`.
    pub protocol_mode: BindingProtocol,
    /// `-c`.
    pub max_conns: u64,
    /// `-o maxconns_fast`.
    pub maxconns_fast: bool,
    /// Descriptors the server uses for itself (stats `reserved_fds`).
    pub reserved_fds: u32,
    /// The event backend's name (stats `libevent`).
    pub backend_name: &'static str,
    /// The first bound TCP port (stats settings `tcpport` for `-p -1`).
    pub bound_tcp_port: u16,
    /// The first bound UDP port.
    pub bound_udp_port: u16,
    started: Instant,
    started_unix: u64,
}

impl Shared {
    /// Server clock in seconds (the engine's relative time).
    pub fn now(&self) -> u32 {
        self.engine.current_time()
    }

    /// Advances the clock (the dispatcher calls this once a second).
    pub fn tick(&self) {
        self.engine.tick();
    }

    /// `uptime`: seconds since start (memcached's starts near 2).
    pub fn uptime(&self) -> u64 {
        self.started.elapsed().as_secs() + 2
    }

    /// `time`: the server's idea of the current Unix time.
    pub fn unix_time(&self) -> u64 {
        self.started_unix + self.started.elapsed().as_secs()
    }

    /// The current `verbosity` level.
    pub fn verbose(&self) -> u32 {
        self.verbosity.load(Relaxed)
    }

    /// Asks the dispatcher to stop the server (the `shutdown` command).
    pub fn request_stop(&self) {
        self.stop_req.store(true, Relaxed);
        poke(&self.signal_pipe);
    }

    /// True once `shutdown` asked for a stop.
    pub fn stop_requested(&self) -> bool {
        self.stop_req.load(Relaxed)
    }

    /// `stats reset`.
    pub fn reset_stats(&self) {
        self.engine.stats_reset();
        for t in &self.thread_stats {
            t.reset();
        }
        self.conn_stats.reset_counters();
        self.detail.reset();
    }

    /// The sum of every worker's counters.
    pub fn thread_totals(&self) -> ThreadStats {
        let total = ThreadStats::default();
        for t in &self.thread_stats {
            total.add_from(t);
        }
        total
    }
}

impl Shared {
    /// Server state with no listeners, workers or engine threads: the protocol layer
    /// and a connection can be driven on it directly (protocol tests, the fuzz targets).
    /// The clock only moves through [`Shared::tick`]; `shutdown` only records the request.
    pub fn detached(settings: Settings) -> io::Result<Shared> {
        let mut config = engine_config(&settings);
        config.background_threads = false;
        let (_unused, signal_pipe) = UnixStream::pair()?;
        signal_pipe.set_nonblocking(true)?;
        Ok(Shared {
            engine: Engine::new(config),
            verbosity: AtomicU32::new(u32::from(settings.verbose)),
            detail: Detail::new(settings.detail_enabled, settings.prefix_delimiter),
            thread_stats: vec![ThreadStats::default()],
            conn_stats: ConnStats::default(),
            conns: ConnTable::default(),
            stopping: AtomicBool::new(false),
            stop_req: AtomicBool::new(false),
            signal_pipe,
            idle_timeout: settings.idle_timeout,
            reqs_per_event: settings.reqs_per_event.max(1) as usize,
            protocol_mode: settings.protocol,
            max_conns: u64::from(settings.max_conns),
            maxconns_fast: settings.maxconns_fast,
            reserved_fds: 0,
            backend_name: "detached",
            bound_tcp_port: 0,
            bound_udp_port: 0,
            started: Instant::now(),
            started_unix: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0),
            settings,
        })
    }
}

fn resolve(host: &str, port: u16) -> io::Result<Vec<SocketAddr>> {
    Ok((host, port).to_socket_addrs()?.collect())
}

/// The sockets bound at start-up.
struct Bound {
    listeners: Vec<Listener>,
    udp: Vec<UdpSocket>,
    tcp_port: u16,
    udp_port: u16,
}

fn port_number(p: PortSetting) -> Option<u16> {
    match p {
        PortSetting::Off => None,
        PortSetting::Ephemeral => Some(0),
        PortSetting::Fixed(n) => Some(n),
    }
}

fn bind_all(s: &Settings, ports: &mut Option<PortFile>) -> io::Result<Bound> {
    let mut b = Bound {
        listeners: Vec::new(),
        udp: Vec::new(),
        tcp_port: 0,
        udp_port: 0,
    };
    if let Some(path) = &s.unix_socket {
        b.listeners
            .push(Listener::Unix(bind_unix(path, s.unix_mask, s.backlog)?));
        return Ok(b);
    }
    let addrs = s.listen_addrs();
    if let Some(mut port) = port_number(s.port) {
        for la in &addrs {
            let explicit = la.port;
            for addr in resolve(&la.host, explicit.unwrap_or(port))? {
                let l = bind_tcp(addr, s.backlog)?;
                let local = l.local_addr()?;
                if explicit.is_none() && port == 0 {
                    port = local.port(); // the other addresses share the kernel's choice
                }
                if b.tcp_port == 0 {
                    b.tcp_port = local.port();
                }
                if let Some(p) = ports.as_mut() {
                    p.record(Transport::Tcp, local);
                }
                b.listeners.push(Listener::Tcp(l));
            }
        }
    }
    if let Some(mut port) = port_number(s.udp_port) {
        for la in &addrs {
            let explicit = la.port;
            for addr in resolve(&la.host, explicit.unwrap_or(port))? {
                let u = bind_udp(addr)?;
                let local = u.local_addr()?;
                if explicit.is_none() && port == 0 {
                    port = local.port();
                }
                if b.udp_port == 0 {
                    b.udp_port = local.port();
                }
                if let Some(p) = ports.as_mut() {
                    p.record(Transport::Udp, local);
                }
                b.udp.push(u);
            }
        }
    }
    Ok(b)
}

/// Raises `RLIMIT_NOFILE` so `-c` connections fit (memcached does the same).
fn raise_nofile(max_conns: u64, threads: usize) {
    use nix::sys::resource::{getrlimit, rlim_t, setrlimit, Resource};
    // `rlim_t` is u64 on Linux and macOS, i64 on FreeBSD; a connection count fits both.
    let want = max_conns.saturating_add(32 + 4 * threads as u64);
    let want = want.min(i64::MAX as u64) as rlim_t;
    if let Ok((soft, hard)) = getrlimit(Resource::RLIMIT_NOFILE) {
        if soft < want {
            let new_hard = hard.max(want);
            if setrlimit(Resource::RLIMIT_NOFILE, want, new_hard).is_err() {
                let _ = setrlimit(Resource::RLIMIT_NOFILE, want.min(hard), hard);
            }
        }
    }
}

/// Maps the command line onto the engine's configuration.
pub fn engine_config(s: &Settings) -> EngineConfig {
    EngineConfig {
        memory_limit: s.max_bytes,
        evictions: s.evict_to_free,
        cas_enabled: s.use_cas,
        chunk_size: s.chunk_size,
        growth_factor: s.growth_factor,
        slab_sizes: s.slab_sizes.clone(),
        item_size_max: s.item_size_max as u64,
        slab_page_size: s.slab_page_size as u32,
        slab_chunk_max: s.slab_chunk_max as u32,
        preallocate: s.large_pages,
        hashpower_init: s.hashpower_init,
        hash_expand: s.hash_expand,
        lru_maintainer: s.lru_maintainer,
        lru_segmented: s.lru_segmented,
        hot_lru_pct: s.hot_lru_pct,
        warm_lru_pct: s.warm_lru_pct,
        hot_max_factor: s.hot_max_factor,
        warm_max_factor: s.warm_max_factor,
        temporary_ttl: if s.temp_lru {
            Some(s.temporary_ttl)
        } else {
            None
        },
        lru_crawler: s.lru_crawler,
        lru_crawler_sleep: s.lru_crawler_sleep,
        lru_crawler_tocrawl: s.lru_crawler_tocrawl,
        slab_reassign: s.slab_reassign,
        slab_automove: s.slab_automove,
        slab_automove_ratio: s.slab_automove_ratio,
        slab_automove_window: s.slab_automove_window,
        background_threads: true,
    }
}

/// Which backend to run on: `-o ev_backend=portable` or `EVCACHED_BACKEND=portable`
/// select the portable one, anything else the compile-time [`crate::backend::Backend`].
pub fn backend_choice(s: &Settings) -> EventBackendChoice {
    match std::env::var("EVCACHED_BACKEND").as_deref() {
        Ok("portable") => EventBackendChoice::Portable,
        Ok("native") => EventBackendChoice::Native,
        _ => s.event_backend,
    }
}

/// Runs the server until it is stopped. Returns an error message for start-up failures.
pub fn run(settings: Settings) -> Result<(), String> {
    match backend_choice(&settings) {
        EventBackendChoice::Native => run_on::<crate::backend::Backend>(settings),
        EventBackendChoice::Portable => run_on::<event_core::PortableBase>(settings),
    }
}

/// Runs the server on backend `B`.
pub fn run_on<B: EventBase + 'static>(settings: Settings) -> Result<(), String> {
    let max_conns = u64::from(settings.max_conns);
    raise_nofile(max_conns, settings.threads);

    let mut port_file = PortFile::from_env();
    let bound =
        bind_all(&settings, &mut port_file).map_err(|e| format!("failed to listen: {e}"))?;

    // Publish the ports before dropping privileges (the file's directory may be root's).
    if let Some(p) = &port_file {
        p.publish()
            .map_err(|e| format!("failed to write the port file: {e}"))?;
    }
    if let Some(user) = settings.user.as_deref().filter(|u| !u.is_empty()) {
        if nix::unistd::geteuid().is_root() {
            drop_privileges(user)?;
        }
    }

    let (sig_read, sig_write) = UnixStream::pair().map_err(|e| e.to_string())?;
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        let w = sig_write.try_clone().map_err(|e| e.to_string())?;
        signal_hook::low_level::pipe::register(sig, w).map_err(|e| e.to_string())?;
    }
    // A broken pipe is a closed connection, not a reason to die.
    let _ = signal_hook::flag::register(
        signal_hook::consts::SIGPIPE,
        Arc::new(AtomicBool::new(false)),
    );

    let engine = Engine::new(engine_config(&settings));
    let threads = settings.threads.max(1);
    let shared = Arc::new(Shared {
        engine,
        verbosity: AtomicU32::new(u32::from(settings.verbose)),
        detail: Detail::new(settings.detail_enabled, settings.prefix_delimiter),
        thread_stats: (0..threads).map(|_| ThreadStats::default()).collect(),
        conn_stats: ConnStats::default(),
        conns: ConnTable::default(),
        stopping: AtomicBool::new(false),
        stop_req: AtomicBool::new(false),
        signal_pipe: sig_write,
        idle_timeout: settings.idle_timeout,
        reqs_per_event: settings.reqs_per_event.max(1) as usize,
        protocol_mode: settings.protocol,
        max_conns,
        maxconns_fast: settings.maxconns_fast,
        reserved_fds: 5 + 2 * threads as u32 + bound.listeners.len() as u32,
        backend_name: B::NAME,
        bound_tcp_port: bound.tcp_port,
        bound_udp_port: bound.udp_port,
        started: Instant::now(),
        started_unix: SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0),
        settings,
    });

    for l in &bound.listeners {
        shared.conns.add_listener(l);
    }
    // memcached counts its listening and UDP connections in total_connections.
    let internal = bound.listeners.len() + bound.udp.len() * threads;
    shared
        .conn_stats
        .total_connections
        .store(internal as u64, Relaxed);
    let mut handles = Vec::new();
    let mut worker_handles = Vec::new();
    for i in 0..threads {
        let inbox = Arc::new(Inbox::default());
        // Every worker serves every UDP socket (through its own handle to it).
        let udp = bound
            .udp
            .iter()
            .map(|u| u.try_clone())
            .collect::<io::Result<Vec<_>>>()
            .map_err(|e| e.to_string())?;
        let (worker, waker) =
            Worker::<B>::new(shared.clone(), i, inbox.clone(), udp).map_err(|e| e.to_string())?;
        worker_handles.push((inbox, waker));
        let h = std::thread::Builder::new()
            .name(format!("evcached-worker-{i}"))
            .spawn(move || worker.run())
            .map_err(|e| e.to_string())?;
        handles.push(h);
    }
    let (dispatcher, _waker) =
        Dispatcher::<B>::new(bound.listeners, worker_handles, shared.clone(), sig_read)
            .map_err(|e| e.to_string())?;
    dispatcher.run();
    for h in handles {
        let _ = h.join();
    }
    shared.engine.shutdown();
    Ok(())
}

fn drop_privileges(user: &str) -> Result<(), String> {
    use nix::unistd::{setgid, setuid, User};
    let u = User::from_name(user)
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("can't find the user {user} to switch to"))?;
    drop_supplementary_groups()?;
    setgid(u.gid).map_err(|_| format!("failed to assume identity of user {user}"))?;
    setuid(u.uid).map_err(|_| format!("failed to assume identity of user {user}"))?;
    Ok(())
}

/// Drops every supplementary group, as memcached does before setgid/setuid. EPERM means
/// the process is already without the privilege to change them, which memcached accepts.
#[cfg(not(target_vendor = "apple"))]
fn drop_supplementary_groups() -> Result<(), String> {
    match nix::unistd::setgroups(&[]) {
        Ok(()) | Err(nix::errno::Errno::EPERM) => Ok(()),
        Err(e) => Err(format!("failed to drop supplementary groups: {}", e.desc())),
    }
}

/// Apple targets: nix binds no setgroups(2) there (Apple deprecates changing the group
/// list directly), so only setgid/setuid apply.
#[cfg(target_vendor = "apple")]
fn drop_supplementary_groups() -> Result<(), String> {
    Ok(())
}
