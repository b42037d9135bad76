//! Turns the sweep table into pictures and ratios.
//!
//! The table (`sweep.tsv`, written by `bench/sweep.sh`) has one measured figure per row:
//!
//! ```text
//! sweep           x_name       x     server       metric    value
//! tcp-echo-conns  connections  64    ours-async   rt_per_s  91234
//! tcp-echo-conns  connections  64    peer-echo-tokio  rt_per_s  80112
//! ```
//!
//! For each sweep, [`render_sweep`] draws one SVG with one panel per metric (throughput,
//! p99, RSS, ...), the load on a logarithmic x axis, one line per server: ours beside the
//! peers measured in the same run. A server whose name starts with `peer-` is a peer.
//! [`summary`] writes the same figures as a Markdown table with the ratio of each of our
//! servers to each peer at every point, and for idle-connection sweeps a straight
//! line fitted through RSS against connections, extrapolated to 100,000.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use plotters::prelude::*;

/// One measured figure: a row of the table.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// Which sweep, e.g. `tcp-echo-conns`.
    pub sweep: String,
    /// What the load axis counts, e.g. `connections`.
    pub x_name: String,
    /// The load at this point.
    pub x: f64,
    /// Who was measured, e.g. `ours-async` or `peer-echo-tokio`.
    pub server: String,
    /// Which figure, e.g. `rt_per_s` or `p99_us`.
    pub metric: String,
    /// Its value.
    pub value: f64,
}

/// Why a table could not be read or drawn.
#[derive(Debug)]
pub struct PlotError(pub String);

impl std::fmt::Display for PlotError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for PlotError {}

/// Parses the TSV (a header line, then six tab-separated columns per row). Rows whose
/// value is not a number (a point a server did not complete) are skipped.
pub fn parse_tsv(text: &str) -> Result<Vec<Row>, PlotError> {
    let mut rows = Vec::new();
    for (n, line) in text.lines().enumerate().skip(1) {
        if line.trim().is_empty() {
            continue;
        }
        let cols: Vec<&str> = line.split('\t').collect();
        let [sweep, x_name, x, server, metric, value] = cols[..] else {
            return Err(PlotError(format!(
                "line {}: expected 6 tab-separated columns, found {}",
                n + 1,
                cols.len()
            )));
        };
        let x: f64 = x
            .parse()
            .map_err(|_| PlotError(format!("line {}: x `{x}` is not a number", n + 1)))?;
        let Ok(value) = value.parse::<f64>() else {
            continue;
        };
        if !value.is_finite() {
            continue;
        }
        rows.push(Row {
            sweep: sweep.to_owned(),
            x_name: x_name.to_owned(),
            x,
            server: server.to_owned(),
            metric: metric.to_owned(),
            value,
        });
    }
    Ok(rows)
}

/// One row per (sweep, load, server, metric): where a sweep was repeated (`REPS` in
/// `bench/sweep.sh`, each repetition a row), the median of the repetitions' values (the
/// mean of the middle two for an even count). Order of first appearance is kept.
pub fn medians(rows: Vec<Row>) -> Vec<Row> {
    let mut groups: Vec<(Row, Vec<f64>)> = Vec::new();
    for row in rows {
        let same = |(first, _): &&mut (Row, Vec<f64>)| {
            first.sweep == row.sweep
                && first.x.to_bits() == row.x.to_bits()
                && first.server == row.server
                && first.metric == row.metric
        };
        match groups.iter_mut().find(same) {
            Some((_, values)) => values.push(row.value),
            None => {
                let value = row.value;
                groups.push((row, vec![value]));
            }
        }
    }
    groups
        .into_iter()
        .map(|(mut row, mut values)| {
            values.sort_by(f64::total_cmp);
            let mid = values.len() / 2;
            row.value = if values.len() % 2 == 1 {
                values[mid]
            } else {
                (values[mid - 1] + values[mid]) / 2.0
            };
            row
        })
        .collect()
}

/// The sweeps in the table, in order of first appearance.
pub fn sweeps(rows: &[Row]) -> Vec<String> {
    first_seen(rows.iter().map(|r| r.sweep.as_str()))
}

