//! # vecsim-actors
//!
//! The actor engine: every vehicle, every RSU and the VEC POOL is a [`ractor`] actor, and a
//! clock actor advances the slots. The slot protocol is written down once, in [`protocol`].
//! The model itself is `vecsim-core`'s; this crate only moves its inputs and outputs between
//! actors, in an order that never changes a number (see the determinism contract in
//! [`protocol`] and `docs/actors.md`), so [`run_actors`] produces the same slot reports as the
//! sequential [`vecsim_core::Sequential`] engine.
//!
//! Supervision tree: the clock is the root; it supervises the RSU actors (restarting one that
//! crashes at a slot start from its checkpoint), the VEC POOL and the vehicle actors.
//!
//! Threads: the clock, the VEC POOL and the vehicles run on the tokio runtime's `threads`
//! workers; the RSU actors are thread-local actors ([`rsu::PinnedRsuActor`]) spread round-robin
//! by RSU id over `threads` more threads of their own, so that each RSU's policy can keep a
//! working form that is not `Send` (networks resident on a device) while RSUs still train in
//! parallel.

pub mod clock;
pub mod floor;
pub mod pool;
pub mod protocol;
pub mod rsu;
pub mod vehicle;

use clock::{ClockActor, ClockArgs, Event};
use ractor::Actor;
use rsu::{Checkpoint, PolicyCell};
use std::sync::{Arc, Mutex};
use vecsim_core::clock::SlotClock;
use vecsim_core::engine::{
    self, Engine, EngineError, Episode, EpisodeOutput, RoundReport, RoundRequest, SpawnSchedule,
};
use vecsim_core::mobility::Fleet;
use vecsim_core::observer::{Observer, RunInfo};
use vecsim_core::policy::{Policy, PolicySet};
use vecsim_core::report::RunStats;
use vecsim_core::rsu::RsuNode;
use vecsim_core::scenario::RsuSpec;
use vecsim_core::Scenario;

pub use protocol::RoundOutcome;

/// Read-only context shared by every actor of a run (one `Arc`).
#[derive(Debug)]
pub struct World {
    /// The scenario being run.
    pub scenario: Arc<Scenario>,
    /// The RSUs' specs, indexed by RSU id.
    pub specs: Vec<RsuSpec>,
    /// Slot timing: slot length and start instants.
    pub clock: SlotClock,
    /// [`ActorOptions::pool_participants`].
    pub pool_participants: Option<Vec<bool>>,
    /// [`ActorOptions::weighted_fedavg`].
    pub weighted_fedavg: bool,
}

/// What an actor run produced.
pub struct ActorRun {
    /// The run's aggregated statistics over all slots.
    pub stats: RunStats,
    /// The policies, back from their RSU actors (a trainer reuses them).
    pub policies: Vec<Box<dyn Policy>>,
    /// RSU actors that crashed and were restarted by their supervisor.
    pub crashes: u64,
    /// Most vehicle actors alive at once.
    pub peak_live_vehicles: usize,
    /// Messages exchanged between actors over the run (every cast, both directions).
    pub messages: u64,
    /// VEC POOL rounds, in order (empty unless rounds were asked for).
    pub rounds: Vec<RoundOutcome>,
    /// Each RSU's federated parameters at the end (`None` for RSUs without any).
    pub params: Vec<Option<Vec<f32>>>,
}

