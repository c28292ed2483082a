//! The comparison as an SVG chart, written by hand (a few rectangles and labels do not
//! need a plotting library's build time).

use std::fmt::Write;

use super::summary::{spread, Results, METRICS};

/// One coloured series of bars.
struct Series {
    name: String,
    color: &'static str,
    values: Vec<f64>,
}

/// One panel of grouped bars.
struct Panel<'a> {
    title: &'a str,
    y_label: &'a str,
    groups: Vec<String>,
    series: Vec<Series>,
    /// A dashed horizontal line (e.g. ratio 1.0).
    reference: Option<f64>,
}

const WIDTH: f64 = 1000.0;
const HEIGHT: f64 = 440.0;
/// Dark and light shades per server (candidate blue, memcached orange).
const COLORS: [&str; 4] = ["#1f77b4", "#9ecae1", "#e6550d", "#fdae6b"];

/// Draws the chart: throughput and efficiency ratios of the closed-loop workloads, and
/// the open-loop latencies of both servers.
pub fn svg(results: &Results) -> String {
    let [a, b] = &results.names;
    let closed: Vec<_> = results
        .workloads
        .iter()
        .filter(|w| w.workload.rate.is_none())
        .collect();
    let open: Vec<_> = results
        .workloads
        .iter()
        .filter(|w| w.workload.rate.is_some())
        .collect();
    let median = |w: &super::summary::WorkloadResult, server: usize, metric: usize| {
        spread(w.samples[server].iter().map(METRICS[metric].get)).median
    };
    let ratio_series = |name: &str, metric: usize, color| Series {
        name: name.into(),
        color,
        values: closed
            .iter()
            .map(|w| median(w, 0, metric) / median(w, 1, metric))
            .collect(),
    };
    let ratios = Panel {
        title: &format!("{a} / {b} (higher is better)"),
        y_label: "ratio",
        groups: closed.iter().map(|w| w.workload.id.clone()).collect(),
        series: vec![
            ratio_series("ops/s", 0, COLORS[0]),
            ratio_series("ops per server CPU s", 5, "#2ca02c"),
        ],
        reference: Some(1.0),
    };
    let latency_series = |server: usize, metric: usize, label: &str, color| Series {
        name: format!("{} {label}", results.names[server]),
        color,
        values: open.iter().map(|w| median(w, server, metric)).collect(),
    };
    let latency = Panel {
        title: "open loop latency, microseconds (lower is better)",
        y_label: "us",
        groups: open
            .iter()
            .map(|w| format!("{}k/s", w.workload.rate.unwrap_or(0) / 1000))
            .collect(),
        series: vec![
            latency_series(0, 1, "p50", COLORS[1]),
            latency_series(0, 2, "p99", COLORS[0]),
            latency_series(1, 1, "p50", COLORS[3]),
            latency_series(1, 2, "p99", COLORS[2]),
        ],
        reference: None,
    };
    let mut out = String::new();
    let _ = writeln!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(
        out,
        r#"<rect width="100%" height="100%" fill="white"/><text x="{}" y="22" text-anchor="middle" font-size="15">{} vs {}: cargo xtask compare</text>"#,
        WIDTH / 2.0,
        escape(a),
        escape(b)
    );
    if let Some(m) = &results.memory {
        let _ = writeln!(
            out,
            r#"<text x="{}" y="{}" text-anchor="middle">RSS per item ({} items of {} B): {} {:.1} B, {} {:.1} B</text>"#,
            WIDTH / 2.0,
            HEIGHT - 8.0,
            m.items,
            m.payload,
            escape(a),
            m.per_item(0),
            escape(b),
            m.per_item(1)
        );
    }
    draw(&mut out, &ratios, 60.0, 50.0, 400.0, 310.0);
    draw(&mut out, &latency, 560.0, 50.0, 400.0, 310.0);
    out.push_str("</svg>\n");
    out
}

