//! A step-wise environment: the sequential engine with the decisions made outside it, one slot
//! per [`Env::step`]. The Python package (`python/`, a PettingZoo `ParallelEnv`) is a thin
//! binding of this module; any other external decision maker can drive it from Rust too.
//!
//! Each step is one slot: [`Env::observe`] writes every RSU's policy observation (its uploaded
//! tasks, the candidate RSUs) into flat, padded buffers; [`Env::step`] takes one candidate index
//! per task per RSU, runs the rest of the slot with the core's code
//! ([`SequentialRun::close_slot`]) and returns each RSU's reward under the chosen
//! [`RewardSignal`] (the trainer's signals) and its outcome counts. Replaying a baseline's
//! decisions ([`Env::baseline_actions`]) gives exactly the run of `vecsim run --policy NAME
//! --engine sequential`, byte for byte (the summary's `policy` reads `external`).
//!
//! Padding: an RSU receives at most one task per vehicle present in a slot, so the default
//! `max_tasks` is the peak number of vehicles present at once in the episode of the
//! constructor's seed ([`peak_vehicles`]). An episode of another seed may exceed it in
//! principle (more vehicles, all near one RSU): the step that would is refused with
//! [`EnvError::TooManyTasks`], which names the option to raise.

use std::path::PathBuf;
use std::sync::Arc;
use vecsim_core::clock::SlotClock;
use vecsim_core::engine::{ClosedSlot, EngineError, OpenSlot, SequentialRun, SpawnSchedule};
use vecsim_core::ids::RsuId;
use vecsim_core::mobility::Fleet;
use vecsim_core::outcome::Outcome;
use vecsim_core::overrides::Overrides;
use vecsim_core::policy::intent::Turns;
use vecsim_core::policy::{Baseline, JointRefiner, Policy, PolicySet};
use vecsim_core::report::Summary;
use vecsim_core::Scenario;
use vecsim_learn::RewardSignal;

use crate::pipeline::{self, Limits, PipelineError};

/// Features of one task in [`Obs::tasks`], in this order: `d_k` bits, `c_k` CPU cycles per
/// bit, deadline `t_k` s, upload time `u` s (eq. 1, injected latency included), V2I distance m.
pub const TASK_FEATURES: usize = 5;
/// Features of one candidate RSU in [`Obs::candidates`], in this order: wired distance m, free
/// CPU cycles/s, uploaded load `Σ sqrt(d c)` sqrt(cycles), uploaded tasks, available 0/1,
/// is-self 0/1.
pub const CANDIDATE_FEATURES: usize = 6;
/// Outcome counts per RSU in [`StepOutcome::counts`], in this order: tasks uploaded at the RSU,
/// completed, missed their deadline, dropped by a fault.
pub const COUNT_FIELDS: usize = 4;

/// How to build an [`Env`].
#[derive(Clone, Debug)]
pub struct EnvConfig {
    /// A scenario file, or a preset name (`paper-noon`), as `vecsim run` takes it.
    pub scenario: String,
    /// Master seed of the first episode (default: the scenario's).
    pub seed: Option<u64>,
    /// Slots per episode (default: the scenario's `time.slots`).
    pub slots: Option<u32>,
    /// `KEY=VALUE` fault-plan changes, as `--fault` takes them, in order.
    pub faults: Vec<String>,
    /// What each RSU's reward is.
    pub reward: RewardSignal,
    /// Task rows per RSU in the observation (default: the peak vehicle count, see the module).
    pub max_tasks: Option<usize>,
    /// A trace replacing the scenario's (trace-based scenarios only), as `--trace`.
    pub trace: Option<PathBuf>,
    /// Memory limit, as `--max-memory`.
    pub limits: Limits,
}

impl EnvConfig {
    /// The scenario with everything else at its defaults (difference rewards).
    pub fn new(scenario: &str) -> EnvConfig {
        EnvConfig {
            scenario: scenario.to_string(),
            seed: None,
            slots: None,
            faults: Vec::new(),
            reward: RewardSignal::Difference,
            max_tasks: None,
            trace: None,
            limits: Limits::default(),
        }
    }
}

