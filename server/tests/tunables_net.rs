//! Engine settings through the real binary: `-o slab_sizes` gives exactly those chunk sizes
//! (rounded to 4, evcached's alignment) and refuses memcached's bad lists with its message
//! and exit code; `lru tune`, `lru temp_ttl`, `slabs automove ratio` and the `lru_crawler`
//! knobs change `stats settings` as in memcached 1.6.18 (compared with it when installed).

mod support;

use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use support::{evcached_bin, memcached_or_skip, running_as_root, Client, Server};

/// Bound on how long a rejected command line may take to exit.
const EXIT_DEADLINE: Duration = Duration::from_secs(10);

fn text(c: &mut Client, req: &str, end: &str) -> String {
    String::from_utf8_lossy(&c.request(req.as_bytes(), end.as_bytes())).into_owned()
}

/// `(name, value)` of every `STAT` line.
fn stats(c: &mut Client, which: &str) -> Vec<(String, String)> {
    text(c, &format!("stats {which}\r\n"), "END\r\n")
        .lines()
        .filter_map(|l| l.strip_prefix("STAT "))
        .filter_map(|l| l.split_once(' '))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn chunk_sizes(c: &mut Client) -> Vec<(String, String)> {
    stats(c, "slabs")
        .into_iter()
        .filter(|(k, _)| k.ends_with(":chunk_size"))
        .collect()
}

#[test]
fn slab_sizes_give_exactly_those_chunk_sizes() {
    let server = Server::evcached(&["-o", "slab_sizes=100-201-1000"]);
    let mut c = server.connect();
    // 36-byte header + key + value (+ no flags): 2+50 → class 1, 2+150 → 2, 2+900 → 3,
    // 5000 → the chunk-max class.
    for (key, len) in [("k1", 50), ("k2", 150), ("k3", 900), ("k4", 5000)] {
        let req = format!("set {key} 0 0 {len}\r\n{}\r\n", "x".repeat(len));
        assert_eq!(text(&mut c, &req, "\r\n"), "STORED\r\n");
    }
    let want: Vec<(String, String)> = [("1", "100"), ("2", "204"), ("3", "1000"), ("4", "524288")]
        .iter()
        .map(|(id, size)| (format!("{id}:chunk_size"), size.to_string()))
        .collect();
    assert_eq!(chunk_sizes(&mut c), want);
}

#[test]
fn slab_sizes_default_series_without_the_option() {
    let server = Server::evcached(&[]);
    let mut c = server.connect();
    let req = format!("set k 0 0 50\r\n{}\r\n", "x".repeat(50));
    assert_eq!(text(&mut c, &req, "\r\n"), "STORED\r\n");
    // 36 + 1 + 50 = 87 bytes: the -n/-f series' 108-byte class 2.
    assert_eq!(
        chunk_sizes(&mut c),
        vec![("2:chunk_size".to_string(), "108".to_string())]
    );
}

/// Runs `program args` to its exit (bounded); returns the exit code and stderr.
fn run_to_exit(program: &std::path::Path, args: &[&str]) -> (Option<i32>, String) {
    let mut full = Vec::new();
    if running_as_root() {
        full.extend(["-u", "root"]);
    }
    full.extend(["-p", "0", "-U", "0", "-l", "127.0.0.1"]);
    full.extend_from_slice(args);
    let mut child = Command::new(program)
        .args(&full)
        .env_remove("MEMCACHED_PORT_FILENAME")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {}: {e}", program.display()));
    let deadline = Instant::now() + EXIT_DEADLINE;
    while child.try_wait().expect("try_wait").is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{} {args:?} did not exit", program.display());
        }
        thread::sleep(Duration::from_millis(10));
    }
    let out = child.wait_with_output().expect("wait");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn slab_sizes_bad_lists_get_memcached_errors() {
    let many = (1..=63)
        .map(|i| (i * 100).to_string())
        .collect::<Vec<_>>()
        .join("-");
    let many = format!("slab_sizes={many}");
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec!["-o", "slab_sizes=100-108"],
            "slab size 108 must be at least 8 bytes larger than previous class\n",
        ),
        (
            vec!["-o", "slab_sizes=100-90"],
            "slab size 90 cannot be lower than or equal to a previous class size\n",
        ),
        (
            vec!["-o", "slab_sizes=60-200", "-n", "100"],
            "slab size 60 is out of valid range\n",
        ),
        (
            vec!["-o", "slab_sizes=100-20000,slab_chunk_max=16384"],
            "slab size 20000 is out of valid range\n",
        ),
        (
            vec!["-o", "slab_sizes=100-abc"],
            "slab size 0 is out of valid range\n",
        ),
        (vec!["-o", &many], "too many slab classes specified\n"),
    ];
    let memcached = memcached_or_skip("slab_sizes_bad_lists_get_memcached_errors");
    for (args, msg) in &cases {
        let (code, err) = run_to_exit(&evcached_bin(), args);
        assert_eq!((code, err.as_str()), (Some(64), *msg), "evcached {args:?}");
        if let Some(m) = &memcached {
            let (code, err) = run_to_exit(m, args);
            assert_eq!((code, err.as_str()), (Some(64), *msg), "memcached {args:?}");
        }
    }
}

