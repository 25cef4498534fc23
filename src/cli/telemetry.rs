//! Live metrics for Prometheus (`--metrics-addr`), pacing (`--pace`), and end-of-run latency
//! percentiles.
//!
//! Every metric is recorded through the `metrics` facade (`counter!`, `gauge!`, `histogram!`), so
//! whichever recorder is installed receives it: the Prometheus exporter installed once per process
//! by [`install`] (or [`Telemetry::start`]), a local recorder in tests, or none (then recording is
//! a no-op). [`METRICS`] lists every metric with its type, labels and meaning; the README
//! has the same table and the unit tests check the exporter renders each of them.
//!
//! Besides the per-slot metrics that [`Telemetry::on_slot`] records, the free functions
//! [`record_federated_round`], [`record_training`], [`record_fault`], [`set_live_vehicle_actors`]
//! and [`set_episode`] are for the training loop, the fault injector and the actor engine.
//!
//! Label cardinality is bounded: labels are the RSU (`rsu0`..`rsu{E-1}`, or `none` for tasks that
//! never reached an RSU), the task outcome (6 values) and the fault kind (the fixed list of
//! [`FaultCounts::by_kind`]). There are no per-vehicle, per-task or RSU-pair labels.
//!
//! Wall time is read here only (slot wall time, pacing); nothing read here feeds back into the
//! model, so pacing and metrics never change a number of the run.

// Some recording functions are for the training code and the actor engine, which call them as
// they land; keep them compiled and documented meanwhile.
#![allow(dead_code)]

use super::bad;
use clap::Args;
use metrics::{counter, describe_counter, describe_gauge, describe_histogram, gauge, histogram};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder};
use std::collections::BTreeMap;
use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::Mutex;
use std::time::{Duration, Instant};
use vecsim_core::fault::FaultPlan;
use vecsim_core::outcome::Outcome;
use vecsim_core::report::{FaultCounts, LatencyHistogram, Percentiles, RunStats, SlotReport};
use vecsim_core::Scenario;

#[derive(Args, Debug, Clone, Default)]
pub struct MetricsArgs {
    /// Serve Prometheus metrics on HOST:PORT (e.g. 127.0.0.1:9100) while the run lasts.
    #[arg(long, value_name = "HOST:PORT")]
    pub metrics_addr: Option<String>,
    /// Keep serving metrics for this many seconds after the run ends (needs --metrics-addr).
    #[arg(long, value_name = "SECONDS", requires = "metrics_addr", value_parser = parse_seconds)]
    pub serve_after: Option<f64>,
    /// Slow the run down to at most this many slots per wall-clock second, to watch it live.
    /// Pacing only sleeps between slots: it never changes a result.
    #[arg(long, value_name = "SLOTS_PER_SECOND", value_parser = parse_pace)]
    pub pace: Option<f64>,
}

fn parse_seconds(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v.is_finite() && v >= 0.0 => Ok(v),
        _ => Err(format!("`{s}` is not a number of seconds (a finite number ≥ 0)")),
    }
}

fn parse_pace(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v.is_finite() && v > 0.0 => Ok(v),
        _ => Err(format!("`{s}` is not a pace (slots per second, a finite number > 0)")),
    }
}

// ---------------------------------------------------------------------------------------------
// Metric names and their documentation.
// ---------------------------------------------------------------------------------------------

pub const TASKS: &str = "vecsim_tasks_total";
pub const MIGRATIONS: &str = "vecsim_migrations_total";
pub const RSU_COMPLETION_RATE: &str = "vecsim_rsu_completion_rate";
pub const COMPLETION_RATE: &str = "vecsim_completion_rate";
pub const SERVICE_TIME: &str = "vecsim_service_time_seconds";
pub const SLOT: &str = "vecsim_slot";
pub const SLOTS: &str = "vecsim_slots_total";
pub const EPISODE: &str = "vecsim_episode";
pub const SLOT_WALL_TIME: &str = "vecsim_slot_wall_time_seconds";
pub const POTENTIAL: &str = "vecsim_potential";
pub const CUMULATIVE_REWARD: &str = "vecsim_cumulative_reward";
pub const RSU_REWARD: &str = "vecsim_rsu_reward";
pub const FAULTS: &str = "vecsim_faults_total";
pub const FEDERATED_ROUNDS: &str = "vecsim_federated_rounds_total";
pub const FEDERATED_ROUND: &str = "vecsim_federated_round";
pub const FEDERATED_PARTICIPANTS: &str = "vecsim_federated_participants";
pub const CRITIC_LOSS: &str = "vecsim_training_critic_loss";
pub const ACTOR_LOSS: &str = "vecsim_training_actor_loss";
pub const UPDATE_STEPS_PER_SECOND: &str = "vecsim_training_update_steps_per_second";
pub const LIVE_VEHICLE_ACTORS: &str = "vecsim_live_vehicle_actors";
pub const BRNE_UNCONVERGED: &str = "vecsim_brne_unconverged_slots_total";

/// Prometheus metric type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Counter,
    Gauge,
    Histogram,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
            Kind::Histogram => "histogram",
        }
    }
}

/// One documented metric.
#[derive(Clone, Copy, Debug)]
pub struct MetricDoc {
    pub name: &'static str,
    pub kind: Kind,
    pub labels: &'static [&'static str],
    pub help: &'static str,
}

