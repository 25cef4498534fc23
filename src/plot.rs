//! Figures: bar charts with error bars and line charts with shaded bands, written as PNG and SVG
//! (plotters), and the readers behind `vecsim plot` for the files vecsim writes (`slots.csv`,
//! the learning curve `curve.csv`, `compare --csv` output and an experiment's `runs.csv`).
//!
//! Text is drawn with DejaVu Sans compiled into the binary (the `dejavu` crate, through
//! plotters' `ab_glyph` feature), so figures need no system fonts.

use plotters::coord::Shift;
use plotters::element::DashedPathElement;
use plotters::prelude::*;
use plotters::style::text_anchor;
use plotters::style::FontStyle;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Once;

/// Why a figure could not be read or drawn.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PlotError {
    /// A file could not be read or written.
    #[error("{}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A CSV file is not one `vecsim plot` knows (by its header).
    #[error(
        "{}: not a file vecsim plots (expected the header of slots.csv, curve.csv, compare --csv or an experiment's runs.csv; found `{header}`)",
        path.display()
    )]
    UnknownFormat {
        /// The file.
        path: PathBuf,
        /// Its first line, shortened.
        header: String,
    },
    /// A row of a CSV file is malformed.
    #[error("{}:{line}: {message}", path.display())]
    Csv {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// A file holds no data row to plot.
    #[error("{}: no data rows to plot", path.display())]
    Empty {
        /// The file.
        path: PathBuf,
    },
    /// plotters failed while drawing.
    #[error("drawing {}: {message}", path.display())]
    Draw {
        /// The figure being drawn.
        path: PathBuf,
        /// plotters' message.
        message: String,
    },
}

impl PlotError {
    /// Whether the error is in the user's input (a file that is not a vecsim result, a bad row);
    /// the command line exits with 2 for these.
    pub fn is_bad_input(&self) -> bool {
        matches!(self, PlotError::UnknownFormat { .. } | PlotError::Csv { .. } | PlotError::Empty { .. })
            || matches!(self, PlotError::Io { source, .. } if matches!(source.kind(), std::io::ErrorKind::NotFound | std::io::ErrorKind::InvalidData))
    }
}

/// A mean with an error bar (± `err`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MeanErr {
    /// The mean.
    pub mean: f64,
    /// Half the error bar's length (a standard deviation).
    pub err: f64,
}

impl MeanErr {
    /// Mean and sample standard deviation of `v`; `None` for no value.
    pub fn of(v: &[f64]) -> Option<MeanErr> {
        let v: Vec<f64> = v.iter().copied().filter(|x| x.is_finite()).collect();
        if v.is_empty() {
            return None;
        }
        let n = v.len() as f64;
        let mean = v.iter().sum::<f64>() / n;
        let var = if v.len() > 1 { v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0) } else { 0.0 };
        Some(MeanErr { mean, err: var.sqrt() })
    }
}

/// One series of bars: one value per group.
#[derive(Clone, Debug, PartialEq)]
pub struct BarSeries {
    /// Legend name (a policy name picks its fixed colour).
    pub name: String,
    /// One value per group (`None`: no bar).
    pub values: Vec<Option<MeanErr>>,
}

/// Grouped bars with error bars; `references` are drawn as dashed lines across each group.
#[derive(Clone, Debug, PartialEq)]
pub struct BarPanel {
    /// Panel title.
    pub title: String,
    /// X axis description.
    pub x_label: String,
    /// Y axis description.
    pub y_label: String,
    /// Group names along the x axis.
    pub groups: Vec<String>,
    /// The bars.
    pub series: Vec<BarSeries>,
    /// Reference values (e.g. oracle policies), a dashed line across each group.
    pub references: Vec<BarSeries>,
}

/// One line, with an optional shaded band.
#[derive(Clone, Debug, PartialEq)]
pub struct LineSeries {
    /// Legend name.
    pub name: String,
    /// `(x, y)` points in order of x.
    pub points: Vec<(f64, f64)>,
    /// `(x, low, high)` of a shaded band (empty: none).
    pub band: Vec<(f64, f64, f64)>,
}

