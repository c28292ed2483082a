//! Unit tests for the command line: every flag, the defaults, and memcached's exact
//! messages and exit codes for bad values (each checked against memcached 1.6.18).

use super::*;

fn run(args: &[&str]) -> Result<Settings, CliError> {
    match parse(args.iter().map(OsString::from))? {
        Parsed::Run(s) => Ok(*s),
        other => panic!("expected settings, got {other:?}"),
    }
}

fn ok(args: &[&str]) -> Settings {
    run(args).unwrap_or_else(|e| panic!("{args:?} rejected: {e}"))
}

fn err(args: &[&str]) -> (String, i32) {
    match run(args) {
        Ok(s) => panic!("{args:?} accepted: {s:?}"),
        Err(e) => (e.message, e.exit_code),
    }
}

#[test]
fn defaults_are_memcacheds() {
    let s = ok(&[]);
    assert_eq!(s, Settings::default());
    assert_eq!(s.port, PortSetting::Fixed(11211));
    assert_eq!(s.udp_port, PortSetting::Off);
    assert_eq!(s.max_bytes, 64 << 20);
    assert_eq!(s.max_conns, 1024);
    assert_eq!(s.threads, 4);
    assert_eq!(s.reqs_per_event, 20);
    assert_eq!(s.backlog, 1024);
    assert_eq!(s.item_size_max, 1 << 20);
    assert_eq!(s.growth_factor, 1.25);
    assert_eq!(s.chunk_size, 48);
    assert_eq!(s.unix_mask, 0o700);
    assert_eq!(s.protocol, BindingProtocol::Auto);
    assert!(s.listen.is_empty());
    assert_eq!(
        s.listen_addrs(),
        vec![ListenAddr::wildcard_v4(), ListenAddr::wildcard_v6()]
    );
    assert!(s.use_cas && s.evict_to_free && s.flush_enabled && s.dump_enabled);
    assert!(s.lru_crawler && s.lru_maintainer && s.lru_segmented && s.slab_reassign);
    assert_eq!(s.slab_automove, 1);
    assert_eq!(s.slab_chunk_max, 512 * 1024);
    assert_eq!(s.hash_algorithm, HashAlgorithm::Murmur3);
    assert_eq!(s.event_backend, EventBackendChoice::Native);
    assert!(s.warnings.is_empty());
}

#[test]
fn ports() {
    assert_eq!(ok(&["-p", "1234"]).port, PortSetting::Fixed(1234));
    assert_eq!(ok(&["-p", "-1"]).port, PortSetting::Ephemeral);
    assert_eq!(ok(&["-p", "0"]).port, PortSetting::Off);
    assert_eq!(ok(&["--port=99"]).port, PortSetting::Fixed(99));
    assert_eq!(ok(&["-p11"]).port, PortSetting::Fixed(11));
    // atoi: garbage reads as 0 (memcached then runs without TCP).
    assert_eq!(ok(&["-p", "abc"]).port, PortSetting::Off);
    assert_eq!(
        err(&["-p", "70000"]),
        ("ERROR: Invalid port number 70000.".into(), 64)
    );
    assert_eq!(
        err(&["-p", "65536"]),
        ("ERROR: Invalid port number 65536.".into(), 64)
    );
    assert_eq!(
        err(&["-p", "-5"]),
        ("ERROR: Invalid port number -5.".into(), 64)
    );
    assert_eq!(
        err(&["-U", "70000"]),
        ("ERROR: Invalid port number 70000.".into(), 64)
    );
    let s = ok(&["-U", "-1", "-p", "-1"]);
    assert_eq!(
        (s.port, s.udp_port),
        (PortSetting::Ephemeral, PortSetting::Ephemeral)
    );
    // -U alone: TCP follows the UDP port.
    let s = ok(&["-U", "5000"]);
    assert_eq!(
        (s.port, s.udp_port),
        (PortSetting::Fixed(5000), PortSetting::Fixed(5000))
    );
    let s = ok(&["-U", "0"]);
    assert_eq!(
        (s.port, s.udp_port),
        (PortSetting::Fixed(11211), PortSetting::Off)
    );
    let s = ok(&["--udp-port=7", "-p", "8"]);
    assert_eq!(
        (s.port, s.udp_port),
        (PortSetting::Fixed(8), PortSetting::Fixed(7))
    );
}