/// Why the environment refused a call. Every variant is the caller's input (a scenario, an
/// option, an action), or a call out of order.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EnvError {
    /// The scenario, an override or its vehicles could not be loaded: what `vecsim run` says.
    #[error(transparent)]
    Pipeline(#[from] PipelineError),
    /// A reward signal that does not exist.
    #[error("reward `{0}`: expected one of difference, marginal, system")]
    UnknownReward(String),
    /// A baseline that does not exist.
    #[error("baseline `{0}`: expected one of orl, orm, random, br-ne, orm-in-turn")]
    UnknownBaseline(String),
    /// `max_tasks` of 0.
    #[error("max_tasks {0}: expected at least 1")]
    MaxTasks(usize),
    /// More tasks at one RSU than the observation has rows for.
    #[error(
        "slot {slot}: {rsu} received {tasks} tasks, more than max_tasks = {max_tasks}; \
         build the environment with max_tasks >= {tasks}"
    )]
    TooManyTasks {
        /// The slot.
        slot: u32,
        /// The RSU.
        rsu: RsuId,
        /// Its uploads.
        tasks: usize,
        /// The padding.
        max_tasks: usize,
    },
    /// The actions do not have one entry list per RSU.
    #[error("actions for {got} RSUs; the scenario has {rsus}")]
    ActionCount {
        /// Lists given.
        got: usize,
        /// RSUs in the scenario.
        rsus: usize,
    },
    /// An RSU's action has the wrong length.
    #[error(
        "{rsu}: action of length {got}; expected {max_tasks} (one candidate index per task row, \
         padded) or {tasks} (one per task uploaded this slot)"
    )]
    ActionShape {
        /// The RSU.
        rsu: RsuId,
        /// Entries given.
        got: usize,
        /// Rows of the observation.
        max_tasks: usize,
        /// Tasks uploaded at the RSU this slot.
        tasks: usize,
    },
    /// A candidate index that is not an RSU of the scenario.
    #[error("{rsu}: action[{index}] = {value}: expected a candidate index from 0 to {}", rsus - 1)]
    ActionValue {
        /// The RSU.
        rsu: RsuId,
        /// Position in the action.
        index: usize,
        /// The value given.
        value: i64,
        /// RSUs in the scenario.
        rsus: usize,
    },
    /// `step` or `baseline_actions` before `reset`, or after the episode's last slot.
    #[error("no slot is open: {0}")]
    NoSlot(&'static str),
    /// The engine refused the slot.
    #[error(transparent)]
    Engine(#[from] EngineError),
}

/// The message `vecsim` prints for an error (after `error: `): see [`crate::message`].
pub use crate::message::error_message;

/// Parses a reward signal's name (`difference`, `marginal`, `system`).
pub fn parse_reward(name: &str) -> Result<RewardSignal, EnvError> {
    RewardSignal::parse(name).ok_or_else(|| EnvError::UnknownReward(name.to_string()))
}

/// Parses a baseline's name (`orl`, `orm`, `random`, `br-ne`, `orm-in-turn`).
pub fn parse_baseline(name: &str) -> Result<Baseline, EnvError> {
    Baseline::parse(name).ok_or_else(|| EnvError::UnknownBaseline(name.to_string()))
}

/// The most vehicles present at once during the episode of `fleet` over `clock`'s slots: no
/// RSU can receive more tasks in a slot (a vehicle draws at most one task per slot).
pub fn peak_vehicles(fleet: &Fleet, clock: &SlotClock) -> usize {
    let schedule = SpawnSchedule::new(fleet, clock);
    let mut delta = vec![0i64; clock.slots as usize + 1];
    for &(first, last, _) in &schedule.spans {
        delta[(first as usize).min(clock.slots as usize)] += 1;
        delta[(last as usize + 1).min(clock.slots as usize)] -= 1;
    }
    let (mut now, mut peak) = (0i64, 0i64);
    for d in &delta[..clock.slots as usize] {
        now += d;
        peak = peak.max(now);
    }
    peak as usize
}

/// Every RSU's observation of the open slot, flat, row-major (RSU first).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Obs {
    /// `[rsus, max_tasks, TASK_FEATURES]`: the uploaded tasks in task-id order, zero rows after.
    pub tasks: Vec<f32>,
    /// `[rsus, max_tasks]`: 1 for a real task row, 0 for padding.
    pub task_mask: Vec<i8>,
    /// `[rsus, rsus, CANDIDATE_FEATURES]`: each RSU's candidate table (index = RSU id).
    pub candidates: Vec<f32>,
    /// `[rsus, max_tasks, rsus]`: 1 where the task row may pick the candidate (it is up). A
    /// padding row allows only the RSU itself, so that no row is all zeros (a masked softmax
    /// would divide by zero); whatever a padding row picks is ignored.
    pub action_mask: Vec<i8>,
    /// `[rsus]`: tasks uploaded at each RSU this slot.
    pub task_counts: Vec<u32>,
}