/// Lines on shared axes; `hlines` are dashed horizontal reference lines.
#[derive(Clone, Debug, PartialEq)]
pub struct LinePanel {
    /// Panel title.
    pub title: String,
    /// X axis description.
    pub x_label: String,
    /// Y axis description.
    pub y_label: String,
    /// The lines.
    pub series: Vec<LineSeries>,
    /// `(name, y)` reference lines.
    pub hlines: Vec<(String, f64)>,
}

/// One panel of a figure.
#[derive(Clone, Debug, PartialEq)]
pub enum Panel {
    /// Grouped bars.
    Bars(BarPanel),
    /// Lines.
    Lines(LinePanel),
}

/// A figure: a title over panels laid out in a grid (up to three per row).
#[derive(Clone, Debug, PartialEq)]
pub struct Figure {
    /// The figure's title.
    pub title: String,
    /// Its panels.
    pub panels: Vec<Panel>,
}

const PANEL_W: u32 = 620;
const PANEL_H: u32 = 440;
const TITLE_H: u32 = 40;
const FONT: &str = "sans-serif";

static FONT_ONCE: Once = Once::new();

/// Registers the embedded DejaVu Sans as plotters' `sans-serif` (once per process).
fn register_font() {
    FONT_ONCE.call_once(|| {
        // The bytes are a valid TrueType font (the dejavu crate's own file).
        let _ = plotters::style::register_font(FONT, FontStyle::Normal, dejavu::sans::regular());
    });
}

/// The fixed colour of a policy (the same in every figure), else one from a palette.
fn colour(name: &str, i: usize) -> RGBColor {
    let base = name.split([' ', '(']).next().unwrap_or(name);
    match base {
        "fed-maddpg" => RGBColor(214, 39, 40),
        "maddpg" => RGBColor(31, 119, 180),
        "masac" => RGBColor(44, 160, 44),
        "orm" => RGBColor(255, 127, 14),
        "orl" => RGBColor(148, 103, 189),
        "br-ne" => RGBColor(40, 40, 40),
        "random" => RGBColor(127, 127, 127),
        _ => {
            const P: [RGBColor; 8] = [
                RGBColor(31, 119, 180),
                RGBColor(214, 39, 40),
                RGBColor(44, 160, 44),
                RGBColor(255, 127, 14),
                RGBColor(148, 103, 189),
                RGBColor(140, 86, 75),
                RGBColor(227, 119, 194),
                RGBColor(23, 190, 207),
            ];
            P[i % P.len()]
        }
    }
}

impl Figure {
    fn size(&self) -> (u32, u32, usize, usize) {
        let n = self.panels.len().max(1);
        let cols = n.min(3);
        let rows = n.div_ceil(cols);
        (PANEL_W * cols as u32, PANEL_H * rows as u32 + TITLE_H, rows, cols)
    }

    /// Writes `STEM.png` and `STEM.svg` (creating the directory) and returns both paths.
    pub fn render(&self, stem: &Path) -> Result<[PathBuf; 2], PlotError> {
        register_font();
        if let Some(dir) = stem.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|source| PlotError::Io { path: dir.to_path_buf(), source })?;
        }
        let png = stem.with_extension("png");
        let svg = stem.with_extension("svg");
        let (w, h, ..) = self.size();
        {
            let root = BitMapBackend::new(&png, (w, h)).into_drawing_area();
            self.draw(&root)
                .and_then(|_| root.present().map_err(|e| e.to_string()))
                .map_err(|message| PlotError::Draw { path: png.clone(), message })?;
        }
        {
            let root = SVGBackend::new(&svg, (w, h)).into_drawing_area();
            self.draw(&root)
                .and_then(|_| root.present().map_err(|e| e.to_string()))
                .map_err(|message| PlotError::Draw { path: svg.clone(), message })?;
        }
        Ok([png, svg])
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), String> {
        let (_, _, rows, cols) = self.size();
        root.fill(&WHITE).map_err(|e| e.to_string())?;
        let (title, body) = root.split_vertically(TITLE_H);
        title
            .draw(&Text::new(self.title.clone(), (10, 10), (FONT, 20).into_font().color(&BLACK)))
            .map_err(|e| e.to_string())?;
        let areas = body.split_evenly((rows, cols));
        for (panel, area) in self.panels.iter().zip(areas.iter()) {
            match panel {
                Panel::Bars(b) => draw_bars(b, area)?,
                Panel::Lines(l) => draw_lines(l, area)?,
            }
        }
        Ok(())
    }
}