const fn doc(name: &'static str, kind: Kind, labels: &'static [&'static str], help: &'static str) -> MetricDoc {
    MetricDoc { name, kind, labels, help }
}

/// Every metric vecsim exports (the table in the README).
pub const METRICS: &[MetricDoc] = &[
    doc(TASKS, Kind::Counter, &["rsu", "outcome"], "Tasks that ended, by the RSU they were uploaded (or sent) to (`none`: uncovered or disconnected vehicle) and outcome (completed, missed_deadline, uncovered, dropped_vehicle_dropout, dropped_rsu_down, dropped_message_lost)."),
    doc(MIGRATIONS, Kind::Counter, &["rsu"], "Tasks sent over the wired network from their uploading RSU `rsu` to another executing RSU."),
    doc(RSU_COMPLETION_RATE, Kind::Gauge, &["rsu"], "Completed / uploaded tasks credited to the uploading RSU, over the episode so far (NaN while it has no uploads)."),
    doc(COMPLETION_RATE, Kind::Gauge, &[], "Completed / uploaded tasks over all RSUs, over the episode so far (task-weighted, as in summary.json)."),
    doc(SERVICE_TIME, Kind::Histogram, &[], "Service time u + w + x of every executed task (completed or missed deadline), model seconds."),
    doc(SLOT, Kind::Gauge, &[], "Index of the last slot that closed in the current episode."),
    doc(SLOTS, Kind::Counter, &[], "Slots closed since the process started (all episodes)."),
    doc(EPISODE, Kind::Gauge, &[], "Current episode (0 for `vecsim run`; the training iteration when training)."),
    doc(SLOT_WALL_TIME, Kind::Histogram, &[], "Wall-clock time to compute one slot, seconds (pacing sleeps excluded)."),
    doc(POTENTIAL, Kind::Gauge, &[], "Potential F^t = sum of the RSU completion rates of the last slot (the system reward)."),
    doc(CUMULATIVE_REWARD, Kind::Gauge, &[], "Cumulative reward: sum of F^t over the episode so far."),
    doc(RSU_REWARD, Kind::Gauge, &["rsu"], "RSU reward r_e^t = F^t - F^t_{-e} of the last slot."),
    doc(FAULTS, Kind::Counter, &["kind"], "Injected faults by kind, as summary.json's `faults`: vehicle_dropout, upload_lost, migration_lost, upload_delayed, migration_delayed, rsu_outage_slot, task_rsu_down, crash, round_dropout."),
    doc(FEDERATED_ROUNDS, Kind::Counter, &[], "Federated aggregation rounds completed by the VEC POOL."),
    doc(FEDERATED_ROUND, Kind::Gauge, &[], "Index of the last federated aggregation round."),
    doc(FEDERATED_PARTICIPANTS, Kind::Gauge, &[], "RSUs that took part in the last federated round."),
    doc(CRITIC_LOSS, Kind::Gauge, &[], "Mean critic loss of the last training update (NaN until training reports one)."),
    doc(ACTOR_LOSS, Kind::Gauge, &[], "Mean actor loss of the last training update (NaN until training reports one)."),
    doc(UPDATE_STEPS_PER_SECOND, Kind::Gauge, &[], "Training update (gradient) steps per wall-clock second."),
    doc(LIVE_VEHICLE_ACTORS, Kind::Gauge, &[], "Live vehicle actors (the sequential engine reports the vehicles present in the last slot)."),
    doc(BRNE_UNCONVERGED, Kind::Counter, &[], "Slots in which the br-ne oracle stopped at its pass limit without reaching an equilibrium (summary.json's `brne_unconverged_slots`)."),
];

/// The values of the `outcome` label of [`TASKS`], indexed by [`Outcome::index`].
pub const OUTCOMES: [&str; 6] = [
    Outcome::ALL[0].label(),
    Outcome::ALL[1].label(),
    Outcome::ALL[2].label(),
    Outcome::ALL[3].label(),
    Outcome::ALL[4].label(),
    Outcome::ALL[5].label(),
];

/// The values of the `kind` label of [`FAULTS`]: the kinds of [`FaultCounts::by_kind`], a fixed
/// list (bounded cardinality).
pub fn fault_kinds() -> Vec<&'static str> {
    FaultCounts::default().by_kind().iter().map(|(k, _)| *k).collect()
}

/// Faults counted into [`FAULTS`] by this process, by kind (for [`reconcile_faults`]).
static FAULTS_EMITTED: Mutex<BTreeMap<&'static str, u64>> = Mutex::new(BTreeMap::new());

fn faults_emitted() -> BTreeMap<&'static str, u64> {
    FAULTS_EMITTED.lock().unwrap_or_else(|e| e.into_inner()).clone()
}

/// The `rsu` label of tasks that never reached an RSU.
pub const NO_RSU: &str = "none";

/// Bucket upper bounds of [`SERVICE_TIME`], seconds (task deadlines are fractions of a slot).
pub const SERVICE_TIME_BUCKETS: &[f64] =
    &[0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0];

/// Bucket upper bounds of [`SLOT_WALL_TIME`], seconds.
pub const SLOT_WALL_TIME_BUCKETS: &[f64] =
    &[0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];

// ---------------------------------------------------------------------------------------------
// Exporter.
// ---------------------------------------------------------------------------------------------

/// The exporter configuration: explicit buckets make both histograms real Prometheus histograms
/// (`_bucket`/`_sum`/`_count`) instead of summaries.
pub fn builder() -> PrometheusBuilder {
    PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Full(SERVICE_TIME.to_string()), SERVICE_TIME_BUCKETS)
        .expect("non-empty buckets")
        .set_buckets_for_metric(Matcher::Full(SLOT_WALL_TIME.to_string()), SLOT_WALL_TIME_BUCKETS)
        .expect("non-empty buckets")
}

/// The address the process-wide exporter listens on, once installed.
static INSTALLED: Mutex<Option<SocketAddr>> = Mutex::new(None);

