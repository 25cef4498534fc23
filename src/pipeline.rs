//! One run pipeline: scenario and overrides → policies → engine → observers → report.
//!
//! `vecsim run`, `train`, `compare`, `bench` and the experiments all load scenarios with
//! [`load_scenario`], build policies with [`build_policies`], pick an engine with
//! [`EngineKind::build`] and run with [`run_episode`], so a rule (validation, "one baseline per
//! RSU", which engine does what) lives in one place.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;
use vecsim_core::engine::{Engine, EngineError, Episode, EpisodeOutput};
use vecsim_core::mobility::Fleet;
use vecsim_core::observer::Observer;
use vecsim_core::overrides::{OverrideError, Overrides};
use vecsim_core::policy::{PolicyName, PolicySet};
use vecsim_core::{Scenario, ScenarioError, Sequential};
use vecsim_learn::Device;
use vecsim_learn::TrainError;

use crate::presets::{self, Preset};

/// Why the pipeline could not run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PipelineError {
    /// Neither a scenario file nor a preset.
    #[error(
        "no scenario file {arg} and no preset of that name{} (presets: {presets})",
        vecsim_core::suggest::hint(arg, presets.split(", "))
    )]
    UnknownScenario {
        /// What was given.
        arg: String,
        /// The presets there are.
        presets: String,
    },
    /// The scenario file, a preset or its trace is unreadable or invalid (the error names the
    /// file, the preset or the trace).
    #[error(transparent)]
    Scenario(#[from] ScenarioError),
    /// A command-line override does not apply.
    #[error("{origin}")]
    Override {
        /// The scenario as named by the user.
        origin: String,
        /// What is wrong (boxed, to keep the error small).
        #[source]
        source: Box<OverrideError>,
    },
    /// A learner was asked for without a checkpoint to run.
    #[error("--policy {policy} needs --checkpoint DIR (train one with `vecsim train {scenario} --policy {policy} --checkpoint DIR`)")]
    NeedsCheckpoint {
        /// The learner.
        policy: PolicyName,
        /// The scenario's name.
        scenario: String,
    },
    /// A checkpoint was given for a baseline.
    #[error("--checkpoint only applies to learners; `{0}` is a baseline")]
    CheckpointForBaseline(PolicyName),
    /// A checkpoint could not be loaded (another scenario, another learner, corrupt).
    #[error("checkpoint {}", dir.display())]
    Checkpoint {
        /// The checkpoint directory.
        dir: PathBuf,
        /// What is wrong (boxed: it is by far the largest error here).
        #[source]
        source: Box<TrainError>,
    },
    /// The scenario would need more memory than allowed.
    #[error(
        "scenario `{scenario}` needs an estimated {} of memory ({breakdown}), above the limit of {limit_gib} GiB: \
         shrink it, or raise the limit with --max-memory GIB (e.g. --max-memory {})",
        human_gib(*estimate_gib),
        estimate_gib.ceil()
    )]
    Memory {
        /// The scenario's name.
        scenario: String,
        /// The estimate, GiB.
        estimate_gib: f64,
        /// How the estimate is made up.
        breakdown: String,
        /// The limit, GiB.
        limit_gib: f64,
    },
    /// A thread count outside 1..=[`MAX_THREADS`] ([`check_threads`]).
    #[error("{0} threads: expected 1 to {MAX_THREADS}")]
    ThreadCount(usize),
    /// The OS refused the actor engine's worker threads (a thread or memory limit).
    #[error("--threads {threads}: cannot start {threads} worker threads; use fewer")]
    Threads {
        /// Threads asked for.
        threads: usize,
        /// The OS's refusal.
        #[source]
        source: std::io::Error,
    },
    /// The engine failed.
    #[error(transparent)]
    Engine(#[from] EngineError),
    /// `--device` names a device this build or machine cannot provide.
    #[error("--device")]
    Device(#[from] vecsim_learn::DeviceError),
}

fn human_gib(gib: f64) -> String {
    if gib >= 1.0 {
        format!("{gib:.1} GiB")
    } else {
        format!("{:.1} MiB", gib * 1024.0)
    }
}

/// The most worker threads an engine accepts.
pub const MAX_THREADS: usize = 1024;

/// `threads`, if an engine accepts it (1 to [`MAX_THREADS`]): the one range check of a thread
/// count, made by [`EngineKind::build`] and by the CLI's `--threads` parser.
pub fn check_threads(threads: usize) -> Result<usize, PipelineError> {
    if (1..=MAX_THREADS).contains(&threads) {
        Ok(threads)
    } else {
        Err(PipelineError::ThreadCount(threads))
    }
}

/// Resource limits checked before a run allocates anything big.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Limits {
    /// Refuse scenarios whose estimated memory exceeds this, GiB.
    pub max_memory_gib: f64,
}

