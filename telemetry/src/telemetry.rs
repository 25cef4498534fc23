//! [`Telemetry`]: the observer that publishes a run's metrics, asks the engine for the pace
//! (the engine waits, [`Observer::pace`]) and keeps the engine's slot wall times.

use crate::catalogue::*;
use crate::exporter;
use crate::TelemetryError;
use metrics::{counter, gauge, histogram};
use std::net::SocketAddr;
use std::time::Duration;
use vecsim_core::engine::RoundReport;
use vecsim_core::ids::RsuId;
use vecsim_core::observer::{Observer, Pacer, RunInfo};
use vecsim_core::outcome::Outcome;
use vecsim_core::report::{LatencyHistogram, Percentiles, RunStats, SlotReport};

/// What the user asked of telemetry (`--metrics-addr`, `--serve-after`, `--pace`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TelemetryConfig {
    /// Serve Prometheus metrics here while the run lasts.
    pub addr: Option<SocketAddr>,
    /// Keep serving this many seconds after the run ends.
    pub serve_after_s: Option<f64>,
    /// Open at most this many slots per wall-clock second (the engine waits before a slot).
    pub pace_slots_per_s: Option<f64>,
}

/// Counter values of one span of slots (the finished episodes, or the current one).
#[derive(Clone, Debug, Default)]
struct Totals {
    /// `[uploading RSU or none][outcome index]`.
    tasks: Vec<[u64; Outcome::ALL.len()]>,
    /// By uploading RSU.
    migrations: Vec<u64>,
    slots: u64,
    brne_unconverged: u64,
    /// By [`fault_kinds`] index.
    faults: Vec<u64>,
}

impl Totals {
    fn of(stats: &RunStats) -> Totals {
        let rows = stats.counts_by_uploader();
        let tasks = rows.iter().map(|c| Outcome::ALL.map(|o| c.of(o))).collect();
        let migrations = rows[..rows.len() - 1].iter().map(|c| c.migrations).collect();
        let faults = stats.fault_counts().by_kind().iter().map(|(_, n)| *n).collect();
        Totals {
            tasks,
            migrations,
            slots: stats.slots() as u64,
            brne_unconverged: stats.brne_unconverged_slots(),
            faults,
        }
    }

    fn add(&mut self, o: &Totals) {
        fn grow<T: Clone + Default>(v: &mut Vec<T>, n: usize) {
            if v.len() < n {
                v.resize(n, T::default());
            }
        }
        // Rows are RSUs then `none`: align `none` rows when RSU counts differ.
        let (mine, theirs) = (self.tasks.len().max(1) - 1, o.tasks.len().max(1) - 1);
        let rsus = mine.max(theirs);
        let mut tasks = vec![[0u64; Outcome::ALL.len()]; rsus + 1];
        for (src, n) in [(&self.tasks, mine), (&o.tasks, theirs)] {
            for (i, row) in src.iter().enumerate() {
                let at = if i == n { rsus } else { i };
                for (sum, n) in tasks[at].iter_mut().zip(row) {
                    *sum += n;
                }
            }
        }
        self.tasks = tasks;
        grow(&mut self.migrations, o.migrations.len());
        for (a, b) in self.migrations.iter_mut().zip(&o.migrations) {
            *a += b;
        }
        grow(&mut self.faults, o.faults.len());
        for (a, b) in self.faults.iter_mut().zip(&o.faults) {
            *a += b;
        }
        self.slots += o.slots;
        self.brne_unconverged += o.brne_unconverged;
    }
}

/// The telemetry of one process: metrics (when an address is configured), the pace it asks of
/// the engine, and the histogram of the slot wall times the engine measures. An engine [`Observer`]; a training run keeps one across its episodes,
/// so counters keep counting while episode-scoped gauges (rates, cumulative reward) restart.
pub struct Telemetry {
    config: TelemetryConfig,
    exporting: bool,
    /// One schedule for the whole run, every episode's engine pacing by it.
    pace: Option<Pacer>,
    wall: LatencyHistogram,
    rsu_labels: Vec<String>,
    /// Counters of the finished episodes.
    carried: Totals,
    /// Counters of the current episode, as last published.
    current: Totals,
    rounds: u64,
    /// Whether the training series exist yet.
    training: bool,
    /// Executed tasks whose service time was not finite, since the process started: not in the
    /// service-time histogram (its `_sum` would become +Inf), so counted beside it.
    unbounded_service: u64,
}