#[test]
fn unix_socket_and_mask() {
    let s = ok(&["-s", "/tmp/x.sock", "-a", "0755"]);
    assert_eq!(s.unix_socket, Some(PathBuf::from("/tmp/x.sock")));
    assert_eq!(s.unix_mask, 0o755);
    assert_eq!(ok(&["-a", "abc"]).unix_mask, 0);
    assert_eq!(ok(&["-a", "777"]).unix_mask, 0o777);
    assert_eq!(ok(&["-a", "19"]).unix_mask, 1);
    assert_eq!(
        ok(&["--unix-socket", "/a", "--unix-mask=600"]).unix_mask,
        0o600
    );
}

#[test]
fn listen_addresses() {
    let s = ok(&["-l", "127.0.0.1"]);
    assert_eq!(
        s.listen,
        vec![ListenAddr {
            host: "127.0.0.1".into(),
            port: None
        }]
    );
    assert_eq!(s.listen_raw.as_deref(), Some("127.0.0.1"));
    let s = ok(&[
        "-l",
        "127.0.0.1:5000,[::1]:6000;[::1]",
        "--listen=::2",
        "-l",
        "localhost",
    ]);
    assert_eq!(
        s.listen,
        vec![
            ListenAddr {
                host: "127.0.0.1".into(),
                port: Some(5000)
            },
            ListenAddr {
                host: "::1".into(),
                port: Some(6000)
            },
            ListenAddr {
                host: "::1".into(),
                port: None
            },
            ListenAddr {
                host: "::2".into(),
                port: None
            },
            ListenAddr {
                host: "localhost".into(),
                port: None
            },
        ]
    );
    assert_eq!(
        s.listen_raw.as_deref(),
        Some("127.0.0.1:5000,[::1]:6000;[::1],::2,localhost")
    );
    assert_eq!(s.listen_addrs(), s.listen);
    assert_eq!(
        err(&["-l", "[::1"]),
        ("Invalid IPV6 address: \"[::1\"".into(), 71)
    );
    assert_eq!(
        err(&["-l", "host:abc"]),
        ("Invalid port in listen address".into(), 71)
    );
    assert_eq!(
        err(&["-l", "host:70000"]),
        ("Invalid port in listen address".into(), 71)
    );
}

#[test]
fn boolean_flags() {
    let s = ok(&["-A", "-d", "-r", "-M", "-k", "-L", "-C", "-F", "-X", "-W"]);
    assert!(s.enable_shutdown && s.daemonize && s.enable_coredumps && s.lock_memory);
    assert!(s.large_pages);
    assert!(!s.evict_to_free && !s.use_cas && !s.flush_enabled && !s.dump_enabled);
    assert!(!s.watch_enabled);
    let s = ok(&["-AdrMkLCFXW"]);
    assert!(s.enable_shutdown && !s.watch_enabled && !s.use_cas);
    let s = ok(&[
        "--enable-shutdown",
        "--daemon",
        "--enable-coredumps",
        "--disable-evictions",
        "--lock-memory",
        "--enable-largepages",
        "--disable-cas",
        "--disable-flush-all",
        "--disable-dumping",
        "--disable-watch",
    ]);
    assert!(s.enable_shutdown && s.daemonize && !s.evict_to_free && !s.watch_enabled);
}

#[test]
fn user_and_pidfile() {
    let s = ok(&["-u", "nobody", "-P", "/run/x.pid"]);
    assert_eq!(s.user.as_deref(), Some("nobody"));
    assert_eq!(s.pidfile, Some(PathBuf::from("/run/x.pid")));
    assert_eq!(
        ok(&["--user=me", "--pidfile=/p"]).user.as_deref(),
        Some("me")
    );
    assert!(s.check_root(true).is_ok());
    assert!(ok(&[]).check_root(false).is_ok());
    assert_eq!(
        ok(&[]).check_root(true).unwrap_err(),
        CliError {
            message: "can't run as root without the -u switch".into(),
            exit_code: 64
        }
    );
    assert!(ok(&["-u", ""]).check_root(true).is_err());
}