/// Resolves `HOST:PORT`; errors are bad input.
pub fn resolve_addr(addr: &str) -> anyhow::Result<SocketAddr> {
    let mut it =
        addr.to_socket_addrs().map_err(|e| bad(format!("--metrics-addr `{addr}`: expected HOST:PORT ({e})")))?;
    it.next().ok_or_else(|| bad(format!("--metrics-addr `{addr}`: resolves to no address")))
}

/// Installs the Prometheus exporter as the global recorder, serving on `addr` from a background
/// thread, describes every metric and registers the process-wide series
/// ([`register_process_metrics`]). The global recorder can be set only once per process:
/// installing again on the same address is a no-op, on another one an error.
pub fn install(addr: SocketAddr) -> anyhow::Result<()> {
    let mut installed = INSTALLED.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(a) = *installed {
        if a == addr {
            return Ok(());
        }
        anyhow::bail!("the metrics exporter already serves on {a}; cannot serve on {addr} too");
    }
    builder().with_http_listener(addr).install().map_err(|e| anyhow::anyhow!("cannot serve metrics on {addr}: {e}"))?;
    describe_all();
    register_process_metrics();
    *installed = Some(addr);
    Ok(())
}

/// Whether a metrics exporter is installed in this process.
pub fn installed() -> bool {
    INSTALLED.lock().map(|g| g.is_some()).unwrap_or(true)
}

/// Sends the `# HELP` text of every metric to the current recorder.
pub fn describe_all() {
    for m in METRICS {
        match m.kind {
            Kind::Counter => describe_counter!(m.name, m.help),
            Kind::Gauge => describe_gauge!(m.name, m.help),
            Kind::Histogram => describe_histogram!(m.name, m.help),
        }
    }
}

/// Registers the metrics that do not depend on the scenario, so that every documented series
/// exists from the first scrape (dashboards show 0 or NaN rather than "no data"). [`install`]
/// calls it once per process (calling it again would reset the training gauges).
pub fn register_process_metrics() {
    for k in fault_kinds() {
        counter!(FAULTS, "kind" => k).increment(0);
    }
    counter!(SLOTS).increment(0);
    counter!(BRNE_UNCONVERGED).increment(0);
    counter!(FEDERATED_ROUNDS).increment(0);
    gauge!(FEDERATED_ROUND).set(0.0);
    gauge!(FEDERATED_PARTICIPANTS).set(0.0);
    gauge!(CRITIC_LOSS).set(f64::NAN);
    gauge!(ACTOR_LOSS).set(f64::NAN);
    gauge!(UPDATE_STEPS_PER_SECOND).set(0.0);
    gauge!(LIVE_VEHICLE_ACTORS).set(0.0);
    gauge!(EPISODE).set(0.0);
}

// ---------------------------------------------------------------------------------------------
// Recording functions for other code (training, fault injection, actor engine).
// ---------------------------------------------------------------------------------------------

/// A federated aggregation round `round` finished with `participants` RSUs taking part.
/// Called by the training code once per VEC POOL aggregation.
pub fn record_federated_round(round: u64, participants: usize) {
    counter!(FEDERATED_ROUNDS).increment(1);
    gauge!(FEDERATED_ROUND).set(round as f64);
    gauge!(FEDERATED_PARTICIPANTS).set(participants as f64);
}

/// A training update: the episode (iteration) it belongs to, the mean critic and actor losses,
/// and the update steps per wall-clock second. Called by the training code.
pub fn record_training(episode: u64, critic_loss: f64, actor_loss: f64, steps_per_s: f64) {
    gauge!(EPISODE).set(episode as f64);
    gauge!(CRITIC_LOSS).set(critic_loss);
    gauge!(ACTOR_LOSS).set(actor_loss);
    gauge!(UPDATE_STEPS_PER_SECOND).set(steps_per_s);
}

/// Counts `n` faults of `kind`, one of [`fault_kinds`] (only fixed names keep the label bounded).
///
/// [`SlotMetrics::record`] counts the kinds a slot shows (`vehicle_dropout`, `upload_lost`,
/// `migration_lost`, `upload_delayed`, `migration_delayed`, `task_rsu_down`, and
/// `rsu_outage_slot` from the fault plan). `crash` (an RSU actor crashed and its supervisor
/// restarted it) and `round_dropout` (an RSU missed a federated round) are for the actor engine
/// and the training code to call as they happen; whatever they have not counted by the end of a
/// run is added by [`Telemetry::finish`] from the run's [`FaultCounts`].
pub fn record_fault(kind: &'static str, n: u64) {
    debug_assert!(fault_kinds().contains(&kind), "unknown fault kind `{kind}`");
    if n == 0 {
        return;
    }
    counter!(FAULTS, "kind" => kind).increment(n);
    *FAULTS_EMITTED.lock().unwrap_or_else(|e| e.into_inner()).entry(kind).or_insert(0) += n;
}

/// Brings [`FAULTS`] up to a run's own counts: adds, per kind, what `counts` has beyond what was
/// counted since `since` (a snapshot taken when the run started). Never counts anything twice.
fn reconcile_faults(counts: &FaultCounts, since: &BTreeMap<&'static str, u64>) {
    let now = faults_emitted();
    for (kind, n) in counts.by_kind() {
        let done = now.get(kind).copied().unwrap_or(0) - since.get(kind).copied().unwrap_or(0);
        if n > done {
            record_fault(kind, n - done);
        }
    }
}

/// The number of live vehicle actors (the actor engine's own count; the sequential engine's
/// [`SlotMetrics::record`] uses the vehicles present in the slot).
pub fn set_live_vehicle_actors(n: usize) {
    gauge!(LIVE_VEHICLE_ACTORS).set(n as f64);
}

/// The current episode (training iteration).
pub fn set_episode(episode: u64) {
    gauge!(EPISODE).set(episode as f64);
}

