//! The per-run rows of an experiment, as CSV: written one row at a time as runs finish, and read
//! back so that an interrupted experiment resumes where it stopped.

use super::ExperimentError;
use crate::plot::Table;
use std::io::Write as _;
use std::path::Path;

/// Header of an experiment's runs CSV.
pub const RUNS_HEADER: &str = "experiment,budget,setting,window,x,policy,learner_seed,traffic_seed,slots,\
completion_rate,cumulative_reward,average_realized_potential,migrations,train_episodes,train_s,wall_s";

/// One run: a policy evaluated on one traffic seed in one setting.
#[derive(Clone, Debug, PartialEq)]
pub struct RunRow {
    /// `traffic`, `aggregation`, `capacity` or `convergence`.
    pub experiment: String,
    /// The budget profile's name.
    pub budget: String,
    /// The setting (unique within the experiment), e.g. `noon`, `noon alpha=500`.
    pub setting: String,
    /// The traffic window (`evening`, `morning`, `noon`).
    pub window: String,
    /// The setting's value on the figure's x axis (window index, paper α_tg, mean RSU GHz).
    pub x: f64,
    /// The policy.
    pub policy: String,
    /// The learner's training seed (`None` for baselines).
    pub learner_seed: Option<u64>,
    /// The evaluation traffic seed.
    pub traffic_seed: u64,
    /// Slots simulated.
    pub slots: u32,
    /// Completed / uploaded tasks (`None` without any covered task).
    pub completion_rate: Option<f64>,
    /// `Σ_t F^t`.
    pub cumulative_reward: f64,
    /// `Σ_e Σ_t r_e^t / E`.
    pub average_realized_potential: f64,
    /// Wired migrations.
    pub migrations: u64,
    /// Training episodes behind the policy (0 for baselines).
    pub train_episodes: u32,
    /// Wall time of the training behind the policy, seconds (0 for baselines).
    pub train_s: f64,
    /// Wall time of the evaluation run, seconds.
    pub wall_s: f64,
}

/// What identifies a run, for resuming.
pub type RunKey = (String, String, Option<u64>, u64);

impl RunRow {
    /// (setting, policy, learner seed, traffic seed).
    pub fn key(&self) -> RunKey {
        (self.setting.clone(), self.policy.clone(), self.learner_seed, self.traffic_seed)
    }

    /// The row as a CSV line (no newline).
    pub fn csv_line(&self) -> String {
        format!(
            "{},{},{},{},{},{},{},{},{},{},{},{},{},{},{:.3},{:.3}",
            self.experiment,
            self.budget,
            self.setting,
            self.window,
            self.x,
            self.policy,
            self.learner_seed.map_or(String::new(), |s| s.to_string()),
            self.traffic_seed,
            self.slots,
            self.completion_rate.map_or(String::new(), |r| r.to_string()),
            self.cumulative_reward,
            self.average_realized_potential,
            self.migrations,
            self.train_episodes,
            self.train_s,
            self.wall_s
        )
    }
}

/// Reads the rows of a runs CSV (a [`Table`] with [`RUNS_HEADER`]'s columns).
pub fn rows_of(t: &Table) -> Result<Vec<RunRow>, ExperimentError> {
    let want: Vec<&str> = RUNS_HEADER.split(',').collect();
    if t.header != want {
        return Err(ExperimentError::Runs {
            path: t.path.clone(),
            message: format!("its header is not `{RUNS_HEADER}`"),
        });
    }
    let mut rows = Vec::new();
    for r in 0..t.rows.len() {
        let n = |c: usize| t.num(r, c);
        let opt_u = |c: usize| -> Result<Option<u64>, ExperimentError> {
            let v = n(c)?;
            Ok(v.is_finite().then_some(v as u64))
        };
        let rate = n(9)?;
        // A reused row is trusted as a result: refuse what no run can have written.
        let line = t.rows[r].0;
        let bad = |col: usize, v: f64, what: &str| ExperimentError::Runs {
            path: t.path.clone(),
            message: format!("line {line}: {} = {v} is not {what}; delete the line to redo its run", want[col]),
        };
        if rate.is_finite() && !(0.0..=1.0).contains(&rate) {
            return Err(bad(9, rate, "a rate in [0, 1]"));
        }
        for c in [7, 8, 12, 13] {
            let v = n(c)?;
            if !(v.is_finite() && v >= 0.0 && v.fract() == 0.0 && v <= u64::MAX as f64) {
                return Err(bad(c, v, "a whole number >= 0"));
            }
        }
        for c in [8, 13] {
            let v = n(c)?;
            if v > u32::MAX as f64 {
                return Err(bad(c, v, "a count below 2^32"));
            }
        }
        for c in [14, 15] {
            let v = n(c)?;
            if !(v.is_finite() && v >= 0.0) {
                return Err(bad(c, v, "a duration in seconds >= 0"));
            }
        }
        rows.push(RunRow {
            experiment: t.text(r, 0).to_string(),
            budget: t.text(r, 1).to_string(),
            setting: t.text(r, 2).to_string(),
            window: t.text(r, 3).to_string(),
            x: n(4)?,
            policy: t.text(r, 5).to_string(),
            learner_seed: opt_u(6)?,
            traffic_seed: n(7)? as u64,
            slots: n(8)? as u32,
            completion_rate: rate.is_finite().then_some(rate),
            cumulative_reward: n(10)?,
            average_realized_potential: n(11)?,
            migrations: n(12)? as u64,
            train_episodes: n(13)? as u32,
            train_s: n(14)?,
            wall_s: n(15)?,
        });
    }
    Ok(rows)
}

/// Reads a runs CSV if it exists (empty otherwise).
pub fn load(path: &Path) -> Result<Vec<RunRow>, ExperimentError> {
    if !path.exists() {
        return Ok(Vec::new());
    }
    let io = |source| ExperimentError::Io { path: path.to_path_buf(), source };
    let text = vecsim_core::bounded::read_to_string(path, vecsim_core::bounded::TABLE_CAP, "CSV files", "")
        .map_err(|e| io(e.into_io()))?;
    // A row cut off by an interruption (no newline yet) is dropped; the run is redone.
    let whole = match text.rfind('\n') {
        Some(i) if i + 1 < text.len() => &text[..i + 1],
        Some(_) => &text[..],
        None => "",
    };
    if whole.len() != text.len() {
        std::fs::write(path, whole).map_err(io)?;
    }
    if whole.trim().is_empty() {
        return Ok(Vec::new());
    }
    let t = Table::parse(path, whole)?;
    rows_of(&t)
}

/// Appends one row (writing the header first into a new file) and flushes it to disk, so that a
/// run that finished is never lost to an interruption.
pub fn append(path: &Path, row: &RunRow) -> Result<(), ExperimentError> {
    let io = |source| ExperimentError::Io { path: path.to_path_buf(), source };
    let new = !path.exists() || std::fs::metadata(path).map(|m| m.len() == 0).unwrap_or(true);
    let mut f = std::fs::OpenOptions::new().create(true).append(true).open(path).map_err(io)?;
    let mut text = String::new();
    if new {
        text.push_str(RUNS_HEADER);
        text.push('\n');
    }
    text.push_str(&row.csv_line());
    text.push('\n');
    f.write_all(text.as_bytes()).map_err(io)?;
    f.sync_data().map_err(io)
}