impl Limits {
    /// The default memory limit, GiB.
    pub const DEFAULT_MAX_MEMORY_GIB: f64 = 16.0;

    /// The most bytes of trace text (decompressed) a run may read: a read trace takes about
    /// [`MemoryEstimate::TRACE_FACTOR`] times its text, so the text may have the limit over that.
    ///
    /// [`MemoryEstimate::TRACE_FACTOR`]: vecsim_core::scenario::MemoryEstimate::TRACE_FACTOR
    pub fn trace_cap(&self) -> u64 {
        vecsim_core::bounded::cap_from_gib(self.max_memory_gib / vecsim_core::scenario::MemoryEstimate::TRACE_FACTOR)
    }

    /// The largest checkpoint file a run may read: the whole limit (it is decoded into about as
    /// much memory as it has bytes).
    pub fn checkpoint_cap(&self) -> u64 {
        vecsim_core::bounded::cap_from_gib(self.max_memory_gib)
    }
}

impl Default for Limits {
    fn default() -> Limits {
        Limits { max_memory_gib: Limits::DEFAULT_MAX_MEMORY_GIB }
    }
}

/// Refuses a scenario whose estimated memory ([`Scenario::memory_estimate`]) is above the
/// limit, before anything big is allocated; `trace` is a `--trace` override.
pub fn check_memory(s: &Scenario, trace: Option<&Path>, limits: &Limits) -> Result<(), PipelineError> {
    check_memory_with(s, trace, 0.0, limits)
}

/// [`check_memory`] for a training run whose learners take `learner_bytes` more
/// ([`vecsim_learn::LearnerOptions::memory_bytes`]).
pub fn check_memory_with(
    s: &Scenario,
    trace: Option<&Path>,
    learner_bytes: f64,
    limits: &Limits,
) -> Result<(), PipelineError> {
    let m = s.memory_estimate(trace).with_learners(learner_bytes);
    if m.gib() > limits.max_memory_gib {
        return Err(PipelineError::Memory {
            scenario: s.name.clone(),
            estimate_gib: m.gib(),
            breakdown: m.breakdown(),
            limit_gib: limits.max_memory_gib,
        });
    }
    Ok(())
}

/// Checks the memory estimate, then loads the scenario's vehicles (from its own mobility
/// source, or from `trace`).
pub fn load_fleet(s: &Scenario, trace: Option<&Path>, limits: &Limits) -> Result<Fleet, PipelineError> {
    check_memory(s, trace, limits)?;
    Ok(vecsim_core::mobility::load_within(s, trace, limits.trace_cap())?)
}

impl PipelineError {
    /// Whether the error is in what the user gave (a file, a flag): the command line exits
    /// with code 2 for these, 1 for failures of the run itself.
    pub fn is_bad_input(&self) -> bool {
        match self {
            PipelineError::Engine(EngineError::Runtime(_) | EngineError::Failed { .. }) => false,
            PipelineError::Checkpoint { source, .. } => !matches!(**source, TrainError::Io { .. }),
            _ => true,
        }
    }
}

/// Which engine drives the model.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum EngineKind {
    /// One actor per vehicle, RSU and the VEC POOL, advanced by a clock actor (ractor).
    #[default]
    Actors,
    /// The same model as a plain loop.
    Sequential,
}

impl EngineKind {
    /// Both engines.
    pub const ALL: [EngineKind; 2] = [EngineKind::Actors, EngineKind::Sequential];

    /// The engine's name.
    pub fn as_str(self) -> &'static str {
        match self {
            EngineKind::Actors => vecsim_actors::ENGINE_NAME,
            EngineKind::Sequential => "sequential",
        }
    }

    /// The engine, with `threads` tokio workers for the actor engine (the numbers never depend
    /// on it). The actor engine asks the OS for its threads first, so that a refusal (a thread
    /// or memory limit) is a clear error rather than a failure inside the runtime.
    pub fn build(self, threads: usize) -> Result<Box<dyn Engine>, PipelineError> {
        check_threads(threads)?;
        Ok(match self {
            EngineKind::Actors => {
                vecsim_actors::probe_threads(threads).map_err(|source| PipelineError::Threads { threads, source })?;
                Box::new(vecsim_actors::Actors::new(threads))
            }
            EngineKind::Sequential => Box::new(Sequential),
        })
    }
}