/// One slot's wall-clock compute time, seconds.
pub fn record_slot_wall_time(seconds: f64) {
    histogram!(SLOT_WALL_TIME).record(seconds);
}

// ---------------------------------------------------------------------------------------------
// Per-slot metrics.
// ---------------------------------------------------------------------------------------------

/// The per-slot metrics of one episode: folds each [`SlotReport`] into counters and gauges.
/// Pure bookkeeping: it reads no clock.
#[derive(Clone, Debug)]
pub struct SlotMetrics {
    /// The fault plan, for the RSUs down in each slot.
    plan: Option<FaultPlan>,
    rsu_labels: Vec<String>,
    uploaded: Vec<u64>,
    completed: Vec<u64>,
    cumulative_reward: f64,
}

impl SlotMetrics {
    /// Registers the per-RSU series of `rsus` RSUs (zero counts, NaN rates).
    pub fn new(rsus: usize) -> SlotMetrics {
        let mut m = SlotMetrics {
            plan: None,
            rsu_labels: Vec::new(),
            uploaded: Vec::new(),
            completed: Vec::new(),
            cumulative_reward: 0.0,
        };
        m.grow(rsus);
        // A task without an RSU was uncovered or its vehicle disconnected (a lost upload counts
        // against the RSU it was sent to).
        for o in OUTCOMES.into_iter().filter(|o| *o == "uncovered" || o.starts_with("dropped_")) {
            counter!(TASKS, "rsu" => NO_RSU, "outcome" => o).increment(0);
        }
        gauge!(COMPLETION_RATE).set(f64::NAN);
        gauge!(POTENTIAL).set(0.0);
        gauge!(CUMULATIVE_REWARD).set(0.0);
        gauge!(SLOT).set(0.0);
        m
    }

    /// Counts `rsu_outage_slot` faults from this plan's outage windows.
    pub fn with_faults(mut self, plan: &FaultPlan) -> SlotMetrics {
        self.plan = Some(plan.clone());
        self
    }

    fn grow(&mut self, rsus: usize) {
        while self.rsu_labels.len() < rsus {
            let e = self.rsu_labels.len();
            let label = format!("rsu{e}");
            // An RSU's tasks are never uncovered (that outcome has no RSU).
            for o in OUTCOMES.into_iter().filter(|o| *o != "uncovered") {
                counter!(TASKS, "rsu" => label.clone(), "outcome" => o).increment(0);
            }
            counter!(MIGRATIONS, "rsu" => label.clone()).increment(0);
            gauge!(RSU_COMPLETION_RATE, "rsu" => label.clone()).set(f64::NAN);
            gauge!(RSU_REWARD, "rsu" => label.clone()).set(0.0);
            self.rsu_labels.push(label);
            self.uploaded.push(0);
            self.completed.push(0);
        }
    }

    /// Starts a new episode: the episode-scoped gauges (rates, cumulative reward) restart.
    pub fn new_episode(&mut self, episode: u64) {
        self.uploaded.iter_mut().for_each(|x| *x = 0);
        self.completed.iter_mut().for_each(|x| *x = 0);
        self.cumulative_reward = 0.0;
        set_episode(episode);
        gauge!(CUMULATIVE_REWARD).set(0.0);
        gauge!(COMPLETION_RATE).set(f64::NAN);
        for l in &self.rsu_labels {
            gauge!(RSU_COMPLETION_RATE, "rsu" => l.clone()).set(f64::NAN);
        }
    }

    /// Records one closed slot.
    pub fn record(&mut self, r: &SlotReport) {
        let mut rsus = r.score.uploaded.len().max(r.score.rewards.len());
        for t in &r.results {
            for e in [t.uploader, t.executor].into_iter().flatten() {
                rsus = rsus.max(e.index() + 1);
            }
        }
        self.grow(rsus);
        let e_count = self.rsu_labels.len();

        // Aggregate first, then touch each series once.
        let mut tasks = vec![[0u64; OUTCOMES.len()]; e_count + 1]; // row e_count: no RSU
        let mut migrations = vec![0u64; e_count];
        let service = histogram!(SERVICE_TIME);
        for t in &r.results {
            let row = t.uploader.map_or(e_count, |u| u.index());
            tasks[row][t.outcome.index()] += 1;
            if let (Some(u), Some(x)) = (t.uploader, t.executor) {
                if u != x {
                    migrations[u.index()] += 1;
                }
            }
            if t.executed() && t.service_s.is_finite() {
                service.record(t.service_s);
            }
        }
        for (row, counts) in tasks.iter().enumerate() {
            let label = if row == e_count { NO_RSU.to_string() } else { self.rsu_labels[row].clone() };
            for (o, &n) in OUTCOMES.iter().zip(counts) {
                if n > 0 {
                    counter!(TASKS, "rsu" => label.clone(), "outcome" => *o).increment(n);
                }
            }
        }
        for (e, &n) in migrations.iter().enumerate() {
            if n > 0 {
                counter!(MIGRATIONS, "rsu" => self.rsu_labels[e].clone()).increment(n);
            }
        }
        let mut faults = FaultCounts::of_results(&r.results);
        if let Some(plan) = &self.plan {
            faults.rsu_outage_slots = plan.rsus_down(e_count, r.slot) as u64;
        }
        for (kind, n) in faults.by_kind() {
            record_fault(kind, n);
        }

        // Completion rates over the episode so far, credited to the uploading RSU.
        for (e, (&u, &c)) in r.score.uploaded.iter().zip(&r.score.completed).enumerate() {
            self.uploaded[e] += u as u64;
            self.completed[e] += c as u64;
        }
        for e in 0..e_count {
            if self.uploaded[e] > 0 {
                let rate = self.completed[e] as f64 / self.uploaded[e] as f64;
                gauge!(RSU_COMPLETION_RATE, "rsu" => self.rsu_labels[e].clone()).set(rate);
            }
        }
        let (up, done): (u64, u64) = (self.uploaded.iter().sum(), self.completed.iter().sum());
        if up > 0 {
            gauge!(COMPLETION_RATE).set(done as f64 / up as f64);
        }

        // Potential and rewards.
        self.cumulative_reward += r.score.potential;
        gauge!(POTENTIAL).set(r.score.potential);
        gauge!(CUMULATIVE_REWARD).set(self.cumulative_reward);
        for (e, &rw) in r.score.rewards.iter().enumerate() {
            gauge!(RSU_REWARD, "rsu" => self.rsu_labels[e].clone()).set(rw);
        }

        gauge!(SLOT).set(r.slot as f64);
        counter!(SLOTS).increment(1);
        if r.unconverged {
            counter!(BRNE_UNCONVERGED).increment(1);
        }
        set_live_vehicle_actors(r.vehicles as usize);
    }
}