#[test]
fn memory_limit() {
    assert_eq!(ok(&["-m", "128"]).max_bytes, 128 << 20);
    assert_eq!(ok(&["--memory-limit=2"]).max_bytes, 2 << 20);
    assert_eq!(ok(&["-m", "2k"]).max_bytes, 2 << 20);
    let half = "Cannot set item size limit higher than 1/2 of memory max.";
    assert_eq!(err(&["-m", "abc"]), (half.into(), 64));
    assert_eq!(err(&["-m", "0"]), (half.into(), 64));
    assert_eq!(err(&["-m", "1"]), (half.into(), 64));
    assert_eq!(err(&["-m", "1g"]), (half.into(), 64));
    // (size_t)-1 MB: effectively unlimited, as in memcached.
    assert!(ok(&["-m", "-1"]).max_bytes > 1 << 40);
}

#[test]
fn connection_limit() {
    assert_eq!(ok(&["-c", "10"]).max_conns, 10);
    assert_eq!(ok(&["--conn-limit=5000"]).max_conns, 5000);
    let m = "Maximum connections must be greater than 0";
    assert_eq!(err(&["-c", "0"]), (m.into(), 1));
    assert_eq!(err(&["-c", "abc"]), (m.into(), 1));
    assert_eq!(err(&["-c", "-3"]), (m.into(), 1));
}

#[test]
fn verbosity() {
    assert_eq!(ok(&["-v"]).verbose, 1);
    assert_eq!(ok(&["-vv"]).verbose, 2);
    assert_eq!(ok(&["-vvv"]).verbose, 3);
    assert_eq!(ok(&["-v", "-v"]).verbose, 2);
    assert_eq!(ok(&["--verbose", "--verbose=9"]).verbose, 2);
}

#[test]
fn slab_growth_and_min_size() {
    assert_eq!(ok(&["-f", "2"]).growth_factor, 2.0);
    assert_eq!(ok(&["--slab-growth-factor=1.07"]).growth_factor, 1.07);
    let m = "Factor must be greater than 1";
    for bad in ["1", "0.5", "abc", "-2"] {
        assert_eq!(err(&["-f", bad]), (m.into(), 1), "-f {bad}");
    }
    assert_eq!(ok(&["-n", "100"]).chunk_size, 100);
    assert_eq!(ok(&["--slab-min-size=64"]).chunk_size, 64);
    for bad in ["0", "abc", "-1"] {
        assert_eq!(
            err(&["-n", bad]),
            ("Chunk size must be greater than 0".into(), 1)
        );
    }
}

#[test]
fn threads() {
    assert_eq!(ok(&["-t", "8"]).threads, 8);
    assert_eq!(ok(&["--threads", "2"]).threads, 2);
    for bad in ["0", "abc", "-1"] {
        assert_eq!(
            err(&["-t", bad]),
            ("Number of threads must be greater than 0".into(), 1)
        );
    }
    let s = ok(&["-t", "65"]);
    assert_eq!(s.threads, 65);
    assert_eq!(
        s.warnings,
        vec![
            "WARNING: Setting a high number of workerthreads is not recommended.\n \
              Set this value to the number of cores in your machine or less."
                .to_string()
        ]
    );
    assert!(ok(&["-t", "64"]).warnings.is_empty());
}

#[test]
fn reqs_per_event_backlog_protocol() {
    assert_eq!(ok(&["-R", "5"]).reqs_per_event, 5);
    assert_eq!(ok(&["--max-reqs-per-event=1"]).reqs_per_event, 1);
    for bad in ["0", "x"] {
        assert_eq!(
            err(&["-R", bad]),
            (
                "Number of requests per event must be greater than 0".into(),
                1
            )
        );
    }
    assert_eq!(ok(&["-b", "50"]).backlog, 50);
    assert_eq!(ok(&["-b", "abc"]).backlog, 0);
    assert_eq!(ok(&["--listen-backlog=7"]).backlog, 7);
    assert_eq!(ok(&["-B", "ascii"]).protocol, BindingProtocol::Ascii);
    assert_eq!(ok(&["-B", "binary"]).protocol, BindingProtocol::Binary);
    assert_eq!(ok(&["--protocol=auto"]).protocol, BindingProtocol::Auto);
    assert_eq!(BindingProtocol::Auto.stats_name(), "auto-negotiate");
    assert_eq!(
        err(&["-B", "foo"]),
        (
            "Invalid value for binding protocol: foo\n -- should be one of auto, binary, or ascii"
                .into(),
            64
        )
    );
}

