//! Samples, their medians, and the results table (terminal, markdown and JSON).

use serde_json::{json, Value};

use super::workloads::Workload;

/// One measured run of one server.
#[derive(Clone, Debug)]
pub struct Sample {
    /// Requests per second the client saw.
    pub ops_per_sec: f64,
    /// Requests completed in the measured window.
    pub ops: f64,
    /// Latency percentiles in microseconds.
    pub p50: f64,
    /// 99th percentile.
    pub p99: f64,
    /// 99.9th percentile.
    pub p99_9: f64,
    /// Server user-space CPU seconds (all threads) during the run.
    pub user_s: f64,
    /// Server kernel CPU seconds (all threads) during the run.
    pub sys_s: f64,
    /// Client CPU as a percentage of one core: near 100 means the load generator, not
    /// the server, limited the run.
    pub client_cpu_pct: f64,
}

impl Sample {
    /// Server CPU seconds, user + system.
    pub fn cpu_s(&self) -> f64 {
        self.user_s + self.sys_s
    }

    /// Requests per server CPU second.
    pub fn ops_per_cpu_s(&self) -> f64 {
        if self.cpu_s() > 0.0 {
            self.ops / self.cpu_s()
        } else {
            f64::NAN
        }
    }

    fn to_json(&self) -> Value {
        json!({
            "ops_per_sec": self.ops_per_sec, "ops": self.ops, "p50_us": self.p50,
            "p99_us": self.p99, "p99_9_us": self.p99_9, "server_cpu_s": self.cpu_s(),
            "server_user_cpu_s": self.user_s, "server_sys_cpu_s": self.sys_s,
            "ops_per_server_cpu_s": finite(self.ops_per_cpu_s()),
            "client_cpu_pct": finite(self.client_cpu_pct),
        })
    }
}

/// Median, minimum and maximum of some samples.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Spread {
    /// Median (mean of the middle two for an even count).
    pub median: f64,
    /// Smallest.
    pub min: f64,
    /// Largest.
    pub max: f64,
}

/// The spread of `values` (NaN when empty; NaNs are ignored).
pub fn spread(values: impl IntoIterator<Item = f64>) -> Spread {
    let mut v: Vec<f64> = values.into_iter().filter(|x| !x.is_nan()).collect();
    if v.is_empty() {
        return Spread {
            median: f64::NAN,
            min: f64::NAN,
            max: f64::NAN,
        };
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    let median = if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    };
    Spread {
        median,
        min: v[0],
        max: v[n - 1],
    }
}

/// A column of the per-workload table.
pub struct Metric {
    /// Row label.
    pub name: &'static str,
    /// Its value in a sample.
    pub get: fn(&Sample) -> f64,
    /// Decimals to print.
    pub decimals: usize,
    /// Whether candidate/memcached of this metric means anything.
    pub ratio: bool,
}

/// The metrics reported for every workload.
pub const METRICS: [Metric; 9] = [
    Metric {
        name: "ops/s",
        get: |s| s.ops_per_sec,
        decimals: 0,
        ratio: true,
    },
    Metric {
        name: "p50 us",
        get: |s| s.p50,
        decimals: 1,
        ratio: true,
    },
    Metric {
        name: "p99 us",
        get: |s| s.p99,
        decimals: 1,
        ratio: true,
    },
    Metric {
        name: "p99.9 us",
        get: |s| s.p99_9,
        decimals: 1,
        ratio: true,
    },
    Metric {
        name: "server CPU s",
        get: Sample::cpu_s,
        decimals: 2,
        ratio: true,
    },
    // The split shows how much of the server's time user-space work could save at all:
    // with loopback TCP most of it can be the kernel's.
    Metric {
        name: "server user CPU s",
        get: |s| s.user_s,
        decimals: 2,
        ratio: true,
    },
    Metric {
        name: "server sys CPU s",
        get: |s| s.sys_s,
        decimals: 2,
        ratio: true,
    },
    Metric {
        name: "ops/server-CPU-s",
        get: Sample::ops_per_cpu_s,
        decimals: 0,
        ratio: true,
    },
    Metric {
        name: "client CPU %",
        get: |s| s.client_cpu_pct,
        decimals: 0,
        ratio: false,
    },
];

/// Everything measured for one workload.
#[derive(Clone, Debug)]
pub struct WorkloadResult {
    /// What ran.
    pub workload: Workload,
    /// Samples per server (index 0 = the candidate, 1 = memcached).
    pub samples: [Vec<Sample>; 2],
    /// What `perf stat` counted over an extra run of a fixed number of requests, per
    /// server; `None` when not counted at all, an error when counting failed here.
    pub per_request: Option<Result<[PerRequest; 2], String>>,
}