/// Why an actor run failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ActorError {
    /// The tokio runtime could not be built (threads could not be spawned).
    #[error("cannot start the tokio runtime")]
    Runtime(#[from] std::io::Error),
    /// The inputs do not fit the scenario (caller misuse).
    #[error(transparent)]
    Episode(#[from] EngineError),
    /// The clock actor could not be spawned or started.
    #[error("cannot spawn the clock actor: {0}")]
    Spawn(String),
    /// The engine cannot run this combination (yet); the message says which.
    #[error("not supported: {0}")]
    Unsupported(&'static str),
    /// An actor failed beyond what supervision restarts, or the protocol broke.
    #[error("actor run failed: {0}")]
    Failed(String),
}

impl From<ActorError> for EngineError {
    fn from(e: ActorError) -> EngineError {
        match e {
            ActorError::Runtime(io) => EngineError::Runtime(io),
            ActorError::Episode(e) => e,
            other => EngineError::Failed { engine: ENGINE_NAME, message: other.to_string() },
        }
    }
}

/// The engine's name in messages and metrics.
pub const ENGINE_NAME: &str = "actors";

/// The actor engine as a [`vecsim_core::Sequential`] engine: each episode on a fresh tokio runtime with
/// `threads` workers; a VEC POOL round, when asked for, after the last slot.
#[derive(Clone, Copy, Debug)]
pub struct Actors {
    /// Tokio worker threads (at least 1; the numbers never depend on it).
    pub threads: usize,
}

impl Actors {
    /// The actor engine on `threads` workers.
    pub fn new(threads: usize) -> Actors {
        Actors { threads: threads.max(1) }
    }
}

impl Engine for Actors {
    fn name(&self) -> &'static str {
        ENGINE_NAME
    }

    fn parallelism(&self) -> usize {
        self.threads
    }

    fn run(&mut self, ep: Episode<'_>) -> Result<EpisodeOutput, EngineError> {
        let slots = ep.scenario.time.slots;
        let opts = ActorOptions {
            threads: self.threads,
            // One round, after the last slot.
            pool_every: ep.round.as_ref().map(|_| slots),
            params: None,
            pool_participants: ep.round.as_ref().map(|r| r.participants.clone()),
            weighted_fedavg: ep.round.as_ref().is_some_and(|r| r.weighted),
            remote: None,
        };
        let run = run_actors(ep.scenario, ep.fleet, ep.policies, &opts, ep.observer)?;
        if run.rounds.len() > 1 {
            let message = format!("{} VEC POOL rounds in one episode", run.rounds.len());
            return Err(EngineError::Failed { engine: ENGINE_NAME, message });
        }
        let round =
            run.rounds.into_iter().next().map(|o| RoundReport { contributed: o.contributed, skipped: o.skipped });
        Ok(EpisodeOutput { stats: run.stats, policies: run.policies, round })
    }
}

/// Options beyond the model: runtime size and VEC POOL rounds.
#[derive(Clone, Debug, Default)]
pub struct ActorOptions {
    /// Tokio worker threads (at least 1).
    pub threads: usize,
    /// Open a VEC POOL round after every `k` slots (participants: every RSU).
    pub pool_every: Option<u32>,
    /// Initial federated parameters per RSU and their sample counts (plain `Vec<f32>`), for
    /// RSUs whose policy does not federate (a federating policy, `fed-maddpg`, contributes its
    /// own actor parameters through `Policy::export_params`).
    pub params: Option<Vec<(Vec<f32>, u64)>>,
    /// Who takes part in every round (`[e]` for RSU e; the others send `Skip`), as decided by
    /// a trainer; `None`: each RSU draws its fate from `FaultPlan::pool` with its own stream.
    pub pool_participants: Option<Vec<bool>>,
    /// Weight each contribution by its sample count instead of equally (with equal weights when
    /// every contribution's count is 0), as `LearnerOptions::weighted_fedavg` does in-process.
    pub weighted_fedavg: bool,
    /// RSUs hosted by other processes (`vecsim-cluster`): the clock uses the given stand-ins
    /// instead of spawning RSU actors. `None`: every RSU actor runs in this process.
    pub remote: Option<RemoteRsus>,
}

/// RSU actors hosted by other processes, as the clock sees them (`vecsim-cluster`).
///
/// The protocol does not change: the clock sends every [`RsuMsg`](protocol::RsuMsg) to the
/// stand-in of RSU `e`, a local actor that forwards it to the process hosting `e`, and the
/// answers come back to the clock as [`ClockMsg`](protocol::ClockMsg)s. Phase 1 goes to one
/// stand-in for all the vehicles, which are hosted elsewhere too; each of them still answers
/// `Stepped`. Stand-ins keep the
/// order of what they are sent (one mailbox each), which is all the protocol asks of a link.
#[derive(Clone, Debug)]
pub struct RemoteRsus {
    /// Stand-ins for every RSU actor, indexed by RSU id.
    pub rsus: Vec<ractor::ActorRef<protocol::RsuMsg>>,
    /// `lost[e]`: the process hosting RSU e is gone; the clock treats RSU e as down (an outage)
    /// in every slot it opens from then on.
    pub lost: Arc<Vec<std::sync::atomic::AtomicBool>>,
    /// Set by the clock when the run starts, so that the stand-ins can answer it.
    pub clock: Arc<Mutex<Option<ractor::ActorRef<protocol::ClockMsg>>>>,
    /// The stand-in of every vehicle: vehicle actors live in the processes hosting the RSUs
    /// they are near, so the clock spawns none and opens phase 1 with one
    /// [`FleetMsg::Step`](protocol::FleetMsg) per slot.
    pub fleet: ractor::ActorRef<protocol::FleetMsg>,
}

/// Runs one episode on the actor engine; `observer` is called on the calling thread, in slot
/// order, as each slot closes.
pub fn run_actors(
    scenario: Arc<Scenario>,
    fleet: Fleet,
    policies: PolicySet,
    opts: &ActorOptions,
    observer: &mut dyn Observer,
) -> Result<ActorRun, ActorError> {
    let rt = runtime(opts.threads)?;
    rt.block_on(run_async(scenario, fleet, policies, opts, observer))
}

/// The tokio runtime the actor engine runs on, and the floor too (`vecsim bench engine`), so
/// that both measure the same runtime: `threads` workers, all drivers. (Without the I/O driver
/// the floor got faster and the engine did not: measured, not kept.)
///
/// The OS is asked first ([`probe_threads`]): tokio panics when it cannot start a worker and may
/// then wait forever for it, so a refusal must come back as an error before tokio tries.
pub fn runtime(threads: usize) -> std::io::Result<tokio::runtime::Runtime> {
    let threads = threads.max(1);
    probe_threads(threads)?;
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads)
        .thread_stack_size(WORKER_STACK_BYTES)
        .enable_all()
        .build()
}