/// What one [`Env::step`] produced.
#[derive(Clone, Debug, PartialEq)]
pub struct StepOutcome {
    /// The slot that ran.
    pub slot: u32,
    /// `[rsus]`: each RSU's reward under the environment's signal.
    pub rewards: Vec<f64>,
    /// `[rsus, 3]`: each RSU's `difference`, `marginal` (eq. 19) and `system` (`F^t`, eq. 18)
    /// rewards, whichever signal the environment returns.
    pub all_rewards: Vec<f64>,
    /// `[rsus, COUNT_FIELDS]`: outcome counts of the tasks uploaded at each RSU this slot.
    pub counts: Vec<u64>,
    /// Whether that was the episode's last slot.
    pub done: bool,
}

/// What replays a baseline's decisions in an episode: its per-RSU policies (the random one
/// keeps its own streams across slots) and, for `br-ne`, its refiner.
struct Replay {
    baseline: Baseline,
    policies: Vec<Box<dyn Policy>>,
    refiner: Option<Box<dyn JointRefiner>>,
    /// This slot's answer, so that asking twice in a slot does not draw twice.
    cached: Option<(u32, Vec<Vec<RsuId>>, bool)>,
}

/// The step-wise environment (see the module).
pub struct Env {
    scenario: Scenario,
    trace: Option<PathBuf>,
    limits: Limits,
    reward: RewardSignal,
    max_tasks: usize,
    rsus: usize,
    next_seed: u64,
    seed: u64,
    run: Option<SequentialRun>,
    open: Option<OpenSlot>,
    replays: Vec<Replay>,
}

impl std::fmt::Debug for Env {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Env")
            .field("scenario", &self.scenario.name)
            .field("seed", &self.seed)
            .field("reward", &self.reward)
            .field("max_tasks", &self.max_tasks)
            .finish_non_exhaustive()
    }
}

impl Env {
    /// Loads the scenario with its overrides and sizes the observation; no episode runs until
    /// [`Env::reset`].
    pub fn new(cfg: &EnvConfig) -> Result<Env, EnvError> {
        let ov = Overrides { seed: cfg.seed, slots: cfg.slots, policy: None, faults: cfg.faults.clone() };
        let scenario = pipeline::load_scenario(&cfg.scenario, &ov)?;
        let max_tasks = match cfg.max_tasks {
            Some(0) => return Err(EnvError::MaxTasks(0)),
            Some(m) => m,
            None => {
                let fleet = pipeline::load_fleet(&scenario, cfg.trace.as_deref(), &cfg.limits)?;
                peak_vehicles(&fleet, &SlotClock::from_scenario(&scenario)).max(1)
            }
        };
        Ok(Env {
            rsus: scenario.rsu_count(),
            next_seed: scenario.seed,
            seed: scenario.seed,
            scenario,
            trace: cfg.trace.clone(),
            limits: cfg.limits,
            reward: cfg.reward,
            max_tasks,
            run: None,
            open: None,
            replays: Vec::new(),
        })
    }

    /// RSUs (agents) of the scenario.
    pub fn rsus(&self) -> usize {
        self.rsus
    }

    /// Task rows per RSU in the observation.
    pub fn max_tasks(&self) -> usize {
        self.max_tasks
    }

    /// Slots per episode.
    pub fn slots(&self) -> u32 {
        self.scenario.time.slots
    }

    /// The seed of the current (or next) episode.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// The scenario's name.
    pub fn scenario_name(&self) -> &str {
        &self.scenario.name
    }

    /// The reward signal the environment returns.
    pub fn reward(&self) -> RewardSignal {
        self.reward
    }

