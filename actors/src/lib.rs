//! # vecsim-actors
//!
//! The actor engine: every vehicle, every RSU and the VEC POOL is a [`ractor`] actor, and a
//! clock actor advances the slots. The slot protocol is written down once, in [`protocol`].
//! The model itself is `vecsim-core`'s; this crate only moves its inputs and outputs between
//! actors, in an order that never changes a number (see the determinism contract in
//! [`protocol`] and `docs/actors.md`), so [`run_actors`] produces the same slot reports as the
//! sequential [`vecsim_core::Engine`].
//!
//! Supervision tree: the clock is the root; it supervises the RSU actors (restarting one that
//! crashes at a slot start from its checkpoint), the VEC POOL and the vehicle actors.

pub mod clock;
pub mod floor;
pub mod pool;
pub mod protocol;
pub mod rsu;
pub mod runner;
pub mod vehicle;

use clock::{ClockActor, ClockArgs, Event};
use ractor::Actor;
use rsu::{Checkpoint, PolicyCell};
use std::sync::{Arc, Mutex};
use vecsim_core::clock::SlotClock;
use vecsim_core::engine::SpawnSchedule;
use vecsim_core::mobility::Fleet;
use vecsim_core::policy::{JointRefiner, Policy};
use vecsim_core::report::{RunStats, SlotReport};
use vecsim_core::rsu::RsuNode;
use vecsim_core::scenario::RsuSpec;
use vecsim_core::Scenario;

pub use protocol::RoundOutcome;
pub use runner::ActorRunner;

/// Read-only context shared by every actor of a run (one `Arc`).
#[derive(Debug)]
pub struct World {
    pub scenario: Arc<Scenario>,
    pub specs: Vec<RsuSpec>,
    pub clock: SlotClock,
    /// [`ActorOptions::pool_participants`].
    pub pool_participants: Option<Vec<bool>>,
    /// [`ActorOptions::weighted_fedavg`].
    pub weighted_fedavg: bool,
}

/// What an actor run produced.
pub struct ActorRun {
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
pub enum ActorError {
    #[error("cannot start the tokio runtime: {0}")]
    Runtime(#[from] std::io::Error),
    #[error("cannot spawn the clock actor: {0}")]
    Spawn(String),
    #[error("actor run failed: {0}")]
    Failed(String),
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
}

/// Runs one episode on the actor engine with `threads` tokio workers. `on_slot` is called on
/// the calling thread, in slot order, as each slot closes.
pub fn run_actors(
    scenario: Arc<Scenario>,
    fleet: Fleet,
    policies: Vec<Box<dyn Policy>>,
    refiner: Option<Box<dyn JointRefiner>>,
    threads: usize,
    on_slot: &mut dyn FnMut(&SlotReport),
) -> Result<ActorRun, ActorError> {
    run_actors_with(scenario, fleet, policies, refiner, &ActorOptions { threads, ..Default::default() }, on_slot)
}

/// [`run_actors`] with [`ActorOptions`].
pub fn run_actors_with(
    scenario: Arc<Scenario>,
    fleet: Fleet,
    policies: Vec<Box<dyn Policy>>,
    refiner: Option<Box<dyn JointRefiner>>,
    opts: &ActorOptions,
    on_slot: &mut dyn FnMut(&SlotReport),
) -> Result<ActorRun, ActorError> {
    let rt = runtime(opts.threads)?;
    rt.block_on(run_async(scenario, fleet, policies, refiner, opts, on_slot))
}

/// The tokio runtime the actor engine runs on, and the floor too (`vecsim bench engine`), so
/// that both measure the same runtime: `threads` workers, all drivers. (Without the I/O driver
/// the floor got faster and the engine did not: measured, not kept.)
pub fn runtime(threads: usize) -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread().worker_threads(threads.max(1)).enable_all().build()
}

/// The engine inside an existing tokio runtime (multi-threaded or not).
pub async fn run_async(
    scenario: Arc<Scenario>,
    fleet: Fleet,
    policies: Vec<Box<dyn Policy>>,
    refiner: Option<Box<dyn JointRefiner>>,
    opts: &ActorOptions,
    on_slot: &mut dyn FnMut(&SlotReport),
) -> Result<ActorRun, ActorError> {
    let specs = scenario.rsu_specs();
    assert_eq!(policies.len(), specs.len(), "one policy per RSU");
    let clock = SlotClock::from_scenario(&scenario);
    let schedule = SpawnSchedule::new(&fleet, &clock);
    let mut stats =
        RunStats::new(&scenario.name, &scenario.policy, scenario.seed, specs.len()).with_faults(&scenario.faults);
    let vaults: Vec<Arc<Mutex<Checkpoint>>> = specs
        .iter()
        .map(|s| Arc::new(Mutex::new(Checkpoint::new(RsuNode::new(s.clone(), scenario.seed), scenario.seed))))
        .collect();
    if let Some(p) = &opts.params {
        for (v, (params, samples)) in vaults.iter().zip(p) {
            rsu::set_params(v, params.clone(), *samples);
        }
    }
    let cells: Vec<PolicyCell> = policies.into_iter().map(|p| Arc::new(Mutex::new(Some(p)))).collect();
    let paths: Vec<Arc<VehiclePathAlias>> = fleet.paths.into_iter().map(Arc::new).collect();
    if let Some(p) = &opts.pool_participants {
        assert_eq!(p.len(), specs.len(), "one participation flag per RSU");
    }
    let world = Arc::new(World {
        scenario,
        specs,
        clock,
        pool_participants: opts.pool_participants.clone(),
        weighted_fedavg: opts.weighted_fedavg,
    });
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let args = ClockArgs {
        world,
        paths,
        schedule,
        policies: cells.clone(),
        vaults: vaults.clone(),
        refiner,
        pool_every: opts.pool_every,
        events: tx,
    };
    let (clock_ref, handle) =
        Actor::spawn(None, ClockActor, args).await.map_err(|e| ActorError::Spawn(e.to_string()))?;
    clock_ref.send_message(protocol::ClockMsg::Start).map_err(|e| ActorError::Spawn(e.to_string()))?;
    let mut rounds = Vec::new();
    let finish = loop {
        match rx.recv().await {
            Some(Event::Slot(r)) => {
                stats.add(&r);
                on_slot(&r);
            }
            // A crash comes before the report of the slot it redoes.
            Some(Event::Crash) => stats.record_crash(),
            Some(Event::Round(o)) => {
                stats.record_round_dropouts(o.skipped.len() as u64);
                rounds.push(o);
            }
            Some(Event::Done(f)) => break f.map_err(ActorError::Failed)?,
            None => return Err(ActorError::Failed("the clock stopped without finishing the run".into())),
        }
    };
    let _ = handle.await;
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