/// The `stats settings` lines the run-time commands change.
const LIVE: &[&str] = &[
    "slab_automove_ratio",
    "lru_crawler",
    "lru_crawler_sleep",
    "lru_crawler_tocrawl",
    "hot_lru_pct",
    "warm_lru_pct",
    "hot_max_factor",
    "warm_max_factor",
    "temp_lru",
    "temporary_ttl",
];

/// Run-time commands whose replies match memcached's deterministically.
const TUNING: &[&str] = &[
    "lru tune 10 30 0.5 3",
    "lru tune 50 40 0.5 3",
    "lru tune 10 30 0 3",
    "lru temp_ttl 30",
    "lru temp_ttl -1",
    "slabs automove ratio 0.25",
    "lru_crawler sleep 2000",
    "lru_crawler sleep 2000000",
    "lru_crawler tocrawl 500",
];

/// Starting and stopping the crawler. memcached stops its crawler thread asynchronously, so
/// right after `disable` its `stats settings` and `crawl` replies vary from run to run;
/// evcached's are checked alone.
const CRAWLER_TOGGLE: &[&str] = &[
    "lru_crawler enable",
    "lru_crawler disable",
    "lru_crawler disable",
    "lru_crawler crawl all",
    "lru_crawler enable",
    "lru_crawler disable",
];

/// Sends each command, then returns every reply and the [`LIVE`] settings.
fn script(server: &Server, cmds: &[&str]) -> (Vec<String>, Vec<(String, String)>) {
    let mut c = server.connect();
    let replies = cmds
        .iter()
        .map(|cmd| text(&mut c, &format!("{cmd}\r\n"), "\r\n"))
        .collect();
    let live = stats(&mut c, "settings")
        .into_iter()
        .filter(|(k, _)| LIVE.contains(&k.as_str()))
        .collect();
    (replies, live)
}

#[test]
fn lru_tune_and_crawler_knobs_change_stats_settings() {
    let ev = Server::evcached(&[]);
    let all: Vec<&str> = TUNING.iter().chain(CRAWLER_TOGGLE).copied().collect();
    let (replies, live) = script(&ev, &all);
    assert_eq!(
        replies,
        [
            "OK\r\n",
            "ERROR hot and warm pcts must not exceed 80\r\n",
            "ERROR hot/warm age factors must be greater than 0\r\n",
            "OK\r\n",
            "OK\r\n",
            "OK\r\n",
            "OK\r\n",
            "CLIENT_ERROR sleep must be one second or less\r\n",
            "OK\r\n",
            "ERROR failed to start lru crawler thread\r\n",
            "OK\r\n",
            "OK\r\n",
            "CLIENT_ERROR lru crawler disabled\r\n",
            "OK\r\n",
            "OK\r\n",
        ]
    );
    let get = |name: &str| {
        live.iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .unwrap_or_else(|| panic!("no {name}"))
    };
    assert_eq!(get("hot_lru_pct"), "10");
    assert_eq!(get("warm_lru_pct"), "30");
    assert_eq!(get("hot_max_factor"), "0.50");
    assert_eq!(get("warm_max_factor"), "3.00");
    // temp_ttl -1 turns TEMP off and keeps the last TTL, as memcached does.
    assert_eq!(get("temp_lru"), "no");
    assert_eq!(get("temporary_ttl"), "30");
    assert_eq!(get("slab_automove_ratio"), "0.25");
    assert_eq!(get("lru_crawler"), "no");
    assert_eq!(get("lru_crawler_sleep"), "2000");
    assert_eq!(get("lru_crawler_tocrawl"), "500");
    if let Some(mc) = Server::memcached("lru_tune_and_crawler_knobs_change_stats_settings", &[]) {
        let ev = Server::evcached(&[]);
        assert_eq!(
            script(&mc, TUNING),
            script(&ev, TUNING),
            "memcached differs"
        );
    }
}