// ---------------------------------------------------------------------------------------------
// The telemetry of one run.
// ---------------------------------------------------------------------------------------------

/// The telemetry of one run: metrics (when `--metrics-addr` is given), pacing, and the slot
/// wall-time histogram printed at the end.
pub struct Telemetry {
    addr: Option<SocketAddr>,
    serve_after: Option<f64>,
    pace: Option<Duration>,
    /// When the next slot may close under pacing.
    next_due: Instant,
    /// When the current slot's computation started (end of the previous `on_slot`).
    slot_started: Instant,
    wall: LatencyHistogram,
    metrics: Option<SlotMetrics>,
    /// [`FAULTS`] counted before this run started.
    faults_before: BTreeMap<&'static str, u64>,
}

impl Telemetry {
    pub fn start(args: &MetricsArgs, scenario: &Scenario) -> anyhow::Result<Telemetry> {
        let addr = match &args.metrics_addr {
            Some(a) => {
                let addr = resolve_addr(a)?;
                install(addr)?;
                eprintln!("serving Prometheus metrics on http://{addr}/metrics");
                Some(addr)
            }
            None => None,
        };
        let metrics = addr.map(|_| SlotMetrics::new(scenario.rsu_count()).with_faults(&scenario.faults));
        let now = Instant::now();
        Ok(Telemetry {
            addr,
            serve_after: args.serve_after,
            pace: args.pace.map(|p| Duration::from_secs_f64(1.0 / p)),
            next_due: now,
            slot_started: now,
            wall: LatencyHistogram::default(),
            metrics,
            faults_before: faults_emitted(),
        })
    }

    /// Starts a new episode (training): resets the episode-scoped gauges.
    pub fn new_episode(&mut self, episode: u64) {
        if let Some(m) = &mut self.metrics {
            m.new_episode(episode);
        }
    }

    /// Called as each slot closes.
    pub fn on_slot(&mut self, report: &SlotReport) {
        let wall = self.slot_started.elapsed().as_secs_f64();
        self.wall.record_s(wall);
        if let Some(m) = &mut self.metrics {
            record_slot_wall_time(wall);
            m.record(report);
        }
        if let Some(period) = self.pace {
            let now = Instant::now();
            if self.next_due > now {
                std::thread::sleep(self.next_due - now);
            }
            self.next_due = self.next_due.max(now) + period;
        }
        self.slot_started = Instant::now();
    }

    /// Slot wall-time histogram so far.
    pub fn slot_wall_histogram(&self) -> &LatencyHistogram {
        &self.wall
    }