fn pad_range(lo: f64, hi: f64, from_zero: bool) -> (f64, f64) {
    let (mut lo, mut hi) = if lo.is_finite() && hi.is_finite() { (lo, hi) } else { (0.0, 1.0) };
    if from_zero && lo > 0.0 {
        lo = 0.0;
    }
    if (hi - lo).abs() < 1e-12 {
        hi = lo + 1.0;
    }
    let pad = 0.06 * (hi - lo);
    (if from_zero && lo >= 0.0 { lo } else { lo - pad }, hi + pad)
}

macro_rules! legend {
    ($chart:expr, $e:expr) => {
        $chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK.mix(0.4))
            .label_font((FONT, 12))
            .draw()
            .map_err($e)
    };
}

fn draw_bars<DB: DrawingBackend>(p: &BarPanel, area: &DrawingArea<DB, Shift>) -> Result<(), String> {
    let e = |e: DrawingAreaErrorKind<DB::ErrorType>| e.to_string();
    let n = p.groups.len().max(1);
    let mut hi = f64::NEG_INFINITY;
    for s in p.series.iter().chain(&p.references) {
        for v in s.values.iter().flatten() {
            hi = hi.max(v.mean + v.err);
        }
    }
    let (y0, y1) = pad_range(0.0, hi, true);
    // Headroom for the legend (upper right).
    let y1 = y0 + (y1 - y0) * 1.45;
    let mut chart = ChartBuilder::on(area)
        .caption(&p.title, (FONT, 16))
        .margin(10)
        .x_label_area_size(50)
        .y_label_area_size(60)
        .build_cartesian_2d(-0.5f64..(n as f64 - 0.5), y0..y1)
        .map_err(e)?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(0)
        .light_line_style(TRANSPARENT)
        .x_desc(p.x_label.as_str())
        .y_desc(p.y_label.as_str())
        .label_style((FONT, 13))
        .draw()
        .map_err(e)?;
    // Group names under the axis, drawn in pixels (the x axis is continuous).
    for (i, g) in p.groups.iter().enumerate() {
        let (px, py) = chart.plotting_area().map_coordinate(&(i as f64, y0));
        let style = TextStyle::from((FONT, 13).into_font())
            .pos(text_anchor::Pos::new(text_anchor::HPos::Center, text_anchor::VPos::Top));
        area.draw(&Text::new(g.clone(), (px - area.get_base_pixel().0, py - area.get_base_pixel().1 + 6), style))
            .map_err(e)?;
    }
    let k = p.series.len().max(1) as f64;
    let width = 0.8 / k;
    for (si, s) in p.series.iter().enumerate() {
        let c = colour(&s.name, si);
        let mut first = true;
        for (g, v) in s.values.iter().enumerate() {
            let Some(v) = v else { continue };
            let x0 = g as f64 - 0.4 + si as f64 * width;
            let x1 = x0 + width * 0.9;
            let xm = (x0 + x1) / 2.0;
            let bar = Rectangle::new([(x0, y0.max(0.0).min(v.mean)), (x1, v.mean)], c.filled());
            let anno = chart.draw_series(std::iter::once(bar)).map_err(e)?;
            if first {
                anno.label(s.name.clone())
                    .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 12, y + 5)], c.filled()));
                first = false;
            }
            if v.err > 0.0 {
                let (lo, up) = (v.mean - v.err, v.mean + v.err);
                let cap = width * 0.25;
                let lines = [
                    vec![(xm, lo), (xm, up)],
                    vec![(xm - cap, lo), (xm + cap, lo)],
                    vec![(xm - cap, up), (xm + cap, up)],
                ];
                chart.draw_series(lines.into_iter().map(|l| PathElement::new(l, BLACK.stroke_width(1)))).map_err(e)?;
            }
        }
    }
    for (ri, r) in p.references.iter().enumerate() {
        let c = colour(&r.name, p.series.len() + ri);
        let mut first = true;
        for (g, v) in r.values.iter().enumerate() {
            let Some(v) = v else { continue };
            let seg = DashedPathElement::new(
                vec![(g as f64 - 0.45, v.mean), (g as f64 + 0.45, v.mean)],
                6,
                4,
                c.stroke_width(2),
            );
            let anno = chart.draw_series(std::iter::once(seg)).map_err(e)?;
            if first {
                anno.label(format!("{} (reference)", r.name))
                    .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 14, y)], c.stroke_width(2)));
                first = false;
            }
        }
    }
    legend!(chart, e)
}

