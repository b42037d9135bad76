//! The plain loops' rows and the "vs raw" table: each mechanism's messages per second divided by
//! those of the plain loop over the same system call, at every size, from the same run.

use super::Rate;
use super::mechs::Mech;
use super::raw;
use super::report::{Rates, cell, msgs, one_line};

/// The plain loops' figures, in the order measured.
#[derive(Default)]
pub struct PlainRates {
    rates: Vec<(Mech, &'static str, Result<Rate, String>)>,
}

impl PlainRates {
    /// Records the plain loop of `mech` at `size`.
    pub fn rate(&mut self, mech: Mech, size: &'static str, rate: anyhow::Result<Rate>) {
        self.rates
            .push((mech, size, rate.map_err(|e| one_line(&e))));
    }

    /// Whether the plain loop of `mech` at `size` ran already (the `shm` flavours share one).
    pub fn has(&self, mech: Mech, size: &str) -> bool {
        self.rates.iter().any(|(m, s, _)| *m == mech && *s == size)
    }

    /// The plain rows (`MECH_raw`), then one row of ratios per mechanism that has a plain loop.
    pub fn print(&self, mechanisms: &Rates) {
        if self.rates.is_empty() {
            return;
        }
        for (mech, cells) in rows(&self.rates) {
            let cells: Vec<String> = cells.iter().map(|r| format!("{:>22}", cell(r))).collect();
            println!("{:<14} {}", raw_key(mech), cells.join(" "));
        }
        println!();
        println!("mechanism / its plain loop (messages per second, same run)");
        println!(
            "{:<30} {:>6} {:>6} {:>6}",
            "mechanism", "64 B", "1 KiB", "64 KiB"
        );
        for (mech, base, ratios) in self.ratio_rows(mechanisms) {
            let cells: Vec<String> = ratios
                .iter()
                .map(|r| r.map_or("n/a".to_string(), |r| format!("{r:.2}")))
                .map(|c| format!("{c:>6}"))
                .collect();
            let pair = format!("{} vs {}", mech.key(), raw_key(base));
            println!("{pair:<30} {}", cells.join(" "));
        }
    }

    /// `n/a` lines for plain loops without a figure.
    pub fn print_missing(&self) {
        for (mech, size, rate) in &self.rates {
            if let Err(err) = rate {
                println!("n/a {} {size}: {err}", raw_key(*mech));
            }
        }
    }

    /// `MECH_raw_SIZE_msgs_per_s`, `..._MB_per_s` and `MECH_vs_BASE_raw_SIZE_msgs_ratio`.
    pub fn key_values(&self, mechanisms: &Rates) -> Vec<String> {
        let mut out = Vec::new();
        for (mech, size, rate) in &self.rates {
            if let Ok(r) = rate {
                let key = raw_key(*mech);
                out.push(format!("{key}_{size}_msgs_per_s={:.0}", r.msgs_per_s));
                out.push(format!("{key}_{size}_MB_per_s={:.1}", r.mb_per_s));
            }
        }
        for (mech, size, _) in mechanisms {
            let base = raw::baseline(*mech);
            if let Some(r) = ratio(mechanisms, &self.rates, *mech, base, size) {
                let (mech, base) = (mech.key(), raw_key(base));
                out.push(format!("{mech}_vs_{base}_{size}_msgs_ratio={r:.2}"));
            }
        }
        out
    }

    /// For every mechanism whose plain loop was measured: the baseline, the ratio at each size.
    fn ratio_rows(&self, mechanisms: &Rates) -> Vec<(Mech, Mech, Vec<Option<f64>>)> {
        rows(mechanisms)
            .into_iter()
            .filter_map(|(mech, _)| {
                let base = raw::baseline(mech);
                let ratios: Vec<Option<f64>> = super::SIZES
                    .iter()
                    .map(|(_, size)| ratio(mechanisms, &self.rates, mech, base, size))
                    .collect();
                ratios
                    .iter()
                    .any(Option::is_some)
                    .then_some((mech, base, ratios))
            })
            .collect()
    }
}

/// The key of `mech`'s plain loop: `pipe_raw`, `fifo_raw`, ...
fn raw_key(mech: Mech) -> String {
    format!("{}_raw", mech.key())
}

/// Mechanism over plain loop, messages per second, at one size.
fn ratio(mechanisms: &Rates, plain: &Rates, mech: Mech, base: Mech, size: &str) -> Option<f64> {
    Some(msgs(mechanisms, mech, size)? / msgs(plain, base, size)?)
}

/// The figures grouped by mechanism, in the order first measured.
fn rows(rates: &Rates) -> Vec<(Mech, Vec<&Result<Rate, String>>)> {
    let mut rows: Vec<(Mech, Vec<&Result<Rate, String>>)> = Vec::new();
    for (mech, _, rate) in rates {
        match rows.iter_mut().find(|(m, _)| m == mech) {
            Some((_, cells)) => cells.push(rate),
            None => rows.push((*mech, vec![rate])),
        }
    }
    rows
}