/// Stack size of the runtime's worker threads: tokio's default, set explicitly so that
/// [`probe_threads`] asks for what the runtime will.
pub const WORKER_STACK_BYTES: usize = 2 << 20;

/// Starts `n` threads with the workers' stack size, holds them all at once, then stops them:
/// an error says the OS would refuse a runtime of `n` workers (thread limit, memory limit).
pub fn probe_threads(n: usize) -> std::io::Result<()> {
    use std::sync::Condvar;
    // Under an address-space limit the probe itself can fail inside a new thread (its signal
    // stack, allocated after the thread's stack, does not fit), where std aborts instead of
    // returning an error: refuse before spawning when the limit cannot hold `n` stacks.
    if let Some((limit, used)) = address_space() {
        let need = n as u64 * (WORKER_STACK_BYTES as u64 + THREAD_OVERHEAD_BYTES);
        if used.saturating_add(need) > limit {
            return Err(std::io::Error::new(
                std::io::ErrorKind::OutOfMemory,
                format!(
                    "{n} worker stacks need {need} bytes of address space; the limit leaves {}",
                    limit.saturating_sub(used)
                ),
            ));
        }
    }
    let gate = Arc::new((Mutex::new(false), Condvar::new()));
    let mut handles = Vec::with_capacity(n);
    let mut result = Ok(());
    for i in 0..n {
        let g = gate.clone();
        let spawned = std::thread::Builder::new().stack_size(WORKER_STACK_BYTES).spawn(move || {
            let (open, cv) = &*g;
            let mut guard = open.lock().unwrap_or_else(|p| p.into_inner());
            while !*guard {
                guard = cv.wait(guard).unwrap_or_else(|p| p.into_inner());
            }
        });
        match spawned {
            Ok(h) => handles.push(h),
            Err(e) => {
                result =
                    Err(std::io::Error::new(e.kind(), format!("the OS refused worker thread {} of {n}: {e}", i + 1)));
                break;
            }
        }
    }
    *gate.0.lock().unwrap_or_else(|p| p.into_inner()) = true;
    gate.1.notify_all();
    for h in handles {
        let _ = h.join();
    }
    result
}

