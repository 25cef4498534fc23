//! `vecsim plot FILE...`: figures (PNG and SVG) of results a user already has.

use super::bad;
use clap::Args;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use vecsim::plot::{self, FileKind, PlotError, Table};

#[derive(Args, Debug, Clone)]
pub(crate) struct PlotArgs {
    /// `slots.csv` (vecsim run --out), `curve.csv` (vecsim train; several are overlaid in one
    /// figure), `vecsim compare --csv` output, or an experiment's CSV.
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// Directory for the figures (default: the current directory).
    #[arg(long, default_value = ".")]
    pub out: PathBuf,
    /// Gaussian smoothing of learning curves, σ in episodes (0: none; at most 100000).
    #[arg(long, default_value_t = 0.0, value_parser = super::bounds::parse_sigma)]
    pub sigma: f64,
}

fn plot_error(e: PlotError) -> anyhow::Error {
    if e.is_bad_input() {
        // With its sources: "FILE: larger than the ... limit", not just "FILE".
        let mut msg = e.to_string();
        let mut source = std::error::Error::source(&e);
        while let Some(s) = source {
            msg.push_str(&format!(": {s}"));
            source = s.source();
        }
        bad(msg)
    } else {
        anyhow::Error::new(e)
    }
}

fn stem(p: &Path) -> String {
    p.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "figure".into())
}

pub(super) fn plot(a: PlotArgs) -> anyhow::Result<ExitCode> {
    if !a.sigma.is_finite() || a.sigma < 0.0 {
        return Err(bad(format!("--sigma {}: expected a number >= 0", a.sigma)));
    }
    let mut curves = Vec::new();
    let mut figures = Vec::new();
    let mut used: Vec<String> = Vec::new();
    let mut name = |base: String| {
        let mut n = base.clone();
        let mut k = 2;
        while used.contains(&n) {
            n = format!("{base}-{k}");
            k += 1;
        }
        used.push(n.clone());
        n
    };
    for f in &a.files {
        let t = Table::read(f).map_err(plot_error)?;
        match FileKind::of(&t).map_err(plot_error)? {
            FileKind::Curve => curves.push(t),
            FileKind::Slots => figures.push((name(stem(f)), plot::slots_figure(&t).map_err(plot_error)?)),
            FileKind::Compare => figures.push((name(stem(f)), plot::compare_figure(&t).map_err(plot_error)?)),
            FileKind::Runs => {
                let fig = vecsim::experiment::figure_from_csv(&t).map_err(|e| {
                    if e.is_bad_input() {
                        bad(e)
                    } else {
                        anyhow::Error::new(e)
                    }
                })?;
                figures.push((name(stem(f)), fig));
            }
            _ => unreachable!("FileKind::of returns one of the kinds above"),
        }
    }
    if !curves.is_empty() {
        let n = if curves.len() == 1 { stem(&curves[0].path) } else { "curves".to_string() };
        figures.push((name(n), plot::curves_figure(&curves, a.sigma).map_err(plot_error)?));
    }
    for (n, fig) in figures {
        for p in fig.render(&a.out.join(n)).map_err(plot_error)? {
            println!("wrote {}", p.display());
        }
    }
    Ok(ExitCode::SUCCESS)
}