/// A server's system calls and context switches over a run of a known request count.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct PerRequest {
    /// Requests the load generator completed while perf counted.
    pub requests: u64,
    /// System calls the server entered meanwhile.
    pub syscalls: u64,
    /// Context switches of the server's threads meanwhile.
    pub context_switches: u64,
}

impl PerRequest {
    /// System calls per request.
    pub fn syscalls_per_op(&self) -> f64 {
        self.syscalls as f64 / self.requests as f64
    }

    /// Context switches per request.
    pub fn switches_per_op(&self) -> f64 {
        self.context_switches as f64 / self.requests as f64
    }

    fn to_json(self) -> Value {
        json!({
            "requests": self.requests, "syscalls": self.syscalls,
            "context_switches": self.context_switches,
            "syscalls_per_request": finite(self.syscalls_per_op()),
            "context_switches_per_request": finite(self.switches_per_op()),
        })
    }
}

/// Memory per item after a bulk load.
#[derive(Clone, Debug)]
pub struct MemoryResult {
    /// Items loaded.
    pub items: u64,
    /// Key + value bytes of one item.
    pub payload: u64,
    /// RSS of the idle, empty process, per server.
    pub rss_empty: [u64; 2],
    /// RSS after the load, per server.
    pub rss_full: [u64; 2],
}

impl MemoryResult {
    /// RSS growth per item, per server.
    pub fn per_item(&self, i: usize) -> f64 {
        self.rss_full[i].saturating_sub(self.rss_empty[i]) as f64 / self.items as f64
    }
}

/// The whole comparison.
#[derive(Clone, Debug)]
pub struct Results {
    /// Column names (candidate, memcached).
    pub names: [String; 2],
    /// One line per fact about the setup (binaries, flags, pinning, machine).
    pub setup: Vec<String>,
    /// Per workload.
    pub workloads: Vec<WorkloadResult>,
    /// The memory test, when it ran.
    pub memory: Option<MemoryResult>,
}

/// Client CPU (percent of one core) from which a closed-loop run counts as client-bound.
const CLIENT_BOUND_PCT: f64 = 90.0;

/// One table row: workload, metric, candidate, memcached, ratio.
type Row = [String; 5];

impl Results {
    fn rows(&self) -> Vec<Row> {
        let mut rows = Vec::new();
        for w in &self.workloads {
            let label = format!("{} {}", w.workload.id, w.workload.title);
            for (k, m) in METRICS.iter().enumerate() {
                let s = [0, 1].map(|i| spread(w.samples[i].iter().map(m.get)));
                rows.push([
                    if k == 0 { label.clone() } else { String::new() },
                    m.name.to_string(),
                    cell(s[0], m.decimals),
                    cell(s[1], m.decimals),
                    if m.ratio {
                        ratio(s[0].median, s[1].median)
                    } else {
                        "-".into()
                    },
                ]);
            }
            if let Some(Ok([a, b])) = &w.per_request {
                let counted = [
                    ("syscalls/request", a.syscalls_per_op(), b.syscalls_per_op()),
                    (
                        "context switches/request",
                        a.switches_per_op(),
                        b.switches_per_op(),
                    ),
                ];
                for (name, x, y) in counted {
                    rows.push([
                        String::new(),
                        name.into(),
                        format!("{x:.3}"),
                        format!("{y:.3}"),
                        ratio(x, y),
                    ]);
                }
            }
        }
        if let Some(m) = &self.memory {
            let per = [m.per_item(0), m.per_item(1)];
            let over = per.map(|p| p - m.payload as f64);
            rows.push([
                format!("memory, {} items of {} B", m.items, m.payload),
                "RSS growth/item B".into(),
                format!("{:.1}", per[0]),
                format!("{:.1}", per[1]),
                ratio(per[0], per[1]),
            ]);
            rows.push([
                String::new(),
                "overhead/item B".into(),
                format!("{:.1}", over[0]),
                format!("{:.1}", over[1]),
                ratio(over[0], over[1]),
            ]);
        }
        rows
    }

    fn header(&self) -> Row {
        [
            "workload".into(),
            "metric".into(),
            format!("{} median [min..max]", self.names[0]),
            format!("{} median [min..max]", self.names[1]),
            format!("{}/{}", self.names[0], self.names[1]),
        ]
    }

