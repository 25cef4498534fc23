//! `vecsim sweep`: one scenario with keys over lists of values (the Cartesian product of every
//! `--set KEY=A,B,C`), policies and learners (checkpoints, or trained in the sweep), several
//! traffic and learner seeds, in parallel, into one tidy CSV and a figure.
//!
//! Values are written into the scenario's TOML text **before** it is parsed, so a setting is
//! exactly the scenario file one would get by editing that key, validated by the same rules
//! (unknown keys, ranges) as any file; every setting and every run is validated before the
//! first one starts. A run of a baseline or a checkpoint is `vecsim run SETTING --policy P
//! --seed T [--slots N] [--checkpoint DIR]` on the sequential engine, number for number.
//!
//! Learners trained in the sweep are set up by [`crate::training`] as `vecsim train --budget B`
//! sets them up (the one list of budgets, [`Budget`]: networks, episodes, slots per training
//! episode, schedule), with `[learning]` keys given by `--set` winning over the budget; they
//! are trained once per (setting, learner, learner seed) into `OUT/train/` (with a `run.toml`
//! each) and evaluated from their checkpoint.
//!
//! Determinism: every run is independent and runs on its own sequential engine, learners train
//! with one thread each, and the CSV is rewritten in plan order at the end, so `--jobs` changes
//! only the wall time, never a byte of `sweep.csv`. Resume: rows are appended (and synced) as
//! runs finish; the same command again computes only the missing ones. `OUT/sweep-plan.txt`
//! records the plan, and a different plan in the same directory is refused.

use crate::pipeline::{self, Limits, PipelineError, ScenarioRef};
use crate::plot::{label, BarPanel, BarSeries, Figure, MeanErr, Panel, PlotError, Table, Unit};
use crate::presets::Preset;
use crate::training::{Resolved, TrainSpec, TrainingError};
use std::collections::HashMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;
use vecsim_core::observer::NoObserver;
use vecsim_core::overrides::Overrides;
use vecsim_core::policy::PolicyName;
use vecsim_core::report::Summary;
use vecsim_core::{Scenario, ScenarioError, Sequential};
use vecsim_learn::train::{self as trainer, TrainError};
use vecsim_learn::Budget;
use vecsim_learn::RewardSignal;

/// The runs CSV in the output directory.
pub const CSV_FILE: &str = "sweep.csv";
/// The plan of the sweep that wrote the output directory.
pub const PLAN_FILE: &str = "sweep-plan.txt";
/// The metric columns after the varied keys.
pub const FIXED_COLUMNS: &str =
    "policy,learner_seed,traffic_seed,slots,completion_rate,cumulative_reward,average_realized_potential,migrations";

/// Why a sweep could not run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SweepError {
    /// A `--set` argument that is not `KEY=VALUE[,VALUE...]`, or a key that cannot be set.
    #[error("--set {arg}: {message}")]
    Set {
        /// The argument as given.
        arg: String,
        /// What is wrong.
        message: String,
    },
    /// A setting (the scenario with some `--set` values) is not a valid scenario.
    #[error("--set {assignment}")]
    Setting {
        /// The values of the setting, `KEY=VALUE ...`.
        assignment: String,
        /// Why the scenario is invalid (names the key).
        #[source]
        source: Box<ScenarioError>,
    },
    /// Loading a scenario, a checkpoint, or a run failed.
    #[error("{what}")]
    Pipeline {
        /// Which setting, policy or run.
        what: String,
        /// Why.
        #[source]
        source: Box<PipelineError>,
    },
    /// Training a learner failed.
    #[error("training {what}")]
    Train {
        /// Which training.
        what: String,
        /// Why.
        #[source]
        source: Box<TrainError>,
    },
    /// A flag's value that cannot be used.
    #[error("{flag}: {message}")]
    Invalid {
        /// The flag.
        flag: &'static str,
        /// What is wrong.
        message: String,
    },
    /// The output directory holds another sweep.
    #[error(
        "{} holds another sweep ({}); give another --out, or remove the directory",
        path.display(),
        difference
    )]
    OtherPlan {
        /// The plan file.
        path: PathBuf,
        /// The first line that differs.
        difference: String,
    },
    /// A runs CSV that is not this sweep's.
    #[error("{}: {message}", path.display())]
    Runs {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// A file could not be read or written.
    #[error("{}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// Drawing the figure failed.
    #[error(transparent)]
    Plot(#[from] PlotError),
}

impl SweepError {
    /// Whether the error is in the user's input (exit code 2).
    pub fn is_bad_input(&self) -> bool {
        match self {
            SweepError::Set { .. }
            | SweepError::Setting { .. }
            | SweepError::Invalid { .. }
            | SweepError::OtherPlan { .. }
            | SweepError::Runs { .. } => true,
            SweepError::Pipeline { source, .. } => source.is_bad_input(),
            SweepError::Plot(p) => p.is_bad_input(),
            SweepError::Train { .. } | SweepError::Io { .. } => false,
        }
    }
}

/// One value of a swept key: the text as given and the TOML value it stands for.
#[derive(Clone, Debug, PartialEq)]
pub struct SetValue {
    /// The value as written on the command line, trimmed (e.g. `[1,4]`).
    pub text: String,
    /// The TOML value written into the scenario.
    pub value: toml::Value,
}

impl SetValue {
    /// The value as a CSV field: its commas written as `;` (`[1;4]`), so that the CSV needs no
    /// quoting and `vecsim plot`'s reader splits it right.
    pub fn csv(&self) -> String {
        self.text.replace(',', ";")
    }
}

/// One `--set KEY=A,B,C`: a dotted TOML key and its values.
#[derive(Clone, Debug, PartialEq)]
pub struct SetKey {
    /// The dotted key, e.g. `rsus.cpu_ghz`, `learning.gamma`.
    pub key: String,
    /// Its values, in the order given.
    pub values: Vec<SetValue>,
}

/// Splits a value list at the commas and semicolons that are outside brackets, braces and
/// quotes: `[1,4];[3,10]` and `[1,4],[3,10]` are two arrays, `0,0.9` two numbers.
pub fn split_values(list: &str) -> Vec<String> {
    let (mut out, mut cur, mut depth, mut quote) = (Vec::new(), String::new(), 0i32, None::<char>);
    for c in list.chars() {
        match (quote, c) {
            (Some(q), _) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '"' | '\'') => quote = Some(c),
            (None, '[' | '{') => depth += 1,
            (None, ']' | '}') => depth -= 1,
            (None, ',' | ';') if depth == 0 => {
                out.push(std::mem::take(&mut cur).trim().to_string());
                continue;
            }
            _ => {}
        }
        cur.push(c);
    }
    out.push(cur.trim().to_string());
    out
}