    /// The slot waiting for actions, if any.
    pub fn slot(&self) -> Option<u32> {
        self.open.as_ref().map(|o| o.slot())
    }

    /// Starts an episode with master seed `seed`; without one, the constructor's seed for the
    /// first episode and the previous episode's seed + 1 after that. Opens its first slot.
    pub fn reset(&mut self, seed: Option<u64>) -> Result<(), EnvError> {
        let seed = seed.unwrap_or(self.next_seed);
        let mut s = self.scenario.clone();
        s.seed = seed;
        let fleet = pipeline::load_fleet(&s, self.trace.as_deref(), &self.limits)?;
        // The engine's own policies are never asked to decide: ORL fills the slots.
        let placeholder = PolicySet::baseline(Baseline::Orl, self.rsus, seed);
        let mut run = SequentialRun::new(Arc::new(s), fleet, placeholder)?;
        let open = run.open_slot()?;
        self.check_rows(&open)?;
        self.seed = seed;
        self.next_seed = seed.wrapping_add(1);
        self.run = Some(run);
        self.open = Some(open);
        self.replays.clear();
        Ok(())
    }

    fn check_rows(&self, open: &OpenSlot) -> Result<(), EnvError> {
        for e in 0..self.rsus {
            let tasks = open.uploads(e).len();
            if tasks > self.max_tasks {
                let (slot, max_tasks) = (open.slot(), self.max_tasks);
                return Err(EnvError::TooManyTasks { slot, rsu: RsuId(e as u32), tasks, max_tasks });
            }
        }
        Ok(())
    }

    /// Writes every RSU's observation of the open slot into `out` (resized as needed); all
    /// zeros (and padding masks) when no slot is open (after the last slot).
    pub fn observe(&self, out: &mut Obs) {
        let (n, m) = (self.rsus, self.max_tasks);
        out.tasks.clear();
        out.tasks.resize(n * m * TASK_FEATURES, 0.0);
        out.task_mask.clear();
        out.task_mask.resize(n * m, 0);
        out.candidates.clear();
        out.candidates.resize(n * n * CANDIDATE_FEATURES, 0.0);
        out.action_mask.clear();
        out.action_mask.resize(n * m * n, 0);
        out.task_counts.clear();
        out.task_counts.resize(n, 0);
        for e in 0..n {
            for k in 0..m {
                out.action_mask[(e * m + k) * n + e] = 1;
            }
        }
        let Some(open) = &self.open else { return };
        for e in 0..n {
            let ups = open.uploads(e);
            out.task_counts[e] = ups.len() as u32;
            for (k, u) in ups.iter().enumerate() {
                let row = &mut out.tasks[(e * m + k) * TASK_FEATURES..][..TASK_FEATURES];
                row.copy_from_slice(&[
                    u.task.data_bits as f32,
                    u.task.cycles_per_bit as f32,
                    u.task.deadline_s as f32,
                    u.upload_s as f32,
                    u.distance_m as f32,
                ]);
                out.task_mask[e * m + k] = 1;
            }
            let owned;
            let cands = if ups.is_empty() {
                owned = self.run.as_ref().map(|r| r.candidates(open, e)).unwrap_or_default();
                &owned[..]
            } else {
                open.candidates(e)
            };
            for (j, c) in cands.iter().enumerate() {
                let row = &mut out.candidates[(e * n + j) * CANDIDATE_FEATURES..][..CANDIDATE_FEATURES];
                row.copy_from_slice(&[
                    c.distance_m as f32,
                    c.free_cpu_hz as f32,
                    c.uploaded_load as f32,
                    c.uploaded_tasks as f32,
                    if c.available { 1.0 } else { 0.0 },
                    if j == e { 1.0 } else { 0.0 },
                ]);
            }
            if ups.is_empty() {
                continue;
            }
            let any = cands.iter().any(|c| c.available);
            for k in 0..ups.len() {
                let row = &mut out.action_mask[(e * m + k) * n..][..n];
                for (j, c) in cands.iter().enumerate() {
                    // With every candidate down (the uploader is up when it has uploads, so
                    // this does not happen) the RSU itself stays allowed, as the learners do.
                    row[j] = i8::from(c.available || (!any && j == e));
                }
            }
        }
    }