impl TelemetryConfig {
    /// Slowest pace accepted, slots per second (one slot per ~17 minutes).
    pub const MIN_PACE: f64 = 1e-3;
    /// Fastest pace accepted, slots per second.
    pub const MAX_PACE: f64 = 1e6;
    /// Longest linger after a run, s (a week).
    pub const MAX_SERVE_AFTER_S: f64 = 7.0 * 24.0 * 3600.0;

    /// Refuses a pace or linger that no `Duration` holds (the CLI's flags check the same
    /// ranges where they are parsed).
    pub fn validate(&self) -> Result<(), TelemetryError> {
        if let Some(p) = self.pace_slots_per_s {
            if !(Self::MIN_PACE..=Self::MAX_PACE).contains(&p) {
                let range = format!("{} to {} slots per second", Self::MIN_PACE, Self::MAX_PACE);
                return Err(TelemetryError::Range { flag: "--pace", value: p, range });
            }
        }
        if let Some(s) = self.serve_after_s {
            if !(0.0..=Self::MAX_SERVE_AFTER_S).contains(&s) {
                let range = format!("0 to {} seconds", Self::MAX_SERVE_AFTER_S);
                return Err(TelemetryError::Range { flag: "--serve-after", value: s, range });
            }
        }
        Ok(())
    }
}

impl Telemetry {
    /// Starts telemetry for a run of `info`: installs the exporter when `config.addr` is set and
    /// registers every series (so dashboards show 0 or NaN rather than "no data").
    pub fn start(config: TelemetryConfig, info: &RunInfo) -> Result<Telemetry, TelemetryError> {
        config.validate()?;
        if let Some(addr) = config.addr {
            exporter::install(addr)?;
        }
        let mut t = Telemetry::unexported(config);
        t.exporting = t.config.addr.is_some();
        if t.exporting {
            t.register(info);
        }
        Ok(t)
    }

    /// Telemetry that records into whatever recorder is current (tests use a local one).
    pub fn with_current_recorder(config: TelemetryConfig, info: &RunInfo) -> Telemetry {
        let mut t = Telemetry::unexported(config);
        t.exporting = true;
        t.register(info);
        t
    }

    fn unexported(config: TelemetryConfig) -> Telemetry {
        Telemetry {
            // Validated by `start`; a value no `Duration` holds would mean no pacing.
            pace: config.pace_slots_per_s.and_then(|p| Duration::try_from_secs_f64(1.0 / p).ok()).map(Pacer::new),
            config,
            exporting: false,
            wall: LatencyHistogram::default(),
            rsu_labels: Vec::new(),
            carried: Totals::default(),
            current: Totals::default(),
            unbounded_service: 0,
            rounds: 0,
            training: false,
        }
    }

    /// Where metrics are served, if anywhere.
    pub fn addr(&self) -> Option<SocketAddr> {
        self.config.addr
    }

    fn register(&mut self, info: &RunInfo) {
        let seed = info.seed.to_string();
        gauge!(RUN_INFO, "scenario" => info.scenario.clone(), "policy" => info.policy.clone(), "seed" => seed, "engine" => info.engine)
            .set(1.0);
        gauge!(BUILD_INFO, "version" => env!("CARGO_PKG_VERSION"), "engine" => info.engine, "scenario" => info.scenario.clone())
            .set(1.0);
        for k in fault_kinds() {
            counter!(FAULTS, "kind" => k).absolute(0);
        }
        counter!(SLOTS).absolute(0);
        counter!(BRNE_UNCONVERGED).absolute(0);
        counter!(SERVICE_TIME_UNBOUNDED).absolute(self.unbounded_service);
        // Training series (TRAINING_ONLY) appear with the first training episode or VEC POOL
        // round: a plain run has no losses to report.
        gauge!(LIVE_VEHICLE_ACTORS).set(0.0);
        gauge!(EPISODE).set(0.0);
        gauge!(POTENTIAL).set(0.0);
        gauge!(SLOT).set(0.0);
        // Only the label pairs that can happen exist: a task without an RSU was uncovered or
        // its vehicle disconnected (a lost upload counts against the RSU it was sent to).
        for o in NO_RSU_OUTCOMES {
            counter!(TASKS, "rsu" => NO_RSU, "outcome" => o).absolute(0);
        }
        self.grow(info.rsus);
        self.reset_episode_gauges();
    }