#[test]
fn item_size() {
    assert_eq!(ok(&["-I", "2m"]).item_size_max, 2 << 20);
    assert_eq!(ok(&["-I", "2M"]).item_size_max, 2 << 20);
    assert_eq!(ok(&["-I", "1024k"]).item_size_max, 1 << 20);
    assert_eq!(ok(&["-I", "512k"]).item_size_max, 512 << 10);
    assert_eq!(ok(&["-I", "1048576"]).item_size_max, 1 << 20);
    assert_eq!(ok(&["-m", "4096", "-I", "1024m"]).item_size_max, 1 << 30);
    assert_eq!(ok(&["--max-item-size=4m"]).item_size_max, 4 << 20);
    let low = "Item max size cannot be less than 1024 bytes.";
    for bad in ["512", "abc", "1x", "2g", "0"] {
        assert_eq!(err(&["-I", bad]), (low.into(), 64), "-I {bad}");
    }
    assert_eq!(
        err(&["-I", "40m"]),
        (
            "Cannot set item size limit higher than 1/2 of memory max.".into(),
            64
        )
    );
    assert_eq!(
        err(&["-m", "4096", "-I", "1025m"]),
        (
            "Cannot set item size limit higher than a gigabyte.".into(),
            64
        )
    );
    // The default slab_chunk_max (512 KB) must fit -I and divide it.
    assert_eq!(
        err(&["-I", "300k"]),
        (
            "slab_chunk_max (bytes: 524288) cannot be larger than -I (item_size_max 307200)".into(),
            64
        )
    );
    assert_eq!(
        err(&["-I", "3000"]),
        (
            "slab_chunk_max (bytes: 524288) cannot be larger than -I (item_size_max 3000)".into(),
            64
        )
    );
    assert_eq!(
        err(&["-I", "1000k"]),
        ("-I (item_size_max: 1024000) must be evenly divisible by slab_chunk_max (bytes: 524288)"
            .into(), 64)
    );
    assert_eq!(
        err(&["-I", "3000", "-o", "slab_chunk_max=1000"]),
        (
            "slab_chunk_max (bytes: 1000) must divide evenly into 1048576 (slab_page_size)".into(),
            64
        )
    );
    assert_eq!(
        err(&["-o", "slab_chunk_max=100"]),
        (
            "-I (item_size_max: 1048576) must be evenly divisible by slab_chunk_max (bytes: 100)"
                .into(),
            64
        )
    );
    // The first failing check wins, in memcached's order.
    assert_eq!(err(&["-p", "70000", "-I", "512"]).0, low);
}

#[test]
fn prefix_delimiter() {
    let s = ok(&["-D", "/"]);
    assert_eq!(s.prefix_delimiter, b'/');
    assert!(s.detail_enabled);
    assert_eq!(ok(&["-D", "ab"]).prefix_delimiter, b'a');
    assert_eq!(err(&["-D", ""]), ("No delimiter specified".into(), 1));
}

#[test]
fn napi_ids() {
    assert_eq!(ok(&["-N", "3"]).napi_ids, 3);
    assert_eq!(ok(&["--napi-ids=2"]).napi_ids, 2);
    assert_eq!(
        err(&["-N", "abc"]),
        (
            "Maximum number of NAPI IDs must be greater than 0".into(),
            1
        )
    );
}

#[test]
fn unsupported_features_are_refused() {
    for (flag, word) in [
        ("-S", "SASL"),
        ("-Z", "TLS"),
        ("--enable-sasl", "SASL"),
        ("--enable-ssl", "TLS"),
    ] {
        let (m, code) = err(&[flag]);
        assert!(m.contains(word), "{flag}: {m}");
        assert_eq!(code, 64);
    }
    assert!(err(&["-Y", "/x"]).0.contains("authentication"));
    assert!(err(&["-e", "/x"]).0.contains("memory file"));
    assert_eq!(err(&["--auth-file=/x"]).1, 64);
    assert_eq!(err(&["--memory-file", "/x"]).1, 64);
}