    /// Warnings about runs whose numbers say more about the client than the server, and
    /// about counts that failed.
    pub fn notes(&self) -> Vec<String> {
        let mut notes = Vec::new();
        for w in &self.workloads {
            if let Some(Err(why)) = &w.per_request {
                notes.push(format!(
                    "note: no syscalls or context switches per request in {}: {why}",
                    w.workload.id
                ));
            }
        }
        for w in self.workloads.iter().filter(|w| w.workload.rate.is_none()) {
            for i in 0..2 {
                let cpu = spread(w.samples[i].iter().map(|s| s.client_cpu_pct)).median;
                if cpu >= CLIENT_BOUND_PCT {
                    notes.push(format!(
                        "note: in {} the client used {cpu:.0}% of its CPU against {}: \
                         that throughput is the load generator's limit, compare ops/server-CPU-s",
                        w.workload.id, self.names[i]
                    ));
                }
            }
        }
        notes
    }

    /// The table for a terminal, columns aligned.
    pub fn text(&self) -> String {
        let rows = self.rows();
        let header = self.header();
        let mut width = [0; 5];
        for r in std::iter::once(&header).chain(&rows) {
            for (w, c) in width.iter_mut().zip(r) {
                *w = (*w).max(c.chars().count());
            }
        }
        let mut out = String::new();
        for line in &self.setup {
            out += line;
            out.push('\n');
        }
        for r in std::iter::once(&header).chain(&rows) {
            let cells: Vec<String> = r
                .iter()
                .zip(width)
                .map(|(c, w)| format!("{c:<w$}"))
                .collect();
            out += cells.join("  ").trim_end();
            out.push('\n');
        }
        for note in self.notes() {
            out += &note;
            out.push('\n');
        }
        out
    }

    /// The table as markdown, setup lines as a list above it.
    pub fn markdown(&self) -> String {
        let mut out = String::new();
        for line in &self.setup {
            out += &format!("- {line}\n");
        }
        out.push('\n');
        let row = |r: &Row| format!("| {} |\n", r.join(" | "));
        out += &row(&self.header());
        out += "|---|---|--:|--:|--:|\n";
        for r in self.rows() {
            out += &row(&r);
        }
        for note in self.notes() {
            out += &format!("\n{note}\n");
        }
        out
    }

    /// Every sample and median, for machines.
    pub fn to_json(&self) -> Value {
        let workloads: Vec<Value> = self
            .workloads
            .iter()
            .map(|w| {
                let mut medians = serde_json::Map::new();
                for m in &METRICS {
                    let s = [0, 1].map(|i| spread(w.samples[i].iter().map(m.get)));
                    medians.insert(
                        m.name.into(),
                        json!({
                            self.names[0].clone(): spread_json(s[0]),
                            self.names[1].clone(): spread_json(s[1]),
                            "ratio": finite(s[0].median / s[1].median).filter(|_| m.ratio),
                        }),
                    );
                }
                json!({
                    "id": w.workload.id,
                    "title": w.workload.title,
                    "loadgen_args": w.workload.args,
                    "samples": {
                        self.names[0].clone(): w.samples[0].iter().map(Sample::to_json).collect::<Vec<_>>(),
                        self.names[1].clone(): w.samples[1].iter().map(Sample::to_json).collect::<Vec<_>>(),
                    },
                    "medians": medians,
                    "per_request": match &w.per_request {
                        Some(Ok([a, b])) => json!({
                            self.names[0].clone(): a.to_json(),
                            self.names[1].clone(): b.to_json(),
                        }),
                        _ => Value::Null,
                    },
                })
            })
            .collect();
        let memory = self.memory.as_ref().map(|m| {
            json!({
                "items": m.items,
                "payload_bytes": m.payload,
                self.names[0].clone(): {
                    "rss_empty": m.rss_empty[0], "rss_full": m.rss_full[0],
                    "per_item": m.per_item(0),
                    "overhead_per_item": m.per_item(0) - m.payload as f64,
                },
                self.names[1].clone(): {
                    "rss_empty": m.rss_empty[1], "rss_full": m.rss_full[1],
                    "per_item": m.per_item(1),
                    "overhead_per_item": m.per_item(1) - m.payload as f64,
                },
            })
        });
        json!({
            "setup": self.setup,
            "workloads": workloads,
            "memory": memory,
            "notes": self.notes(),
        })
    }
}

fn spread_json(s: Spread) -> Value {
    json!({ "median": finite(s.median), "min": finite(s.min), "max": finite(s.max) })
}

/// JSON has no NaN; a missing value is null.
fn finite(x: f64) -> Option<f64> {
    x.is_finite().then_some(x)
}

fn cell(s: Spread, decimals: usize) -> String {
    if s.median.is_nan() {
        return "-".into();
    }
    format!(
        "{:.d$} [{:.d$}..{:.d$}]",
        s.median,
        s.min,
        s.max,
        d = decimals
    )
}