fn first_seen<'a>(items: impl Iterator<Item = &'a str>) -> Vec<String> {
    let mut seen: Vec<String> = Vec::new();
    for item in items {
        if !seen.iter().any(|s| s == item) {
            seen.push(item.to_owned());
        }
    }
    seen
}

/// One server's line in one panel: (load, value) sorted by load.
type Series = Vec<(f64, f64)>;

/// Metric -> server -> series, for one sweep, in order of first appearance.
fn panels(rows: &[Row]) -> Vec<(String, Vec<(String, Series)>)> {
    let metrics = first_seen(rows.iter().map(|r| r.metric.as_str()));
    metrics
        .into_iter()
        .map(|metric| {
            let of_metric: Vec<&Row> = rows.iter().filter(|r| r.metric == metric).collect();
            let servers = first_seen(of_metric.iter().map(|r| r.server.as_str()));
            let lines = servers
                .into_iter()
                .map(|server| {
                    let mut series: Series = of_metric
                        .iter()
                        .filter(|r| r.server == server)
                        .map(|r| (r.x, r.value))
                        .collect();
                    series.sort_by(|a, b| a.0.total_cmp(&b.0));
                    (server, series)
                })
                .collect();
            (metric, lines)
        })
        .collect()
}

/// Peers are drawn dashed in grey tones, ours solid in colour, so the eye finds ours.
fn style_for(server: &str, index: usize) -> ShapeStyle {
    const OURS: [RGBColor; 4] = [
        RGBColor(0x1f, 0x77, 0xb4),
        RGBColor(0xd6, 0x27, 0x28),
        RGBColor(0x2c, 0xa0, 0x2c),
        RGBColor(0x94, 0x67, 0xbd),
    ];
    const PEERS: [RGBColor; 3] = [
        RGBColor(0x55, 0x55, 0x55),
        RGBColor(0x99, 0x99, 0x99),
        RGBColor(0xbb, 0x88, 0x33),
    ];
    if is_peer(server) {
        PEERS[index % PEERS.len()].stroke_width(2)
    } else {
        OURS[index % OURS.len()].stroke_width(3)
    }
}

/// Whether a server name is a peer baseline.
pub fn is_peer(server: &str) -> bool {
    server.starts_with("peer-")
}

/// Draws one sweep as an SVG at `path`: one panel per metric, stacked.
pub fn render_sweep(rows: &[Row], sweep: &str, path: &Path) -> Result<(), PlotError> {
    let rows: Vec<Row> = rows.iter().filter(|r| r.sweep == sweep).cloned().collect();
    let x_name = rows
        .first()
        .map(|r| r.x_name.clone())
        .ok_or_else(|| PlotError(format!("no rows for sweep `{sweep}`")))?;
    let panels = panels(&rows);
    let height = 320 * panels.len() as u32;
    let root = SVGBackend::new(path, (860, height)).into_drawing_area();
    root.fill(&WHITE).map_err(draw_error)?;
    let areas = root.split_evenly((panels.len(), 1));
    for ((metric, lines), area) in panels.iter().zip(areas.iter()) {
        draw_panel(area, sweep, &x_name, metric, lines)?;
    }
    root.present().map_err(draw_error)?;
    Ok(())
}

fn draw_error(err: impl std::fmt::Display) -> PlotError {
    PlotError(format!("drawing failed: {err}"))
}

/// A range that a log axis accepts: positive, and not a single point.
fn log_range(values: impl Iterator<Item = f64>) -> std::ops::Range<f64> {
    let (mut lo, mut hi) = (f64::MAX, f64::MIN);
    for v in values.filter(|v| *v > 0.0) {
        lo = lo.min(v);
        hi = hi.max(v);
    }
    if lo > hi {
        return 0.1..1.0;
    }
    (lo / 1.5)..(hi * 1.5)
}

