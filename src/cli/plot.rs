//! `vecsim plot FILE...`: figures (PNG and SVG) of results a user already has.

use super::bad;
use super::output::note;
use clap::Args;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use vecsim::plot::{self, FileKind, PlotError, Table};

#[derive(Args, Debug, Clone)]
pub(crate) struct PlotArgs {
    /// `slots.csv` (vecsim run --out), `curve.csv` (vecsim train; several are overlaid in one
    /// figure), `vecsim compare --csv` output, an experiment's CSV or `vecsim sweep`'s sweep.csv.
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// Directory for the figures (default: the current directory).
    #[arg(long, default_value = ".")]
    pub out: PathBuf,
    /// Overwrite figure files that exist already (without it, plot refuses to).
    #[arg(long)]
    pub force: bool,
    /// Gaussian smoothing of learning curves, σ in episodes (0: none; at most 100000; the raw
    /// data stays, faint, under the smoothed line).
    #[arg(long, default_value_t = 0.0, value_parser = super::bounds::parse_sigma)]
    pub sigma: f64,
    /// Size and resolution preset: `screen` (6.2 x 4.4 inch panels at 100 dpi), `paper`
    /// (3.5 x 2.6 inch panels, a journal column, at 300 dpi) or `slide` (6.4 x 4.8 at 200 dpi).
    #[arg(long, default_value = "screen", value_parser = ["screen", "paper", "slide"])]
    pub style: String,
    /// Size of one panel, legend included, in inches: WIDTHxHEIGHT (overrides the style's).
    #[arg(long, value_name = "WxH", value_parser = parse_size)]
    pub size: Option<(f64, f64)>,
    /// Resolution in dots per inch (overrides the style's); text and lines scale with it.
    #[arg(long)]
    pub dpi: Option<f64>,
}

/// `6.2x4.4` → (6.2, 4.4).
fn parse_size(s: &str) -> Result<(f64, f64), String> {
    let (w, h) =
        s.split_once(['x', 'X']).ok_or_else(|| format!("`{s}`: expected WIDTHxHEIGHT in inches, e.g. 3.5x2.6"))?;
    let num = |v: &str| v.trim().parse::<f64>().map_err(|_| format!("`{s}`: `{v}` is not a number of inches"));
    Ok((num(w)?, num(h)?))
}

fn plot_error(e: PlotError) -> anyhow::Error {
    if e.is_bad_input() {
        // With the I/O error's reason (e.g. "FILE: larger than the ... limit"), not only the path.
        bad(super::output::with_sources(&e))
    } else {
        anyhow::Error::new(e)
    }
}

fn stem(p: &Path) -> String {
    p.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "figure".into())
}

pub(super) fn plot(a: PlotArgs) -> anyhow::Result<ExitCode> {
    let mut style = plot::RenderOptions::preset(&a.style).unwrap_or_default();
    if let Some(size) = a.size {
        style.panel_in = size;
    }
    if let Some(dpi) = a.dpi {
        style.dpi = dpi;
    }
    style.validate().map_err(|e| bad(format!("--style/--size/--dpi: {e}")))?;
    let mut baselines = Vec::new();
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
            FileKind::Compare => {
                // Its baselines also become reference lines on the learning curves.
                baselines.extend(plot::baseline_rates(&t).map_err(plot_error)?);
                figures.push((name(stem(f)), plot::compare_figure(&t).map_err(plot_error)?))
            }
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
            FileKind::Sweep => figures.push((name(stem(f)), vecsim::sweep::figure_from_table(&t).map_err(plot_error)?)),
            _ => unreachable!("FileKind::of returns one of the kinds above"),
        }
    }
    if !curves.is_empty() {
        let n = if curves.len() == 1 { stem(&curves[0].path) } else { "curves".to_string() };
        figures.push((name(n), plot::curves_figure(&curves, a.sigma, &baselines).map_err(plot_error)?));
    }
    // Every figure file checked before the first is drawn: no silent overwrite.
    let targets: Vec<PathBuf> =
        figures.iter().flat_map(|(n, _)| ["png", "svg"].map(|ext| a.out.join(n).with_extension(ext))).collect();
    super::output::refuse_existing(targets.iter().map(PathBuf::as_path), a.force, "--out DIR")?;
    for (n, fig) in figures {
        for p in fig.render_with(&a.out.join(n), &style).map_err(plot_error)? {
            note!("wrote {}", p.display());
        }
    }
    Ok(ExitCode::SUCCESS)
}
