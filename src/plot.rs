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

/// Axis labels every figure shares: what is plotted, in words a reader of the paper knows, with
/// its unit. No pseudo-LaTeX (`Σ_e r_e`, `F^t`): underscores and carets read as noise in an
/// image.
pub mod label {
    /// A completion rate (a fraction, drawn as a percentage).
    pub const COMPLETION: &str = "completed / uploaded tasks (%)";
    /// The potential F of one slot (eq. 18).
    pub const POTENTIAL: &str = "potential F (sum of the RSUs' completion rates)";
    /// The cumulative reward: F summed over a run's (or an episode's) slots.
    pub const CUMULATIVE_REWARD: &str = "potential F summed over the slots";
    /// The average realized potential: each RSU's reward summed over the slots, averaged over
    /// the RSUs.
    pub const REALIZED_POTENTIAL: &str = "reward per RSU, summed over slots";
    /// `label` followed by how the values were pooled, inside its parentheses when it has some.
    pub fn with(label: &str, how: &str) -> String {
        match label.strip_suffix(')') {
            Some(open) => format!("{open}, {how})"),
            None => format!("{label} ({how})"),
        }
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

/// What a panel's y values are, which decides the axis: a rate is read as a fraction and drawn
/// as a percentage on a fixed 0–100 axis (so rates of different figures compare at a glance),
/// a count gets integer ticks only.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Unit {
    /// Any number: the axis fits the data.
    #[default]
    Plain,
    /// A fraction in [0, 1], drawn ×100 on a 0–100 % axis.
    Fraction,
    /// A count: the axis starts at 0 and labels integers only.
    Count,
}

impl Unit {
    /// The value as drawn.
    fn scale(self, v: f64) -> f64 {
        match self {
            Unit::Fraction => 100.0 * v,
            _ => v,
        }
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
    /// Y axis description, with its unit.
    pub y_label: String,
    /// What the values are (decides the axis).
    pub unit: Unit,
    /// Group names along the x axis.
    pub groups: Vec<String>,
    /// The bars.
    pub series: Vec<BarSeries>,
    /// Reference values (e.g. oracle policies), a dashed line across each group.
    pub references: Vec<BarSeries>,
}

/// How a line series is drawn.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum LineKind {
    /// A solid line (a single point: a dot).
    #[default]
    Line,
    /// A thin, faint line without a legend entry: the raw data under its smoothed line.
    Faint,
    /// Dots at the points, connected by a thin line (sparse measurements, e.g. greedy
    /// evaluations every K episodes).
    Markers,
}

/// One line, with an optional shaded band.
#[derive(Clone, Debug, PartialEq)]
pub struct LineSeries {
    /// Legend name; the part before ` (` picks the colour, so `x (greedy eval)` and `x` match.
    pub name: String,
    /// `(x, y)` points in order of x.
    pub points: Vec<(f64, f64)>,
    /// `(x, low, high)` of a shaded band (empty: none).
    pub band: Vec<(f64, f64, f64)>,
    /// How it is drawn.
    pub kind: LineKind,
}

impl LineSeries {
    /// A solid line without a band.
    pub fn line(name: impl Into<String>, points: Vec<(f64, f64)>) -> LineSeries {
        LineSeries { name: name.into(), points, band: vec![], kind: LineKind::Line }
    }
}

/// Lines on shared axes; `hlines` are dashed horizontal reference lines.
#[derive(Clone, Debug, PartialEq)]
pub struct LinePanel {
    /// Panel title.
    pub title: String,
    /// X axis description.
    pub x_label: String,
    /// Y axis description, with its unit.
    pub y_label: String,
    /// What the values are (decides the axis).
    pub unit: Unit,
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

impl Panel {
    fn y_label(&self) -> &str {
        match self {
            Panel::Bars(b) => &b.y_label,
            Panel::Lines(l) => &l.y_label,
        }
    }

    fn unit(&self) -> Unit {
        match self {
            Panel::Bars(b) => b.unit,
            Panel::Lines(l) => l.unit,
        }
    }

    /// The lowest and highest y drawn (scaled by the unit), or `None` without data.
    fn y_extent(&self) -> Option<(f64, f64)> {
        let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
        let mut see = |v: f64| {
            if v.is_finite() {
                (lo, hi) = (lo.min(v), hi.max(v));
            }
        };
        match self {
            Panel::Bars(p) => {
                for v in p.series.iter().chain(&p.references).flat_map(|s| s.values.iter().flatten()) {
                    // A non-negative quantity's error bar stops at 0 (it is drawn clipped
                    // there): an axis running below 0 for it would show impossible values.
                    let low = if v.mean >= 0.0 { (v.mean - v.err).max(0.0) } else { v.mean - v.err };
                    see(p.unit.scale(low));
                    see(p.unit.scale(v.mean + v.err));
                    see(0.0);
                }
            }
            Panel::Lines(p) => {
                for s in &p.series {
                    s.points.iter().for_each(|&(_, y)| see(p.unit.scale(y)));
                    s.band.iter().for_each(|&(_, l, h)| {
                        see(p.unit.scale(l));
                        see(p.unit.scale(h))
                    });
                }
                p.hlines.iter().for_each(|&(_, y)| see(p.unit.scale(y)));
            }
        }
        (lo <= hi).then_some((lo, hi))
    }

    /// Legend entries `(name, how it is drawn)`, in order, each name once.
    fn legend(&self) -> Vec<(String, Swatch)> {
        let mut out: Vec<(String, Swatch)> = Vec::new();
        let mut push = |name: String, s: Swatch| {
            if !out.iter().any(|(n, _)| *n == name) {
                out.push((name, s));
            }
        };
        match self {
            Panel::Bars(p) => {
                // One bar per group (a policy per group): the group labels name the bars already.
                let one_per_group = p.series.len() == p.groups.len()
                    && p.series.iter().all(|s| s.values.iter().filter(|v| v.is_some()).count() <= 1);
                p.series
                    .iter()
                    .filter(|s| !one_per_group && s.values.iter().any(Option::is_some))
                    .for_each(|s| push(s.name.clone(), Swatch::Bar));
                p.references
                    .iter()
                    .filter(|s| s.values.iter().any(Option::is_some))
                    .for_each(|s| push(format!("{} (reference)", s.name), Swatch::Dashed));
            }
            // A panel with one line and no reference says what it is in its title: no entry.
            Panel::Lines(p)
                if p.hlines.is_empty() && p.series.iter().filter(|s| s.kind != LineKind::Faint).count() == 1 => {}
            Panel::Lines(p) => {
                for s in &p.series {
                    match s.kind {
                        LineKind::Line => push(s.name.clone(), Swatch::Line),
                        LineKind::Markers => push(s.name.clone(), Swatch::Marker),
                        LineKind::Faint => {}
                    }
                }
                p.hlines.iter().for_each(|(n, _)| push(format!("{n} (reference)"), Swatch::Dashed));
            }
        }
        out
    }
}

/// How a legend entry is drawn.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Swatch {
    Bar,
    Line,
    Dashed,
    Marker,
}

/// A figure: a title over panels laid out in a grid (up to three per row).
#[derive(Clone, Debug, PartialEq)]
pub struct Figure {
    /// The figure's title.
    pub title: String,
    /// Its panels.
    pub panels: Vec<Panel>,
}

/// Size and resolution of a rendered figure.
///
/// A panel is `panel_in` inches; pixels are inches × `dpi`, and text and lines scale with the
/// resolution, so `--dpi 300` gives the same figure at three times the pixels (print quality)
/// and `--size` changes the room each panel has.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RenderOptions {
    /// Width and height of one panel (legend included), inches.
    pub panel_in: (f64, f64),
    /// Dots per inch.
    pub dpi: f64,
}

impl Default for RenderOptions {
    /// 6.2 × 4.4 inch panels at 100 dpi (620 × 440 pixels): readable on a screen.
    fn default() -> Self {
        RenderOptions { panel_in: (6.2, 4.4), dpi: 100.0 }
    }
}