    fn grow(&mut self, rsus: usize) {
        while self.rsu_labels.len() < rsus {
            let label = format!("rsu{}", self.rsu_labels.len());
            // An RSU's tasks are never uncovered nor of a disconnected vehicle (those have no RSU).
            for o in OUTCOMES.into_iter().filter(|o| !NO_RSU_OUTCOMES.contains(o)) {
                counter!(TASKS, "rsu" => label.clone(), "outcome" => o).absolute(0);
            }
            counter!(MIGRATIONS, "rsu" => label.clone()).absolute(0);
            gauge!(RSU_COMPLETION_RATE, "rsu" => label.clone()).set(f64::NAN);
            gauge!(RSU_REWARD, "rsu" => label.clone()).set(0.0);
            self.rsu_labels.push(label);
        }
    }

    fn reset_episode_gauges(&self) {
        gauge!(CUMULATIVE_REWARD).set(0.0);
        gauge!(COMPLETION_RATE).set(f64::NAN);
        for l in &self.rsu_labels {
            gauge!(RSU_COMPLETION_RATE, "rsu" => l.clone()).set(f64::NAN);
        }
    }

    /// Publishes the counters: the finished episodes' plus the current one's.
    fn publish_counters(&self) {
        let mut t = self.carried.clone();
        t.add(&self.current);
        let none = t.tasks.len().saturating_sub(1);
        for (row, counts) in t.tasks.iter().enumerate() {
            let label = if row == none { NO_RSU.to_string() } else { self.rsu_labels[row].clone() };
            for (o, &n) in OUTCOMES.iter().zip(counts) {
                if n > 0 {
                    counter!(TASKS, "rsu" => label.clone(), "outcome" => *o).absolute(n);
                }
            }
        }
        for (e, &n) in t.migrations.iter().enumerate() {
            counter!(MIGRATIONS, "rsu" => self.rsu_labels[e].clone()).absolute(n);
        }
        for (k, &n) in fault_kinds().into_iter().zip(&t.faults) {
            counter!(FAULTS, "kind" => k).absolute(n);
        }
        counter!(SLOTS).absolute(t.slots);
        counter!(BRNE_UNCONVERGED).absolute(t.brne_unconverged);
    }

    /// A training episode closed: its number, mean losses, the update steps and the federated
    /// rounds held so far.
    pub fn record_training(&mut self, episode: u64, critic_loss: f64, actor_loss: f64, update_steps: u64, rounds: u64) {
        if !self.exporting {
            return;
        }
        self.register_training();
        gauge!(EPISODE).set(episode as f64);
        gauge!(CRITIC_LOSS).set(critic_loss);
        gauge!(ACTOR_LOSS).set(actor_loss);
        counter!(UPDATE_STEPS).absolute(update_steps);
        gauge!(FEDERATED_ROUND).set(rounds as f64);
    }

    /// Creates the training series once (see [`TRAINING_ONLY`]).
    fn register_training(&mut self) {
        if !self.training {
            self.training = true;
            counter!(FEDERATED_ROUNDS).absolute(self.rounds);
            gauge!(FEDERATED_ROUND).set(0.0);
            gauge!(FEDERATED_PARTICIPANTS).set(0.0);
            counter!(UPDATE_STEPS).absolute(0);
        }
    }

    /// Slot wall-time percentiles so far.
    pub fn slot_wall_time(&self) -> Percentiles {
        self.wall.percentiles()
    }

    /// Keeps serving metrics for `--serve-after` seconds (call after the run's output).
    pub fn linger(&self) {
        if let (Some(addr), Some(s)) = (self.config.addr, self.config.serve_after_s) {
            if let Ok(d) = Duration::try_from_secs_f64(s) {
                if s > 0.0 {
                    eprintln!("run finished; serving metrics on http://{addr}/metrics for {s} s more");
                    std::thread::sleep(d);
                }
            }
        }
    }
}