fn draw_lines<DB: DrawingBackend>(p: &LinePanel, area: &DrawingArea<DB, Shift>) -> Result<(), String> {
    let e = |e: DrawingAreaErrorKind<DB::ErrorType>| e.to_string();
    let (mut xlo, mut xhi, mut ylo, mut yhi) = (f64::INFINITY, f64::NEG_INFINITY, f64::INFINITY, f64::NEG_INFINITY);
    for s in &p.series {
        for &(x, y) in &s.points {
            if x.is_finite() && y.is_finite() {
                (xlo, xhi, ylo, yhi) = (xlo.min(x), xhi.max(x), ylo.min(y), yhi.max(y));
            }
        }
        for &(x, l, h) in &s.band {
            if x.is_finite() && l.is_finite() && h.is_finite() {
                (xlo, xhi, ylo, yhi) = (xlo.min(x), xhi.max(x), ylo.min(l), yhi.max(h));
            }
        }
    }
    for (_, y) in &p.hlines {
        if y.is_finite() {
            (ylo, yhi) = (ylo.min(*y), yhi.max(*y));
        }
    }
    if !xlo.is_finite() {
        (xlo, xhi) = (0.0, 1.0);
    }
    if xhi <= xlo {
        xhi = xlo + 1.0;
    }
    let (y0, y1) = pad_range(ylo, yhi, false);
    let y1 = y0 + (y1 - y0) * 1.4;
    let mut chart = ChartBuilder::on(area)
        .caption(&p.title, (FONT, 16))
        .margin(10)
        .x_label_area_size(45)
        .y_label_area_size(70)
        .build_cartesian_2d(xlo..xhi, y0..y1)
        .map_err(e)?;
    chart
        .configure_mesh()
        .x_desc(p.x_label.as_str())
        .y_desc(p.y_label.as_str())
        .label_style((FONT, 13))
        .light_line_style(BLACK.mix(0.05))
        .draw()
        .map_err(e)?;
    for (i, s) in p.series.iter().enumerate() {
        let c = colour(&s.name, i);
        let band: Vec<_> = s.band.iter().filter(|(x, l, h)| x.is_finite() && l.is_finite() && h.is_finite()).collect();
        if band.len() > 1 {
            let mut poly: Vec<(f64, f64)> = band.iter().map(|&&(x, _, h)| (x, h)).collect();
            poly.extend(band.iter().rev().map(|&&(x, l, _)| (x, l)));
            chart.draw_series(std::iter::once(Polygon::new(poly, c.mix(0.2).filled()))).map_err(e)?;
        }
        let pts: Vec<(f64, f64)> = s.points.iter().copied().filter(|(x, y)| x.is_finite() && y.is_finite()).collect();
        let anno = if pts.len() == 1 {
            chart.draw_series(std::iter::once(Circle::new(pts[0], 4, c.filled()))).map_err(e)?
        } else {
            chart.draw_series(plotters::series::LineSeries::new(pts, c.stroke_width(2))).map_err(e)?
        };
        anno.label(s.name.clone()).legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 14, y)], c.stroke_width(2)));
    }
    for (i, (name, y)) in p.hlines.iter().enumerate() {
        let c = colour(name, p.series.len() + i);
        let line = DashedPathElement::new(vec![(xlo, *y), (xhi, *y)], 6, 4, c.stroke_width(2));
        chart
            .draw_series(std::iter::once(line))
            .map_err(e)?
            .label(format!("{name} (reference)"))
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 14, y)], c.stroke_width(2)));
    }
    legend!(chart, e)
}