/// Address space a thread takes besides its stack, bytes: a guard page and a signal stack
/// with its guard (std's, a few pages), rounded up.
const THREAD_OVERHEAD_BYTES: u64 = 256 << 10;

/// `(limit, in use)` of this process's address space, bytes, when a limit is set (`ulimit -v`;
/// read from `/proc/self`, so Linux only: elsewhere `None` and the probe alone decides).
fn address_space() -> Option<(u64, u64)> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max address space"))?;
    let limit: u64 = line.trim_start_matches("Max address space").split_whitespace().next()?.parse().ok()?;
    let pages: u64 = std::fs::read_to_string("/proc/self/statm").ok()?.split_whitespace().next()?.parse().ok()?;
    Some((limit, pages.saturating_mul(4096)))
}

/// How the panic message of an injected `crash_rsu` starts.
pub const INJECTED_CRASH: &str = "injected crash";

/// Installs (once per process) a panic hook that prints an injected crash (`faults.crash_rsu`,
/// a panic whose message starts with [`INJECTED_CRASH`]) as one line saying so, without the
/// panic banner or a backtrace, and hands every other panic to the hook that was there before.
pub fn install_crash_hook() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let p = info.payload();
            let msg = p.downcast_ref::<String>().map(String::as_str).or_else(|| p.downcast_ref::<&str>().copied());
            match msg {
                Some(m) if m.starts_with(INJECTED_CRASH) => {
                    eprintln!("actors: {m}; the supervisor restarts it from its last checkpoint")
                }
                _ => previous(info),
            }
        }));
    });
}