impl fmt::Display for EngineKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for EngineKind {
    type Err = String;

    fn from_str(s: &str) -> Result<EngineKind, String> {
        EngineKind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| format!("unknown engine `{s}` (expected actors or sequential)"))
    }
}

/// What a scenario argument names: a file (an existing path wins) or an embedded preset.
#[derive(Clone, Debug)]
pub enum ScenarioRef {
    /// A scenario file.
    File(PathBuf),
    /// A preset compiled into the binary.
    Preset(&'static Preset),
}

impl fmt::Display for ScenarioRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ScenarioRef::File(p) => write!(f, "{}", p.display()),
            ScenarioRef::Preset(p) => f.write_str(&p.origin()),
        }
    }
}

/// Finds a scenario: an existing path, else a preset compiled into the binary (see
/// [`crate::presets`]), so that preset names work from any directory.
pub fn resolve_scenario(arg: &str) -> Result<ScenarioRef, PipelineError> {
    let p = PathBuf::from(arg);
    if p.exists() {
        return Ok(ScenarioRef::File(p));
    }
    if let Some(preset) = presets::find(arg) {
        return Ok(ScenarioRef::Preset(preset));
    }
    if arg.contains(std::path::MAIN_SEPARATOR) || arg.contains('/') {
        // Plainly a path: reading it reports the missing file.
        return Ok(ScenarioRef::File(p));
    }
    Err(PipelineError::UnknownScenario { arg: arg.to_string(), presets: presets::names() })
}

/// Loads a scenario by path or preset name and applies `overrides` (validated again).
pub fn load_scenario(arg: &str, overrides: &Overrides) -> Result<Scenario, PipelineError> {
    let loaded = match resolve_scenario(arg)? {
        ScenarioRef::File(p) => Scenario::load(&p),
        ScenarioRef::Preset(preset) => preset.load(),
    };
    let mut s = loaded?;
    overrides
        .apply(&mut s)
        .map_err(|source| PipelineError::Override { origin: arg.to_string(), source: Box::new(source) })?;
    Ok(s)
}

/// One policy instance per RSU for the scenario's policy: a baseline, or a trained learner
/// from `checkpoint` (greedy, not learning).
pub fn build_policies(s: &Scenario, checkpoint: Option<&Path>) -> Result<PolicySet, PipelineError> {
    build_policies_on(s, checkpoint, Device::Cpu)
}

/// [`build_policies`] with a trained learner's networks on `device` (`--device`): CUDA runs the
/// dfdx backend (the gemm layers are CPU only). The device is checked first.
pub fn build_policies_on(s: &Scenario, checkpoint: Option<&Path>, device: Device) -> Result<PolicySet, PipelineError> {
    build_policies_within(s, checkpoint, device, &Limits::default())
}

/// [`build_policies_on`], reading a checkpoint of at most [`Limits::checkpoint_cap`] bytes.
pub fn build_policies_within(
    s: &Scenario,
    checkpoint: Option<&Path>,
    device: Device,
    limits: &Limits,
) -> Result<PolicySet, PipelineError> {
    device.check()?;
    match (s.policy.baseline(), checkpoint) {
        (Some(b), None) => Ok(PolicySet::baseline(b, s.rsu_count(), s.seed)),
        (Some(_), Some(_)) => Err(PipelineError::CheckpointForBaseline(s.policy)),
        (None, None) => Err(PipelineError::NeedsCheckpoint { policy: s.policy, scenario: s.name.clone() }),
        (None, Some(dir)) => {
            let mut set = vecsim_learn::train::load_policies_within(dir, s, s.policy.as_str(), limits.checkpoint_cap())
                .map_err(|source| PipelineError::Checkpoint { dir: dir.to_path_buf(), source: Box::new(source) })?;
            set.set_device(device);
            Ok(PolicySet::new(set.into_policies()))
        }
    }
}