fn ratio(a: f64, b: f64) -> String {
    let r = a / b;
    if r.is_finite() {
        format!("{r:.2}")
    } else {
        "-".into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spread_takes_the_middle() {
        assert_eq!(
            spread([3.0, 1.0, 2.0]),
            Spread {
                median: 2.0,
                min: 1.0,
                max: 3.0
            }
        );
        assert_eq!(spread([4.0, 1.0, 2.0, 3.0]).median, 2.5);
        assert!(spread([]).median.is_nan());
        assert_eq!(spread([f64::NAN, 5.0]).median, 5.0);
    }

    fn sample(ops: f64, cpu: f64) -> Sample {
        Sample {
            ops_per_sec: ops,
            ops,
            p50: 10.0,
            p99: 20.0,
            p99_9: 30.0,
            user_s: cpu * 0.25,
            sys_s: cpu * 0.75,
            client_cpu_pct: 50.0,
        }
    }

    #[test]
    fn renders_ratios() {
        let w = super::super::workloads::all(100).remove(0);
        let results = Results {
            names: ["evcached".into(), "memcached".into()],
            setup: vec!["test".into()],
            workloads: vec![WorkloadResult {
                workload: w,
                samples: [
                    vec![sample(200.0, 1.0), sample(220.0, 1.0)],
                    vec![sample(100.0, 1.0)],
                ],
                per_request: Some(Ok([
                    PerRequest {
                        requests: 1000,
                        syscalls: 1000,
                        context_switches: 10,
                    },
                    PerRequest {
                        requests: 1000,
                        syscalls: 2000,
                        context_switches: 40,
                    },
                ])),
            }],
            memory: Some(MemoryResult {
                items: 10,
                payload: 132,
                rss_empty: [1000, 1000],
                rss_full: [3000, 3500],
            }),
        };
        let text = results.text();
        assert!(text.contains("210 [200..220]"), "{text}");
        assert!(text.contains("2.10"), "{text}");
        assert!(text.contains("0.50"), "{text}");
        let md = results.markdown();
        assert!(md.contains("| ops/s |"), "{md}");
        assert!(results.notes().is_empty());
        let mut bound = results.clone();
        bound.workloads[0].samples[1][0].client_cpu_pct = 95.0;
        assert_eq!(bound.notes().len(), 1);
        assert!(bound.text().contains("client used 95%"));
        let j = results.to_json();
        assert_eq!(j["workloads"][0]["medians"]["ops/s"]["ratio"], 2.1);
        assert_eq!(j["memory"]["evcached"]["per_item"], 200.0);
        let per = &j["workloads"][0]["per_request"]["memcached"];
        assert_eq!(per["syscalls_per_request"], 2.0);
        assert_eq!(per["context_switches_per_request"], 0.04);
        let split = &j["workloads"][0]["medians"]["server sys CPU s"];
        assert_eq!(split["evcached"]["median"], 0.75);
        assert_eq!(split["ratio"], 1.0);
    }

    #[test]
    fn shows_the_cpu_split_and_per_request_counts() {
        let mut results = Results {
            names: ["evcached".into(), "memcached".into()],
            setup: vec![],
            workloads: vec![WorkloadResult {
                workload: super::super::workloads::all(100).remove(0),
                samples: [vec![sample(100.0, 2.0)], vec![sample(100.0, 4.0)]],
                per_request: Some(Ok([
                    PerRequest {
                        requests: 2000,
                        syscalls: 2500,
                        context_switches: 4,
                    },
                    PerRequest {
                        requests: 2000,
                        syscalls: 5000,
                        context_switches: 12,
                    },
                ])),
            }],
            memory: None,
        };
        let row = |text: &str, name: &str| {
            let line = text.lines().find(|l| l.contains(name)).unwrap_or("");
            line.split_whitespace().collect::<Vec<_>>().join(" ")
        };
        let md = results.markdown();
        assert_eq!(
            row(&md, "server user CPU s"),
            "| | server user CPU s | 0.50 [0.50..0.50] | 1.00 [1.00..1.00] | 0.50 |"
        );
        assert_eq!(
            row(&md, "server sys CPU s"),
            "| | server sys CPU s | 1.50 [1.50..1.50] | 3.00 [3.00..3.00] | 0.50 |"
        );
        let text = results.text();
        assert_eq!(
            row(&text, "syscalls/request"),
            "syscalls/request 1.250 2.500 0.50"
        );
        assert_eq!(
            row(&text, "context switches/request"),
            "context switches/request 0.002 0.006 0.33"
        );
        results.workloads[0].per_request = Some(Err("perf stat gave no counts".into()));
        let text = results.text();
        assert!(!text.contains("syscalls/request"), "{text}");
        assert!(
            text.contains(
                "note: no syscalls or context switches per request in a: perf stat gave no counts"
            ),
            "{text}"
        );
        assert!(results.to_json()["workloads"][0]["per_request"].is_null());
    }
}
