//! `plot TSV OUT_DIR`: one SVG per sweep of the table and `summary.md` with the ratios.
//! Run by `bench/sweep.sh` at the end of a sweep; it can be rerun on any saved table.
//! A point measured several times (`REPS`) is drawn and summarised as its median.

use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [tsv, out] = &args[..] else {
        eprintln!("plot: error: expected TSV OUT_DIR");
        return ExitCode::from(2);
    };
    match run(tsv.into(), out.into()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("plot: error: {err}");
            ExitCode::FAILURE
        }
    }
}

fn run(tsv: PathBuf, out: PathBuf) -> Result<(), Box<dyn std::error::Error>> {
    let text =
        std::fs::read_to_string(&tsv).map_err(|e| format!("cannot read {}: {e}", tsv.display()))?;
    let rows = plot::medians(plot::parse_tsv(&text)?);
    std::fs::create_dir_all(&out)?;
    for sweep in plot::sweeps(&rows) {
        let path = out.join(format!("{sweep}.svg"));
        plot::render_sweep(&rows, &sweep, &path)?;
        println!("wrote {}", path.display());
    }
    let summary = out.join("summary.md");
    std::fs::write(&summary, plot::summary(&rows))?;
    println!("wrote {}", summary.display());
    Ok(())
}