/// Gaussian smoothing with standard deviation `sigma` (in points), the kernel truncated at 4σ
/// and renormalised at the ends (so a constant stays constant); NaN points are skipped.
pub fn gaussian_smooth(v: &[f64], sigma: f64) -> Vec<f64> {
    if sigma <= 0.0 || v.is_empty() {
        return v.to_vec();
    }
    // Taps further than the series is long never land on a point: the kernel stops there, so
    // its size (and the work) is bounded by the data whatever σ is.
    let r = (4.0 * sigma).ceil().min(v.len() as f64) as isize;
    let w: Vec<f64> = (-r..=r).map(|d| (-(d * d) as f64 / (2.0 * sigma * sigma)).exp()).collect();
    (0..v.len() as isize)
        .map(|i| {
            let (mut s, mut ws) = (0.0, 0.0);
            for d in -r..=r {
                let j = i + d;
                if j >= 0 && (j as usize) < v.len() && v[j as usize].is_finite() {
                    s += w[(d + r) as usize] * v[j as usize];
                    ws += w[(d + r) as usize];
                }
            }
            if ws > 0.0 {
                s / ws
            } else {
                f64::NAN
            }
        })
        .collect()
}

/// A CSV file as a header and rows of fields (vecsim's CSVs have no quoted fields).
#[derive(Clone, Debug)]
pub struct Table {
    /// Where it was read from.
    pub path: PathBuf,
    /// Column names.
    pub header: Vec<String>,
    /// Rows: `(line number, fields)`.
    pub rows: Vec<(usize, Vec<String>)>,
}

impl Table {
    /// Reads a CSV file.
    pub fn read(path: &Path) -> Result<Table, PlotError> {
        let text = vecsim_core::bounded::read_to_string(path, vecsim_core::bounded::TABLE_CAP, "CSV files", "")
            .map_err(|e| PlotError::Io { path: path.to_path_buf(), source: e.into_io() })?;
        Table::parse(path, &text)
    }

    /// Parses CSV text; every row must have as many fields as the header.
    pub fn parse(path: &Path, text: &str) -> Result<Table, PlotError> {
        let mut lines = text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty());
        let header: Vec<String> = match lines.next() {
            Some((_, h)) => h.split(',').map(|s| s.trim().to_string()).collect(),
            None => return Err(PlotError::Empty { path: path.to_path_buf() }),
        };
        let mut rows = Vec::new();
        for (i, l) in lines {
            let f: Vec<String> = l.split(',').map(|s| s.trim().to_string()).collect();
            if f.len() != header.len() {
                return Err(PlotError::Csv {
                    path: path.to_path_buf(),
                    line: i + 1,
                    message: format!("{} fields, the header has {}", f.len(), header.len()),
                });
            }
            rows.push((i + 1, f));
        }
        Ok(Table { path: path.to_path_buf(), header, rows })
    }

    /// The index of column `name`.
    pub fn col(&self, name: &str) -> Result<usize, PlotError> {
        self.header.iter().position(|h| h == name).ok_or_else(|| PlotError::Csv {
            path: self.path.clone(),
            line: 1,
            message: format!("no column `{name}`"),
        })
    }

    /// Column `c` of row `r` as a number; an empty field or `-` is NaN (no value).
    pub fn num(&self, r: usize, c: usize) -> Result<f64, PlotError> {
        let (line, f) = &self.rows[r];
        let s = f[c].as_str();
        if s.is_empty() || s == "-" {
            return Ok(f64::NAN);
        }
        s.parse::<f64>().map_err(|_| PlotError::Csv {
            path: self.path.clone(),
            line: *line,
            message: format!("column `{}`: `{s}` is not a number", self.header[c]),
        })
    }

    /// Column `c` of row `r` as text.
    pub fn text(&self, r: usize, c: usize) -> &str {
        &self.rows[r].1[c]
    }

    fn column(&self, name: &str) -> Result<Vec<f64>, PlotError> {
        let c = self.col(name)?;
        (0..self.rows.len()).map(|r| self.num(r, c)).collect()
    }
}

/// What kind of vecsim result a CSV holds, by its header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum FileKind {
    /// `vecsim run --out`'s `slots.csv`.
    Slots,
    /// A learning curve (`vecsim train`'s `curve.csv`).
    Curve,
    /// `vecsim compare --csv`.
    Compare,
    /// An experiment's `runs.csv`.
    Runs,
}