#[test]
fn getopt_errors() {
    assert_eq!(
        err(&["-x"]),
        (
            "evcached: invalid option -- 'x'\nIllegal argument \"?\"".into(),
            1
        )
    );
    assert_eq!(
        err(&["--bogus"]),
        (
            "evcached: unrecognized option '--bogus'\nIllegal argument \"?\"".into(),
            1
        )
    );
    assert_eq!(
        err(&["-p"]),
        (
            "evcached: option requires an argument -- 'p'\nIllegal argument \"?\"".into(),
            1
        )
    );
    assert_eq!(
        err(&["--daemon=1"]),
        (
            "evcached: option '--daemon' doesn't allow an argument\nIllegal argument \"?\"".into(),
            1
        )
    );
    // Non-option words are ignored, as memcached ignores them.
    assert_eq!(ok(&["extra", "-p", "5"]).port, PortSetting::Fixed(5));
}

#[test]
fn help_version_license() {
    let out = |args: &[&str]| parse(args.iter().map(OsString::from)).unwrap();
    let Parsed::Help(h) = out(&["-h"]) else {
        panic!("no help")
    };
    assert!(h.starts_with(&format!(
        "evcached {}\n-p, --port=<num>",
        env!("CARGO_PKG_VERSION")
    )));
    for needle in [
        "-U, --udp-port=<num>      UDP port to listen on (default: 0, off)\n",
        "-m, --memory-limit=<num>  item memory in megabytes (default: 64)\n",
        "-c, --conn-limit=<num>    max simultaneous connections (default: 1024)\n",
        "-t, --threads=<num>       number of threads to use (default: 4)\n",
        "-I, --max-item-size=<num> adjusts max item size\n",
        "   - idle_timeout:        timeout for idle connections. (default: 0, no timeout)\n",
        "   - ev_backend:",
    ] {
        assert!(h.contains(needle), "help lacks {needle:?}");
    }
    assert_eq!(out(&["--help"]), Parsed::Help(h.clone()));
    // -h acts when reached: later errors are not seen, earlier ones are.
    assert_eq!(out(&["-h", "-x"]), Parsed::Help(h));
    assert!(parse(["-x", "-h"].iter().map(OsString::from)).is_err());
    assert_eq!(
        out(&["-V"]),
        Parsed::Version(format!("evcached {}\n", env!("CARGO_PKG_VERSION")))
    );
    assert_eq!(out(&["--version"]), out(&["-V"]));
    let Parsed::License(l) = out(&["-i"]) else {
        panic!("no license")
    };
    assert!(l.contains("BSD"));
    assert_eq!(out(&["--license"]), Parsed::License(l));
}

#[test]
fn extended_flags() {
    let s = ok(&["-o", "no_maxconns_fast,no_hashexpand,no_slab_reassign,no_slab_automove,no_lru_crawler,no_lru_maintainer,track_sizes,drop_privileges"]);
    assert!(!s.maxconns_fast && !s.hash_expand && !s.slab_reassign && !s.lru_crawler);
    assert!(!s.lru_maintainer && !s.lru_segmented && s.track_sizes && s.drop_privileges);
    assert_eq!(s.slab_automove, 0);
    let s = ok(&[
        "-o",
        "maxconns_fast,slab_reassign,lru_crawler,lru_maintainer,modern",
    ]);
    assert!(s.maxconns_fast && s.slab_reassign && s.lru_crawler && s.lru_maintainer);
    // Several -o accumulate; a trailing comma is fine; values given to flags are ignored.
    let s = ok(&["-o", "track_sizes=1,", "--extended=no_hashexpand"]);
    assert!(s.track_sizes && !s.hash_expand);
    assert_eq!(
        err(&["-o", "bogus"]),
        ("Illegal suboption \"bogus\"".into(), 1)
    );
    assert_eq!(
        err(&["-o", "modern,bogus=1"]),
        ("Illegal suboption \"bogus=1\"".into(), 1)
    );
    assert_eq!(
        err(&["-o", ",,modern"]),
        ("Illegal suboption \"\"".into(), 1)
    );
    // 1.6.18 has no slab_page_size option.
    assert_eq!(
        err(&["-o", "slab_page_size=2"]),
        ("Illegal suboption \"slab_page_size=2\"".into(), 1)
    );
}