/// A value as TOML (`4`, `0.9`, `[1, 4]`, `"uniform"`, `true`); anything that is not a TOML
/// value is taken as a bare string (`orl`, `uniform`).
pub fn parse_value(text: &str) -> toml::Value {
    match format!("v = {text}").parse::<toml::Table>() {
        Ok(mut t) => t.remove("v").unwrap_or_else(|| toml::Value::String(text.to_string())),
        Err(_) => toml::Value::String(text.to_string()),
    }
}

/// Keys a sweep sets through its own flags, not `--set`.
const OWN_FLAGS: [(&str, &str); 2] =
    [("seed", "--seeds N or --seed-list"), ("policy", "--policies, --train or --checkpoint")];

/// Parses `KEY=A,B,C` (see [`split_values`]).
pub fn parse_set(arg: &str) -> Result<SetKey, SweepError> {
    let err = |message: String| SweepError::Set { arg: arg.to_string(), message };
    let (key, list) = arg.split_once('=').ok_or_else(|| {
        err("expected KEY=VALUE[,VALUE...], e.g. learning.gamma=0,0.9 or rsus.cpu_ghz=[1,4];[3,10]".into())
    })?;
    let key = key.trim();
    if key.is_empty() || key.split('.').any(|p| p.trim().is_empty()) {
        return Err(err(format!("`{key}` is not a dotted key like rsus.cpu_ghz")));
    }
    if let Some((_, flag)) = OWN_FLAGS.iter().find(|(k, _)| *k == key) {
        return Err(err(format!("`{key}` is swept with {flag}")));
    }
    let texts = split_values(list);
    if let Some(i) = texts.iter().position(String::is_empty) {
        return Err(err(format!("value {} of `{key}` is empty", i + 1)));
    }
    let values: Vec<SetValue> = texts.into_iter().map(|t| SetValue { value: parse_value(&t), text: t }).collect();
    for (i, v) in values.iter().enumerate() {
        if values[..i].iter().any(|w| w.text == v.text) {
            return Err(err(format!("`{}` is given twice", v.text)));
        }
    }
    Ok(SetKey { key: key.to_string(), values })
}

/// Writes `value` at the dotted `key` of a TOML document, creating the tables on the way.
pub fn set_key(doc: &mut toml::Table, key: &str, value: toml::Value) -> Result<(), String> {
    let parts: Vec<&str> = key.split('.').map(str::trim).collect();
    let (last, path) = parts.split_last().ok_or("empty key")?;
    let mut t = doc;
    for (i, p) in path.iter().enumerate() {
        let next = t.entry(p.to_string()).or_insert_with(|| toml::Value::Table(toml::Table::new()));
        t = match next {
            toml::Value::Table(inner) => inner,
            other => {
                return Err(format!("`{}` is a {}, not a table", parts[..=i].join("."), other.type_str()));
            }
        };
    }
    t.insert(last.to_string(), value);
    Ok(())
}

/// Every combination of the keys' values, as value indices per key, the first key varying
/// slowest (an odometer over the keys in the order given). No keys: one empty combination.
pub fn cartesian(sizes: &[usize]) -> Vec<Vec<usize>> {
    let mut out = vec![Vec::new()];
    for &n in sizes {
        out = out.into_iter().flat_map(|c| (0..n).map(move |i| [c.clone(), vec![i]].concat())).collect();
    }
    out
}

/// Where a scenario's text comes from, so that it can be edited before parsing.
#[derive(Clone, Debug)]
pub struct ScenarioSource {
    /// The argument as given.
    pub arg: String,
    /// The TOML text.
    pub text: String,
    preset: Option<&'static Preset>,
    path: Option<PathBuf>,
}

impl ScenarioSource {
    /// Reads a scenario file, or a preset's text.
    pub fn read(arg: &str) -> Result<ScenarioSource, SweepError> {
        let what = || format!("scenario {arg}");
        match pipeline::resolve_scenario(arg).map_err(|e| SweepError::Pipeline { what: what(), source: Box::new(e) })? {
            ScenarioRef::File(p) => {
                let text = std::fs::read_to_string(&p).map_err(|e| SweepError::Pipeline {
                    what: what(),
                    source: Box::new(PipelineError::Scenario(ScenarioError::Io { path: p.clone(), source: e })),
                })?;
                Ok(ScenarioSource { arg: arg.to_string(), text, preset: None, path: Some(p) })
            }
            ScenarioRef::Preset(p) => {
                Ok(ScenarioSource { arg: arg.to_string(), text: p.text.to_string(), preset: Some(p), path: None })
            }
        }
    }

    /// The scenario with `sets` written into its text, parsed and validated as a file or preset
    /// of that text would be.
    pub fn with(&self, sets: &[(&str, &SetValue)]) -> Result<Scenario, SweepError> {
        let assignment = assignment(sets);
        let mut doc: toml::Table = self.text.parse().map_err(|e: toml::de::Error| SweepError::Setting {
            assignment: assignment.clone(),
            source: Box::new(ScenarioError::Parse { file: self.path.clone(), source: Box::new(e) }),
        })?;
        for (k, v) in sets {
            set_key(&mut doc, k, v.value.clone())
                .map_err(|message| SweepError::Set { arg: format!("{k}={}", v.text), message })?;
        }
        let text =
            toml::to_string(&doc).map_err(|e| SweepError::Set { arg: assignment.clone(), message: e.to_string() })?;
        let loaded = match (self.preset, &self.path) {
            (Some(p), _) => p.load_text(&text),
            (None, Some(path)) => {
                Scenario::from_toml_str(&text, &path.display().to_string(), path.parent().unwrap_or(Path::new("")))
            }
            (None, None) => Scenario::parse(&text),
        };
        loaded.map_err(|e| SweepError::Setting { assignment, source: Box::new(e) })
    }
}

fn assignment(sets: &[(&str, &SetValue)]) -> String {
    if sets.is_empty() {
        return "(none)".into();
    }
    sets.iter().map(|(k, v)| format!("{k}={}", v.text)).collect::<Vec<_>>().join(" ")
}