impl FileKind {
    /// Recognises a table by its columns.
    pub fn of(t: &Table) -> Result<FileKind, PlotError> {
        let has = |c: &str| t.header.iter().any(|h| h == c);
        Ok(if has("experiment") && has("setting") && has("policy") {
            FileKind::Runs
        } else if has("slot") && has("completion_rate") && has("missed_deadline") {
            FileKind::Slots
        } else if has("episode") && has("cumulative_reward") {
            FileKind::Curve
        } else if has("policy") && has("seed") && has("completion_rate") {
            FileKind::Compare
        } else {
            return Err(PlotError::UnknownFormat {
                path: t.path.clone(),
                header: t.header.join(",").chars().take(100).collect(),
            });
        })
    }
}

fn non_empty(t: &Table) -> Result<(), PlotError> {
    if t.rows.is_empty() {
        Err(PlotError::Empty { path: t.path.clone() })
    } else {
        Ok(())
    }
}

fn file_label(p: &Path) -> String {
    let parent = p.parent().and_then(|d| d.file_name()).map(|s| s.to_string_lossy().into_owned());
    match parent {
        Some(d) if !d.is_empty() => format!("{d}/{}", p.file_name().map(|s| s.to_string_lossy()).unwrap_or_default()),
        _ => p.display().to_string(),
    }
}

/// The figure of a `slots.csv`: completion rate and potential per slot, and task outcomes per
/// slot (completed, missed deadline, uncovered, dropped).
pub fn slots_figure(t: &Table) -> Result<Figure, PlotError> {
    non_empty(t)?;
    let slot = t.column("slot")?;
    let line = |name: &str, col: &str| -> Result<LineSeries, PlotError> {
        let y = t.column(col)?;
        Ok(LineSeries { name: name.into(), points: slot.iter().copied().zip(y).collect(), band: vec![] })
    };
    let mut dropped = vec![0.0; t.rows.len()];
    for c in ["dropped_vehicle_dropout", "dropped_rsu_down", "dropped_message_lost"] {
        for (d, v) in dropped.iter_mut().zip(t.column(c)?) {
            *d += if v.is_finite() { v } else { 0.0 };
        }
    }
    Ok(Figure {
        title: format!("Per slot: {}", file_label(&t.path)),
        panels: vec![
            Panel::Lines(LinePanel {
                title: "Completion rate per slot".into(),
                x_label: "slot".into(),
                y_label: "completed / uploaded tasks".into(),
                series: vec![line("completion rate", "completion_rate")?],
                hlines: vec![],
            }),
            Panel::Lines(LinePanel {
                title: "Task outcomes per slot".into(),
                x_label: "slot".into(),
                y_label: "tasks".into(),
                series: vec![
                    line("completed", "completed")?,
                    line("missed deadline", "missed_deadline")?,
                    line("uncovered", "uncovered")?,
                    LineSeries {
                        name: "dropped (faults)".into(),
                        points: slot.iter().copied().zip(dropped).collect(),
                        band: vec![],
                    },
                ],
                hlines: vec![],
            }),
            Panel::Lines(LinePanel {
                title: "Potential F per slot (eq. 18)".into(),
                x_label: "slot".into(),
                y_label: "F = sum of RSU completion rates".into(),
                series: vec![line("potential", "potential")?],
                hlines: vec![],
            }),
        ],
    })
}

/// The figure of one or more learning curves, overlaid: cumulative reward and completion rate
/// per episode (raw, thin, and Gaussian-smoothed with `sigma` points when `sigma > 0`).
pub fn curves_figure(tables: &[Table], sigma: f64) -> Result<Figure, PlotError> {
    let mut reward = Vec::new();
    let mut rate = Vec::new();
    for t in tables {
        non_empty(t)?;
        let ep = t.column("episode")?;
        let name = file_label(&t.path);
        for (panel, col) in [(&mut reward, "cumulative_reward"), (&mut rate, "completion_rate")] {
            let y = t.column(col)?;
            let y = gaussian_smooth(&y, sigma);
            panel.push(LineSeries { name: name.clone(), points: ep.iter().copied().zip(y).collect(), band: vec![] });
        }
    }
    let smoothed = if sigma > 0.0 { format!(" (Gaussian-smoothed, sigma = {sigma} episodes)") } else { String::new() };
    Ok(Figure {
        title: format!("Learning curves{smoothed}"),
        panels: vec![
            Panel::Lines(LinePanel {
                title: "Cumulative reward per episode".into(),
                x_label: "episode (iteration)".into(),
                y_label: "cumulative reward".into(),
                series: reward,
                hlines: vec![],
            }),
            Panel::Lines(LinePanel {
                title: "Completion rate per episode".into(),
                x_label: "episode (iteration)".into(),
                y_label: "completion rate".into(),
                series: rate,
                hlines: vec![],
            }),
        ],
    })
}