fn draw_panel(
    area: &DrawingArea<SVGBackend<'_>, plotters::coord::Shift>,
    sweep: &str,
    x_name: &str,
    metric: &str,
    lines: &[(String, Series)],
) -> Result<(), PlotError> {
    let points = || lines.iter().flat_map(|(_, s)| s.iter().copied());
    let xs = log_range(points().map(|p| p.0));
    let ys = log_range(points().map(|p| p.1));
    let mut chart = ChartBuilder::on(area)
        .caption(format!("{sweep}: {metric}"), ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(70)
        .build_cartesian_2d(xs.log_scale(), ys.log_scale())
        .map_err(draw_error)?;
    chart
        .configure_mesh()
        .x_desc(format!("{x_name} (log)"))
        .y_desc(format!("{metric} (log)"))
        .label_style(("sans-serif", 14))
        .axis_desc_style(("sans-serif", 15))
        .x_label_formatter(&|v| compact(*v))
        .y_label_formatter(&|v| compact(*v))
        .draw()
        .map_err(draw_error)?;
    let (mut ours, mut peers) = (0, 0);
    for (server, series) in lines {
        let index = if is_peer(server) {
            peers += 1;
            peers - 1
        } else {
            ours += 1;
            ours - 1
        };
        let style = style_for(server, index);
        let positive: Series = series.iter().copied().filter(|p| p.1 > 0.0).collect();
        chart
            .draw_series(LineSeries::new(positive.clone(), style))
            .map_err(draw_error)?
            .label(server.as_str())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], style));
        chart
            .draw_series(positive.iter().map(|&p| Circle::new(p, 3, style.filled())))
            .map_err(draw_error)?;
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .position(SeriesLabelPosition::UpperLeft)
        .draw()
        .map_err(draw_error)?;
    Ok(())
}

/// The Markdown summary: per sweep, every point's figures with the ratio of each of our
/// servers to each peer at that point (throughput: >1 is faster; latency, memory, loss:
/// >1 is worse), and for sweeps with an `rss_kib` metric, a fitted line extrapolated.
pub fn summary(rows: &[Row]) -> String {
    let mut out = String::new();
    for sweep in sweeps(rows) {
        let rows: Vec<Row> = rows.iter().filter(|r| r.sweep == sweep).cloned().collect();
        let x_name = &rows[0].x_name;
        let _ = writeln!(out, "### {sweep}\n");
        let _ = writeln!(
            out,
            "| {x_name} | metric | server | value | ours / each peer |\n|---:|---|---|---:|---|"
        );
        let mut notes = String::new();
        for (metric, lines) in panels(&rows) {
            let mut by_x: BTreeMap<u64, Vec<(String, f64)>> = BTreeMap::new();
            for (server, series) in &lines {
                for &(x, v) in series {
                    by_x.entry(x.to_bits())
                        .or_default()
                        .push((server.clone(), v));
                }
            }
            for (x_bits, values) in by_x {
                let x = f64::from_bits(x_bits);
                for (server, v) in &values {
                    let ratios = if is_peer(server) {
                        "-".to_owned()
                    } else {
                        ratios_to_peers(*v, &values)
                    };
                    let _ = writeln!(
                        out,
                        "| {x} | {metric} | {server} | {} | {ratios} |",
                        figure(*v)
                    );
                }
            }
            if metric == "rss_kib" {
                notes.push_str(&extrapolation(&lines));
            }
        }
        out.push_str(&notes);
        out.push('\n');
    }
    out
}

/// `1.29 x peer-a, 0.80 x peer-b`: one of our values against every peer's at the point.
fn ratios_to_peers(ours: f64, at_point: &[(String, f64)]) -> String {
    let ratios: Vec<String> = at_point
        .iter()
        .filter(|(server, peer)| is_peer(server) && *peer != 0.0)
        .map(|(server, peer)| format!("{:.2} x {server}", ours / peer))
        .collect();
    if ratios.is_empty() {
        "-".to_owned()
    } else {
        ratios.join(", ")
    }
}

/// Axis numbers people read at a glance: 950, 12k, 3.4M.
pub fn compact(v: f64) -> String {
    let (scaled, suffix) = match v.abs() {
        a if a >= 1e9 => (v / 1e9, "G"),
        a if a >= 1e6 => (v / 1e6, "M"),
        a if a >= 1e3 => (v / 1e3, "k"),
        _ => (v, ""),
    };
    let digits = if scaled.abs() >= 10.0 || scaled.fract() == 0.0 {
        0
    } else {
        1
    };
    format!("{scaled:.digits$}{suffix}")
}