/// How learners travel between a cluster's coordinator and its nodes (`vecsim train --cluster`):
/// each RSU's whole learner ([`vecsim_learn::RsuLearner`]: networks, optimisers, replay buffer,
/// random streams) encoded with the project's codec, bit for bit, and the centralised learners'
/// shares of every slot's joint record ([`vecsim_learn::SlotShare`]). A policy that is not a
/// learner does not travel.
pub fn learner_codec() -> vecsim_cluster::PolicyCodec {
    vecsim_cluster::PolicyCodec {
        encode: Arc::new(|p| {
            let name = p.name();
            let l = p
                .into_any()
                .downcast::<vecsim_learn::RsuLearner>()
                .map_err(|_| format!("`{name}` is not a learner"))?;
            Ok(vecsim_core::codec::encode(&*l)?)
        }),
        decode: Arc::new(|bytes| {
            let l: vecsim_learn::RsuLearner = vecsim_core::codec::decode(bytes)?;
            Ok(Box::new(l) as Box<dyn vecsim_core::policy::Policy>)
        }),
        encode_share: Arc::new(|share| {
            let s = share.downcast_ref::<vecsim_learn::SlotShare>().ok_or("a share that is not a learner's")?;
            Ok(vecsim_core::codec::encode(s)?)
        }),
        decode_share: Arc::new(|bytes| {
            let s: vecsim_learn::SlotShare = vecsim_core::codec::decode(bytes)?;
            Ok(Arc::new(s) as vecsim_core::policy::Share)
        }),
    }
}

/// Runs one episode of `s` with its vehicles `fleet` ([`load_fleet`]) and `policies` on
/// `engine`, `observer` watching.
pub fn run_episode(
    s: Scenario,
    fleet: Fleet,
    policies: PolicySet,
    engine: &mut dyn Engine,
    observer: &mut dyn Observer,
) -> Result<EpisodeOutput, PipelineError> {
    let episode = Episode { scenario: Arc::new(s), fleet, policies, round: None, observer };
    Ok(engine.run(episode)?)
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_huge_scenario_is_refused_before_allocating_with_its_estimate() {
        let ov = Overrides { slots: Some(2), ..Default::default() };
        let mut s = load_scenario("paper-noon", &ov).unwrap();
        assert!(check_memory(&s, None, &Limits::default()).is_ok());
        if let vecsim_core::scenario::MobilityConfig::Generator(g) = &mut s.mobility {
            g.initial_vehicles = 4_000_000_000;
        }
        let e = load_fleet(&s, None, &Limits::default()).unwrap_err();
        let msg = e.to_string();
        assert!(e.is_bad_input() && msg.contains("--max-memory") && msg.contains("GiB"), "{msg}");
        let roomy = Limits { max_memory_gib: 1e6 };
        assert!(check_memory(&s, None, &roomy).is_ok());
    }

    use super::*;
    use vecsim_core::observer::NoObserver;

    #[test]
    fn engine_names_round_trip() {
        for k in EngineKind::ALL {
            assert_eq!(k.as_str().parse::<EngineKind>(), Ok(k));
            assert_eq!(k.build(1).unwrap().name(), k.as_str());
            assert!(matches!(k.build(0), Err(PipelineError::ThreadCount(0))));
            assert!(matches!(k.build(MAX_THREADS + 1), Err(PipelineError::ThreadCount(_))));
        }
        assert!("actor".parse::<EngineKind>().unwrap_err().contains("actors or sequential"));
    }

    #[test]
    fn learners_need_a_checkpoint_and_baselines_refuse_one() {
        let ov = Overrides { policy: Some(PolicyName::Masac), slots: Some(2), ..Default::default() };
        let s = load_scenario("paper-noon", &ov).unwrap();
        let e = build_policies(&s, None).unwrap_err();
        assert!(matches!(e, PipelineError::NeedsCheckpoint { policy: PolicyName::Masac, .. }) && e.is_bad_input());
        let s = load_scenario("paper-noon", &Overrides { slots: Some(2), ..Default::default() }).unwrap();
        let e = build_policies(&s, Some(Path::new("nowhere"))).unwrap_err();
        assert!(matches!(e, PipelineError::CheckpointForBaseline(PolicyName::Orl)));
    }

    #[test]
    fn a_wrong_policy_count_is_an_error_not_a_panic() {
        let s = load_scenario("paper-noon", &Overrides { slots: Some(2), ..Default::default() }).unwrap();
        for kind in EngineKind::ALL {
            let one = PolicySet::baseline(vecsim_core::policy::Baseline::Orl, 1, 0);
            let fleet = load_fleet(&s, None, &Limits::default()).unwrap();
            let e = run_episode(s.clone(), fleet, one, &mut *kind.build(1).unwrap(), &mut NoObserver).unwrap_err();
            assert!(matches!(e, PipelineError::Engine(EngineError::PolicyCount { got: 1, .. })), "{kind}: {e}");
        }
    }
}