#[test]
fn extended_numbers() {
    let s = ok(&[
        "-o",
        "hashpower=20,tail_repair_time=10,idle_timeout=30,temporary_ttl=10",
    ]);
    assert_eq!(
        (s.hashpower_init, s.tail_repair_time, s.idle_timeout),
        (20, 10, 30)
    );
    assert!(s.temp_lru);
    assert_eq!(s.temporary_ttl, 10);
    let s = ok(&[
        "-o",
        "slab_automove=2,slab_automove_ratio=0.5,slab_automove_window=10",
    ]);
    assert_eq!(
        (
            s.slab_automove,
            s.slab_automove_ratio,
            s.slab_automove_window
        ),
        (2, 0.5, 10)
    );
    assert_eq!(
        ok(&["-o", "no_slab_automove,slab_automove"]).slab_automove,
        1
    );
    assert_eq!(ok(&["-o", "slab_automove=abc"]).slab_automove, 0);
    assert_eq!(
        ok(&["-o", "slab_automove_ratio=1"]).slab_automove_ratio,
        1.0
    );
    let s = ok(&["-o", "lru_crawler_sleep=1000000,lru_crawler_tocrawl=5"]);
    assert_eq!((s.lru_crawler_sleep, s.lru_crawler_tocrawl), (1_000_000, 5));
    assert_eq!(ok(&["-o", "lru_crawler_sleep=abc"]).lru_crawler_sleep, 0);
    let s = ok(&[
        "-o",
        "hot_lru_pct=1,warm_lru_pct=79,hot_max_factor=0.5,warm_max_factor=3",
    ]);
    assert_eq!((s.hot_lru_pct, s.warm_lru_pct), (1, 79));
    assert_eq!((s.hot_max_factor, s.warm_max_factor), (0.5, 3.0));
    let s = ok(&[
        "-o",
        "watcher_logbuf_size=0,worker_logbuf_size=128,read_buf_mem_limit=10",
    ]);
    assert_eq!(
        (s.watcher_logbuf_size, s.worker_logbuf_size),
        (0, 128 * 1024)
    );
    assert_eq!(s.read_buf_mem_limit, 10 << 20);
    assert_eq!(ok(&["-o", "idle_timeout=abc"]).idle_timeout, 0);
    assert_eq!(ok(&["-o", "idle_timeout=-1"]).idle_timeout, 0);
    assert_eq!(
        ok(&["-o", "hash_algorithm=jenkins"]).hash_algorithm,
        HashAlgorithm::Jenkins
    );
    assert_eq!(
        ok(&["-o", "hash_algorithm=xxh3"]).hash_algorithm,
        HashAlgorithm::Xxh3
    );
    assert_eq!(ok(&["-o", "sock_cookie_id=7"]).sock_cookie_id, 7);
    let s = ok(&["-I", "2m", "-o", "slab_chunk_max=1048576"]);
    assert_eq!(s.slab_chunk_max, 1 << 20);
    assert_eq!(ok(&["-o", "slab_chunk_max=16384"]).slab_chunk_max, 16384);
}