/// The figure of `vecsim compare --csv` output: completion rate, average realized potential and
/// cumulative reward per policy, mean and standard deviation over seeds.
pub fn compare_figure(t: &Table) -> Result<Figure, PlotError> {
    non_empty(t)?;
    let pc = t.col("policy")?;
    let mut policies: Vec<String> = Vec::new();
    for r in 0..t.rows.len() {
        let p = t.text(r, pc).to_string();
        if !policies.contains(&p) {
            policies.push(p);
        }
    }
    let seeds = t.column("seed")?;
    let n_seeds = {
        let mut s: Vec<u64> = seeds.iter().filter(|x| x.is_finite()).map(|x| *x as u64).collect();
        s.sort_unstable();
        s.dedup();
        s.len()
    };
    let panel = |col: &str, title: &str| -> Result<Panel, PlotError> {
        let y = t.column(col)?;
        let series = policies
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let v: Vec<f64> = (0..t.rows.len()).filter(|&r| t.text(r, pc) == p).map(|r| y[r]).collect();
                let mut values = vec![None; policies.len()];
                values[i] = MeanErr::of(&v);
                BarSeries { name: p.clone(), values }
            })
            .collect();
        Ok(Panel::Bars(BarPanel {
            title: title.into(),
            x_label: "policy".into(),
            y_label: format!("{col} (mean ± sd)"),
            groups: policies.clone(),
            series,
            references: vec![],
        }))
    };
    Ok(Figure {
        title: format!("{} over {n_seeds} seed(s)", file_label(&t.path)),
        panels: vec![
            panel("completion_rate", "Task completion rate")?,
            panel("average_realized_potential", "Average realized potential")?,
            panel("cumulative_reward", "Cumulative reward")?,
        ],
    })
}