impl RenderOptions {
    /// Named presets: `screen` (the default), `paper` (3.5 × 2.6 inch panels, a journal
    /// column, at 300 dpi) and `slide` (6.4 × 4.8 inch panels at 200 dpi).
    pub fn preset(name: &str) -> Option<RenderOptions> {
        Some(match name {
            "screen" => RenderOptions::default(),
            "paper" => RenderOptions { panel_in: (3.5, 2.6), dpi: 300.0 },
            "slide" => RenderOptions { panel_in: (6.4, 4.8), dpi: 200.0 },
            _ => return None,
        })
    }

    /// The largest image vecsim draws, pixels per side: bounds the bitmap's memory (3 bytes a
    /// pixel) whatever the options.
    pub const MAX_PX: u32 = 20_000;

    /// Checks the options: finite, positive, and no image side above [`Self::MAX_PX`] for a
    /// figure of up to three panels a row.
    pub fn validate(&self) -> Result<(), String> {
        let (w, h) = self.panel_in;
        if !(w.is_finite() && h.is_finite() && w >= 1.0 && h >= 1.0) {
            return Err(format!("panel size {w}x{h} inches: each side must be at least 1 inch"));
        }
        if !(self.dpi.is_finite() && self.dpi >= 20.0) {
            return Err(format!("{} dpi: expected at least 20", self.dpi));
        }
        let side = 3.0 * w.max(h) * self.dpi;
        if side > f64::from(Self::MAX_PX) {
            return Err(format!(
                "{w}x{h} inch panels at {} dpi: a figure would be {side:.0} pixels wide, above {} (lower --dpi or --size)",
                self.dpi,
                Self::MAX_PX
            ));
        }
        Ok(())
    }

    /// Pixels per "design pixel" (the layout is designed at 100 dpi).
    fn k(&self) -> f64 {
        self.dpi / 100.0
    }

    fn px(&self, design: f64) -> u32 {
        (design * self.k()).round().max(1.0) as u32
    }
}

const FONT: &str = "sans-serif";
/// Design-pixel sizes (at 100 dpi) of the figure's text.
const TITLE_FONT: f64 = 18.0;
const CAPTION_FONT: f64 = 15.0;
const LABEL_FONT: f64 = 13.0;
const LEGEND_FONT: f64 = 12.0;
/// Average advance of one character of DejaVu Sans, in ems (to size label room).
const EM_PER_CHAR: f64 = 0.6;

static FONT_ONCE: Once = Once::new();

/// Registers the embedded DejaVu Sans as plotters' `sans-serif` (once per process).
fn register_font() {
    FONT_ONCE.call_once(|| {
        // The bytes are a valid TrueType font (the dejavu crate's own file).
        let _ = plotters::style::register_font(FONT, FontStyle::Normal, dejavu::sans::regular());
    });
}

/// Okabe & Ito's colour-blind-safe palette (*Color Universal Design*, 2008), then Paul Tol's
/// "muted" scheme: 17 colours that stay apart for the common colour-vision deficiencies.
const PALETTE: [RGBColor; 17] = [
    RGBColor(213, 94, 0),    // vermillion
    RGBColor(0, 114, 178),   // blue
    RGBColor(0, 158, 115),   // bluish green
    RGBColor(230, 159, 0),   // orange
    RGBColor(204, 121, 167), // reddish purple
    RGBColor(0, 0, 0),       // black
    RGBColor(86, 180, 233),  // sky blue
    RGBColor(240, 228, 66),  // yellow
    RGBColor(51, 34, 136),   // indigo
    RGBColor(136, 204, 238), // cyan
    RGBColor(68, 170, 153),  // teal
    RGBColor(17, 119, 51),   // green
    RGBColor(153, 153, 51),  // olive
    RGBColor(221, 204, 119), // sand
    RGBColor(204, 102, 119), // rose
    RGBColor(136, 34, 85),   // wine
    RGBColor(170, 68, 153),  // purple
];

/// The fixed palette slot of a policy: the same colour in every figure.
fn fixed_slot(key: &str) -> Option<usize> {
    Some(match key {
        "fed-maddpg" => 0,
        "maddpg" => 1,
        "masac" => 2,
        "orm" => 3,
        "orl" => 4,
        "br-ne" => 5,
        "random" => 6,
        _ => return None,
    })
}

/// The part of a series name that picks its colour: before ` (` (so a series' greedy
/// evaluation, its raw data and its reference line share its colour).
fn colour_key(name: &str) -> &str {
    let name = name.split(" (").next().unwrap_or(name);
    name.trim()
}

/// Colours of one figure: policies keep their fixed colour; every other name gets the next
/// colour no name of the figure uses, so no two names share a colour (up to 17; beyond, the
/// palette repeats in a lighter shade).
#[derive(Debug)]
struct Palette {
    names: Vec<(String, RGBColor)>,
}

impl Palette {
    fn for_figure(fig: &Figure) -> Palette {
        let mut keys: Vec<String> = Vec::new();
        for p in &fig.panels {
            let mut add = |n: &str| {
                let k = colour_key(n).to_string();
                if !keys.contains(&k) {
                    keys.push(k);
                }
            };
            match p {
                Panel::Bars(b) => b.series.iter().chain(&b.references).for_each(|s| add(&s.name)),
                Panel::Lines(l) => {
                    l.series.iter().for_each(|s| add(&s.name));
                    l.hlines.iter().for_each(|(n, _)| add(n));
                }
            }
        }
        Palette::for_keys(&keys)
    }

    fn for_keys(keys: &[String]) -> Palette {
        let mut used: Vec<usize> = keys.iter().filter_map(|k| fixed_slot(k)).collect();
        let mut next = 0usize;
        let names = keys
            .iter()
            .map(|k| {
                let slot = fixed_slot(k).unwrap_or_else(|| {
                    while used.contains(&(next % PALETTE.len())) && used.len() < PALETTE.len() {
                        next += 1;
                    }
                    let s = next;
                    used.push(s % PALETTE.len());
                    next += 1;
                    s
                });
                let base = PALETTE[slot % PALETTE.len()];
                let c = if slot < PALETTE.len() { base } else { lighter(base, slot / PALETTE.len()) };
                (k.clone(), c)
            })
            .collect();
        Palette { names }
    }

    fn get(&self, name: &str) -> RGBColor {
        let k = colour_key(name);
        self.names.iter().find(|(n, _)| n == k).map_or(RGBColor(90, 90, 90), |(_, c)| *c)
    }
}

/// `c` mixed `round` halves of the way towards white.
fn lighter(c: RGBColor, round: usize) -> RGBColor {
    let f = 1.0 - 0.5f64.powi(round as i32);
    let mix = |v: u8| (f64::from(v) + (255.0 - f64::from(v)) * f * 0.8).round() as u8;
    RGBColor(mix(c.0), mix(c.1), mix(c.2))
}

/// A group's tick label as lines: a parenthesised note goes under the name
/// (`fed-maddpg (2 checkpoints)`), so that long labels widen their group half as much.
fn group_lines(g: &str) -> Vec<&str> {
    match g.find(" (") {
        Some(i) => vec![&g[..i], &g[i + 1..]],
        None => vec![g],
    }
}

/// The font size, pixels, for an axis description of `desc` along the y axis of a panel
/// `panel_h` pixels high, of which `taken` (design pixels at scale `k`) go to the caption, the
/// x labels and the margins: the label size, or smaller so that the rotated text fits the
/// axis (a long label at `--style paper` ran over the title and its neighbours), down to 60 %.
fn desc_font(desc: &str, panel_h: u32, taken: f64, k: f64) -> f64 {
    let room = 0.95 * (f64::from(panel_h) - taken * k);
    let fit = room / (desc.chars().count().max(1) as f64 * EM_PER_CHAR);
    fit.clamp(0.6 * LABEL_FONT * k, LABEL_FONT * k)
}