    /// Called once after the run: counts the faults not seen per slot (crashes, round dropouts),
    /// prints the latency percentiles (on stderr, so `--json` output stays clean) and keeps
    /// serving metrics for `--serve-after` seconds.
    pub fn finish(self, stats: &RunStats) -> anyhow::Result<()> {
        if self.metrics.is_some() {
            reconcile_faults(&stats.fault_counts(), &self.faults_before);
        }
        eprint!("{}", latency_table(&stats.service_histogram().percentiles(), &self.wall.percentiles()));
        if let (Some(addr), Some(s)) = (self.addr, self.serve_after) {
            if s > 0.0 {
                eprintln!("run finished; serving metrics on http://{addr}/metrics for {s} s more");
                std::thread::sleep(Duration::from_secs_f64(s));
            }
        }
        Ok(())
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
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use metrics_exporter_prometheus::PrometheusHandle;
    use std::collections::{BTreeMap, BTreeSet};
    use vecsim_core::ids::{RsuId, TaskId};
    use vecsim_core::outcome::{DropCause, TaskResult};

    fn task(vehicle: u32, up: Option<u32>, ex: Option<u32>, service_s: f64, outcome: Outcome) -> TaskResult {
        let mut t = TaskResult::early(TaskId { slot: 4, vehicle }, up.map(RsuId), 0.01, outcome);
        t.executor = ex.map(RsuId);
        if matches!(outcome, Outcome::Completed | Outcome::MissedDeadline) {
            t.service_s = service_s;
        }
        t
    }

    /// Slot 4 of a 3-RSU scenario, worked out by hand:
    /// rsu0 uploads 3 (2 completed, one of them migrated to rsu1; 1 missed),
    /// rsu1 uploads 2 (1 completed; 1 migrated to rsu2 and lost on the wire),
    /// rsu2 uploads 1 (dropped: rsu2 down), plus 1 uncovered and 1 vehicle dropout (no RSU), and
    /// 1 upload lost on its way to rsu0 (it counts against rsu0). Task 0's upload was delayed by
    /// an injected 0.05 s. The br-ne oracle did not converge in this slot.
    fn synthetic_report() -> SlotReport {
        use Outcome::*;
        let mut delayed = task(0, Some(0), Some(0), 0.1, Completed);
        delayed.upload_extra_s = 0.05;
        let results = vec![
            delayed,
            task(1, Some(0), Some(1), 0.3, Completed),
            task(2, Some(0), Some(0), 1.5, MissedDeadline),
            task(3, Some(1), Some(1), 0.2, Completed),
            task(4, None, None, 0.0, Uncovered),
            task(5, Some(2), Some(2), 0.0, Dropped(DropCause::RsuDown)),
            task(6, None, None, 0.0, Dropped(DropCause::VehicleDropout)),
            task(7, Some(1), Some(2), 0.0, Dropped(DropCause::MessageLost)),
            task(8, Some(0), None, 0.0, Dropped(DropCause::MessageLost)),
        ];
        let score = vecsim_core::slot::score(&results, 3);
        SlotReport { slot: 4, vehicles: 11, results, score, unconverged: true }
    }

    /// A plan with rsu2 down over slots 3..=5 (so in slot 4).
    fn outage_plan() -> FaultPlan {
        let mut plan = FaultPlan::default();
        plan.rsu_outage.push(vecsim_core::fault::Outage { rsu: 2, from_slot: 3, to_slot: 5 });
        plan
    }

    /// Feeds the synthetic slot and one call of every public recording function through a local
    /// Prometheus recorder; returns the rendered exposition text.
    fn render_synthetic() -> String {
        let recorder = builder().build_recorder();
        let handle: PrometheusHandle = recorder.handle();
        metrics::with_local_recorder(&recorder, || {
            describe_all();
            register_process_metrics();
            let mut m = SlotMetrics::new(3).with_faults(&outage_plan());
            m.record(&synthetic_report());
            record_slot_wall_time(0.003);
            record_slot_wall_time(0.2);
            record_federated_round(7, 3);
            record_training(12, 0.5, -0.25, 150.0);
            record_fault("crash", 2);
            record_fault("round_dropout", 1);
        });
        handle.render()
    }

    /// One sample line of the text format: name, labels, value.
    type Sample = (String, BTreeMap<String, String>, f64);

    fn parse_samples(text: &str) -> Vec<Sample> {
        let mut out = Vec::new();
        for line in text.lines() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (series, value) = line.rsplit_once(' ').expect("sample line has a value");
            let value: f64 = value.parse().unwrap_or_else(|_| panic!("bad value in `{line}`"));
            let (name, labels) = match series.split_once('{') {
                Some((n, rest)) => {
                    let body = rest.strip_suffix('}').expect("closing brace");
                    let labels = body
                        .split(',')
                        .filter(|s| !s.is_empty())
                        .map(|kv| {
                            let (k, v) = kv.split_once('=').expect("label k=v");
                            (k.to_string(), v.trim_matches('"').to_string())
                        })
                        .collect();
                    (n.to_string(), labels)
                }
                None => (series.to_string(), BTreeMap::new()),
            };
            out.push((name, labels, value));
        }
        out
    }