    /// Runs the open slot with `actions[e]`: RSU e's candidate index per task, either one per
    /// task row (`max_tasks`, padding ignored) or one per task uploaded this slot. On an error
    /// nothing changed and the slot stays open. Opens the next slot unless this was the last.
    pub fn step(&mut self, actions: &[&[i64]]) -> Result<StepOutcome, EnvError> {
        let (n, m) = (self.rsus, self.max_tasks);
        let Some(open) = &self.open else {
            return Err(EnvError::NoSlot(if self.run.is_some() {
                "the episode is over; call reset()"
            } else {
                "call reset() first"
            }));
        };
        if actions.len() != n {
            return Err(EnvError::ActionCount { got: actions.len(), rsus: n });
        }
        let mut decisions: Vec<Vec<RsuId>> = Vec::with_capacity(n);
        for (e, a) in actions.iter().enumerate() {
            let tasks = open.uploads(e).len();
            if a.len() != m && a.len() != tasks {
                return Err(EnvError::ActionShape { rsu: RsuId(e as u32), got: a.len(), max_tasks: m, tasks });
            }
            let mut d = Vec::with_capacity(tasks);
            for (index, &value) in a[..tasks].iter().enumerate() {
                if !(0..n as i64).contains(&value) {
                    return Err(EnvError::ActionValue { rsu: RsuId(e as u32), index, value, rsus: n });
                }
                d.push(RsuId(value as u32));
            }
            decisions.push(d);
        }
        // The br-ne oracle's decisions, replayed, carry its convergence into the summary.
        let slot = open.slot();
        let unconverged = self.replays.iter().any(|r| {
            r.baseline == Baseline::BrNe
                && r.cached.as_ref().is_some_and(|(t, d, unconv)| *t == slot && *unconv && *d == decisions)
        });
        self.close(decisions, unconverged)
    }

    fn close(&mut self, decisions: Vec<Vec<RsuId>>, unconverged: bool) -> Result<StepOutcome, EnvError> {
        let n = self.rsus;
        let (Some(run), Some(open)) = (self.run.as_mut(), self.open.take()) else {
            return Err(EnvError::NoSlot("call reset() first"));
        };
        if let Err(e) = run.check_slot(&open, &decisions) {
            self.open = Some(open);
            return Err(e.into());
        }
        let ClosedSlot { report, difference } = run.close_slot(open, &decisions, unconverged)?;
        let score = &report.score;
        let mut all_rewards = Vec::with_capacity(n * 3);
        let mut rewards = Vec::with_capacity(n);
        for (&d, &mg) in difference.iter().zip(&score.rewards) {
            let sy = score.potential;
            all_rewards.extend_from_slice(&[d, mg, sy]);
            rewards.push(match self.reward {
                RewardSignal::Difference => d,
                RewardSignal::Marginal => mg,
                RewardSignal::System => sy,
            });
        }
        let mut counts = vec![0u64; n * COUNT_FIELDS];
        for r in &report.results {
            let Some(u) = r.uploader else { continue };
            let c = &mut counts[u.index() * COUNT_FIELDS..][..COUNT_FIELDS];
            c[0] += 1;
            match r.outcome {
                Outcome::Completed => c[1] += 1,
                Outcome::MissedDeadline => c[2] += 1,
                Outcome::Dropped(_) => c[3] += 1,
                _ => {}
            }
        }
        let done = run.finished();
        if !done {
            let next = run.open_slot()?;
            self.check_rows(&next)?;
            self.open = Some(next);
        }
        Ok(StepOutcome { slot: report.slot, rewards, all_rewards, counts, done })
    }