/// What a sweep runs: everything on the command line that decides its rows.
#[derive(Clone, Debug)]
pub struct SweepConfig {
    /// Scenario file or preset.
    pub scenario: String,
    /// The swept keys, outermost first.
    pub sets: Vec<SetKey>,
    /// Baselines run in every setting.
    pub baselines: Vec<PolicyName>,
    /// Trained learners, `(label, learner, checkpoint dir)`; the label is `NAME` or `NAME#TAG`.
    pub checkpoints: Vec<(String, PolicyName, PathBuf)>,
    /// Learners trained in every setting.
    pub train: Vec<PolicyName>,
    /// The training budget (needed when `train` is not empty).
    pub budget: Option<Budget>,
    /// Learner seeds `1..=N` of every trained learner.
    pub learner_seeds: u32,
    /// What the trained learners learn from (`vecsim train --reward`; default: difference).
    pub reward: RewardSignal,
    /// Traffic seeds (`None`: the scenario's seed and the `N − 1` after it, see
    /// [`TrafficSeeds`]).
    pub traffic_seeds: TrafficSeeds,
    /// Slots of every evaluation run (default: the setting's `time.slots`).
    pub slots: Option<u32>,
    /// Runs (and trainings) at once.
    pub jobs: usize,
    /// Output directory.
    pub out: PathBuf,
    /// Memory limit of every run.
    pub limits: Limits,
}

/// The traffic seeds of every run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TrafficSeeds {
    /// `N` seeds: the scenario's `seed` and the ones after it (as `vecsim compare --seeds N`).
    Count(u64),
    /// These seeds.
    List(Vec<u64>),
}

/// One run of the plan.
#[derive(Clone, Debug)]
struct Run {
    setting: usize,
    label: String,
    policy: PolicyName,
    checkpoint: Option<PathBuf>,
    /// Index into the plan's trainings.
    training: Option<usize>,
    learner_seed: Option<u64>,
    traffic_seed: u64,
}

/// One learner trained in one setting.
#[derive(Clone, Debug)]
struct Training {
    setting: usize,
    policy: PolicyName,
    seed: u64,
    /// The training set up (the setting's `[learning]` keys applied over the budget).
    resolved: Resolved,
    dir: PathBuf,
}

/// A validated plan.
struct Plan {
    /// Value indices per key, per setting.
    combos: Vec<Vec<usize>>,
    scenarios: Vec<Scenario>,
    runs: Vec<Run>,
    trainings: Vec<Training>,
}

/// Watches a sweep.
pub trait SweepObserver: Sync {
    /// The sweep is about to start: `todo` runs and `trainings` trainings to compute, `reused`
    /// runs found in the output directory.
    fn planned(&self, _todo: usize, _trainings: usize, _reused: usize) {}
    /// A training finished.
    fn trained(&self, _what: &str) {}
    /// A run finished (its row is on disk).
    fn run_finished(&self, _row: &str) {}
}

/// An observer that ignores everything.
pub struct Quiet;

impl SweepObserver for Quiet {}

/// What a sweep produced.
#[derive(Debug)]
pub struct SweepOutput {
    /// The CSV header.
    pub header: String,
    /// Every row, in plan order.
    pub rows: Vec<String>,
    /// The runs CSV.
    pub csv: PathBuf,
    /// The figure files (PNG, SVG).
    pub figures: Vec<PathBuf>,
    /// Runs computed now.
    pub computed: usize,
    /// Runs found in the output directory.
    pub reused: usize,
}

impl SweepConfig {
    /// The CSV header: the swept keys, then [`FIXED_COLUMNS`].
    pub fn header(&self) -> String {
        let mut h: Vec<&str> = self.sets.iter().map(|s| s.key.as_str()).collect();
        h.push(FIXED_COLUMNS);
        h.join(",")
    }

    /// The plan as text (`sweep-plan.txt`): what decides the rows, not `--jobs`.
    fn plan_text(&self, source: &ScenarioSource) -> String {
        let mut t = format!("scenario = {}\nscenario_text_fnv = {:016x}\n", self.scenario, fnv(&source.text));
        for s in &self.sets {
            let v: Vec<&str> = s.values.iter().map(|v| v.text.as_str()).collect();
            t += &format!("set {} = {}\n", s.key, v.join(" ; "));
        }
        let b: Vec<&str> = self.baselines.iter().map(|p| p.as_str()).collect();
        t += &format!("policies = {}\n", b.join(","));
        for (label, _, dir) in &self.checkpoints {
            t += &format!("checkpoint {label} = {}\n", dir.display());
        }
        let l: Vec<&str> = self.train.iter().map(|p| p.as_str()).collect();
        t += &format!("train = {}\n", l.join(","));
        t += &format!("budget = {}\n", self.budget.map_or("-", Budget::name));
        t += &format!("learner_seeds = {}\n", self.learner_seeds);
        t += &format!("reward = {}\n", self.reward.name());
        t += &format!("traffic_seeds = {:?}\n", self.traffic_seeds);
        t += &format!("slots = {}\n", self.slots.map_or("scenario".into(), |s| s.to_string()));
        t
    }