    fn value(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> f64 {
        let want: BTreeMap<String, String> = labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        samples
            .iter()
            .find(|(n, l, _)| n == name && *l == want)
            .unwrap_or_else(|| panic!("no sample {name}{labels:?}"))
            .2
    }

    #[test]
    fn every_documented_metric_is_rendered_with_its_labels() {
        let text = render_synthetic();
        let samples = parse_samples(&text);
        for m in METRICS {
            let (series, extra): (Vec<&Sample>, &[&str]) = match m.kind {
                Kind::Histogram => {
                    let b = format!("{}_bucket", m.name);
                    for suffix in ["_sum", "_count"] {
                        let n = format!("{}{suffix}", m.name);
                        assert!(samples.iter().any(|s| s.0 == n), "{n} missing:\n{text}");
                    }
                    (samples.iter().filter(|s| s.0 == b).collect(), &["le"])
                }
                _ => (samples.iter().filter(|s| s.0 == m.name).collect(), &[]),
            };
            assert!(!series.is_empty(), "{} missing:\n{text}", m.name);
            let want: BTreeSet<&str> = m.labels.iter().chain(extra).copied().collect();
            for (name, labels, _) in &series {
                let got: BTreeSet<&str> = labels.keys().map(|k| k.as_str()).collect();
                assert_eq!(got, want, "labels of {name}");
            }
            let kind = format!("# TYPE {} {}", m.name, m.kind.name());
            assert!(text.contains(&kind), "`{kind}` missing:\n{text}");
            assert!(text.contains(&format!("# HELP {} ", m.name)), "help of {} missing", m.name);
        }
        // Nothing undocumented either.
        let documented: BTreeSet<&str> = METRICS.iter().map(|m| m.name).collect();
        for (name, _, _) in &samples {
            let base = name.trim_end_matches("_bucket").trim_end_matches("_sum").trim_end_matches("_count");
            assert!(documented.contains(name.as_str()) || documented.contains(base), "undocumented {name}");
        }
    }

    #[test]
    fn values_match_the_slot_worked_out_by_hand() {
        let s = parse_samples(&render_synthetic());
        let tasks = |rsu: &str, o: &str| value(&s, TASKS, &[("rsu", rsu), ("outcome", o)]);
        assert_eq!(tasks("rsu0", "completed"), 2.0);
        assert_eq!(tasks("rsu0", "missed_deadline"), 1.0);
        assert_eq!(tasks("rsu1", "completed"), 1.0);
        assert_eq!(tasks("rsu1", "dropped_message_lost"), 1.0);
        assert_eq!(tasks("rsu2", "dropped_rsu_down"), 1.0);
        assert_eq!(tasks("rsu2", "completed"), 0.0, "pre-registered at zero");
        assert_eq!(tasks("none", "uncovered"), 1.0);
        assert_eq!(tasks("none", "dropped_vehicle_dropout"), 1.0);
        assert_eq!(tasks("rsu0", "dropped_message_lost"), 1.0, "a lost upload counts against its RSU");
        assert_eq!(tasks("none", "dropped_message_lost"), 0.0);
        let total: f64 = s.iter().filter(|x| x.0 == TASKS).map(|x| x.2).sum();
        assert_eq!(total, 9.0, "conservation: every task counted once");
        assert_eq!(value(&s, MIGRATIONS, &[("rsu", "rsu0")]), 1.0);
        assert_eq!(value(&s, MIGRATIONS, &[("rsu", "rsu1")]), 1.0);
        assert_eq!(value(&s, MIGRATIONS, &[("rsu", "rsu2")]), 0.0);
        let fault = |k: &str| value(&s, FAULTS, &[("kind", k)]);
        assert_eq!(fault("vehicle_dropout"), 1.0);
        assert_eq!(fault("upload_lost"), 1.0);
        assert_eq!(fault("migration_lost"), 1.0);
        assert_eq!(fault("upload_delayed"), 1.0);
        assert_eq!(fault("migration_delayed"), 0.0, "pre-registered at zero");
        assert_eq!(fault("rsu_outage_slot"), 1.0, "rsu2 down in slot 4");
        assert_eq!(fault("task_rsu_down"), 1.0);
        assert_eq!(fault("crash"), 2.0);
        assert_eq!(fault("round_dropout"), 1.0);
        assert_eq!(s.iter().filter(|x| x.0 == FAULTS).count(), fault_kinds().len(), "bounded kinds");
        // Rates: rsu0 2/4 (its lost upload counts), rsu1 1/2, rsu2 0/1; overall 3/7.
        assert_eq!(value(&s, RSU_COMPLETION_RATE, &[("rsu", "rsu0")]), 0.5);
        assert_eq!(value(&s, RSU_COMPLETION_RATE, &[("rsu", "rsu1")]), 0.5);
        assert_eq!(value(&s, RSU_COMPLETION_RATE, &[("rsu", "rsu2")]), 0.0);
        assert!((value(&s, COMPLETION_RATE, &[]) - 3.0 / 7.0).abs() < 1e-12);
        // F = 2/4 + 1/2 + 0; r_e = Σ_u c_{u,e}/|K_u|: rsu0 runs 1 of rsu0's, rsu1 runs 1 of rsu0's
        // and 1 of rsu1's.
        let f = 0.5 + 0.5;
        assert!((value(&s, POTENTIAL, &[]) - f).abs() < 1e-12);
        assert!((value(&s, CUMULATIVE_REWARD, &[]) - f).abs() < 1e-12);
        assert!((value(&s, RSU_REWARD, &[("rsu", "rsu0")]) - 0.25).abs() < 1e-12);
        assert!((value(&s, RSU_REWARD, &[("rsu", "rsu1")]) - (0.25 + 0.5)).abs() < 1e-12);
        assert_eq!(value(&s, BRNE_UNCONVERGED, &[]), 1.0);
        assert_eq!(value(&s, RSU_REWARD, &[("rsu", "rsu2")]), 0.0);
        // Service time: the 4 executed tasks, 0.1 + 0.3 + 1.5 + 0.2 s.
        assert_eq!(value(&s, &format!("{SERVICE_TIME}_count"), &[]), 4.0);
        assert!((value(&s, &format!("{SERVICE_TIME}_sum"), &[]) - 2.1).abs() < 1e-12);
        assert_eq!(value(&s, &format!("{SERVICE_TIME}_bucket"), &[("le", "0.2")]), 2.0);
        assert_eq!(value(&s, &format!("{SERVICE_TIME}_bucket"), &[("le", "1")]), 3.0);
        assert_eq!(value(&s, &format!("{SERVICE_TIME}_bucket"), &[("le", "+Inf")]), 4.0);
        assert_eq!(value(&s, &format!("{SLOT_WALL_TIME}_count"), &[]), 2.0);
        assert_eq!(value(&s, SLOT, &[]), 4.0);
        assert_eq!(value(&s, SLOTS, &[]), 1.0);
        assert_eq!(value(&s, LIVE_VEHICLE_ACTORS, &[]), 11.0);
        assert_eq!(value(&s, EPISODE, &[]), 12.0);
        assert_eq!(value(&s, FEDERATED_ROUNDS, &[]), 1.0);
        assert_eq!(value(&s, FEDERATED_ROUND, &[]), 7.0);
        assert_eq!(value(&s, FEDERATED_PARTICIPANTS, &[]), 3.0);
        assert_eq!(value(&s, CRITIC_LOSS, &[]), 0.5);
        assert_eq!(value(&s, ACTOR_LOSS, &[]), -0.25);
        assert_eq!(value(&s, UPDATE_STEPS_PER_SECOND, &[]), 150.0);
    }

    #[test]
    fn new_episode_restarts_episode_scoped_gauges() {
        let recorder = builder().build_recorder();
        let handle = recorder.handle();
        metrics::with_local_recorder(&recorder, || {
            let mut m = SlotMetrics::new(3);
            m.record(&synthetic_report());
            m.new_episode(2);
            m.record(&synthetic_report());
        });
        let s = parse_samples(&handle.render());
        assert_eq!(value(&s, TASKS, &[("rsu", "rsu0"), ("outcome", "completed")]), 4.0, "counters keep counting");
        assert!((value(&s, COMPLETION_RATE, &[]) - 3.0 / 7.0).abs() < 1e-12);
        assert!((value(&s, CUMULATIVE_REWARD, &[]) - 1.0).abs() < 1e-12);
        assert_eq!(value(&s, EPISODE, &[]), 2.0);
    }

    #[test]
    fn latency_table_has_both_rows() {
        let mut h = LatencyHistogram::default();
        h.record_s(0.5);
        let t = latency_table(&h.percentiles(), &Percentiles::default());
        for w in ["p50", "p90", "p99", "max", "service time", "slot wall time"] {
            assert!(t.contains(w), "{t}");
        }
    }

    #[test]
    fn docs_table_lists_every_metric_with_type_and_labels() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/README.md");
        let text = std::fs::read_to_string(path).expect("README.md");
        let rows: BTreeMap<&str, Vec<&str>> = text
            .lines()
            .filter(|l| l.starts_with("| `vecsim_"))
            .map(|l| {
                let cells: Vec<&str> = l.trim_matches('|').split('|').map(str::trim).collect();
                (cells[0].trim_matches('`'), cells)
            })
            .collect();
        assert_eq!(rows.len(), METRICS.len(), "documented rows: {:?}", rows.keys());
        for m in METRICS {
            let cells = rows.get(m.name).unwrap_or_else(|| panic!("{} not in the README's metric table", m.name));
            assert_eq!(cells[1], m.kind.name(), "type of {}", m.name);
            for l in m.labels {
                assert!(cells[2].contains(&format!("`{l}`")), "label {l} of {} not documented", m.name);
            }
        }
    }

