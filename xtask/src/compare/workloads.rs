//! The workloads `cargo xtask compare` runs, as `evcached-loadgen` arguments.

/// One workload.
#[derive(Clone, Debug)]
pub struct Workload {
    /// Short id (`a`, `b`, `e40k`, ...), also accepted by `--workloads`.
    pub id: String,
    /// What it does, for the table.
    pub title: String,
    /// Open-loop target rate, if any (latency at equal load is what counts there).
    pub rate: Option<u64>,
    /// Load-generator arguments (server, duration and output are added per run).
    pub args: Vec<String>,
}

/// Every workload, with a keyspace of `keys` keys (4 KB sets use a quarter of it).
pub fn all(keys: u64) -> Vec<Workload> {
    let base = |extra: &str, keyspace: u64| -> Vec<String> {
        format!(
            "--conns 50 --threads 1 --key-size 32 --value-size 100 --keyspace {keyspace} {extra}"
        )
        .split_whitespace()
        .map(String::from)
        .collect()
    };
    let mut list = vec![
        Workload {
            id: "a".into(),
            title: "90:10 get:set, 100 B, 50 conns".into(),
            rate: None,
            args: base("--ratio 9:1 --depth 1", keys),
        },
        Workload {
            id: "b".into(),
            title: "90:10 get:set, 100 B, pipeline 16".into(),
            rate: None,
            args: base("--ratio 9:1 --depth 16", keys),
        },
        Workload {
            id: "c".into(),
            title: "16-key gets, 100 B".into(),
            rate: None,
            args: base("--ratio 1:0 --multiget 16", keys),
        },
        Workload {
            id: "d".into(),
            title: "4 KB sets".into(),
            rate: None,
            // The later --value-size wins; a smaller keyspace keeps memory modest.
            args: base("--ratio 0:1 --value-size 4096", (keys / 4).max(1)),
        },
    ];
    for k in [20u64, 40, 60] {
        list.push(Workload {
            id: format!("e{k}k"),
            title: format!("open loop {k}k ops/s, 90:10"),
            rate: Some(k * 1000),
            args: base(&format!("--ratio 9:1 --rate {}", k * 1000), keys),
        });
    }
    list
}

/// The workloads named in `ids` (comma-separated; `e` means all three open-loop rates).
pub fn select(keys: u64, ids: &str) -> Result<Vec<Workload>, String> {
    let all = all(keys);
    let mut chosen = Vec::new();
    for id in ids.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let matched: Vec<_> = all
            .iter()
            .filter(|w| w.id == id || (id == "e" && w.rate.is_some()))
            .cloned()
            .collect();
        if matched.is_empty() {
            let known: Vec<_> = all.iter().map(|w| w.id.as_str()).collect();
            return Err(format!(
                "unknown workload `{id}` (known: {}, e)",
                known.join(", ")
            ));
        }
        chosen.extend(matched);
    }
    Ok(chosen)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_issue_s_workloads_are_all_there() {
        let ids: Vec<_> = all(1000).into_iter().map(|w| w.id).collect();
        assert_eq!(ids, ["a", "b", "c", "d", "e20k", "e40k", "e60k"]);
        let b = &all(1000)[1];
        assert!(b.args.windows(2).any(|w| w == ["--depth", "16"]));
    }

    #[test]
    fn selects_by_id() {
        let w = select(10, "a,e").unwrap();
        let ids: Vec<_> = w.iter().map(|w| w.id.as_str()).collect();
        assert_eq!(ids, ["a", "e20k", "e40k", "e60k"]);
        assert!(select(10, "z").is_err());
    }
}