    /// Checks the flags, builds every setting and run and validates them, before any work.
    fn plan(&self, source: &ScenarioSource) -> Result<Plan, SweepError> {
        let invalid = |flag, message: String| SweepError::Invalid { flag, message };
        if self.jobs == 0 {
            return Err(invalid("--jobs", "must be at least 1".into()));
        }
        if self.baselines.is_empty() && self.checkpoints.is_empty() && self.train.is_empty() {
            return Err(invalid("--policies", "nothing to run: give baselines, --train or --checkpoint".into()));
        }
        if let Some(p) = self.baselines.iter().find(|p| p.is_learner()) {
            return Err(invalid(
                "--policies",
                format!(
                    "`{p}` is a learner: train it in the sweep (--train {p} --budget B) or give --checkpoint {p}=DIR"
                ),
            ));
        }
        if let Some(p) = self.train.iter().find(|p| !p.is_learner()) {
            return Err(invalid("--train", format!("`{p}` is a baseline, not a learner (put it in --policies)")));
        }
        if !self.train.is_empty() && self.budget.is_none() {
            return Err(invalid("--train", format!("needs --budget B ({})", Budget::names())));
        }
        if !self.train.is_empty() && self.learner_seeds == 0 {
            return Err(invalid("--learner-seeds", "must be at least 1".into()));
        }
        for (i, s) in self.sets.iter().enumerate() {
            if self.sets[..i].iter().any(|t| t.key == s.key) {
                return Err(SweepError::Set { arg: s.key.clone(), message: "the key is given twice".into() });
            }
        }
        let mut labels: Vec<String> = self.baselines.iter().map(|p| p.to_string()).collect();
        labels.extend(self.train.iter().map(|p| p.to_string()));
        for (label, _, _) in &self.checkpoints {
            if labels.contains(label) {
                return Err(invalid(
                    "--checkpoint",
                    format!("`{label}` is given twice (tag checkpoints: NAME#TAG=DIR)"),
                ));
            }
            labels.push(label.clone());
        }

        let combos = cartesian(&self.sets.iter().map(|s| s.values.len()).collect::<Vec<_>>());
        let mut scenarios = Vec::with_capacity(combos.len());
        for c in &combos {
            let sets: Vec<(&str, &SetValue)> =
                self.sets.iter().zip(c).map(|(k, &i)| (k.key.as_str(), &k.values[i])).collect();
            scenarios.push(source.with(&sets)?);
        }
        let seeds: Vec<u64> = match &self.traffic_seeds {
            TrafficSeeds::Count(0) => return Err(invalid("--seeds", "must be at least 1".into())),
            TrafficSeeds::Count(n) => {
                let base = scenarios[0].seed;
                (0..*n).map(|k| base.wrapping_add(k)).collect()
            }
            TrafficSeeds::List(v) if v.is_empty() => return Err(invalid("--seed-list", "is empty".into())),
            TrafficSeeds::List(v) => {
                for (i, s) in v.iter().enumerate() {
                    if v[..i].contains(s) {
                        return Err(invalid("--seed-list", format!("seed {s} is given twice")));
                    }
                }
                v.clone()
            }
        };

        let mut runs = Vec::new();
        let mut trainings = Vec::new();
        for (si, s) in scenarios.iter().enumerate() {
            let what = |label: &str| format!("setting {} ({label})", self.setting_name(&combos[si]));
            for &p in &self.baselines {
                for &t in &seeds {
                    runs.push(Run {
                        setting: si,
                        label: p.to_string(),
                        policy: p,
                        checkpoint: None,
                        training: None,
                        learner_seed: None,
                        traffic_seed: t,
                    });
                }
            }
            for (label, p, dir) in &self.checkpoints {
                // Loads the checkpoint once per setting: another scenario, learner or a corrupt
                // file is refused now, not after hours of other runs.
                let e = self.eval_scenario(s, *p, seeds[0]).map_err(|e| pipeline_err(what(label), e))?;
                pipeline::build_policies(&e, Some(dir)).map_err(|e| pipeline_err(what(label), e))?;
                for &t in &seeds {
                    runs.push(Run {
                        setting: si,
                        label: label.clone(),
                        policy: *p,
                        checkpoint: Some(dir.clone()),
                        training: None,
                        learner_seed: None,
                        traffic_seed: t,
                    });
                }
            }
            for &p in &self.train {
                let budget = self.budget.expect("checked above");
                for l in 1..=self.learner_seeds as u64 {
                    let resolved = self.training_scenario(s, &combos[si], p, budget)?;
                    let scenario = &resolved.scenario;
                    let key = format!(
                        "{:016x}|{p}|{l}|{budget:?}|{:?}|{}",
                        scenario.hash(),
                        scenario.learning,
                        self.reward.name()
                    );
                    let dir = self.out.join("train").join(format!("s{si}-{p}-l{l}-{:08x}", fnv(&key) as u32));
                    trainings.push(Training { setting: si, policy: p, seed: l, resolved, dir });
                    for &t in &seeds {
                        runs.push(Run {
                            setting: si,
                            label: p.to_string(),
                            policy: p,
                            checkpoint: None,
                            training: Some(trainings.len() - 1),
                            learner_seed: Some(l),
                            traffic_seed: t,
                        });
                    }
                }
            }
            for r in runs.iter().filter(|r| r.setting == si) {
                let e = self.eval_scenario(s, r.policy, r.traffic_seed).map_err(|e| pipeline_err(what(&r.label), e))?;
                pipeline::check_memory(&e, None, &self.limits).map_err(|e| pipeline_err(what(&r.label), e))?;
            }
        }
        Ok(Plan { combos, scenarios, runs, trainings })
    }