impl Observer for Telemetry {
    fn episode_started(&mut self, info: &RunInfo) {
        if self.exporting {
            self.grow(info.rsus);
            self.reset_episode_gauges();
        }
    }

    fn pace(&self) -> Option<Pacer> {
        self.pace.clone()
    }

    /// The engine's own measure (telemetry used to time the gaps between the reports it
    /// dequeued, which said nothing of the engine once it ran ahead of a pace).
    fn slot_timed(&mut self, _slot: u32, wall_s: f64) {
        self.wall.record_s(wall_s);
        if self.exporting {
            histogram!(SLOT_WALL_TIME).record(wall_s);
        }
    }

    fn slot_closed(&mut self, r: &SlotReport, stats: &RunStats) {
        if self.exporting {
            let service = histogram!(SERVICE_TIME);
            for t in r.results.iter().filter(|t| t.executed()) {
                if t.service_s.is_finite() {
                    service.record(t.service_s);
                } else {
                    self.unbounded_service += 1;
                }
            }
            counter!(SERVICE_TIME_UNBOUNDED).absolute(self.unbounded_service);
            self.current = Totals::of(stats);
            self.publish_counters();
            for (e, t) in stats.per_rsu().iter().enumerate() {
                if t.uploaded > 0 {
                    let rate = t.completed as f64 / t.uploaded as f64;
                    gauge!(RSU_COMPLETION_RATE, "rsu" => self.rsu_labels[e].clone()).set(rate);
                }
            }
            let c = stats.counts();
            if c.uploaded > 0 {
                gauge!(COMPLETION_RATE).set(c.completed as f64 / c.uploaded as f64);
            }
            gauge!(POTENTIAL).set(r.score.potential);
            gauge!(CUMULATIVE_REWARD).set(stats.cumulative_reward());
            for (e, &rw) in r.score.rewards.iter().enumerate() {
                gauge!(RSU_REWARD, "rsu" => self.rsu_labels[e].clone()).set(rw);
            }
            gauge!(SLOT).set(r.slot as f64);
        }
    }

    fn rsu_restarted(&mut self, _rsu: RsuId, _slot: u32, stats: &RunStats) {
        if self.exporting {
            self.current = Totals::of(stats);
            self.publish_counters();
        }
    }

    fn round_closed(&mut self, round: &RoundReport) {
        if self.exporting && !round.contributed.is_empty() {
            self.register_training();
            self.rounds += 1;
            counter!(FEDERATED_ROUNDS).absolute(self.rounds);
            gauge!(FEDERATED_PARTICIPANTS).set(round.contributed.len() as f64);
        }
    }

    fn live_vehicles(&mut self, n: usize) {
        if self.exporting {
            gauge!(LIVE_VEHICLE_ACTORS).set(n as f64);
        }
    }

    fn episode_finished(&mut self, stats: &RunStats) {
        if self.exporting {
            self.current = Totals::of(stats);
            self.publish_counters();
        }
        let done = std::mem::take(&mut self.current);
        self.carried.add(&done);
    }
}

/// The end-of-run latency table (HDR histogram percentiles).
pub fn latency_table(service: &Percentiles, wall: &Percentiles) -> String {
    let row = |name: &str, p: &Percentiles| {
        format!("  {name:<22} {:>8}  {:>11.6}  {:>11.6}  {:>11.6}  {:>11.6}\n", p.count, p.p50, p.p90, p.p99, p.max)
    };
    let mut s = format!(
        "latency percentiles (s)  {:>8}  {:>11}  {:>11}  {:>11}  {:>11}\n",
        "count", "p50", "p90", "p99", "max"
    );
    s += &row("service time (model)", service);
    s += &row("slot wall time", wall);
    for (name, p) in [("service times", service), ("slot wall times", wall)] {
        if p.out_of_range > 0 {
            s += &format!(
                "  {} {name} out of range (over 1000 s, or endless: no CPU), not in the percentiles\n",
                p.out_of_range
            );
        }
    }
    s
}