/// Approximate width of `s` in pixels at font size `font_px`.
fn text_px(s: &str, font_px: f64) -> f64 {
    s.chars().count() as f64 * font_px * EM_PER_CHAR
}

/// `s` broken at spaces into lines of at most `width` characters (a longer word stays whole).
fn wrap(s: &str, width: usize) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    let mut cur = String::new();
    for word in s.split(' ') {
        if !cur.is_empty() && cur.chars().count() + 1 + word.chars().count() > width {
            lines.push(std::mem::take(&mut cur));
        }
        if !cur.is_empty() {
            cur.push(' ');
        }
        cur.push_str(word);
    }
    lines.push(cur);
    lines
}

/// The x extent `[x0, x1]` of bar `index` of `present` bars sharing group `g`'s slot: side by
/// side, 90 % of their share of the group's 0.8 width, the whole row centred on the group's
/// tick at `g` (so a lone bar sits exactly on its label).
fn bar_extent(g: usize, index: usize, present: usize) -> (f64, f64) {
    let w = 0.8 / present.max(1) as f64;
    let x0 = g as f64 - 0.4 + index as f64 * w + 0.05 * w;
    (x0, x0 + 0.9 * w)
}

/// The y range of a panel: rates on 0–100 %, counts from 0, anything else padded around the
/// data (from 0 when all values are positive, as bars need).
fn y_range(unit: Unit, lo: f64, hi: f64, bars: bool) -> (f64, f64) {
    match unit {
        Unit::Fraction => (0.0, 100.0),
        Unit::Count => {
            let hi = if hi.is_finite() { hi.max(1.0) } else { 1.0 };
            (0.0, (hi * 1.06).ceil())
        }
        Unit::Plain => pad_range(lo, hi, bars),
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

/// Tick labels that show integers only (no `0.5` on an axis of counts or episodes).
fn integer_label(v: &f64) -> String {
    if (v - v.round()).abs() < 1e-9 {
        format!("{:.0}", v)
    } else {
        String::new()
    }
}

/// Plain tick labels: few significant digits.
fn plain_label(v: &f64) -> String {
    let a = v.abs();
    if a == 0.0 {
        "0".into()
    } else if a >= 1000.0 || (a - a.round()).abs() < 1e-9 {
        format!("{:.0}", v)
    } else {
        let s = if a >= 10.0 { format!("{:.1}", v) } else { format!("{:.2}", v) };
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

/// The layout of a figure in pixels.
#[derive(Clone, Debug)]
struct Layout {
    /// The title, wrapped to the figure's width.
    title: Vec<String>,
    panel_w: u32,
    panel_h: u32,
    legend_w: u32,
    title_h: u32,
    rows: usize,
    cols: usize,
}

impl Figure {
    /// The figure's legend: every entry of its panels, each name once, in order.
    fn legend(&self) -> Vec<(String, Swatch)> {
        let mut out: Vec<(String, Swatch)> = Vec::new();
        for p in &self.panels {
            for (n, s) in p.legend() {
                if !out.iter().any(|(m, _)| *m == n) {
                    out.push((n, s));
                }
            }
        }
        out
    }

    fn layout(&self, o: &RenderOptions) -> Layout {
        let k = o.k();
        let n = self.panels.len().max(1);
        let mut panel_w = o.panel_in.0 * o.dpi;
        let legend = self.legend();
        let legend_w = if legend.is_empty() {
            0.0
        } else {
            legend
                .iter()
                .map(|(name, _)| text_px(name, LEGEND_FONT * k) + 34.0 * k)
                .fold(0.0f64, f64::max)
                .min(0.6 * panel_w)
        };
        // Bars need room for their group labels: widen the panel rather than overlap them.
        for p in &self.panels {
            if let Panel::Bars(b) = p {
                let label = b
                    .groups
                    .iter()
                    .flat_map(|g| group_lines(g))
                    .map(|g| text_px(g, LABEL_FONT * k))
                    .fold(0.0f64, f64::max);
                let need = b.groups.len() as f64 * (label + 14.0 * k) + 90.0 * k;
                panel_w = panel_w.max(need);
            }
        }
        let wide = panel_w > 1.5 * o.panel_in.0 * o.dpi;
        let cols = if wide { 1 } else { n.min(3) };
        let rows = n.div_ceil(cols);
        let width = panel_w.round() * cols as f64 + legend_w.round();
        let per_line = ((width - 20.0 * k) / (TITLE_FONT * k * EM_PER_CHAR)).floor().max(20.0) as usize;
        let title = wrap(&self.title, per_line);
        Layout {
            panel_w: panel_w.round() as u32,
            panel_h: (o.panel_in.1 * o.dpi).round() as u32,
            legend_w: legend_w.round() as u32,
            title_h: o.px(18.0 + 24.0 * title.len() as f64),
            title,
            rows,
            cols,
        }
    }

    /// Writes `STEM.png` and `STEM.svg` (creating the directory) at the default size and
    /// returns both paths.
    pub fn render(&self, stem: &Path) -> Result<[PathBuf; 2], PlotError> {
        self.render_with(stem, &RenderOptions::default())
    }

    /// Writes `STEM.png` and `STEM.svg` with the given size and resolution.
    pub fn render_with(&self, stem: &Path, o: &RenderOptions) -> Result<[PathBuf; 2], PlotError> {
        register_font();
        if let Some(dir) = stem.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|source| PlotError::Io { path: dir.to_path_buf(), source })?;
        }
        let png = stem.with_extension("png");
        let svg = stem.with_extension("svg");
        let l = self.layout(o);
        let (w, h) = (l.panel_w * l.cols as u32 + l.legend_w, l.panel_h * l.rows as u32 + l.title_h);
        if w > RenderOptions::MAX_PX || h > RenderOptions::MAX_PX {
            return Err(PlotError::Draw {
                path: png,
                message: format!(
                    "{w} x {h} pixels is above the {} pixel limit (lower --dpi or --size)",
                    RenderOptions::MAX_PX
                ),
            });
        }
        {
            let root = BitMapBackend::new(&png, (w, h)).into_drawing_area();
            self.draw(&root, o, &l)
                .and_then(|_| root.present().map_err(|e| e.to_string()))
                .map_err(|message| PlotError::Draw { path: png.clone(), message })?;
        }
        {
            let root = SVGBackend::new(&svg, (w, h)).into_drawing_area();
            self.draw(&root, o, &l)
                .and_then(|_| root.present().map_err(|e| e.to_string()))
                .map_err(|message| PlotError::Draw { path: svg.clone(), message })?;
        }
        Ok([png, svg])
    }

    /// One y range for every panel that shows the same quantity (same label and unit), so
    /// panels side by side compare by eye.
    fn shared_ranges(&self) -> Vec<(f64, f64)> {
        self.panels
            .iter()
            .map(|p| {
                let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
                for q in self.panels.iter().filter(|q| q.y_label() == p.y_label() && q.unit() == p.unit()) {
                    if let Some((a, b)) = q.y_extent() {
                        (lo, hi) = (lo.min(a), hi.max(b));
                    }
                }
                y_range(p.unit(), lo, hi, matches!(p, Panel::Bars(_)))
            })
            .collect()
    }

    fn draw<DB: DrawingBackend>(
        &self,
        root: &DrawingArea<DB, Shift>,
        o: &RenderOptions,
        l: &Layout,
    ) -> Result<(), String> {
        let k = o.k();
        let palette = Palette::for_figure(self);
        let ranges = self.shared_ranges();
        root.fill(&WHITE).map_err(|e| e.to_string())?;
        let (title, body) = root.split_vertically(l.title_h);
        let x = o.px(10.0) as i32;
        for (i, line) in l.title.iter().enumerate() {
            let y = x + (i as f64 * 24.0 * k).round() as i32;
            title
                .draw(&Text::new(line.clone(), (x, y), (FONT, TITLE_FONT * k).into_font().color(&BLACK)))
                .map_err(|e| e.to_string())?;
        }
        // The legend in its own strip right of the panels: never over the data.
        let (grid, legend) = body.split_horizontally(l.panel_w * l.cols as u32);
        let areas = grid.split_evenly((l.rows, l.cols));
        for ((panel, area), range) in self.panels.iter().zip(areas.iter()).zip(ranges) {
            match panel {
                Panel::Bars(b) => draw_bars(b, area, range, &palette, k)?,
                Panel::Lines(p) => draw_lines(p, area, range, &palette, k)?,
            }
        }
        draw_legend(&self.legend(), &legend, &palette, k)
    }
}

/// The legend of a panel, in its own strip to the right of the data (never over it).
fn draw_legend<DB: DrawingBackend>(
    entries: &[(String, Swatch)],
    area: &DrawingArea<DB, Shift>,
    palette: &Palette,
    k: f64,
) -> Result<(), String> {
    let e = |e: DrawingAreaErrorKind<DB::ErrorType>| e.to_string();
    let row = (LEGEND_FONT * 1.45 * k).round() as i32;
    let top = (CAPTION_FONT * 2.4 * k).round() as i32;
    let x = (4.0 * k).round() as i32;
    let sw = (16.0 * k).round() as i32;
    let stroke = (2.0 * k).round().max(1.0) as u32;
    for (i, (name, swatch)) in entries.iter().enumerate() {
        let c = palette.get(name);
        let y = top + i as i32 * row;
        let mid = y + row / 2;
        match swatch {
            Swatch::Bar => {
                area.draw(&Rectangle::new([(x, mid - row / 3), (x + sw, mid + row / 3)], c.filled())).map_err(e)?
            }
            Swatch::Line => {
                area.draw(&PathElement::new(vec![(x, mid), (x + sw, mid)], c.stroke_width(stroke))).map_err(e)?
            }
            Swatch::Dashed => area
                .draw(&DashedPathElement::new(
                    vec![(x, mid), (x + sw, mid)],
                    (5.0 * k) as u32,
                    (3.0 * k) as u32,
                    c.stroke_width(stroke),
                ))
                .map_err(e)?,
            Swatch::Marker => area.draw(&Circle::new((x + sw / 2, mid), (3.5 * k) as i32, c.filled())).map_err(e)?,
        }
        let style = TextStyle::from((FONT, LEGEND_FONT * k).into_font())
            .pos(text_anchor::Pos::new(text_anchor::HPos::Left, text_anchor::VPos::Center));
        area.draw(&Text::new(name.clone(), (x + sw + (6.0 * k) as i32, mid), style)).map_err(e)?;
    }
    Ok(())
}

/// The y axis description, rotated, at the panel's left edge and centred on the plotting area,
/// in its own font size (the x description keeps the label size: plotters gives both one).
fn draw_y_desc<DB: DrawingBackend, X: Ranged, Y: Ranged>(
    area: &DrawingArea<DB, Shift>,
    desc: &str,
    font_px: f64,
    chart: &ChartContext<'_, DB, Cartesian2d<X, Y>>,
    k: f64,
) -> Result<(), String> {
    let plot = chart.plotting_area();
    let (top, bottom) = (plot.get_pixel_range().1.start, plot.get_pixel_range().1.end);
    let base = area.get_base_pixel();
    let y = (top + bottom) / 2 - base.1;
    let x = (4.0 * k).round() as i32;
    let style = TextStyle::from((FONT, font_px).into_font())
        .transform(FontTransform::Rotate270)
        .pos(text_anchor::Pos::new(text_anchor::HPos::Center, text_anchor::VPos::Top));
    area.draw(&Text::new(desc.to_string(), (x, y), style)).map_err(|e| e.to_string())
}

fn draw_bars<DB: DrawingBackend>(
    p: &BarPanel,
    area: &DrawingArea<DB, Shift>,
    (y0, y1): (f64, f64),
    palette: &Palette,
    k: f64,
) -> Result<(), String> {
    let e = |e: DrawingAreaErrorKind<DB::ErrorType>| e.to_string();
    let n = p.groups.len().max(1);
    let px = |v: f64| (v * k).round() as u32;
    let label_lines = p.groups.iter().map(|g| group_lines(g).len()).max().unwrap_or(1);
    let line_h = LABEL_FONT * 1.25;
    // Caption, x labels and margins, design pixels: what the y axis does not get.
    let taken = CAPTION_FONT * 1.6 + 48.0 + line_h * (label_lines - 1) as f64 + 20.0;
    let mut chart = ChartBuilder::on(area)
        .caption(&p.title, (FONT, CAPTION_FONT * k))
        .margin(px(10.0))
        // The top tick label stands half its height above the plotting area: room for it under
        // the caption.
        .margin_top(px(10.0 + 0.6 * LABEL_FONT))
        .x_label_area_size(px(48.0 + line_h * (label_lines - 1) as f64))
        .y_label_area_size(px(64.0))
        .build_cartesian_2d(-0.5f64..(n as f64 - 0.5), y0..y1)
        .map_err(e)?;
    let y_fmt: &dyn Fn(&f64) -> String = if p.unit == Unit::Count { &integer_label } else { &plain_label };
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(0)
        .light_line_style(TRANSPARENT)
        .bold_line_style(BLACK.mix(0.08))
        .y_label_formatter(y_fmt)
        .x_desc(p.x_label.as_str())
        .label_style((FONT, LABEL_FONT * k))
        .axis_desc_style((FONT, LABEL_FONT * k))
        .draw()
        .map_err(e)?;
    draw_y_desc(area, &p.y_label, desc_font(&p.y_label, area.dim_in_pixel().1, taken, k), &chart, k)?;
    // Group names under the axis, centred on their tick, drawn in pixels (the x axis is
    // continuous).
    for (i, g) in p.groups.iter().enumerate() {
        let (gx, gy) = chart.plotting_area().map_coordinate(&(i as f64, y0));
        let style = TextStyle::from((FONT, LABEL_FONT * k).into_font())
            .pos(text_anchor::Pos::new(text_anchor::HPos::Center, text_anchor::VPos::Top));
        let base = area.get_base_pixel();
        for (j, line) in group_lines(g).into_iter().enumerate() {
            let dy = ((6.0 + line_h * j as f64) * k) as i32;
            area.draw(&Text::new(line.to_string(), (gx - base.0, gy - base.1 + dy), style.clone())).map_err(e)?;
        }
    }
    let stroke = (k.round() as u32).max(1);
    for g in 0..n {
        let present: Vec<(&BarSeries, MeanErr)> =
            p.series.iter().filter_map(|s| s.values.get(g).copied().flatten().map(|v| (s, v))).collect();
        for (i, (s, v)) in present.iter().enumerate() {
            let c = palette.get(&s.name);
            let (x0, x1) = bar_extent(g, i, present.len());
            let (mean, lo, up) = (p.unit.scale(v.mean), p.unit.scale(v.mean - v.err), p.unit.scale(v.mean + v.err));
            let base = y0.max(0.0).min(mean);
            chart.draw_series(std::iter::once(Rectangle::new([(x0, base), (x1, mean)], c.filled()))).map_err(e)?;
            if v.err > 0.0 {
                let (lo, up) = (lo.max(y0), up.min(y1));
                let xm = (x0 + x1) / 2.0;
                let cap = (x1 - x0) * 0.25;
                let lines = [
                    vec![(xm, lo), (xm, up)],
                    vec![(xm - cap, lo), (xm + cap, lo)],
                    vec![(xm - cap, up), (xm + cap, up)],
                ];
                chart
                    .draw_series(lines.into_iter().map(|l| PathElement::new(l, BLACK.stroke_width(stroke))))
                    .map_err(e)?;
            }
        }
    }
    for r in &p.references {
        let c = palette.get(&r.name);
        for (g, v) in r.values.iter().enumerate() {
            let Some(v) = v else { continue };
            let y = p.unit.scale(v.mean);
            let seg = DashedPathElement::new(
                vec![(g as f64 - 0.45, y), (g as f64 + 0.45, y)],
                (6.0 * k) as u32,
                (4.0 * k) as u32,
                c.stroke_width(2 * stroke),
            );
            chart.draw_series(std::iter::once(seg)).map_err(e)?;
        }
    }
    Ok(())
}

fn draw_lines<DB: DrawingBackend>(
    p: &LinePanel,
    area: &DrawingArea<DB, Shift>,
    (y0, y1): (f64, f64),
    palette: &Palette,
    k: f64,
) -> Result<(), String> {
    let e = |e: DrawingAreaErrorKind<DB::ErrorType>| e.to_string();
    let (mut xlo, mut xhi) = (f64::INFINITY, f64::NEG_INFINITY);
    let mut integral_x = true;
    for s in &p.series {
        for x in s.points.iter().map(|p| p.0).chain(s.band.iter().map(|b| b.0)).filter(|x| x.is_finite()) {
            (xlo, xhi) = (xlo.min(x), xhi.max(x));
            integral_x &= (x - x.round()).abs() < 1e-9;
        }
    }
    if !xlo.is_finite() {
        (xlo, xhi) = (0.0, 1.0);
    }
    if xhi <= xlo {
        xhi = xlo + 1.0;
    }
    let px = |v: f64| (v * k).round() as u32;
    let mut chart = ChartBuilder::on(area)
        .caption(&p.title, (FONT, CAPTION_FONT * k))
        .margin(px(10.0))
        // The top tick label stands half its height above the plotting area: room for it under
        // the caption.
        .margin_top(px(10.0 + 0.6 * LABEL_FONT))
        .x_label_area_size(px(45.0))
        .y_label_area_size(px(70.0))
        .build_cartesian_2d(xlo..xhi, y0..y1)
        .map_err(e)?;
    let x_fmt: &dyn Fn(&f64) -> String = if integral_x { &integer_label } else { &plain_label };
    let y_fmt: &dyn Fn(&f64) -> String = if p.unit == Unit::Count { &integer_label } else { &plain_label };
    chart
        .configure_mesh()
        .x_label_formatter(x_fmt)
        .y_label_formatter(y_fmt)
        .x_desc(p.x_label.as_str())
        .label_style((FONT, LABEL_FONT * k))
        .axis_desc_style((FONT, LABEL_FONT * k))
        .light_line_style(TRANSPARENT)
        .bold_line_style(BLACK.mix(0.08))
        .draw()
        .map_err(e)?;
    let font = desc_font(&p.y_label, area.dim_in_pixel().1, CAPTION_FONT * 1.6 + 45.0 + 20.0, k);
    draw_y_desc(area, &p.y_label, font, &chart, k)?;
    let stroke = (k.round() as u32).max(1);
    let u = p.unit;
    // Reference lines first, under the data (drawn over it they hid the curves they are there
    // to compare with).
    for (name, y) in &p.hlines {
        let c = palette.get(name);
        let y = u.scale(*y);
        let line = DashedPathElement::new(
            vec![(xlo, y), (xhi, y)],
            (6.0 * k) as u32,
            (4.0 * k) as u32,
            c.stroke_width(2 * stroke),
        );
        chart.draw_series(std::iter::once(line)).map_err(e)?;
    }
    // Faint raw data next, so smoothed lines are drawn over it.
    let mut order: Vec<&LineSeries> = p.series.iter().filter(|s| s.kind == LineKind::Faint).collect();
    order.extend(p.series.iter().filter(|s| s.kind != LineKind::Faint));
    for s in order {
        let c = palette.get(&s.name);
        let band: Vec<_> = s.band.iter().filter(|(x, l, h)| x.is_finite() && l.is_finite() && h.is_finite()).collect();
        if band.len() > 1 {
            let mut poly: Vec<(f64, f64)> = band.iter().map(|&&(x, _, h)| (x, u.scale(h))).collect();
            poly.extend(band.iter().rev().map(|&&(x, l, _)| (x, u.scale(l))));
            chart.draw_series(std::iter::once(Polygon::new(poly, c.mix(0.2).filled()))).map_err(e)?;
        }
        let pts: Vec<(f64, f64)> =
            s.points.iter().filter(|(x, y)| x.is_finite() && y.is_finite()).map(|&(x, y)| (x, u.scale(y))).collect();
        match s.kind {
            LineKind::Faint => {
                chart
                    .draw_series(plotters::series::LineSeries::new(pts, c.mix(0.3).stroke_width(stroke)))
                    .map_err(e)?;
            }
            LineKind::Markers => {
                chart
                    .draw_series(plotters::series::LineSeries::new(pts.clone(), c.mix(0.6).stroke_width(stroke)))
                    .map_err(e)?;
                chart
                    .draw_series(pts.into_iter().map(|pt| Circle::new(pt, (3.5 * k) as i32, c.filled())))
                    .map_err(e)?;
            }
            LineKind::Line if pts.len() == 1 => {
                chart.draw_series(std::iter::once(Circle::new(pts[0], (4.0 * k) as i32, c.filled()))).map_err(e)?;
            }
            LineKind::Line => {
                chart.draw_series(plotters::series::LineSeries::new(pts, c.stroke_width(2 * stroke))).map_err(e)?;
            }
        }
    }
    Ok(())
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
    /// `vecsim sweep`'s `sweep.csv`.
    Sweep,
}

impl FileKind {
    /// Recognises a table by its columns.
    pub fn of(t: &Table) -> Result<FileKind, PlotError> {
        let has = |c: &str| t.header.iter().any(|h| h == c);
        Ok(if has("experiment") && has("setting") && has("policy") {
            FileKind::Runs
        } else if has("policy") && has("learner_seed") && has("traffic_seed") {
            FileKind::Sweep
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

/// The name of a training run in a legend: its directory for a `curve.csv` (what `vecsim
/// train --checkpoint DIR` names), else the file.
fn run_label(p: &Path) -> String {
    let dir = p.parent().and_then(|d| d.file_name()).map(|s| s.to_string_lossy().into_owned());
    match dir {
        Some(d) if !d.is_empty() && p.file_name().is_some_and(|f| f == "curve.csv") => d,
        _ => file_label(p),
    }
}

/// "scenario paper-noon, policy orl, seed 1" from the `summary.json` that `vecsim run --out`
/// writes beside `slots.csv`, if it is there (a figure's title says what was run, not where the
/// file lies).
fn run_description(slots_csv: &Path) -> Option<String> {
    use std::io::Read as _;
    let path = slots_csv.parent()?.join("summary.json");
    let mut text = String::new();
    // A summary is a few kilobytes: read at most 1 MiB of whatever is there.
    std::fs::File::open(path).ok()?.take(1 << 20).read_to_string(&mut text).ok()?;
    let v: serde_json::Value = serde_json::from_str(&text).ok()?;
    let clean = |s: &str| -> String { s.chars().filter(|c| !c.is_control()).take(80).collect() };
    Some(format!(
        "scenario {}, policy {}, seed {}",
        clean(v.get("scenario")?.as_str()?),
        clean(v.get("policy")?.as_str()?),
        v.get("seed")?.as_u64()?
    ))
}

/// The figure of a `slots.csv`: completion rate and potential per slot, and task outcomes per
/// slot (completed, missed deadline, uncovered, dropped), last: next to the legend, which only
/// its lines need.
pub fn slots_figure(t: &Table) -> Result<Figure, PlotError> {
    non_empty(t)?;
    let slot = t.column("slot")?;
    let line = |name: &str, col: &str| -> Result<LineSeries, PlotError> {
        Ok(LineSeries::line(name, slot.iter().copied().zip(t.column(col)?).collect()))
    };
    let mut dropped = vec![0.0; t.rows.len()];
    for c in ["dropped_vehicle_dropout", "dropped_rsu_down", "dropped_message_lost"] {
        for (d, v) in dropped.iter_mut().zip(t.column(c)?) {
            *d += if v.is_finite() { v } else { 0.0 };
        }
    }
    let what = run_description(&t.path).unwrap_or_else(|| file_label(&t.path));
    Ok(Figure {
        title: format!("Per slot: {what}"),
        panels: vec![
            Panel::Lines(LinePanel {
                title: "Task completion rate".into(),
                x_label: "slot".into(),
                y_label: label::COMPLETION.into(),
                unit: Unit::Fraction,
                series: vec![line("completion rate", "completion_rate")?],
                hlines: vec![],
            }),
            Panel::Lines(LinePanel {
                title: "Potential F (eq. 18)".into(),
                x_label: "slot".into(),
                y_label: label::POTENTIAL.into(),
                unit: Unit::Plain,
                series: vec![line("potential", "potential")?],
                hlines: vec![],
            }),
            Panel::Lines(LinePanel {
                title: "Task outcomes".into(),
                x_label: "slot".into(),
                y_label: "tasks per slot".into(),
                unit: Unit::Count,
                series: vec![
                    line("completed", "completed")?,
                    line("missed deadline", "missed_deadline")?,
                    line("uncovered", "uncovered")?,
                    LineSeries::line("dropped (faults)", slot.iter().copied().zip(dropped).collect()),
                ],
                hlines: vec![],
            }),
        ],
    })
}

/// The baselines of a `compare --csv` file as reference lines for learning curves: the mean
/// completion rate (a fraction) of every policy that is not a trained learner, over its seeds.
pub fn baseline_rates(t: &Table) -> Result<Vec<(String, f64)>, PlotError> {
    let (pc, rc) = (t.col("policy")?, t.col("completion_rate")?);
    let mut out: Vec<(String, Vec<f64>)> = Vec::new();
    for r in 0..t.rows.len() {
        let p = t.text(r, pc);
        if p.contains('#') || ["fed-maddpg", "maddpg", "masac"].contains(&p) {
            continue;
        }
        let v = t.num(r, rc)?;
        match out.iter_mut().find(|(n, _)| n == p) {
            Some((_, vs)) => vs.push(v),
            None => out.push((p.to_string(), vec![v])),
        }
    }
    Ok(out.into_iter().filter_map(|(n, v)| MeanErr::of(&v).map(|m| (n, m.mean))).collect())
}

/// The figure of one or more learning curves, overlaid: cumulative reward and completion rate
/// per episode. With `sigma > 0` each is Gaussian-smoothed over `sigma` episodes and the raw
/// data stays, faint, underneath; the greedy evaluations on held-out traffic (`eval_*`
/// columns, every K episodes) are dots; `baselines` (`(policy, completion rate)`, e.g. from
/// [`baseline_rates`]) are dashed lines on the completion-rate panel.
pub fn curves_figure(tables: &[Table], sigma: f64, baselines: &[(String, f64)]) -> Result<Figure, PlotError> {
    let mut reward = Vec::new();
    let mut rate = Vec::new();
    let mut names = Vec::new();
    for t in tables {
        non_empty(t)?;
        let ep = t.column("episode")?;
        let name = run_label(&t.path);
        names.push(name.clone());
        for (panel, col, eval) in [
            (&mut reward, "cumulative_reward", "eval_cumulative_reward"),
            (&mut rate, "completion_rate", "eval_completion_rate"),
        ] {
            let y = t.column(col)?;
            if sigma > 0.0 {
                panel.push(LineSeries {
                    name: name.clone(),
                    points: ep.iter().copied().zip(y.iter().copied()).collect(),
                    band: vec![],
                    kind: LineKind::Faint,
                });
            }
            let y = gaussian_smooth(&y, sigma);
            panel.push(LineSeries::line(name.clone(), ep.iter().copied().zip(y).collect()));
            if t.header.iter().any(|h| h == eval) {
                let e: Vec<(f64, f64)> =
                    ep.iter().copied().zip(t.column(eval)?).filter(|(x, y)| x.is_finite() && y.is_finite()).collect();
                if !e.is_empty() {
                    panel.push(LineSeries {
                        name: format!("{name} (greedy eval)"),
                        points: e,
                        band: vec![],
                        kind: LineKind::Markers,
                    });
                }
            }
        }
    }
    let smoothed = if sigma > 0.0 {
        format!("; Gaussian-smoothed, σ = {sigma} episodes (raw data faint)")
    } else {
        String::new()
    };
    let mut shown = names.join(", ");
    if shown.chars().count() > 80 {
        shown = format!("{} runs", names.len());
    }
    Ok(Figure {
        title: format!("Learning curves: {shown} (dots: greedy evaluation on held-out traffic){smoothed}"),
        panels: vec![
            Panel::Lines(LinePanel {
                title: "Cumulative reward per episode".into(),
                x_label: "episode (training iteration)".into(),
                y_label: label::CUMULATIVE_REWARD.into(),
                unit: Unit::Plain,
                series: reward,
                hlines: vec![],
            }),
            Panel::Lines(LinePanel {
                title: "Task completion rate per episode".into(),
                x_label: "episode (training iteration)".into(),
                y_label: label::COMPLETION.into(),
                unit: Unit::Fraction,
                series: rate,
                hlines: baselines.to_vec(),
            }),
        ],
    })
}

/// The policy a `compare` row pools into: `NAME#TAG` (one checkpoint of a learner, e.g. one
/// learner seed) counts as `NAME`.
fn pooled(policy: &str) -> &str {
    policy.split('#').next().unwrap_or(policy)
}

/// The figure of `vecsim compare --csv` output: completion rate, average realized potential and
/// cumulative reward per policy, mean and standard deviation over seeds. Tagged checkpoints of
/// one learner (`fed-maddpg#1`, `fed-maddpg#2`, …) are pooled into one bar whose error bar
/// spans every (checkpoint, seed) run, as the evidence tables report them.
pub fn compare_figure(t: &Table) -> Result<Figure, PlotError> {
    non_empty(t)?;
    let pc = t.col("policy")?;
    let mut policies: Vec<String> = Vec::new();
    let mut tags: Vec<(String, Vec<String>)> = Vec::new();
    for r in 0..t.rows.len() {
        let full = t.text(r, pc);
        let p = pooled(full).to_string();
        if !policies.contains(&p) {
            policies.push(p.clone());
            tags.push((p.clone(), Vec::new()));
        }
        if let Some((_, ts)) = tags.iter_mut().find(|(n, _)| *n == p) {
            if !ts.iter().any(|x| x == full) {
                ts.push(full.to_string());
            }
        }
    }
    let groups: Vec<String> = tags
        .iter()
        .map(|(p, ts)| if ts.len() > 1 { format!("{p} ({} checkpoints)", ts.len()) } else { p.clone() })
        .collect();
    let seeds = t.column("seed")?;
    let n_seeds = {
        let mut s: Vec<u64> = seeds.iter().filter(|x| x.is_finite()).map(|x| *x as u64).collect();
        s.sort_unstable();
        s.dedup();
        s.len()
    };
    let panel = |col: &str, title: &str, y_label: &str, unit: Unit| -> Result<Panel, PlotError> {
        let y = t.column(col)?;
        let series = policies
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let v: Vec<f64> = (0..t.rows.len()).filter(|&r| pooled(t.text(r, pc)) == p).map(|r| y[r]).collect();
                let mut values = vec![None; policies.len()];
                values[i] = MeanErr::of(&v);
                BarSeries { name: p.clone(), values }
            })
            .collect();
        Ok(Panel::Bars(BarPanel {
            title: title.into(),
            x_label: "policy".into(),
            y_label: y_label.into(),
            unit,
            groups: groups.clone(),
            series,
            references: vec![],
        }))
    };
    // Named by what was compared (the `scenario` and `slots` columns, when the file has them),
    // not by the file's path.
    let distinct_of = |name: &str| -> Option<String> {
        let c = t.col(name).ok()?;
        let mut v: Vec<&str> = Vec::new();
        for r in 0..t.rows.len() {
            if !v.contains(&t.text(r, c)) {
                v.push(t.text(r, c));
            }
        }
        Some(v.join(", "))
    };
    let title = match (distinct_of("scenario"), distinct_of("slots")) {
        (Some(sc), Some(sl)) => {
            format!("Policies compared on {sc} ({sl} slots) over {n_seeds} traffic seed(s), mean ± sd")
        }
        (Some(sc), None) => format!("Policies compared on {sc} over {n_seeds} traffic seed(s), mean ± sd"),
        _ => format!("Policies compared over {n_seeds} traffic seed(s), mean ± sd ({})", file_label(&t.path)),
    };
    Ok(Figure {
        title,
        panels: vec![
            panel(
                "completion_rate",
                "Task completion rate",
                &label::with(label::COMPLETION, "mean ± sd"),
                Unit::Fraction,
            )?,
            panel(
                "average_realized_potential",
                "Average realized potential",
                &label::with(label::REALIZED_POTENTIAL, "mean ± sd"),
                Unit::Plain,
            )?,
            panel(
                "cumulative_reward",
                "Cumulative reward",
                &label::with(label::CUMULATIVE_REWARD, "mean ± sd"),
                Unit::Plain,
            )?,
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
                    unit: Unit::Fraction,
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
                    unit: Unit::Plain,
                    series: vec![LineSeries {
                        name: "fed-maddpg".into(),
                        points: vec![(1.0, 1.0), (2.0, 2.0)],
                        band: vec![(1.0, 0.5, 1.5), (2.0, 1.5, 2.5)],
                        kind: LineKind::Line,
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

    #[test]
    fn bars_sit_on_their_ticks() {
        // A lone bar in its group is centred exactly on the group's tick.
        let (x0, x1) = bar_extent(7, 0, 1);
        assert!(((x0 + x1) / 2.0 - 7.0).abs() < 1e-12 && (x1 - x0 - 0.72).abs() < 1e-12, "{x0} {x1}");
        // Five bars: the row spans 0.8 around the tick, bars do not overlap, the row is centred.
        let ext: Vec<(f64, f64)> = (0..5).map(|i| bar_extent(2, i, 5)).collect();
        let (first, last) = (ext[0].0 - 0.05 * 0.16, ext[4].1 + 0.05 * 0.16);
        assert!((first - 1.6).abs() < 1e-12 && (last - 2.4).abs() < 1e-12, "{first} {last}");
        assert!(ext.windows(2).all(|w| w[0].1 < w[1].0));
    }

    #[test]
    fn colours_never_repeat_and_policies_keep_theirs() {
        let mut keys: Vec<String> =
            ["fed-maddpg", "maddpg", "masac", "orm", "orl", "br-ne", "random"].map(String::from).to_vec();
        keys.extend((0..10).map(|i| format!("mine-{i}")));
        let p = Palette::for_keys(&keys);
        let mut cs: Vec<(u8, u8, u8)> = p.names.iter().map(|(_, c)| (c.0, c.1, c.2)).collect();
        cs.sort_unstable();
        cs.dedup();
        assert_eq!(cs.len(), 17, "17 names, 17 colours");
        // The same policy has the same colour whatever else the figure holds, and its greedy
        // evaluation or reference line shares it.
        let q = Palette::for_keys(&["mine-0".to_string(), "orl".to_string()]);
        assert_eq!(q.get("orl"), p.get("orl"));
        assert_eq!(p.get("fed-maddpg (greedy eval)"), p.get("fed-maddpg"));
        assert_eq!(colour_key("fed-2 (greedy eval)"), "fed-2");
    }

    #[test]
    fn tagged_checkpoints_pool_into_one_bar() {
        let csv = "policy,seed,completion_rate,cumulative_reward,average_realized_potential,migrations\n\
                   orl,1,0.30,10,1,0\norl,2,0.40,12,1,0\n\
                   fed-maddpg#1,1,0.50,20,2,5\nfed-maddpg#1,2,0.60,22,2,5\n\
                   fed-maddpg#2,1,0.70,24,2,5\nfed-maddpg#2,2,0.80,26,2,5\n";
        let t = Table::parse(Path::new("cmp.csv"), csv).unwrap();
        let fig = compare_figure(&t).unwrap();
        let Panel::Bars(b) = &fig.panels[0] else { panic!("bars") };
        assert_eq!(b.groups, vec!["orl".to_string(), "fed-maddpg (2 checkpoints)".to_string()]);
        assert_eq!(b.unit, Unit::Fraction);
        let v = b.series[1].values[1].unwrap();
        // Mean of 0.5, 0.6, 0.7, 0.8 is 0.65; sample sd sqrt(((.15)²+(.05)²+(.05)²+(.15)²)/3) = sqrt(0.05/3).
        assert!((v.mean - 0.65).abs() < 1e-12 && (v.err - (0.05f64 / 3.0).sqrt()).abs() < 1e-12, "{v:?}");
        assert!(fig.legend().is_empty(), "one bar per group: the tick labels name them");
        // Learners are not baselines; orl's mean rate is one.
        assert_eq!(baseline_rates(&t).unwrap(), vec![("orl".to_string(), 0.35)]);
    }

    #[test]
    fn axes_fit_their_unit_and_panels_of_a_quantity_share_one_range() {
        assert_eq!(y_range(Unit::Fraction, 0.2, 0.9, true), (0.0, 100.0));
        assert_eq!(y_range(Unit::Count, 0.0, 3.0, false), (0.0, 4.0));
        let lines = |y: f64| {
            Panel::Lines(LinePanel {
                title: "t".into(),
                x_label: "x".into(),
                y_label: "reward".into(),
                unit: Unit::Plain,
                series: vec![LineSeries::line("a", vec![(0.0, y), (1.0, y + 1.0)])],
                hlines: vec![],
            })
        };
        let fig = Figure { title: "f".into(), panels: vec![lines(0.0), lines(10.0)] };
        let r = fig.shared_ranges();
        assert_eq!(r[0], r[1]);
        assert!(r[0].0 <= 0.0 && r[0].1 >= 11.0, "{r:?}");
        assert_eq!(integer_label(&2.5), "");
        assert_eq!(integer_label(&3.0), "3");
        assert_eq!(plain_label(&4.5), "4.5");
        assert_eq!(plain_label(&0.25), "0.25");
    }

    #[test]
    fn curves_show_raw_smoothed_evaluations_and_baselines() {
        let csv = "episode,cumulative_reward,completion_rate,eval_completion_rate,eval_cumulative_reward\n\
                   1,1,0.1,,\n2,2,0.2,0.5,5\n3,3,0.3,,\n4,4,0.4,0.6,6\n";
        let t = Table::parse(Path::new("runs/fed/curve.csv"), csv).unwrap();
        let fig = curves_figure(&[t], 1.0, &[("orm".into(), 0.45)]).unwrap();
        let Panel::Lines(rate) = &fig.panels[1] else { panic!("lines") };
        let kinds: Vec<(&str, LineKind)> = rate.series.iter().map(|s| (s.name.as_str(), s.kind)).collect();
        assert_eq!(
            kinds,
            vec![("fed", LineKind::Faint), ("fed", LineKind::Line), ("fed (greedy eval)", LineKind::Markers)]
        );
        assert_eq!(rate.series[2].points, vec![(2.0, 0.5), (4.0, 0.6)]);
        assert_eq!(rate.hlines, vec![("orm".to_string(), 0.45)]);
        assert_eq!(rate.unit, Unit::Fraction);
        assert!(fig.title.contains("fed") && fig.title.contains("σ = 1"), "{}", fig.title);
    }

    #[test]
    fn render_options_are_bounded() {
        assert!(RenderOptions::default().validate().is_ok());
        for name in ["screen", "paper", "slide"] {
            assert!(RenderOptions::preset(name).unwrap().validate().is_ok(), "{name}");
        }
        assert!(RenderOptions::preset("poster").is_none());
        assert!(RenderOptions { panel_in: (6.2, 4.4), dpi: 1e9 }.validate().unwrap_err().contains("pixels"));
        assert!(RenderOptions { panel_in: (0.0, 4.4), dpi: 100.0 }.validate().is_err());
        assert!(RenderOptions { panel_in: (6.2, f64::NAN), dpi: 100.0 }.validate().is_err());
        assert_eq!(wrap("aa bb cc", 5), vec!["aa bb", "cc"]);
    }

    /// A `slots.csv` of two slots, with every column [`slots_figure`] reads.
    const SLOTS_CSV: &str = "slot,completion_rate,potential,completed,missed_deadline,uncovered,\
                             dropped_vehicle_dropout,dropped_rsu_down,dropped_message_lost\n\
                             0,0.5,1.5,3,3,0,0,0,0\n1,0.75,2.0,6,1,1,0,1,0\n";

    #[test]
    fn labels_are_words_with_units_and_titles_name_the_run_not_the_file() {
        // A run directory: the title comes from the summary.json beside the slots.csv.
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("summary.json"), r#"{"scenario": "paper-noon", "policy": "orl", "seed": 3}"#)
            .unwrap();
        let slots = slots_figure(&Table::parse(&dir.path().join("slots.csv"), SLOTS_CSV).unwrap()).unwrap();
        assert_eq!(slots.title, "Per slot: scenario paper-noon, policy orl, seed 3");
        let curve = "episode,cumulative_reward,completion_rate\n1,1,0.1\n2,2,0.2\n";
        let curves = curves_figure(&[Table::parse(Path::new("runs/fed/curve.csv"), curve).unwrap()], 0.0, &[]).unwrap();
        let cmp = "scenario,slots,policy,seed,completion_rate,cumulative_reward,average_realized_potential\n\
                   paper-noon,300,orl,1,0.3,10,1\npaper-noon,300,orl,2,0.4,12,1\n";
        let compared = compare_figure(&Table::parse(Path::new("out/cmp.csv"), cmp).unwrap()).unwrap();
        assert_eq!(compared.title, "Policies compared on paper-noon (300 slots) over 2 traffic seed(s), mean ± sd");
        for fig in [&slots, &curves, &compared] {
            for p in &fig.panels {
                let (x, y) = match p {
                    Panel::Bars(b) => (&b.x_label, &b.y_label),
                    Panel::Lines(l) => (&l.x_label, &l.y_label),
                };
                for text in [x, y] {
                    assert!(!text.contains(['_', '^']), "`{text}` in `{}` reads as markup", fig.title);
                }
                if p.unit() == Unit::Fraction {
                    assert!(y.contains("(%"), "a rate's axis says it is in percent: {y}");
                }
            }
            assert!(!fig.title.contains(".csv"), "{}", fig.title);
        }
        assert_eq!(label::with(label::COMPLETION, "mean ± sd"), "completed / uploaded tasks (%, mean ± sd)");
        assert_eq!(label::with("reward", "mean ± sd"), "reward (mean ± sd)");
        // Without scenario columns the file is named, after the description.
        let old = "policy,seed,completion_rate,cumulative_reward,average_realized_potential\norl,1,0.3,10,1\n";
        let t = compare_figure(&Table::parse(Path::new("out/cmp.csv"), old).unwrap()).unwrap().title;
        assert!(t.starts_with("Policies compared over 1 traffic seed(s)") && t.ends_with("(out/cmp.csv)"), "{t}");
    }

    #[test]
    fn only_panels_with_several_lines_fill_the_legend_and_it_sits_next_to_them() {
        let fig = slots_figure(&Table::parse(Path::new("slots.csv"), SLOTS_CSV).unwrap()).unwrap();
        let names: Vec<String> = fig.legend().into_iter().map(|(n, _)| n).collect();
        assert_eq!(names, ["completed", "missed deadline", "uncovered", "dropped (faults)"]);
        // The panel the legend is for is the last one, beside the legend strip.
        let Some(Panel::Lines(last)) = fig.panels.last() else { panic!("lines") };
        assert_eq!(last.title, "Task outcomes");
        assert_eq!(last.unit, Unit::Count);
        // The dropped line sums the three fault columns: 0, then 1.
        assert_eq!(last.series[3].points, vec![(0.0, 0.0), (1.0, 1.0)]);
    }

    #[test]
    fn error_bars_of_a_non_negative_quantity_do_not_take_its_axis_below_zero() {
        let bars = |mean: f64| {
            Panel::Bars(BarPanel {
                title: "t".into(),
                x_label: "x".into(),
                y_label: "potential".into(),
                unit: Unit::Plain,
                groups: vec!["a".into()],
                series: vec![BarSeries { name: "orl".into(), values: vec![Some(MeanErr { mean, err: 3.0 })] }],
                references: vec![],
            })
        };
        // 1 ± 3: the bar's whisker would reach -2; the axis stops at 0 and reaches 4.
        assert_eq!(bars(1.0).y_extent(), Some((0.0, 4.0)));
        let fig = Figure { title: "f".into(), panels: vec![bars(1.0)] };
        assert_eq!(fig.shared_ranges()[0].0, 0.0);
        // A negative mean keeps its whole error bar: -1 ± 3 spans -4 to 2.
        assert_eq!(bars(-1.0).y_extent(), Some((-4.0, 2.0)));
    }

    #[test]
    fn reference_lines_are_drawn_under_the_curves() {
        let dir = tempfile::tempdir().unwrap();
        let fig = Figure {
            title: "refs".into(),
            panels: vec![Panel::Lines(LinePanel {
                title: "rate".into(),
                x_label: "episode".into(),
                y_label: label::COMPLETION.into(),
                unit: Unit::Fraction,
                series: vec![LineSeries::line("fed-maddpg", vec![(1.0, 0.4), (2.0, 0.5)])],
                hlines: vec![("orl".into(), 0.45)],
            })],
        };
        let [_, svg] = fig.render(&dir.path().join("f")).unwrap();
        let svg = std::fs::read_to_string(svg).unwrap();
        let hex = |c: RGBColor| format!("#{:02X}{:02X}{:02X}", c.0, c.1, c.2);
        let p = Palette::for_figure(&fig);
        let (reference, curve) = (hex(p.get("orl")), hex(p.get("fed-maddpg")));
        let at = |c: &str| svg.find(c).unwrap_or_else(|| panic!("{c} not drawn"));
        assert!(at(&reference) < at(&curve), "the orl reference ({reference}) is drawn after the curve ({curve})");
    }

    #[test]
    fn a_long_y_label_shrinks_to_fit_its_axis_and_a_short_one_keeps_its_size() {
        // `--style paper`: 2.6 inch panels at 300 dpi (k = 3), 780 pixels high; caption, x labels
        // and margins take 100 design pixels (300 pixels), leaving 0.95 × 480 = 456 pixels.
        let long = label::COMPLETION;
        let f = desc_font(long, 780, 100.0, 3.0);
        assert!(f < LABEL_FONT * 3.0, "{f}");
        assert!((text_px(long, f) - 456.0).abs() < 1e-9, "{} pixels of text on a 456-pixel axis", text_px(long, f));
        assert_eq!(desc_font("reward", 780, 100.0, 3.0), LABEL_FONT * 3.0);
        // Never below 60 % of the label size, however long.
        assert_eq!(desc_font(&"x".repeat(500), 780, 100.0, 3.0), 0.6 * LABEL_FONT * 3.0);
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
