//! The plotting code turns a small fixed table into images and a summary (the figures
//! in it are made up; what is checked is the drawing, not any measurement).

use std::path::PathBuf;

fn fixture() -> Vec<plot::Row> {
    plot::parse_tsv(include_str!("fixture.tsv")).expect("the fixture parses")
}

fn scratch_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("plot-test-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn a_fixed_table_becomes_one_svg_per_sweep() {
    let rows = fixture();
    assert_eq!(plot::sweeps(&rows), ["tcp-echo-conns", "tcp-idle"]);
    let dir = scratch_dir("svg");
    for sweep in plot::sweeps(&rows) {
        let path = dir.join(format!("{sweep}.svg"));
        plot::render_sweep(&rows, &sweep, &path).unwrap();
        let svg = std::fs::read_to_string(&path).unwrap();
        assert!(svg.starts_with("<svg"), "{sweep}: not an SVG");
        assert!(
            svg.contains("ours-async") && svg.contains("peer-echo-tokio"),
            "legend"
        );
        assert!(svg.contains("<polyline"), "{sweep}: no line drawn");
    }
    let echo = std::fs::read_to_string(dir.join("tcp-echo-conns.svg")).unwrap();
    assert!(
        echo.contains("rt_per_s") && echo.contains("p99_us"),
        "one panel per metric"
    );
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn the_summary_gives_ratios_and_the_idle_extrapolation() {
    let summary = plot::summary(&fixture());
    assert!(
        summary.contains("| 64 | rt_per_s | ours-async | 120000 | 1.33 x peer-echo-tokio |"),
        "{summary}"
    );
    assert!(
        summary.contains("| 1 | p99_us | ours-async | 80.00 | 0.80 x peer-echo-tokio |"),
        "{summary}"
    );
    // 5000 KiB at 1,000 and 32,000 KiB at 10,000: 3 KiB (3072 bytes) per connection.
    assert!(
        summary.contains("ours-async: RSS = 2000 KiB + 3072 bytes x connections"),
        "{summary}"
    );
    assert!(summary.contains("about 295 MiB"), "{summary}");
}

#[test]
fn a_sweep_with_no_rows_is_an_error() {
    let dir = scratch_dir("empty");
    let err = plot::render_sweep(&fixture(), "nothing", &dir.join("x.svg")).unwrap_err();
    assert_eq!(err.0, "no rows for sweep `nothing`");
    std::fs::remove_dir_all(dir).unwrap();
}