#[test]
fn extended_errors() {
    let cases: &[(&str, &str)] = &[
        ("hashpower", "Missing numeric argument for hashpower"),
        (
            "hashpower=5",
            "Initial hashtable multiplier of 5 is too low",
        ),
        (
            "hashpower=abc",
            "Initial hashtable multiplier of 0 is too low",
        ),
        (
            "hashpower=33",
            "Initial hashtable multiplier of 33 is too high\n\
             Choose a value based on \"STAT hash_power_level\" from a running instance",
        ),
        ("slab_automove=3", "slab_automove must be between 0 and 2"),
        (
            "slab_automove_ratio",
            "Missing slab_automove_ratio argument",
        ),
        (
            "slab_automove_ratio=2",
            "slab_automove_ratio must be > 0 and < 1",
        ),
        (
            "slab_automove_ratio=0",
            "slab_automove_ratio must be > 0 and < 1",
        ),
        (
            "slab_automove_ratio=abc",
            "slab_automove_ratio must be > 0 and < 1",
        ),
        (
            "slab_automove_window",
            "Missing slab_automove_window argument",
        ),
        ("slab_automove_window=1", "slab_automove_window must be > 2"),
        (
            "slab_automove_window=abc",
            "slab_automove_window must be > 2",
        ),
        (
            "tail_repair_time",
            "Missing numeric argument for tail_repair_time",
        ),
        (
            "tail_repair_time=5",
            "Cannot set tail_repair_time to less than 10 seconds",
        ),
        (
            "tail_repair_time=0",
            "Cannot set tail_repair_time to less than 10 seconds",
        ),
        ("hash_algorithm", "Missing hash_algorithm argument"),
        (
            "hash_algorithm=foo",
            "Unknown hash_algorithm option (jenkins, murmur3, xxh3)",
        ),
        ("lru_crawler_sleep", "Missing lru_crawler_sleep value"),
        (
            "lru_crawler_sleep=2000000",
            "LRU crawler sleep must be between 0 and 1 second",
        ),
        ("lru_crawler_tocrawl", "Missing lru_crawler_tocrawl value"),
        (
            "lru_crawler_tocrawl=abc",
            "lru_crawler_tocrawl takes a numeric 32bit value",
        ),
        (
            "lru_crawler_tocrawl=-1",
            "lru_crawler_tocrawl takes a numeric 32bit value",
        ),
        ("hot_lru_pct", "Missing hot_lru_pct argument"),
        ("hot_lru_pct=90", "hot_lru_pct must be > 1 and < 80"),
        ("hot_lru_pct=abc", "hot_lru_pct must be > 1 and < 80"),
        ("warm_lru_pct", "Missing warm_lru_pct argument"),
        ("warm_lru_pct=0", "warm_lru_pct must be > 1 and < 80"),
        ("warm_lru_pct=80", "warm_lru_pct must be > 1 and < 80"),
        ("hot_max_factor", "Missing hot_max_factor argument"),
        ("hot_max_factor=0", "hot_max_factor must be > 0"),
        ("hot_max_factor=-1", "hot_max_factor must be > 0"),
        ("warm_max_factor", "Missing warm_max_factor argument"),
        ("warm_max_factor=abc", "warm_max_factor must be > 0"),
        ("temporary_ttl", "Missing temporary_ttl argument"),
        ("idle_timeout", "Missing numeric argument for idle_timeout"),
        (
            "watcher_logbuf_size",
            "Missing watcher_logbuf_size argument",
        ),
        (
            "watcher_logbuf_size=abc",
            "could not parse argument to watcher_logbuf_size",
        ),
        (
            "watcher_logbuf_size=-1",
            "could not parse argument to watcher_logbuf_size",
        ),
        ("worker_logbuf_size", "Missing worker_logbuf_size argument"),
        ("read_buf_mem_limit", "Missing read_buf_mem_limit argument"),
        (
            "read_buf_mem_limit=abc",
            "could not parse argument to read_buf_mem_limit",
        ),
        (
            "read_buf_mem_limit=-1",
            "could not parse argument to read_buf_mem_limit",
        ),
        ("slab_chunk_max", "Missing slab_chunk_max argument"),
        (
            "slab_chunk_max=abc",
            "could not parse argument to slab_chunk_max",
        ),
        ("ev_backend", "Missing ev_backend argument"),
        (
            "ev_backend=fast",
            "Unknown ev_backend option (native, portable)",
        ),
    ];
    for (opt, want) in cases {
        assert_eq!(err(&["-o", opt]), (want.to_string(), 1), "-o {opt}");
    }
}

#[test]
fn extended_post_checks() {
    assert_eq!(
        err(&["-o", "hot_lru_pct=50,warm_lru_pct=40"]),
        (
            "hot_lru_pct + warm_lru_pct cannot be more than 80% combined".into(),
            64
        )
    );
    assert_eq!(
        err(&["-o", "no_lru_maintainer,temporary_ttl=5"]),
        (
            "temporary_ttl requires lru_maintainer to be enabled".into(),
            64
        )
    );
    assert_eq!(
        err(&["-o", "slab_chunk_max=2000000"]),
        (
            "slab_chunk_max (bytes: 2000000) cannot be larger than -I (item_size_max 1048576)"
                .into(),
            64
        )
    );
    // no_modern and no_chunked_items raise slab_chunk_max to a page, so -I 2m divides.
    let s = ok(&["-o", "no_modern", "-I", "2m"]);
    assert_eq!(s.slab_chunk_max, 1 << 20);
    assert!(!s.slab_reassign && !s.lru_crawler && !s.lru_maintainer && !s.maxconns_fast);
    assert_eq!(s.hash_algorithm, HashAlgorithm::Jenkins);
    assert_eq!(
        ok(&["-o", "no_chunked_items", "-I", "2m"]).slab_chunk_max,
        1 << 20
    );
}