/// A figure with as many digits as it deserves.
fn figure(v: f64) -> String {
    if v.abs() >= 100.0 {
        format!("{v:.0}")
    } else if v.abs() >= 1.0 {
        format!("{v:.2}")
    } else {
        format!("{v:.3}")
    }
}

/// Least-squares line `a + b x` through the points; `None` with fewer than two loads.
pub fn fit_line(points: &[(f64, f64)]) -> Option<(f64, f64)> {
    let n = points.len() as f64;
    if points.len() < 2 {
        return None;
    }
    let mean_x = points.iter().map(|p| p.0).sum::<f64>() / n;
    let mean_y = points.iter().map(|p| p.1).sum::<f64>() / n;
    let sxx: f64 = points.iter().map(|p| (p.0 - mean_x).powi(2)).sum();
    if sxx == 0.0 {
        return None;
    }
    let sxy: f64 = points.iter().map(|p| (p.0 - mean_x) * (p.1 - mean_y)).sum();
    let slope = sxy / sxx;
    Some((mean_y - slope * mean_x, slope))
}

/// Connections a C100K claim is about.
pub const EXTRAPOLATE_TO: f64 = 100_000.0;

fn extrapolation(lines: &[(String, Series)]) -> String {
    let mut out = String::from("\n");
    for (server, series) in lines {
        if let Some((base_kib, kib_per_conn)) = fit_line(series) {
            let at = base_kib + kib_per_conn * EXTRAPOLATE_TO;
            let _ = writeln!(
                out,
                "- {server}: RSS = {base_kib:.0} KiB + {:.0} bytes x connections; \
                 at {EXTRAPOLATE_TO:.0} connections about {:.0} MiB",
                kib_per_conn * 1024.0,
                at / 1024.0
            );
        }
    }
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axis_numbers_are_compact() {
        assert_eq!(compact(950.0), "950");
        assert_eq!(compact(12_000.0), "12k");
        assert_eq!(compact(3_400_000.0), "3.4M");
        assert_eq!(compact(0.5), "0.5");
    }

    #[test]
    fn a_line_through_two_points_is_exact() {
        let (a, b) = fit_line(&[(1000.0, 3000.0), (10_000.0, 21_000.0)]).unwrap();
        assert!(
            (a - 1000.0).abs() < 1e-6 && (b - 2.0).abs() < 1e-9,
            "{a} {b}"
        );
    }

    #[test]
    fn a_point_a_server_did_not_complete_is_skipped() {
        let rows = parse_tsv("h\ns\tn\t1\tours\tp99_us\t-\ns\tn\t1\tours\trt_per_s\t5\n").unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].metric, "rt_per_s");
    }

    #[test]
    fn repeated_points_become_their_median() {
        let text = "sweep\tx_name\tx\tserver\tmetric\tvalue\n\
                    s\tc\t1\tours\trt\t30\n\
                    s\tc\t1\tpeer-a\trt\t7\n\
                    s\tc\t1\tours\trt\t10\n\
                    s\tc\t1\tours\trt\t20\n\
                    s\tc\t2\tours\trt\t5\n\
                    s\tc\t2\tours\trt\t9\n";
        let rows = medians(parse_tsv(text).unwrap());
        let got: Vec<(f64, &str, f64)> = rows
            .iter()
            .map(|r| (r.x, r.server.as_str(), r.value))
            .collect();
        assert_eq!(
            got,
            [
                (1.0, "ours", 20.0),
                (1.0, "peer-a", 7.0),
                (2.0, "ours", 7.0)
            ]
        );
    }

    #[test]
    fn a_short_line_is_an_error_naming_it() {
        let err = parse_tsv("h\ns\tn\t1\n").unwrap_err();
        assert_eq!(err.0, "line 2: expected 6 tab-separated columns, found 3");
    }
}