/// A short text description of a figure's data (for tests and logs): panel titles and series.
pub fn describe(fig: &Figure) -> String {
    let mut s = format!("{}\n", fig.title);
    for p in &fig.panels {
        match p {
            Panel::Bars(b) => {
                let _ = writeln!(s, "  bars `{}`: groups {:?}", b.title, b.groups);
                for se in b.series.iter().chain(&b.references) {
                    let _ = writeln!(s, "    {}: {} values", se.name, se.values.iter().flatten().count());
                }
            }
            Panel::Lines(l) => {
                let _ = writeln!(s, "  lines `{}`", l.title);
                for se in &l.series {
                    let _ = writeln!(s, "    {}: {} points", se.name, se.points.len());
                }
            }
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gaussian_smoothing_keeps_constants_and_mass() {
        let c = gaussian_smooth(&[3.0; 50], 10.0);
        assert!(c.iter().all(|x| (x - 3.0).abs() < 1e-12));
        let mut imp = vec![0.0; 201];
        imp[100] = 1.0;
        let s = gaussian_smooth(&imp, 10.0);
        assert!((s.iter().sum::<f64>() - 1.0).abs() < 1e-6, "{}", s.iter().sum::<f64>());
        assert!(s[100] > s[110] && s[110] > s[120] && (s[90] - s[110]).abs() < 1e-15);
        // Peak of a unit impulse under a sigma-10 kernel: 1 / (10 sqrt(2 pi)).
        assert!((s[100] - 1.0 / (10.0 * (2.0 * std::f64::consts::PI).sqrt())).abs() < 1e-4);
        assert_eq!(gaussian_smooth(&[1.0, 2.0], 0.0), vec![1.0, 2.0]);
    }

    #[test]
    fn a_huge_sigma_is_the_plain_mean_without_a_huge_kernel() {
        // Every weight is exp(-d²/2σ²) = 1 at σ = 1e18: each point becomes the mean, 2.
        assert_eq!(gaussian_smooth(&[1.0, 2.0, 3.0], 1e18), vec![2.0, 2.0, 2.0]);
        assert_eq!(gaussian_smooth(&[1.0, 2.0, 3.0], 1e9), vec![2.0, 2.0, 2.0]);
    }

    #[test]
    fn mean_err_is_mean_and_sample_sd() {
        let m = MeanErr::of(&[2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0]).unwrap();
        assert_eq!(m.mean, 5.0);
        assert!((m.err - (32.0f64 / 7.0).sqrt()).abs() < 1e-12);
        assert_eq!(MeanErr::of(&[f64::NAN]), None);
        assert_eq!(MeanErr::of(&[1.0, f64::NAN]), Some(MeanErr { mean: 1.0, err: 0.0 }));
    }

    #[test]
    fn unknown_and_ragged_files_are_bad_input() {
        let t = Table::parse(Path::new("x.csv"), "a,b\n1,2\n").unwrap();
        let e = FileKind::of(&t).unwrap_err();
        assert!(e.is_bad_input() && e.to_string().contains("x.csv") && e.to_string().contains("a,b"), "{e}");
        let e = Table::parse(Path::new("y.csv"), "a,b\n1,2\n3\n").unwrap_err();
        assert!(e.is_bad_input() && e.to_string().starts_with("y.csv:3:"), "{e}");
        let t = Table::parse(Path::new("z.csv"), "policy,seed,completion_rate\norl,1,zz\n").unwrap();
        assert_eq!(FileKind::of(&t).unwrap(), FileKind::Compare);
        let e = compare_figure(&t).unwrap_err();
        assert!(e.to_string().contains("z.csv:2") && e.to_string().contains("zz"), "{e}");
    }

    #[test]
    fn a_figure_renders_png_and_svg_with_text() {
        let dir = tempfile::tempdir().unwrap();
        let fig = Figure {
            title: "Test figure".into(),
            panels: vec![
                Panel::Bars(BarPanel {
                    title: "bars".into(),
                    x_label: "window".into(),
                    y_label: "rate".into(),
                    groups: vec!["evening".into(), "noon".into()],
                    series: vec![BarSeries {
                        name: "orl".into(),
                        values: vec![Some(MeanErr { mean: 0.5, err: 0.1 }), None],
                    }],
                    references: vec![BarSeries {
                        name: "br-ne".into(),
                        values: vec![Some(MeanErr { mean: 0.7, err: 0.0 }); 2],
                    }],
                }),
                Panel::Lines(LinePanel {
                    title: "lines".into(),
                    x_label: "episode".into(),
                    y_label: "reward".into(),
                    series: vec![LineSeries {
                        name: "fed-maddpg".into(),
                        points: vec![(1.0, 1.0), (2.0, 2.0)],
                        band: vec![(1.0, 0.5, 1.5), (2.0, 1.5, 2.5)],
                    }],
                    hlines: vec![("orl".into(), 1.5)],
                }),
            ],
        };
        let [png, svg] = fig.render(&dir.path().join("sub/fig")).unwrap();
        let png = std::fs::read(png).unwrap();
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
        let svg = std::fs::read_to_string(svg).unwrap();
        assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
        assert!(svg.contains("evening") && svg.contains("br-ne (reference)") && svg.contains("Test figure"));
        // Text is rasterised with the embedded font: the title row is not blank.
        let img = image_rows(&png);
        assert!(img > 0, "the PNG's title area has dark pixels");
    }

    /// Counts dark pixels in the first 40 rows of a PNG (the title area).
    fn image_rows(png: &[u8]) -> usize {
        let dec = png::Decoder::new(png);
        let mut r = dec.read_info().unwrap();
        let mut buf = vec![0; r.output_buffer_size()];
        let info = r.next_frame(&mut buf).unwrap();
        let bpp = info.line_size / info.width as usize;
        buf[..info.line_size * 40].chunks(bpp).filter(|p| p[0] < 100 && p[1] < 100 && p[2] < 100).count()
    }
}