    /// `KEY=VALUE ...` of a setting (`all` without swept keys).
    fn setting_name(&self, combo: &[usize]) -> String {
        if self.sets.is_empty() {
            return "all".into();
        }
        self.sets
            .iter()
            .zip(combo)
            .map(|(k, &i)| format!("{}={}", k.key, k.values[i].text))
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// The evaluation scenario: the setting with the policy, traffic seed and `--slots`, exactly
    /// as `vecsim run SETTING --policy P --seed T --slots N` makes it.
    fn eval_scenario(&self, s: &Scenario, policy: PolicyName, seed: u64) -> Result<Scenario, PipelineError> {
        let mut e = s.clone();
        Overrides { seed: Some(seed), slots: self.slots, policy: Some(policy), faults: Vec::new() }
            .apply(&mut e)
            .map_err(|source| PipelineError::Override { origin: self.scenario.clone(), source: Box::new(source) })?;
        Ok(e)
    }

    /// The training of a learner in a setting: the budget applied as `vecsim train --budget`
    /// applies it (slots per episode, networks, schedule), then the setting's own `[learning]`
    /// keys again, so that `--set learning.KEY` wins over the budget.
    fn training_scenario(
        &self,
        s: &Scenario,
        combo: &[usize],
        p: PolicyName,
        budget: Budget,
    ) -> Result<Resolved, SweepError> {
        let mut spec = TrainSpec::new(p, Some(budget));
        spec.reward = self.reward;
        let setting = self.setting_name(combo);
        let mut resolved = spec
            .resolve(s.clone(), &setting)
            .map_err(|e| SweepError::Set { arg: setting.clone(), message: crate::message::error_message(&e) })?;
        let t = &mut resolved.scenario;
        let learning_sets: Vec<(&str, &SetValue)> = self
            .sets
            .iter()
            .zip(combo)
            .filter_map(|(k, &i)| k.key.strip_prefix("learning.").map(|rest| (rest, &k.values[i])))
            .collect();
        if !learning_sets.is_empty() {
            let assignment = assignment(&learning_sets);
            let ser = |e: String| SweepError::Set { arg: assignment.clone(), message: e };
            let mut doc = toml::Table::try_from(&t.learning).map_err(|e| ser(e.to_string()))?;
            for (k, v) in &learning_sets {
                set_key(&mut doc, k, v.value.clone()).map_err(&ser)?;
            }
            t.learning = doc.try_into().map_err(|e: toml::de::Error| ser(e.to_string()))?;
        }
        t.validate().map_err(|e| SweepError::Setting {
            assignment: format!("{} (training with --budget {})", self.setting_name(combo), budget.name()),
            source: Box::new(e),
        })?;
        Ok(resolved)
    }

    /// The key columns of a run's row (the values, policy, learner seed, traffic seed).
    fn row_key(&self, plan: &Plan, r: &Run) -> String {
        let mut f: Vec<String> =
            self.sets.iter().zip(&plan.combos[r.setting]).map(|(k, &i)| k.values[i].csv()).collect();
        f.push(r.label.clone());
        f.push(r.learner_seed.map_or(String::new(), |s| s.to_string()));
        f.push(r.traffic_seed.to_string());
        f.join(",")
    }
}

fn pipeline_err(what: String, e: PipelineError) -> SweepError {
    SweepError::Pipeline { what, source: Box::new(e) }
}

/// 64-bit FNV-1a of text (stable across builds and platforms).
fn fnv(text: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in text.bytes() {
        h ^= b as u64;
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// A run's CSV line: its key columns, then slots and the paper's metrics (shortest round-trip
/// decimals, as `vecsim compare --csv`; no completion rate without a covered task).
pub fn csv_line(key: &str, s: &Summary) -> String {
    metrics_line(key, s.slots, s.completion_rate, s.cumulative_reward, s.average_realized_potential, s.migrations)
}

/// [`csv_line`] from the numbers.
fn metrics_line(key: &str, slots: u32, rate: Option<f64>, reward: f64, arp: f64, migrations: u64) -> String {
    format!("{key},{slots},{},{reward},{arp},{migrations}", rate.map_or(String::new(), |r| r.to_string()))
}

/// The first `n` fields of a CSV line, joined again.
fn key_of(line: &str, n: usize) -> String {
    line.split(',').take(n).collect::<Vec<_>>().join(",")
}

/// Reads the rows already in `path` (keyed by their key columns), dropping a last line cut off
/// by an interruption; refuses a file with another header.
fn load_rows(path: &Path, header: &str, key_fields: usize) -> Result<HashMap<String, String>, SweepError> {
    if !path.exists() {
        return Ok(HashMap::new());
    }
    let io = |source| SweepError::Io { path: path.to_path_buf(), source };
    let text = std::fs::read_to_string(path).map_err(io)?;
    let whole = match text.rfind('\n') {
        Some(i) => &text[..i + 1],
        None => "",
    };
    if whole.len() != text.len() {
        std::fs::write(path, whole).map_err(io)?;
    }
    let mut lines = whole.lines();
    match lines.next() {
        None => Ok(HashMap::new()),
        Some(h) if h != header => Err(SweepError::Runs {
            path: path.to_path_buf(),
            message: format!("its header is `{h}`, this sweep's is `{header}`; give another --out"),
        }),
        Some(_) => Ok(lines.filter(|l| !l.trim().is_empty()).map(|l| (key_of(l, key_fields), l.to_string())).collect()),
    }
}

/// Appends lines to the CSV (the header first into a new file) and syncs them to disk.
fn append(path: &Path, header: &str, line: &str) -> Result<(), SweepError> {
    let io = |source| SweepError::Io { path: path.to_path_buf(), source };
    let new = std::fs::metadata(path).map(|m| m.len() == 0).unwrap_or(true);
    let mut f = std::fs::OpenOptions::new().create(true).append(true).open(path).map_err(io)?;
    let mut text = String::new();
    if new {
        text.push_str(header);
        text.push('\n');
    }
    text.push_str(line);
    text.push('\n');
    f.write_all(text.as_bytes()).map_err(io)?;
    f.sync_data().map_err(io)
}

/// Runs `n` jobs on `jobs` threads, stopping at the first error (returned).
fn parallel<F>(n: usize, jobs: usize, work: F) -> Result<(), SweepError>
where
    F: Fn(usize) -> Result<(), SweepError> + Sync,
{
    let next = AtomicUsize::new(0);
    let failed = AtomicBool::new(false);
    let first: Mutex<Option<(usize, SweepError)>> = Mutex::new(None);
    std::thread::scope(|scope| {
        for _ in 0..jobs.min(n).max(1) {
            scope.spawn(|| loop {
                if failed.load(Ordering::SeqCst) {
                    return;
                }
                let i = next.fetch_add(1, Ordering::SeqCst);
                if i >= n {
                    return;
                }
                if let Err(e) = work(i) {
                    failed.store(true, Ordering::SeqCst);
                    let mut f = first.lock().unwrap_or_else(|p| p.into_inner());
                    // The error of the earliest job in plan order, whichever thread saw it first.
                    if f.as_ref().is_none_or(|(j, _)| i < *j) {
                        *f = Some((i, e));
                    }
                }
            });
        }
    });
    match first.into_inner().unwrap_or_else(|p| p.into_inner()) {
        Some((_, e)) => Err(e),
        None => Ok(()),
    }
}

/// Trains one learner (resuming its checkpoint if there is one).
fn train_one(t: &Training) -> Result<(), TrainError> {
    let mut tc = t.resolved.train_config(t.seed);
    tc.checkpoint = Some(t.dir.clone());
    tc.checkpoint_every = 5;
    tc.resume = t.dir.join(trainer::CHECKPOINT_FILE).exists();
    tc.curve_csv = Some(t.dir.join("curve.csv"));
    // One thread per training whatever --jobs is: the trained weights never depend on it.
    tc.threads = 1;
    match t.resolved.train(&tc, false, &mut Sequential, &mut NoObserver) {
        Ok(_) => Ok(()),
        Err(TrainingError::Train(e)) => Err(e),
        Err(TrainingError::Io { path, source }) => Err(TrainError::Io { path, source }),
        Err(other) => Err(TrainError::Io { path: t.dir.clone(), source: std::io::Error::other(other.to_string()) }),
    }
}

/// Runs (or resumes) a sweep, then draws its figure (`OUT/sweep.png`, `.svg`).
pub fn run(cfg: &SweepConfig, obs: &dyn SweepObserver) -> Result<SweepOutput, SweepError> {
    let source = ScenarioSource::read(&cfg.scenario)?;
    let plan = cfg.plan(&source)?;
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| SweepError::Io { path, source }
    };
    std::fs::create_dir_all(&cfg.out).map_err(io(&cfg.out))?;
    let plan_path = cfg.out.join(PLAN_FILE);
    let plan_text = cfg.plan_text(&source);
    if plan_path.exists() {
        let old = std::fs::read_to_string(&plan_path).map_err(io(&plan_path))?;
        if old != plan_text {
            let difference = old
                .lines()
                .zip(plan_text.lines())
                .find(|(a, b)| a != b)
                .map_or("a different plan".to_string(), |(a, b)| format!("it has `{a}`, this sweep `{b}`"));
            return Err(SweepError::OtherPlan { path: plan_path, difference });
        }
    } else {
        std::fs::write(&plan_path, &plan_text).map_err(io(&plan_path))?;
    }
    let csv = cfg.out.join(CSV_FILE);
    let header = cfg.header();
    let key_fields = cfg.sets.len() + 3;
    let done = Mutex::new(load_rows(&csv, &header, key_fields)?);
    let keys: Vec<String> = plan.runs.iter().map(|r| cfg.row_key(&plan, r)).collect();
    let todo: Vec<usize> = {
        let d = done.lock().unwrap_or_else(|p| p.into_inner());
        (0..plan.runs.len()).filter(|&i| !d.contains_key(&keys[i])).collect()
    };
    let trainings: Vec<usize> =
        (0..plan.trainings.len()).filter(|&ti| todo.iter().any(|&i| plan.runs[i].training == Some(ti))).collect();
    obs.planned(todo.len(), trainings.len(), plan.runs.len() - todo.len());

    if cfg.budget.is_some() {
        parallel(trainings.len(), cfg.jobs, |k| {
            let t = &plan.trainings[trainings[k]];
            let what = format!(
                "{} in setting {} with learner seed {} ({})",
                t.policy,
                cfg.setting_name(&plan.combos[t.setting]),
                t.seed,
                t.dir.display()
            );
            train_one(t).map_err(|e| SweepError::Train { what: what.clone(), source: Box::new(e) })?;
            obs.trained(&what);
            Ok(())
        })?;
    }

    let write = Mutex::new(());
    parallel(todo.len(), cfg.jobs, |k| {
        let i = todo[k];
        let r = &plan.runs[i];
        let what = format!(
            "setting {}, {} on traffic seed {}",
            cfg.setting_name(&plan.combos[r.setting]),
            r.label,
            r.traffic_seed
        );
        let e = cfg
            .eval_scenario(&plan.scenarios[r.setting], r.policy, r.traffic_seed)
            .map_err(|e| pipeline_err(what.clone(), e))?;
        let dir = match r.training {
            Some(ti) => Some(plan.trainings[ti].dir.clone()),
            None => r.checkpoint.clone(),
        };
        let policies = pipeline::build_policies(&e, dir.as_deref()).map_err(|e| pipeline_err(what.clone(), e))?;
        let fleet = pipeline::load_fleet(&e, None, &cfg.limits).map_err(|e| pipeline_err(what.clone(), e))?;
        let out = pipeline::run_episode(e, fleet, policies, &mut Sequential, &mut NoObserver)
            .map_err(|e| pipeline_err(what.clone(), e))?;
        let line = csv_line(&keys[i], &out.stats.summary());
        {
            let _w = write.lock().unwrap_or_else(|p| p.into_inner());
            append(&csv, &header, &line)?;
        }
        obs.run_finished(&line);
        done.lock().unwrap_or_else(|p| p.into_inner()).insert(keys[i].clone(), line);
        Ok(())
    })?;

    // Every row in plan order, whatever order the runs finished in: the file's bytes do not
    // depend on --jobs (written aside and renamed, so an interruption leaves a whole file).
    let done = done.into_inner().unwrap_or_else(|p| p.into_inner());
    let rows: Vec<String> = keys.iter().filter_map(|k| done.get(k).cloned()).collect();
    let mut text = format!("{header}\n");
    for r in &rows {
        text.push_str(r);
        text.push('\n');
    }
    let tmp = cfg.out.join(format!("{CSV_FILE}.tmp"));
    std::fs::write(&tmp, &text).map_err(io(&tmp))?;
    std::fs::rename(&tmp, &csv).map_err(io(&csv))?;

    let fig = figure_named(&Table::parse(&csv, &text)?, format!("Sweep of {}", plan.scenarios[0].name))?;
    let figures = fig.render(&cfg.out.join("sweep"))?.to_vec();
    Ok(SweepOutput { header, computed: todo.len(), reused: rows.len() - todo.len(), rows, csv, figures })
}

/// The figure of a sweep's CSV (also `vecsim plot sweep.csv`): completion rate and average
/// realized potential per setting (groups, in the file's order) and policy (bars; a learner's
/// seeds pooled), mean ± sample sd over the rows of each.
pub fn figure_from_table(t: &Table) -> Result<Figure, PlotError> {
    figure_named(t, format!("Sweep of {}", swept_scenario(&t.path)))
}

/// What a sweep CSV swept, for its figure's title: the scenario named by the `sweep-plan.txt`
/// beside it (the same title the sweep itself drew), else the CSV's directory.
fn swept_scenario(csv: &Path) -> String {
    let plan = csv.parent().map(|d| d.join("sweep-plan.txt"));
    let named = plan.and_then(|p| std::fs::read_to_string(p).ok()).and_then(|text| {
        let v = text.lines().find_map(|l| l.strip_prefix("scenario = "))?.trim().to_string();
        // A preset's name, or a file's stem (a scenario file is named after its scenario).
        Some(Path::new(&v).file_stem().map_or(v.clone(), |s| s.to_string_lossy().into_owned()))
    });
    named.unwrap_or_else(|| {
        let dir = csv.parent().and_then(|d| d.file_name()).map(|d| d.to_string_lossy().into_owned());
        dir.unwrap_or_else(|| "a CSV".into())
    })
}

/// [`figure_from_table`] with its title starting `what`.
fn figure_named(t: &Table, what: String) -> Result<Figure, PlotError> {
    if t.rows.is_empty() {
        return Err(PlotError::Empty { path: t.path.clone() });
    }
    let p = t.col("policy")?;
    let (rate, arp) = (t.col("completion_rate")?, t.col("average_realized_potential")?);
    let (lseed, tseed) = (t.col("learner_seed")?, t.col("traffic_seed")?);
    let keys = &t.header[..p];
    // A group is a setting's values (written back with their commas), the keys the x label.
    let group_of = |r: usize| -> String {
        if keys.is_empty() {
            return "all".into();
        }
        (0..p).map(|c| t.text(r, c).replace(';', ",")).collect::<Vec<_>>().join(" | ")
    };
    let distinct = |f: &dyn Fn(usize) -> String| -> Vec<String> {
        let mut v: Vec<String> = Vec::new();
        for r in 0..t.rows.len() {
            let x = f(r);
            if !v.contains(&x) {
                v.push(x);
            }
        }
        v
    };
    let groups = distinct(&group_of);
    let policies = distinct(&|r| t.text(r, p).to_string());
    let traffic = distinct(&|r| t.text(r, tseed).to_string()).len();
    let learners = distinct(&|r| t.text(r, lseed).to_string()).into_iter().filter(|s| !s.is_empty()).count();
    let series = |metric: usize| -> Result<Vec<BarSeries>, PlotError> {
        policies
            .iter()
            .map(|policy| {
                let values = groups
                    .iter()
                    .map(|g| {
                        let mut v = Vec::new();
                        for r in (0..t.rows.len()).filter(|&r| t.text(r, p) == policy && group_of(r) == *g) {
                            let x = t.num(r, metric)?;
                            if x.is_finite() {
                                v.push(x);
                            }
                        }
                        Ok(MeanErr::of(&v))
                    })
                    .collect::<Result<Vec<_>, PlotError>>()?;
                Ok(BarSeries { name: policy.clone(), values })
            })
            .collect()
    };
    let x_label = if keys.is_empty() { "setting".to_string() } else { keys.join(" | ") };
    let panel = |title: &str, y: &str, unit: Unit, metric: usize| -> Result<Panel, PlotError> {
        Ok(Panel::Bars(BarPanel {
            title: title.into(),
            x_label: x_label.clone(),
            y_label: y.into(),
            unit,
            groups: groups.clone(),
            series: series(metric)?,
            references: Vec::new(),
        }))
    };
    Ok(Figure {
        title: format!(
            "{what}: {traffic} traffic seed(s){} per bar, mean ± sd",
            if learners > 0 { format!(" × {learners} learner seed(s)") } else { String::new() }
        ),
        panels: vec![
            panel("Task completion rate", &label::with(label::COMPLETION, "mean ± sd"), Unit::Fraction, rate)?,
            panel(
                "Average realized potential",
                &label::with(label::REALIZED_POTENTIAL, "mean ± sd"),
                Unit::Plain,
                arp,
            )?,
        ],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_replotted_sweep_is_titled_by_its_scenario_as_the_sweep_titled_it() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("runs-7");
        std::fs::create_dir_all(&out).unwrap();
        let csv = out.join("sweep.csv");
        // Without its plan beside it, the directory names it.
        assert_eq!(swept_scenario(&csv), "runs-7");
        std::fs::write(out.join("sweep-plan.txt"), "scenario = scenarios/paper-noon.toml\nslots = 30\n").unwrap();
        assert_eq!(swept_scenario(&csv), "paper-noon");
        std::fs::write(out.join("sweep-plan.txt"), "scenario = paper-evening\n").unwrap();
        assert_eq!(swept_scenario(&csv), "paper-evening", "a preset's name");
    }

    #[test]
    fn values_split_outside_brackets_and_quotes() {
        assert_eq!(split_values("0,0.9"), ["0", "0.9"]);
        assert_eq!(split_values("[1,4];[3,10]"), ["[1,4]", "[3,10]"]);
        assert_eq!(split_values("[1,4], [3,10]"), ["[1,4]", "[3,10]"]);
        assert_eq!(split_values("\"a,b\",c"), ["\"a,b\"", "c"]);
        assert_eq!(split_values("{ x = [1, 2] };5"), ["{ x = [1, 2] }", "5"]);
        assert_eq!(split_values("7"), ["7"]);
    }

    #[test]
    fn values_are_toml_or_bare_strings() {
        assert_eq!(parse_value("4"), toml::Value::Integer(4));
        assert_eq!(parse_value("0.9"), toml::Value::Float(0.9));
        assert_eq!(parse_value("true"), toml::Value::Boolean(true));
        assert_eq!(parse_value("[1,4.5]"), toml::Value::Array(vec![toml::Value::Integer(1), toml::Value::Float(4.5)]));
        assert_eq!(parse_value("\"uniform\""), toml::Value::String("uniform".into()));
        assert_eq!(parse_value("uniform"), toml::Value::String("uniform".into()));
    }

    #[test]
    fn set_arguments_parse_and_refuse_clearly() {
        let s = parse_set("rsus.cpu_ghz=[1,4];[3,10]").unwrap();
        assert_eq!(s.key, "rsus.cpu_ghz");
        assert_eq!(s.values.iter().map(|v| v.text.as_str()).collect::<Vec<_>>(), ["[1,4]", "[3,10]"]);
        assert_eq!(s.values[0].csv(), "[1;4]");
        let msg = |a: &str| parse_set(a).unwrap_err().to_string();
        assert!(msg("learning.gamma").contains("expected KEY=VALUE"));
        assert!(msg("seed=1,2").contains("--seed-list"));
        assert!(msg("policy=orl").contains("--policies"));
        assert!(msg("learning..gamma=1").contains("dotted key"));
        assert!(msg("learning.gamma=0,,1").contains("value 2"));
        assert!(msg("learning.gamma=0,0").contains("twice"));
    }

    #[test]
    fn keys_are_written_into_the_toml_creating_tables() {
        let mut doc: toml::Table = "seed = 1\n[rsus]\ncount = 2\n".parse().unwrap();
        set_key(&mut doc, "rsus.count", toml::Value::Integer(5)).unwrap();
        set_key(&mut doc, "learning.gamma", toml::Value::Float(0.5)).unwrap();
        assert_eq!(doc["rsus"]["count"].as_integer(), Some(5));
        assert_eq!(doc["learning"]["gamma"].as_float(), Some(0.5));
        let e = set_key(&mut doc, "seed.x", toml::Value::Integer(1)).unwrap_err();
        assert!(e.contains("`seed` is a integer"), "{e}");
    }

    #[test]
    fn cartesian_product_first_key_slowest() {
        assert_eq!(cartesian(&[]), vec![Vec::<usize>::new()]);
        assert_eq!(cartesian(&[2, 3]), vec![vec![0, 0], vec![0, 1], vec![0, 2], vec![1, 0], vec![1, 1], vec![1, 2]]);
        assert_eq!(cartesian(&[3, 1, 2]).len(), 6);
        assert!(cartesian(&[2, 0]).is_empty());
    }

    #[test]
    fn the_figure_pools_seeds_per_setting_and_policy() {
        let text = "rsus.cpu_ghz,policy,learner_seed,traffic_seed,slots,completion_rate,cumulative_reward,\
average_realized_potential,migrations
[1;4],orl,,1,5,0.5,1,2,0
[1;4],orl,,2,5,0.7,1,4,0
[1;4],fed-maddpg,1,1,5,0.2,1,1,0
[1;4],fed-maddpg,2,1,5,,1,3,0
[3;10],orl,,1,5,1,1,5,0
";
        let fig = figure_from_table(&Table::parse(Path::new("out/sweep.csv"), text).unwrap()).unwrap();
        assert!(fig.title.contains("Sweep of out: 2 traffic seed(s) × 2 learner seed(s)"), "{}", fig.title);
        let Panel::Bars(rate) = &fig.panels[0] else { panic!("bars") };
        assert_eq!(rate.groups, ["[1,4]", "[3,10]"]);
        assert_eq!(rate.x_label, "rsus.cpu_ghz");
        assert_eq!(rate.series.iter().map(|s| s.name.as_str()).collect::<Vec<_>>(), ["orl", "fed-maddpg"]);
        // orl at [1,4]: 0.5 and 0.7 → mean 0.6, sample sd √0.02; fed-maddpg: one rate (the
        // other run had no upload); nothing at [3,10].
        let orl = rate.series[0].values[0].unwrap();
        assert!((orl.mean - 0.6).abs() < 1e-12 && (orl.err - 0.02f64.sqrt()).abs() < 1e-12, "{orl:?}");
        assert_eq!(rate.series[1].values[0].unwrap().mean, 0.2);
        assert_eq!(rate.series[1].values[1], None);
        let Panel::Bars(arp) = &fig.panels[1] else { panic!("bars") };
        assert_eq!(arp.series[1].values[0].unwrap().mean, 2.0);
        assert_eq!(arp.series[0].values[1].unwrap().mean, 5.0);
    }

    #[test]
    fn learning_keys_of_a_setting_win_over_the_budget_in_training() {
        let cfg = SweepConfig {
            scenario: "minimal".into(),
            sets: vec![
                parse_set("learning.batch_size=4,6").unwrap(),
                parse_set("tasks.request_rate=0.25").unwrap(),
                parse_set("time.slots=7").unwrap(),
            ],
            baselines: Vec::new(),
            checkpoints: Vec::new(),
            train: vec![PolicyName::FedMaddpg],
            budget: Some(Budget::Smoke),
            learner_seeds: 1,
            reward: RewardSignal::Difference,
            traffic_seeds: TrafficSeeds::Count(1),
            slots: None,
            jobs: 1,
            out: PathBuf::from("unused"),
            limits: Limits::default(),
        };
        let plan = cfg.plan(&source()).unwrap();
        assert_eq!(plan.trainings.len(), 2);
        for (t, batch) in plan.trainings.iter().zip([4, 6]) {
            // smoke: batch 8, replay 2,000, 5 slots per episode; the setting's batch size wins.
            let sc = &t.resolved.scenario;
            assert_eq!(sc.learning.batch_size, batch);
            assert_eq!(sc.learning.replay_capacity, 2_000);
            assert_eq!(sc.time.slots, 5);
            assert_eq!(sc.tasks.request_rate, 0.25);
            assert_eq!(sc.policy, PolicyName::FedMaddpg);
            assert_eq!(t.resolved.options.shape.actor_hidden, [8]);
        }
        // The evaluation runs keep the setting's own slots.
        assert_eq!(plan.runs.len(), 2);
        assert_eq!(plan.scenarios[0].time.slots, 7);
        assert_eq!(plan.scenarios[1].learning.batch_size, 6);
        assert_ne!(plan.trainings[0].dir, plan.trainings[1].dir);
    }

    const MINIMAL: &str = include_str!("../tests/fixtures/minimal.toml");

    fn source() -> ScenarioSource {
        ScenarioSource { arg: "minimal".into(), text: MINIMAL.into(), preset: None, path: None }
    }

    #[test]
    fn a_setting_is_the_edited_scenario_and_a_bad_key_is_named() {
        let v = |t: &str| SetValue { text: t.into(), value: parse_value(t) };
        let (cpu, gamma) = (v("[1,4]"), v("0.5"));
        let s = source().with(&[("rsus.cpu_ghz", &cpu), ("learning.gamma", &gamma)]).unwrap();
        assert_eq!(s.rsus.cpu_ghz, Some(vecsim_core::scenario::Range::new(1.0, 4.0)));
        assert_eq!(s.learning.gamma, 0.5);
        let bad = v("3");
        let e = source().with(&[("rsus.cpu_ghzz", &bad)]).unwrap_err();
        let text = format!("{e}: {}", std::error::Error::source(&e).unwrap());
        assert!(text.contains("rsus.cpu_ghzz=3") && text.contains("cpu_ghzz"), "{text}");
        let neg = v("-1");
        let e = source().with(&[("learning.gamma", &neg)]).unwrap_err();
        assert!(e.to_string().contains("learning.gamma=-1"), "{e}");
    }

    #[test]
    fn a_row_is_the_key_then_slots_and_the_metrics() {
        let key = "[1;4],orl,,7";
        assert_eq!(metrics_line(key, 5, Some(0.25), -1.5, 0.125, 3), "[1;4],orl,,7,5,0.25,-1.5,0.125,3");
        assert_eq!(metrics_line(key, 5, None, -1.5, 0.125, 3), "[1;4],orl,,7,5,,-1.5,0.125,3");
        // 0.1 + 0.2 in shortest round-trip form, as summary.json and `compare --csv` write it.
        assert_eq!(metrics_line("k", 1, Some(0.1 + 0.2), 0.0, 0.0, 0), "k,1,0.30000000000000004,0,0,0");
        assert_eq!(key_of("a,b,c,d,e", 3), "a,b,c");
    }
}