    /// The decisions baseline `b` would make this slot, as `[rsus, max_tasks]` candidate
    /// indices (padding rows hold the RSU itself). Stepping with them every slot replays
    /// `vecsim run --policy NAME --engine sequential` exactly; `random` draws from each RSU's own
    /// stream, so its replay matches when it is asked every slot (asking twice in a slot gives
    /// the same answer).
    pub fn baseline_actions(&mut self, b: Baseline) -> Result<Vec<i64>, EnvError> {
        let (n, m) = (self.rsus, self.max_tasks);
        let (Some(run), Some(open)) = (self.run.as_ref(), self.open.as_ref()) else {
            return Err(EnvError::NoSlot("call reset() first, or again after the last slot"));
        };
        let slot = open.slot();
        let i = match self.replays.iter().position(|r| r.baseline == b) {
            Some(i) => i,
            None => {
                let set = PolicySet::baseline(b, n, self.seed);
                self.replays.push(Replay { baseline: b, policies: set.per_rsu, refiner: set.refiner, cached: None });
                self.replays.len() - 1
            }
        };
        let r = &mut self.replays[i];
        if r.cached.as_ref().is_none_or(|(t, _, _)| *t != slot) {
            // A baseline whose RSUs decide in turn (`orm-in-turn`) sees, at RSU e, what RSUs
            // 0..e declared, as the engines show it.
            let mut turns = Turns::new(vecsim_core::policy::intent::rounds(&r.policies), n);
            let mut d: Vec<Vec<RsuId>> = vec![Vec::new(); n];
            for _ in turns.rounds() {
                for (e, slot) in d.iter_mut().enumerate() {
                    if open.uploads(e).is_empty() {
                        continue;
                    }
                    let me = RsuId(e as u32);
                    let mut obs = run.observation(open, e);
                    obs.candidates = turns.table(me, obs.candidates);
                    let decided = r.policies[e].decide(&obs);
                    turns.declare(me, open.uploads(e), &decided);
                    *slot = decided;
                }
            }
            let mut unconverged = false;
            if let Some(refiner) = &r.refiner {
                unconverged = !refiner.refine(&run.slot_problem(open), &mut d);
            }
            r.cached = Some((slot, d, unconverged));
        }
        let d = &r.cached.as_ref().expect("just filled").1;
        let mut out = vec![0i64; n * m];
        for e in 0..n {
            let row = &mut out[e * m..(e + 1) * m];
            row.fill(e as i64);
            for (k, x) in d[e].iter().enumerate() {
                row[k] = x.0 as i64;
            }
        }
        Ok(out)
    }

    /// The run so far with the fields of `summary.json` (`policy` reads `external`), `None`
    /// before the first reset.
    pub fn summary(&self) -> Option<Summary> {
        self.run.as_ref().map(|r| {
            let mut s = r.stats().summary();
            s.policy = "external".to_string();
            s
        })
    }
}

/// A whole episode of `cfg`'s scenario with baseline `b` on the sequential engine, loaded and
/// ready to run natively ([`SequentialRun::run`]): what the benchmark compares the Python loop
/// with (the caller times the slots alone).
pub fn prepare_native(cfg: &EnvConfig, b: Baseline) -> Result<SequentialRun, EnvError> {
    let ov = Overrides { seed: cfg.seed, slots: cfg.slots, policy: Some(b.into()), faults: cfg.faults.clone() };
    let s = pipeline::load_scenario(&cfg.scenario, &ov)?;
    let fleet = pipeline::load_fleet(&s, cfg.trace.as_deref(), &cfg.limits)?;
    let policies = PolicySet::baseline(b, s.rsu_count(), s.seed);
    Ok(SequentialRun::new(Arc::new(s), fleet, policies)?)
}