/// Draws `p` with its plot area at (`x`, `y`), `w` by `h` pixels.
fn draw(out: &mut String, p: &Panel<'_>, x: f64, y: f64, w: f64, h: f64) {
    let top = p
        .series
        .iter()
        .flat_map(|s| s.values.iter().copied())
        .chain(p.reference)
        .filter(|v| v.is_finite())
        .fold(0.0_f64, f64::max)
        .max(f64::MIN_POSITIVE);
    let step = nice_step(top / 5.0);
    let top = (top / step).ceil() * step;
    let sy = |v: f64| y + h - v / top * h;
    let _ = writeln!(
        out,
        r#"<text x="{}" y="{}" text-anchor="middle" font-size="13">{}</text>"#,
        x + w / 2.0,
        y - 12.0,
        escape(p.title)
    );
    let _ = writeln!(
        out,
        r#"<text x="{}" y="{}" text-anchor="middle" transform="rotate(-90 {} {})">{}</text>"#,
        x - 50.0,
        y + h / 2.0,
        x - 50.0,
        y + h / 2.0,
        escape(p.y_label)
    );
    let mut tick = 0.0;
    while tick <= top * 1.0001 {
        let ty = sy(tick);
        let _ = writeln!(
            out,
            r##"<line x1="{x}" y1="{ty:.1}" x2="{}" y2="{ty:.1}" stroke="#ddd"/><text x="{}" y="{:.1}" text-anchor="end">{}</text>"##,
            x + w,
            x - 5.0,
            ty + 4.0,
            short(tick)
        );
        tick += step;
    }
    let groups = p.groups.len().max(1) as f64;
    let gw = w / groups;
    let bw = gw * 0.8 / p.series.len().max(1) as f64;
    for (g, name) in p.groups.iter().enumerate() {
        let gx = x + g as f64 * gw;
        for (k, s) in p.series.iter().enumerate() {
            let v = s.values.get(g).copied().unwrap_or(f64::NAN);
            if !v.is_finite() {
                continue;
            }
            let bx = gx + gw * 0.1 + k as f64 * bw;
            let _ = writeln!(
                out,
                r#"<rect x="{bx:.1}" y="{:.1}" width="{:.1}" height="{:.1}" fill="{}"><title>{}: {}</title></rect>"#,
                sy(v),
                bw * 0.9,
                (y + h - sy(v)).max(0.0),
                s.color,
                escape(&s.name),
                short(v)
            );
        }
        let _ = writeln!(
            out,
            r#"<text x="{:.1}" y="{}" text-anchor="middle">{}</text>"#,
            gx + gw / 2.0,
            y + h + 16.0,
            escape(name)
        );
    }
    let _ = writeln!(
        out,
        r##"<line x1="{x}" y1="{}" x2="{}" y2="{}" stroke="#333"/>"##,
        y + h,
        x + w,
        y + h
    );
    if let Some(r) = p.reference {
        let _ = writeln!(
            out,
            r##"<line x1="{x}" y1="{:.1}" x2="{}" y2="{:.1}" stroke="#000" stroke-dasharray="5,4"/>"##,
            sy(r),
            x + w,
            sy(r)
        );
    }
    for (k, s) in p.series.iter().enumerate() {
        let ly = y + h + 34.0 + (k / 2) as f64 * 16.0;
        let lx = x + (k % 2) as f64 * (w / 2.0);
        let _ = writeln!(
            out,
            r#"<rect x="{lx}" y="{}" width="10" height="10" fill="{}"/><text x="{}" y="{}">{}</text>"#,
            ly - 9.0,
            s.color,
            lx + 14.0,
            ly,
            escape(&s.name)
        );
    }
}

/// A round tick step (1, 2 or 5 times a power of ten) near `raw`.
fn nice_step(raw: f64) -> f64 {
    let pow = 10f64.powf(raw.log10().floor());
    let m = raw / pow;
    let nice = if m <= 1.0 {
        1.0
    } else if m <= 2.0 {
        2.0
    } else if m <= 5.0 {
        5.0
    } else {
        10.0
    };
    nice * pow
}

/// A number for a label: thousands as `k` from 10000 up, no decimals from 100 up, two below.
fn short(v: f64) -> String {
    if v.abs() >= 10_000.0 {
        format!("{:.0}k", v / 1000.0)
    } else if v.abs() >= 100.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.2}")
    }
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_are_round() {
        assert_eq!(nice_step(0.3), 0.5);
        assert_eq!(nice_step(1.7), 2.0);
        assert_eq!(nice_step(7.0), 10.0);
        assert_eq!(nice_step(230.0), 500.0);
    }

    #[test]
    fn labels_are_short() {
        assert_eq!(short(0.5), "0.50");
        assert_eq!(short(250.0), "250");
        assert_eq!(short(120_000.0), "120k");
    }

    #[test]
    fn draws_an_svg_document() {
        let results = Results {
            names: ["a<b".into(), "memcached".into()],
            setup: vec![],
            workloads: vec![],
            memory: None,
        };
        let svg = svg(&results);
        assert!(svg.starts_with("<svg"));
        assert!(svg.trim_end().ends_with("</svg>"));
        assert!(svg.contains("a&lt;b"));
    }
}