#[test]
fn slab_sizes() {
    assert_eq!(
        ok(&["-o", "slab_sizes=100-200"]).slab_sizes,
        Some(vec![100, 200])
    );
    assert_eq!(
        ok(&["-o", "slab_sizes=48-524288"]).slab_sizes,
        Some(vec![48, 524_288])
    );
    assert_eq!(
        err(&["-o", "slab_sizes=40"]),
        ("slab size 40 is out of valid range".into(), 64)
    );
    assert_eq!(
        err(&["-o", "slab_sizes=47"]),
        ("slab size 47 is out of valid range".into(), 64)
    );
    assert_eq!(
        err(&["-o", "slab_sizes=524289"]),
        ("slab size 524289 is out of valid range".into(), 64)
    );
    assert_eq!(
        err(&["-o", "slab_sizes=abc"]),
        ("slab size 0 is out of valid range".into(), 64)
    );
    assert_eq!(
        err(&["-o", "slab_sizes=200-100"]),
        (
            "slab size 100 cannot be lower than or equal to a previous class size".into(),
            64
        )
    );
    assert_eq!(
        err(&["-o", "slab_sizes"]),
        ("Missing slab_sizes argument".into(), 1)
    );
    // memcached's 8-byte step, kept although evcached rounds classes to 4.
    assert_eq!(
        err(&["-o", "slab_sizes=100-108"]),
        (
            "slab size 108 must be at least 8 bytes larger than previous class".into(),
            64
        )
    );
    assert_eq!(
        ok(&["-o", "slab_sizes=100-109"]).slab_sizes,
        Some(vec![100, 109])
    );
    // The lower bound is -n, wherever -n appears (the list is read last).
    for args in [
        &["-n", "100", "-o", "slab_sizes=60-200"][..],
        &["-o", "slab_sizes=60-200", "-n", "100"][..],
    ] {
        assert_eq!(err(args), ("slab size 60 is out of valid range".into(), 64));
    }
    assert_eq!(
        ok(&["-n", "10", "-o", "slab_sizes=20-40"]).slab_sizes,
        Some(vec![20, 40])
    );
    // The upper bound is slab_chunk_max, in either order.
    assert_eq!(
        err(&["-o", "slab_sizes=100-20000,slab_chunk_max=16384"]),
        ("slab size 20000 is out of valid range".into(), 64)
    );
    // Empty tokens are skipped; an empty list makes memcached exit 64 silently.
    assert_eq!(
        ok(&["-o", "slab_sizes=100--200-"]).slab_sizes,
        Some(vec![100, 200])
    );
    assert_eq!(err(&["-o", "slab_sizes="]), (String::new(), 64));
    let list = |n: u32| {
        (1..=n)
            .map(|i| (i * 100).to_string())
            .collect::<Vec<_>>()
            .join("-")
    };
    assert_eq!(
        ok(&["-o", &format!("slab_sizes={}", list(62))])
            .slab_sizes
            .unwrap()
            .len(),
        62
    );
    assert_eq!(
        err(&["-o", &format!("slab_sizes={}", list(63))]),
        ("too many slab classes specified".into(), 64)
    );
}

#[test]
fn event_backend() {
    assert_eq!(
        ok(&["-o", "ev_backend=portable"]).event_backend,
        EventBackendChoice::Portable
    );
    assert_eq!(
        ok(&["-o", "ev_backend=native"]).event_backend,
        EventBackendChoice::Native
    );
}

#[test]
fn non_utf8_paths_survive() {
    use std::os::unix::ffi::OsStringExt;
    let args = vec![
        OsString::from("-s"),
        OsString::from_vec(b"/tmp/\xff.sock".to_vec()),
    ];
    let Parsed::Run(s) = parse(args).unwrap() else {
        panic!()
    };
    assert_eq!(
        s.unix_socket.unwrap().into_os_string().into_vec(),
        b"/tmp/\xff.sock".to_vec()
    );
}