/// The engine inside an existing tokio runtime (multi-threaded or not).
pub async fn run_async(
    scenario: Arc<Scenario>,
    fleet: Fleet,
    policies: PolicySet,
    opts: &ActorOptions,
    observer: &mut dyn Observer,
) -> Result<ActorRun, ActorError> {
    if !scenario.faults.crash_rsu.is_empty() {
        install_crash_hook();
    }
    let round = opts.pool_participants.as_ref().map(|p| RoundRequest { participants: p.clone(), weighted: false });
    engine::check_episode(&scenario, &policies, round.as_ref())?;
    let PolicySet { per_rsu: policies, refiner } = policies;
    let specs = scenario.rsu_specs();
    let clock = SlotClock::from_scenario(&scenario);
    let schedule = SpawnSchedule::new(&fleet, &clock);
    let mut stats = RunStats::new(&scenario.name, scenario.policy.as_str(), scenario.seed, specs.len())
        .with_faults(&scenario.faults);
    observer.episode_started(&RunInfo::of(&scenario, ENGINE_NAME));
    let vaults: Vec<Arc<Mutex<Checkpoint>>> = specs
        .iter()
        .map(|s| Arc::new(Mutex::new(Checkpoint::new(RsuNode::new(s.clone(), scenario.seed), scenario.seed))))
        .collect();
    if let Some(p) = &opts.params {
        for (v, (params, samples)) in vaults.iter().zip(p) {
            rsu::set_params(v, params.clone(), *samples);
        }
    }
    let sharing = policies.iter().any(|p| p.shares());
    let turn_rounds = vecsim_core::policy::intent::rounds(&policies);
    let cells: Vec<PolicyCell> = policies.into_iter().map(|p| Arc::new(Mutex::new(Some(p)))).collect();
    let paths: Vec<Arc<VehiclePathAlias>> = fleet.paths.into_iter().map(Arc::new).collect();
    let world = Arc::new(World {
        scenario,
        specs,
        clock,
        pool_participants: opts.pool_participants.clone(),
        weighted_fedavg: opts.weighted_fedavg,
    });
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    // The RSU actors' threads, one per worker (ractor starts each on its own OS thread; asked
    // of the OS first, as for the runtime's workers). None when the RSUs are hosted elsewhere.
    let n_spawners = if opts.remote.is_some() { 0 } else { opts.threads.max(1) };
    probe_threads(n_spawners)?;
    let spawners: Vec<_> = (0..n_spawners).map(|_| ractor::thread_local::ThreadLocalActorSpawner::new()).collect();
    let args = ClockArgs {
        world,
        paths,
        schedule,
        policies: cells.clone(),
        vaults: vaults.clone(),
        refiner,
        pool_every: opts.pool_every,
        sharing,
        turn_rounds,
        remote: opts.remote.clone(),
        events: tx,
        spawners: spawners.clone(),
        // The observer's pace is kept by the clock itself: it never runs ahead of the reports.
        pace: observer.pace(),
    };
    let (clock_ref, handle) =
        Actor::spawn(None, ClockActor, args).await.map_err(|e| ActorError::Spawn(e.to_string()))?;
    clock_ref.send_message(protocol::ClockMsg::Start).map_err(|e| ActorError::Spawn(e.to_string()))?;
    let mut rounds = Vec::new();
    let finish = loop {
        match rx.recv().await {
            Some(Event::Slot { report, live, lost }) => {
                stats.record_lost_rsus(&lost);
                stats.add(&report);
                observer.live_vehicles(live);
                observer.slot_closed(&report, &stats);
            }
            // A crash comes before the report of the slot it redoes.
            Some(Event::Crash { rsu, slot }) => {
                stats.record_crash();
                observer.rsu_restarted(rsu, slot, &stats);
            }
            Some(Event::Timed { slot, wall_s }) => observer.slot_timed(slot, wall_s),
            Some(Event::Round(o)) => {
                stats.record_round_dropouts(o.skipped.len() as u64);
                observer.round_closed(&RoundReport { contributed: o.contributed.clone(), skipped: o.skipped.clone() });
                rounds.push(o);
            }
            Some(Event::Done(f)) => break f.map_err(ActorError::Failed)?,
            None => return Err(ActorError::Failed("the clock stopped without finishing the run".into())),
        }
    };
    let _ = handle.await;
    if opts.remote.is_none() {
        // The policies' working forms are on their RSU actors' threads: back into the cells.
        for (k, spawner) in spawners.into_iter().enumerate() {
            let mine = (k..cells.len()).step_by(n_spawners).map(|e| (e as u32, cells[e].clone())).collect();
            rsu::collect(spawner, mine).await.map_err(|e| ActorError::Failed(format!("collect the policies: {e}")))?;
        }
    }
    observer.episode_finished(&stats);
    let policies = cells
        .iter()
        .map(|c| rsu::lock(c).take().ok_or_else(|| ActorError::Failed("a policy was lost".into())))
        .collect::<Result<Vec<_>, _>>()?;
    let params = vaults.iter().map(|v| rsu::lock(v).params.as_ref().map(|p| p.0.clone())).collect();
    Ok(ActorRun {
        stats,
        policies,
        crashes: finish.crashes,
        peak_live_vehicles: finish.peak_live,
        messages: finish.messages,
        rounds,
        params,
    })
}

type VehiclePathAlias = vecsim_core::mobility::VehiclePath;