/// [`prepare_native`], run: the episode's summary and the wall time of its slots, seconds.
pub fn run_native(cfg: &EnvConfig, b: Baseline) -> Result<(Summary, f64), EnvError> {
    let run = prepare_native(cfg, b)?;
    let started = std::time::Instant::now();
    let (stats, _) = run.run()?;
    Ok((stats.summary(), started.elapsed().as_secs_f64()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(slots: u32, faults: &[&str]) -> Env {
        let mut cfg = EnvConfig::new("paper-noon");
        cfg.slots = Some(slots);
        cfg.faults = faults.iter().map(|s| s.to_string()).collect();
        Env::new(&cfg).unwrap()
    }

    fn replay(env: &mut Env, b: Baseline) -> Summary {
        env.reset(None).unwrap();
        let m = env.max_tasks();
        loop {
            let a = env.baseline_actions(b).unwrap();
            let rows: Vec<&[i64]> = a.chunks(m).collect();
            if env.step(&rows).unwrap().done {
                break;
            }
        }
        env.summary().unwrap()
    }

    #[test]
    fn replaying_each_baseline_is_the_sequential_run_byte_for_byte() {
        for faults in [&[][..], &["loss.wired=0.2", "rsu_outage=2:3:6", "vehicle_dropout=0.05"][..]] {
            let mut e = env(12, faults);
            for b in Baseline::ALL {
                let got = replay(&mut e, b);
                let mut cfg = EnvConfig::new("paper-noon");
                cfg.slots = Some(12);
                cfg.faults = faults.iter().map(|s| s.to_string()).collect();
                let (mut want, _) = run_native(&cfg, b).unwrap();
                assert!(want.tasks_uploaded > 100, "{}", want.tasks_uploaded);
                want.policy = "external".into();
                assert_eq!(got.to_json(), want.to_json(), "{b:?} {faults:?}");
                // reset() without a seed moved on to seed + 1: put it back for the next baseline.
                e.next_seed = 1;
            }
        }
    }

    #[test]
    fn observations_rewards_and_counts_are_those_of_the_slot() {
        let mut e = env(3, &["rsu_outage=5:0:2"]);
        assert_eq!(e.rsus(), 8);
        e.reset(Some(4)).unwrap();
        let mut obs = Obs::default();
        e.observe(&mut obs);
        let (n, m) = (8, e.max_tasks());
        let busy = (0..n).find(|&r| obs.task_counts[r] > 0).unwrap();
        let k = obs.task_counts[busy] as usize;
        assert_eq!(obs.task_mask[busy * m..busy * m + m].iter().filter(|&&x| x == 1).count(), k);
        // RSU 5 is down: no task row may pick it; padding rows allow only the RSU itself.
        for row in 0..k {
            let mask = &obs.action_mask[(busy * m + row) * n..][..n];
            assert_eq!(mask.iter().map(|&x| x as u32).sum::<u32>(), 7, "{mask:?}");
            assert_eq!(mask[5], 0);
        }
        let pad = &obs.action_mask[(busy * m + k) * n..][..n];
        assert_eq!(pad.iter().enumerate().filter(|(_, &x)| x == 1).map(|(j, _)| j).collect::<Vec<_>>(), vec![busy]);
        // Candidate table: is-self flag at the RSU itself, RSU 5 unavailable, deadlines in range.
        let c = &obs.candidates[busy * n * CANDIDATE_FEATURES..][..n * CANDIDATE_FEATURES];
        assert_eq!(c[busy * CANDIDATE_FEATURES + 5], 1.0);
        assert_eq!(c[5 * CANDIDATE_FEATURES + 4], 0.0);
        let t = &obs.tasks[busy * m * TASK_FEATURES..];
        assert!((0.2..=1.0).contains(&t[2]) && (1e6..=5e6).contains(&t[0]), "{:?}", &t[..5]);

        let a = e.baseline_actions(Baseline::Orl).unwrap();
        let out = e.step(&a.chunks(m).collect::<Vec<_>>()).unwrap();
        let tasks: u64 = (0..n).map(|r| out.counts[r * COUNT_FIELDS]).sum();
        assert_eq!(out.counts[busy * COUNT_FIELDS], k as u64);
        let s = e.summary().unwrap();
        assert_eq!(tasks, s.tasks_uploaded);
        let completed: u64 = (0..n).map(|r| out.counts[r * COUNT_FIELDS + 1]).sum();
        assert_eq!(completed, s.tasks_completed);
        // System reward F^t: the sum of the rates, for every RSU; the cumulative reward so far.
        assert_eq!(out.all_rewards[2], s.cumulative_reward);
        assert!(out.rewards.iter().zip(out.all_rewards.chunks(3)).all(|(r, all)| *r == all[0]));
        // ORL executes locally: eq. 19's marginal reward is each RSU's own rate.
        for r in 0..n {
            let (up, done) = (out.counts[r * COUNT_FIELDS], out.counts[r * COUNT_FIELDS + 1]);
            let want = if up == 0 { 0.0 } else { done as f64 / up as f64 };
            assert!((out.all_rewards[r * 3 + 1] - want).abs() < 1e-12);
        }
        assert!(!out.done && e.slot() == Some(1));
    }

    #[test]
    fn bad_actions_are_refused_with_the_slot_left_open() {
        let mut e = env(2, &[]);
        let none: Vec<&[i64]> = Vec::new();
        assert!(matches!(e.step(&none), Err(EnvError::NoSlot(_))));
        e.reset(None).unwrap();
        let m = e.max_tasks();
        let mut obs = Obs::default();
        e.observe(&mut obs);
        let busy = (0..8).find(|&r| obs.task_counts[r] > 0).unwrap();
        let k = obs.task_counts[busy] as usize;
        let mut a = vec![0i64; 8 * m];
        let short = vec![0i64; k + 1];
        let mut rows: Vec<&[i64]> = a.chunks(m).collect();
        rows[busy] = &short;
        let err = e.step(&rows).unwrap_err().to_string();
        assert_eq!(
            err,
            format!("rsu{busy}: action of length {}; expected {m} (one candidate index per task row, padded) or {k} (one per task uploaded this slot)", k + 1)
        );
        assert!(matches!(e.step(&rows[..3]), Err(EnvError::ActionCount { got: 3, rsus: 8 })));
        a[busy * m] = 8;
        let rows: Vec<&[i64]> = a.chunks(m).collect();
        let err = e.step(&rows).unwrap_err().to_string();
        assert_eq!(err, format!("rsu{busy}: action[0] = 8: expected a candidate index from 0 to 7"));
        assert_eq!(e.slot(), Some(0));
        // Per-task lengths are accepted; padding values are never read.
        a[busy * m] = 3;
        a[busy * m + k] = -5;
        let rows: Vec<&[i64]> = a.chunks(m).collect();
        assert!(!e.step(&rows).unwrap().done);
        let per_task: Vec<Vec<i64>> = (0..8).map(|r| vec![r as i64; obs_count(&e, r)]).collect();
        let rows: Vec<&[i64]> = per_task.iter().map(|v| v.as_slice()).collect();
        assert!(e.step(&rows).unwrap().done);
        assert_eq!(e.slot(), None);
        assert!(e.step(&rows).unwrap_err().to_string().contains("the episode is over; call reset()"));
        assert!(e.baseline_actions(Baseline::Orm).is_err());
    }

    fn obs_count(e: &Env, r: usize) -> usize {
        let mut obs = Obs::default();
        e.observe(&mut obs);
        obs.task_counts[r] as usize
    }

    #[test]
    fn bad_input_says_what_the_command_line_says() {
        let e = Env::new(&EnvConfig::new("no-such-preset")).unwrap_err();
        let msg = error_message(&e);
        assert!(msg.starts_with("no scenario file no-such-preset and no preset of that name (presets: "), "{msg}");
        let mut cfg = EnvConfig::new("paper-noon");
        cfg.faults = vec!["loss.wired=2".into()];
        let msg = error_message(&Env::new(&cfg).unwrap_err());
        assert!(msg.starts_with("paper-noon: --fault loss.wired=2: "), "{msg}");
        cfg.faults.clear();
        cfg.max_tasks = Some(1);
        cfg.slots = Some(2);
        let mut e = Env::new(&cfg).unwrap();
        let msg = error_message(&e.reset(None).unwrap_err());
        assert!(msg.contains("more than max_tasks = 1; build the environment with max_tasks >= "), "{msg}");
        assert_eq!(parse_reward("marginal").unwrap(), RewardSignal::Marginal);
        assert_eq!(
            parse_reward("sum").unwrap_err().to_string(),
            "reward `sum`: expected one of difference, marginal, system"
        );
        assert_eq!(
            parse_baseline("brne").unwrap_err().to_string(),
            "baseline `brne`: expected one of orl, orm, random, br-ne, orm-in-turn"
        );
    }

    #[test]
    fn peak_vehicles_bounds_every_slot_and_is_reached() {
        let s = pipeline::load_scenario("paper-noon", &Overrides { slots: Some(40), ..Default::default() }).unwrap();
        let fleet = pipeline::load_fleet(&s, None, &Limits::default()).unwrap();
        let peak = peak_vehicles(&fleet, &SlotClock::from_scenario(&s));
        let mut run = SequentialRun::new(Arc::new(s), fleet, PolicySet::baseline(Baseline::Orl, 8, 1)).unwrap();
        let mut most = 0;
        while !run.finished() {
            most = most.max(run.step().unwrap().vehicles as usize);
        }
        assert_eq!(most, peak);
    }
}
