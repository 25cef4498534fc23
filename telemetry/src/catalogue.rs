//! Every metric vecsim exports, with its type, labels and meaning: the one list that the
//! exporter describes, the table in docs/monitoring.md and the Grafana dashboard are checked against.

use vecsim_core::outcome::{DropCause, Outcome};
use vecsim_core::report::FaultCounts;

/// `vecsim_tasks_total`: see [`METRICS`] for its type, labels and meaning.
pub const TASKS: &str = "vecsim_tasks_total";
/// `vecsim_migrations_total`: see [`METRICS`] for its type, labels and meaning.
pub const MIGRATIONS: &str = "vecsim_migrations_total";
/// `vecsim_rsu_completion_ratio`: see [`METRICS`] for its type, labels and meaning.
pub const RSU_COMPLETION_RATE: &str = "vecsim_rsu_completion_ratio";
/// `vecsim_completion_ratio`: see [`METRICS`] for its type, labels and meaning.
pub const COMPLETION_RATE: &str = "vecsim_completion_ratio";
/// `vecsim_service_time_seconds`: see [`METRICS`] for its type, labels and meaning.
pub const SERVICE_TIME: &str = "vecsim_service_time_seconds";
/// `vecsim_service_time_unbounded_total`: see [`METRICS`] for its type, labels and meaning.
pub const SERVICE_TIME_UNBOUNDED: &str = "vecsim_service_time_unbounded_total";
/// `vecsim_slot`: see [`METRICS`] for its type, labels and meaning.
pub const SLOT: &str = "vecsim_slot";
/// `vecsim_slots_total`: see [`METRICS`] for its type, labels and meaning.
pub const SLOTS: &str = "vecsim_slots_total";
/// `vecsim_episode`: see [`METRICS`] for its type, labels and meaning.
pub const EPISODE: &str = "vecsim_episode";
/// `vecsim_slot_wall_time_seconds`: see [`METRICS`] for its type, labels and meaning.
pub const SLOT_WALL_TIME: &str = "vecsim_slot_wall_time_seconds";
/// `vecsim_potential`: see [`METRICS`] for its type, labels and meaning.
pub const POTENTIAL: &str = "vecsim_potential";
/// `vecsim_cumulative_reward`: see [`METRICS`] for its type, labels and meaning.
pub const CUMULATIVE_REWARD: &str = "vecsim_cumulative_reward";
/// `vecsim_rsu_reward`: see [`METRICS`] for its type, labels and meaning.
pub const RSU_REWARD: &str = "vecsim_rsu_reward";
/// `vecsim_faults_total`: see [`METRICS`] for its type, labels and meaning.
pub const FAULTS: &str = "vecsim_faults_total";
/// `vecsim_federated_rounds_total`: see [`METRICS`] for its type, labels and meaning.
pub const FEDERATED_ROUNDS: &str = "vecsim_federated_rounds_total";
/// `vecsim_federated_round`: see [`METRICS`] for its type, labels and meaning.
pub const FEDERATED_ROUND: &str = "vecsim_federated_round";
/// `vecsim_federated_participants`: see [`METRICS`] for its type, labels and meaning.
pub const FEDERATED_PARTICIPANTS: &str = "vecsim_federated_participants";
/// `vecsim_training_critic_loss`: see [`METRICS`] for its type, labels and meaning.
pub const CRITIC_LOSS: &str = "vecsim_training_critic_loss";
/// `vecsim_training_actor_loss`: see [`METRICS`] for its type, labels and meaning.
pub const ACTOR_LOSS: &str = "vecsim_training_actor_loss";
/// `vecsim_training_update_steps_total`: see [`METRICS`] for its type, labels and meaning.
pub const UPDATE_STEPS: &str = "vecsim_training_update_steps_total";
/// `vecsim_live_vehicle_actors`: see [`METRICS`] for its type, labels and meaning.
pub const LIVE_VEHICLE_ACTORS: &str = "vecsim_live_vehicle_actors";
/// `vecsim_brne_unconverged_slots_total`: see [`METRICS`] for its type, labels and meaning.
pub const BRNE_UNCONVERGED: &str = "vecsim_brne_unconverged_slots_total";
/// `vecsim_run_info`: see [`METRICS`] for its type, labels and meaning.
pub const RUN_INFO: &str = "vecsim_run_info";
/// `vecsim_build_info`: see [`METRICS`] for its type, labels and meaning.
pub const BUILD_INFO: &str = "vecsim_build_info";

/// The series that exist only while training: they appear with the first training episode, so
/// a plain run exports no loss that is NaN for want of training.
pub const TRAINING_ONLY: &[&str] =
    &[CRITIC_LOSS, ACTOR_LOSS, UPDATE_STEPS, FEDERATED_ROUNDS, FEDERATED_ROUND, FEDERATED_PARTICIPANTS];

