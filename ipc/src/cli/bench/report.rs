//! The bench's table and its final `key=value` line.

use std::collections::BTreeMap;

use support::stats::Latencies;

use super::Rate;
use super::mechs::Mech;
use super::raw_report::PlainRates;

/// Throughput figures in the order measured: mechanism, size label, figure or why none.
pub type Rates = [(Mech, &'static str, Result<Rate, String>)];

/// p50 and p99 in microseconds, or why there are none.
type Percentiles = Result<(f64, f64), String>;

/// Every figure of one run, in the order measured.
#[derive(Default)]
pub struct Results {
    rates: Vec<(Mech, &'static str, Result<Rate, String>)>,
    latencies: Vec<(Mech, Percentiles)>,
    /// The plain loops beside the mechanisms.
    pub plain: PlainRates,
}

impl Results {
    /// Records a throughput figure (or why there is none).
    pub fn rate(&mut self, mech: Mech, size: &'static str, rate: anyhow::Result<Rate>) {
        self.rates
            .push((mech, size, rate.map_err(|e| one_line(&e))));
    }

    /// Records a ping-pong figure.
    pub fn latency(&mut self, mech: Mech, lat: anyhow::Result<Latencies>) {
        let figures = lat
            .map(|l| (l.p50_us(), l.p99_us()))
            .map_err(|e| one_line(&e));
        self.latencies.push((mech, figures));
    }

    /// Prints the tables, the notes for missing figures, and the key=value line.
    pub fn print(&self, pinned: bool, duration_s: f64) {
        let pinning = if pinned {
            "parent on CPU 0, peer on CPU 1"
        } else {
            "not pinned"
        };
        println!("one-way throughput, {duration_s} s per cell, {pinning}");
        println!(
            "{:<14} {:>22} {:>22} {:>22}",
            "mechanism", "64 B", "1 KiB", "64 KiB"
        );
        let mut by_mech: BTreeMap<usize, (Mech, Vec<String>)> = BTreeMap::new();
        for (i, (mech, _, rate)) in self.rates.iter().enumerate() {
            let cell = cell(rate);
            by_mech
                .entry(position(&self.rates, *mech).unwrap_or(i))
                .or_insert((*mech, Vec::new()))
                .1
                .push(cell);
        }
        for (mech, cells) in by_mech.values() {
            let cells: Vec<String> = cells.iter().map(|c| format!("{c:>22}")).collect();
            println!("{:<14} {}", mech.key(), cells.join(" "));
        }
        self.plain.print(&self.rates);
        println!();
        println!("ping-pong round trip, 64 B, microseconds");
        println!("{:<14} {:>9} {:>9}", "mechanism", "p50", "p99");
        for (mech, lat) in &self.latencies {
            match lat {
                Ok((p50, p99)) => println!("{:<14} {p50:>9.2} {p99:>9.2}", mech.key()),
                Err(_) => println!("{:<14} {:>9}", mech.key(), "n/a"),
            }
        }
        self.print_missing();
        println!("{}", self.key_values().join(" "));
    }

    fn print_missing(&self) {
        let rate_errors = self
            .rates
            .iter()
            .filter_map(|(m, s, r)| r.as_ref().err().map(|e| (m.key(), *s, e)));
        let lat_errors = self
            .latencies
            .iter()
            .filter_map(|(m, r)| r.as_ref().err().map(|e| (m.key(), "64B ping-pong", e)));
        for (mech, what, err) in rate_errors.chain(lat_errors) {
            println!("n/a {mech} {what}: {err}");
        }
        self.plain.print_missing();
    }

    /// `MECH_SIZE_FIGURE=value` for every figure measured, plus the ratios.
    pub fn key_values(&self) -> Vec<String> {
        let mut out = Vec::new();
        for (mech, size, rate) in &self.rates {
            if let Ok(r) = rate {
                out.push(format!(
                    "{}_{size}_msgs_per_s={:.0}",
                    mech.key(),
                    r.msgs_per_s
                ));
                out.push(format!("{}_{size}_MB_per_s={:.1}", mech.key(), r.mb_per_s));
            }
        }
        for (mech, lat) in &self.latencies {
            if let Ok((p50, p99)) = lat {
                out.push(format!("{}_64B_pingpong_p50_us={p50:.2}", mech.key()));
                out.push(format!("{}_64B_pingpong_p99_us={p99:.2}", mech.key()));
            }
        }
        let msgs = |m: Mech| msgs(&self.rates, m, "64B");
        let ratio = |a: Mech, b: Mech| Some(msgs(a)? / msgs(b)?);
        if let Some(r) = ratio(Mech::Shm, Mech::Pipe) {
            out.push(format!("shm_vs_pipe_64B_msgs_ratio={r:.1}"));
        }
        if let Some(r) = ratio(Mech::ShmBatch, Mech::Pipe) {
            out.push(format!("shm_batch_vs_pipe_64B_msgs_ratio={r:.1}"));
        }
        if let Some(r) = ratio(Mech::ShmBatch, Mech::Shm) {
            out.push(format!("shm_batch_vs_shm_64B_msgs_ratio={r:.1}"));
        }
        if let Some(r) = ratio(Mech::Shm, Mech::ShmSleep) {
            out.push(format!("shm_vs_shm_sleep_64B_msgs_ratio={r:.1}"));
        }
        out.extend(self.plain.key_values(&self.rates));
        out
    }
}

/// Messages per second of `mech` at `size`, if measured.
pub fn msgs(rates: &Rates, mech: Mech, size: &str) -> Option<f64> {
    rates
        .iter()
        .find(|(m, s, _)| *m == mech && *s == size)?
        .2
        .as_ref()
        .ok()
        .map(|r| r.msgs_per_s)
}

/// One throughput cell of a table.
pub fn cell(rate: &Result<Rate, String>) -> String {
    match rate {
        Ok(r) => format!("{:>10.0}/s {:>7.1} MB/s", r.msgs_per_s, r.mb_per_s),
        Err(_) => "n/a".to_string(),
    }
}

/// The error chain with each text once (a typed error often prints its source already).
pub fn one_line(err: &anyhow::Error) -> String {
    let mut line = String::new();
    for cause in err.chain().map(|c| c.to_string()) {
        if !line.contains(&cause) {
            if !line.is_empty() {
                line.push_str(": ");
            }
            line.push_str(&cause);
        }
    }
    line
}

fn position(rates: &[(Mech, &'static str, Result<Rate, String>)], mech: Mech) -> Option<usize> {
    rates.iter().position(|(m, _, _)| *m == mech)
}