    // --- the Grafana dashboard ---------------------------------------------------------------

    fn dashboard() -> serde_json::Value {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/grafana/dashboards/vecsim.json");
        let text = std::fs::read_to_string(path).expect("dashboard file");
        serde_json::from_str(&text).expect("dashboard is JSON")
    }

    /// Every panel, rows included, flattening collapsed rows' nested panels.
    fn panels(d: &serde_json::Value) -> Vec<&serde_json::Value> {
        fn walk<'a>(ps: &'a serde_json::Value, out: &mut Vec<&'a serde_json::Value>) {
            for p in ps.as_array().into_iter().flatten() {
                out.push(p);
                if let Some(inner) = p.get("panels") {
                    walk(inner, out);
                }
            }
        }
        let mut out = Vec::new();
        walk(&d["panels"], &mut out);
        out
    }

    /// Metric names in a PromQL expression: identifiers outside string literals and label
    /// matchers that start with `vecsim_` (no other identifier does).
    pub fn promql_metric_names(expr: &str) -> Vec<String> {
        let mut names = Vec::new();
        let mut chars = expr.chars().peekable();
        let mut ident = String::new();
        let flush = |ident: &mut String, names: &mut Vec<String>| {
            if ident.starts_with("vecsim_") {
                names.push(ident.clone());
            }
            ident.clear();
        };
        while let Some(c) = chars.next() {
            if c == '"' || c == '\'' || c == '`' {
                flush(&mut ident, &mut names);
                while let Some(d) = chars.next() {
                    if d == '\\' {
                        chars.next();
                    } else if d == c {
                        break;
                    }
                }
            } else if c.is_ascii_alphanumeric() || c == '_' || c == ':' {
                ident.push(c);
            } else {
                flush(&mut ident, &mut names);
            }
        }
        flush(&mut ident, &mut names);
        names
    }

    #[test]
    fn promql_tokenizer() {
        assert_eq!(
            promql_metric_names(r#"sum by (rsu) (rate(vecsim_tasks_total{outcome="vecsim_x"}[1m])) / vecsim_slot"#),
            vec!["vecsim_tasks_total", "vecsim_slot"]
        );
    }

    #[test]
    fn dashboard_panels_have_datasources_targets_and_known_metrics() {
        let d = dashboard();
        assert!(d["title"].is_string());
        let all = panels(&d);
        let rows: Vec<&str> = all.iter().filter(|p| p["type"] == "row").filter_map(|p| p["title"].as_str()).collect();
        for want in ["Overview", "Per RSU", "Training", "Faults"] {
            assert!(rows.iter().any(|r| r.eq_ignore_ascii_case(want)), "row `{want}` missing: {rows:?}");
        }
        let emitted: BTreeSet<String> = parse_samples(&render_synthetic()).into_iter().map(|s| s.0).collect();
        let mut used = BTreeSet::new();
        let mut n = 0;
        for p in all.iter().filter(|p| p["type"] != "row") {
            let title = p["title"].as_str().unwrap_or("?");
            let ds = &p["datasource"];
            assert!(ds.is_object() && ds["uid"].is_string(), "panel `{title}` has no datasource");
            let targets = p["targets"].as_array().filter(|t| !t.is_empty());
            let targets = targets.unwrap_or_else(|| panic!("panel `{title}` has no targets"));
            for t in targets {
                let expr = t["expr"].as_str().unwrap_or_else(|| panic!("panel `{title}`: target without expr"));
                assert!(!expr.trim().is_empty(), "panel `{title}`: empty expr");
                let names = promql_metric_names(expr);
                assert!(!names.is_empty(), "panel `{title}`: `{expr}` uses no vecsim metric");
                for name in names {
                    assert!(emitted.contains(&name), "panel `{title}` uses `{name}`, which the exporter does not emit");
                    used.insert(name);
                }
            }
            n += 1;
        }
        assert!(n >= 10, "only {n} panels");
        // The dashboard shows every documented metric.
        for m in METRICS {
            let hit = used.iter().any(|u| match m.kind {
                Kind::Histogram => ["_bucket", "_sum", "_count"].iter().any(|s| *u == format!("{}{s}", m.name)),
                _ => u == m.name,
            });
            assert!(hit, "no panel shows {}", m.name);
        }
    }
}