/// Prometheus metric type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Monotonic count.
    Counter,
    /// Value that goes up and down.
    Gauge,
    /// Distribution with explicit buckets.
    Histogram,
}

impl Kind {
    /// The Prometheus type name.
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
    /// Full metric name.
    pub name: &'static str,
    /// Prometheus type.
    pub kind: Kind,
    /// Label names (histogram buckets add `le`).
    pub labels: &'static [&'static str],
    /// The `# HELP` text.
    pub help: &'static str,
}

const fn doc(name: &'static str, kind: Kind, labels: &'static [&'static str], help: &'static str) -> MetricDoc {
    MetricDoc { name, kind, labels, help }
}

/// Every metric vecsim exports (the table in docs/monitoring.md).
pub const METRICS: &[MetricDoc] = &[
    doc(TASKS, Kind::Counter, &["rsu", "outcome"], "Tasks that ended, by the RSU they were uploaded (or sent) to (`none`: uncovered or disconnected vehicle) and outcome (completed, missed_deadline, uncovered, dropped_vehicle_dropout, dropped_rsu_down, dropped_message_lost, dropped_node_lost)."),
    doc(MIGRATIONS, Kind::Counter, &["rsu"], "Tasks sent over the wired network from their uploading RSU `rsu` to another executing RSU."),
    doc(RSU_COMPLETION_RATE, Kind::Gauge, &["rsu"], "Completed / uploaded tasks credited to the uploading RSU, over the episode so far (NaN while it has no uploads)."),
    doc(COMPLETION_RATE, Kind::Gauge, &[], "Completed / uploaded tasks over all RSUs, over the episode so far (task-weighted, as in summary.json)."),
    doc(SERVICE_TIME, Kind::Histogram, &[], "Service time u + w + x of every executed task (completed or missed deadline) whose service time is finite, model seconds."),
    doc(SERVICE_TIME_UNBOUNDED, Kind::Counter, &[], "Executed tasks whose service time is not finite (they never finish, e.g. no CPU share at their executing RSU): left out of vecsim_service_time_seconds, whose sum would become +Inf; summary.json counts them in `service_time_s.out_of_range`."),
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
    doc(UPDATE_STEPS, Kind::Counter, &[], "Training update (gradient) steps of all RSUs so far (rate() gives steps per second)."),
    doc(LIVE_VEHICLE_ACTORS, Kind::Gauge, &[], "Live vehicle actors, as the actor engine counts them (the sequential engine: vehicles its loop holds)."),
    doc(BRNE_UNCONVERGED, Kind::Counter, &[], "Slots in which the br-ne oracle stopped at its pass limit without reaching an equilibrium (summary.json's `brne_unconverged_slots`)."),
    doc(RUN_INFO, Kind::Gauge, &["scenario", "policy", "seed", "engine"], "Always 1; its labels say what this process runs (scenario, policy, master seed, engine)."),
    doc(BUILD_INFO, Kind::Gauge, &["version", "engine", "scenario"], "Always 1; the vecsim version that runs, its engine and scenario (join other series on `instance`)."),
];

/// The values of the `outcome` label of [`TASKS`], indexed by [`Outcome::index`].
pub const OUTCOMES: [&str; 7] = [
    Outcome::ALL[0].label(),
    Outcome::ALL[1].label(),
    Outcome::ALL[2].label(),
    Outcome::ALL[3].label(),
    Outcome::ALL[4].label(),
    Outcome::ALL[5].label(),
    Outcome::ALL[6].label(),
];

/// The values of the `kind` label of [`FAULTS`]: the kinds of [`FaultCounts::by_kind`], a fixed
/// list (bounded cardinality).
pub fn fault_kinds() -> Vec<&'static str> {
    FaultCounts::default().by_kind().iter().map(|(k, _)| *k).collect()
}

/// The `rsu` label of tasks that never reached an RSU.
pub const NO_RSU: &str = "none";

/// The outcomes a task without an RSU can have (`rsu="none"`): it was uncovered, or its vehicle
/// was disconnected. No other `(none, outcome)` pair, and no `(rsuN, one of these)` pair, exists.
pub const NO_RSU_OUTCOMES: [&str; 2] =
    [Outcome::Uncovered.label(), Outcome::Dropped(DropCause::VehicleDropout).label()];

/// Bucket upper bounds of [`SERVICE_TIME`], seconds (task deadlines are fractions of a slot).
pub const SERVICE_TIME_BUCKETS: &[f64] =
    &[0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0];

/// Bucket upper bounds of [`SLOT_WALL_TIME`], seconds.
pub const SLOT_WALL_TIME_BUCKETS: &[f64] =
    &[0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];
