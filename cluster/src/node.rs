//! A worker node (`vecsim node`): a `ractor_cluster` node server and a hub actor that hosts
//! the RSU actors a coordinator assigns to it, and the vehicle actors homed to them, for one
//! run at a time.
//!
//! The RSU actors are the actor engine's own ([`vecsim_actors::rsu::RsuActor`]), unchanged:
//! they answer a stand-in of the clock, send wired migrations to stand-ins of the RSUs hosted
//! elsewhere and answer a stand-in of the VEC POOL; every stand-in encodes what it is sent and
//! casts it to the coordinator's hub. What the coordinator sends arrives at this node's hub,
//! which decodes it and hands it to the RSU actor. The vehicle actors are the engine's own too
//! ([`vecsim_actors::vehicle::VehicleActor`]): they upload to the local RSU actors directly (or
//! to a stand-in of an RSU elsewhere) and answer a local stand-in of the clock, whose answers
//! the hub sends up in one message per slot.

use crate::wire::{
    ClockWire, Forward, HubMsg, PoolWire, RsuWire, Setup, StandIn, SteppedWire, VehicleStep, VehiclesStepped, Wire,
};
use crate::{ClusterError, NodeTls, PolicyCodec, COORDINATOR_GROUP_PREFIX, MAX_FRAME_BYTES, NODE_GROUP};
use ractor::thread_local::{ThreadLocalActor, ThreadLocalActorSpawner};
use ractor::ActorId;
use ractor::{Actor, ActorProcessingErr, ActorRef, SupervisionEvent};
use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use vecsim_actors::protocol::{ClockMsg, PoolMsg, RsuMsg, SlotCtx, Stepped, VehicleMsg};
use vecsim_actors::rsu::{Checkpoint, PinnedRsuActor, PolicyCell, RsuArgs};
use vecsim_actors::vehicle::VehicleActor;
use vecsim_actors::World;
use vecsim_core::clock::SlotClock;
use vecsim_core::ids::{RsuId, VehicleId};
use vecsim_core::policy::{Policy, PolicySet, Share};
use vecsim_core::rsu::RsuNode;
use vecsim_core::vehicle::Vehicle;
use vecsim_core::Scenario;

/// Builds a run's policies on a node, as the coordinator's process would: the scenario, and
/// the directory of a learner's checkpoint (`None` for a baseline).
pub type PolicyBuilder = Arc<dyn Fn(&Scenario, Option<&Path>) -> Result<PolicySet, String> + Send + Sync>;

/// Runs a worker node on `listen` until the process is killed: it accepts coordinators that
/// know `cookie` and hosts the RSUs they assign, one run at a time. `ready` is called once
/// the node listens. Its RSUs' policies are built with `build`, or, when the coordinator ships
/// them (training), decoded and sent back with `codec` (a node without one refuses them).
pub fn run_node(
    listen: SocketAddr,
    cookie: String,
    build: PolicyBuilder,
    codec: Option<PolicyCodec>,
    threads: usize,
    ready: impl FnOnce(SocketAddr),
) -> Result<(), ClusterError> {
    let opts = NodeOptions { threads, ..NodeOptions::default() };
    run_node_with(listen, cookie, build, codec, opts, ready)
}

/// How a node runs, beyond what it hosts.
#[derive(Clone, Debug, Default)]
pub struct NodeOptions {
    /// Tokio worker threads (at least 1), and as many threads for the hosted RSU actors.
    pub threads: usize,
    /// Accept coordinators over TLS only, with this certificate ([`crate::tls`]).
    pub tls: Option<NodeTls>,
    /// Fault tests: the process exits abruptly (as if killed) when it is told to begin this slot.
    pub die_at_slot: Option<u32>,
}

/// [`run_node`] with [`NodeOptions`].
pub fn run_node_with(
    listen: SocketAddr,
    cookie: String,
    build: PolicyBuilder,
    codec: Option<PolicyCodec>,
    opts: NodeOptions,
    ready: impl FnOnce(SocketAddr),
) -> Result<(), ClusterError> {
    let NodeOptions { threads, tls, die_at_slot } = opts;
    let rt = vecsim_actors::runtime(threads).map_err(ClusterError::Runtime)?;
    rt.block_on(async move {
        let name = format!("vecsim-node@{listen}");
        let encryption = tls.map(|t| ractor_cluster::IncomingEncryptionMode::Tls(t.acceptor));
        let server = ractor_cluster::NodeServer::new(
            listen.port(),
            cookie,
            name,
            listen.ip().to_string(),
            encryption,
            Some(ractor_cluster::node::NodeConnectionMode::Isolated),
        )
        .with_listen_addr(listen.ip())
        .with_max_inbound_frame_size(MAX_FRAME_BYTES);
        let (_server, server_handle) = Actor::spawn(None, server, ())
            .await
            .map_err(|e| ClusterError::Listen { addr: listen.to_string(), message: e.to_string() })?;
        let (hub, hub_handle) =
            Actor::spawn(None, NodeHub, NodeArgs { build, codec, die_at_slot, threads: threads.max(1) })
                .await
                .map_err(|e| ClusterError::Listen { addr: listen.to_string(), message: e.to_string() })?;
        ractor::pg::join(NODE_GROUP.to_string(), vec![hub.get_cell()]);
        ready(listen);
        let _ = hub_handle.await;
        let _ = server_handle.await;
        Ok(())
    })
}

struct NodeHub;

/// One run as the node hosts it.
struct Hosted {
    setup: Setup,
    /// RSU id → the local RSU actor, or the stand-in forwarding to the coordinator.
    table: Vec<ActorRef<RsuMsg>>,
    local: Vec<bool>,
    clock: ActorRef<ClockMsg>,
    pool: ActorRef<PoolMsg>,
    /// The slot context of the current slot (the same `Arc` for every local RSU).
    ctx: Option<Arc<SlotCtx>>,
    /// The policy cells of the hosted RSUs, by RSU id, when their policies travelled here
    /// (sent back on `Wire::Collect`).
    travelled: Option<Vec<(u32, PolicyCell)>>,
    coordinator: ActorRef<HubMsg>,
    checkpoint_dir: Option<PathBuf>,
    world: Arc<World>,
    /// The vehicles hosted here: id → (last slot, actor).
    vehicles: BTreeMap<VehicleId, (u32, ActorRef<VehicleMsg>)>,
    /// What the hosted vehicles answer in phase 1 instead of the clock: it hands each answer
    /// to this node's hub, which sends them up together.
    vehicle_clock: ActorRef<ClockMsg>,
    /// The phase 1 in progress.
    step: Option<StepInProgress>,
    /// The last joint record received (centralised training), decoded.
    joint: Option<Arc<Vec<Option<Share>>>>,
    /// The hosted RSU actors, by actor id (supervision).
    rsu_of: HashMap<ActorId, usize>,
    /// What restarts a hosted RSU actor (its checkpoint vault and its policy), by RSU id.
    restarts: Vec<Option<RsuArgs>>,
    /// The slot each hosted RSU was last told to begin.
    begun: Vec<Option<u32>>,
    /// The threads the hosted RSU actors are pinned to (RSU e on `spawners[e % len]`).
    spawners: Vec<ThreadLocalActorSpawner>,
}

/// Phase 1 of a slot on this node, until every hosted vehicle has answered.
struct StepInProgress {
    slot: u32,
    waiting: usize,
    answers: Vec<(VehicleId, SteppedWire)>,
    depart: Vec<VehicleId>,
}

impl Hosted {
    fn stop(self) {
        for r in &self.table {
            r.stop(None);
        }
        for (_, v) in self.vehicles.values() {
            v.stop(None);
        }
        self.vehicle_clock.stop(None);
        self.clock.stop(None);
        self.pool.stop(None);
        if let Some(d) = self.checkpoint_dir {
            let _ = std::fs::remove_dir_all(d);
        }
    }
}

struct NodeArgs {
    build: PolicyBuilder,
    codec: Option<PolicyCodec>,
    die_at_slot: Option<u32>,
    threads: usize,
}

struct HubState {
    build: PolicyBuilder,
    codec: Option<PolicyCodec>,
    die_at_slot: Option<u32>,
    /// The threads the hosted RSU actors are pinned to, per run.
    threads: usize,
    me: ActorRef<HubMsg>,
    run: Option<Hosted>,
}

fn send_up(to: &ActorRef<HubMsg>, w: Wire) -> Result<(), String> {
    to.send_message(HubMsg::Net(w)).map_err(|e| format!("the coordinator is gone: {e}"))
}

/// The coordinator's hub for run `run`, as `ractor_cluster` synchronised it (bounded wait).
async fn coordinator_hub(run: u64) -> Result<ActorRef<HubMsg>, String> {
    let group = format!("{COORDINATOR_GROUP_PREFIX}{run}");
    for _ in 0..500 {
        if let Some(c) = ractor::pg::get_members(&group).into_iter().next() {
            return Ok(ActorRef::from(c));
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    Err(format!("no coordinator hub in process group {group}"))
}

impl NodeHub {
    async fn setup(st: &mut HubState, setup: Setup) -> Result<(), String> {
        // One run at a time. A run whose coordinator is gone (its session closed, so its hub
        // left the process group) is over: taken over at once. The session's close may still
        // be on its way when a new coordinator arrives right after a kill: waited for up to
        // a second. A live one keeps the node, and the newcomer is refused, naming it.
        if let Some(old) = &st.run {
            let group = format!("{COORDINATOR_GROUP_PREFIX}{}", old.setup.run);
            let mut alive = old.setup.run != setup.run;
            for _ in 0..20 {
                alive = alive && !ractor::pg::get_members(&group).is_empty();
                if !alive {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            if alive {
                // The newcomer may be gone already (another node refused it first): nobody to
                // tell, and nothing wrong with the run this node serves (an `Err` here would be
                // reported to that run as its failure).
                let Ok(coordinator) = coordinator_hub(setup.run).await else {
                    eprintln!("vecsim node: refused run {:016x}, whose coordinator has left", setup.run);
                    return Ok(());
                };
                let error = format!(
                    "this node is serving run {:016x} of another coordinator, and serves one run at a time: wait for that run to end, or use other nodes",
                    old.setup.run
                );
                send_up(&coordinator, Wire::SetupDone { run: setup.run, node: setup.node, error: Some(error) })?;
                return Ok(());
            }
        }
        if let Some(old) = st.run.take() {
            old.stop();
        }
        let coordinator = coordinator_hub(setup.run).await?;
        let result = Self::host(st, setup.clone(), coordinator.clone()).await;
        let error = result.as_ref().err().cloned();
        send_up(&coordinator, Wire::SetupDone { run: setup.run, node: setup.node, error })?;
        result
    }

    async fn host(st: &mut HubState, setup: Setup, coordinator: ActorRef<HubMsg>) -> Result<(), String> {
        let mut scenario: Scenario =
            toml::from_str(&setup.scenario_toml).map_err(|e| format!("the scenario does not parse: {e}"))?;
        scenario.seed = setup.seed;
        let scenario = Arc::new(scenario);
        let checkpoint_dir = match &setup.checkpoint {
            None => None,
            Some(files) => {
                let dir = std::env::temp_dir().join(format!("vecsim-node-{}-{}", std::process::id(), setup.run));
                std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
                for (name, bytes) in files {
                    let name = Path::new(name).file_name().ok_or("a checkpoint file without a name")?;
                    std::fs::write(dir.join(name), bytes).map_err(|e| format!("cannot write checkpoint: {e}"))?;
                }
                Some(dir)
            }
        };
        let specs = scenario.rsu_specs();
        let n = specs.len();
        let mut local = vec![false; n];
        for &e in &setup.rsus {
            let slot = local.get_mut(e as usize).ok_or_else(|| format!("RSU {e} is not in the scenario"))?;
            if std::mem::replace(slot, true) {
                return Err(format!("RSU {e} assigned twice"));
            }
        }
        if let Some(p) = &setup.pool_participants {
            if p.len() != n {
                return Err(format!("VEC POOL participants for {} RSUs, the scenario has {n}", p.len()));
            }
        }
        let mut policies: Vec<Option<Box<dyn Policy>>> = match &setup.policies {
            // Learners that travelled here for the episode.
            Some(shipped) => {
                let codec = st.codec.as_ref().ok_or("this node cannot decode policies sent to it")?;
                if shipped.len() != setup.rsus.len() {
                    return Err(format!("{} policies for {} hosted RSUs", shipped.len(), setup.rsus.len()));
                }
                let mut v: Vec<Option<Box<dyn Policy>>> = (0..n).map(|_| None).collect();
                for (&e, bytes) in setup.rsus.iter().zip(shipped) {
                    v[e as usize] =
                        Some((codec.decode)(bytes).map_err(|m| format!("RSU {e}'s policy does not decode: {m}"))?);
                }
                v
            }
            None => {
                let PolicySet { per_rsu, refiner: _ } = (st.build)(&scenario, checkpoint_dir.as_deref())?;
                if per_rsu.len() != n {
                    return Err(format!("{} policies for {n} RSUs", per_rsu.len()));
                }
                per_rsu.into_iter().map(Some).collect()
            }
        };
        let world = Arc::new(World {
            clock: SlotClock::from_scenario(&scenario),
            specs: specs.clone(),
            scenario: scenario.clone(),
            pool_participants: setup.pool_participants.clone(),
            weighted_fedavg: setup.weighted_fedavg,
        });
        // Stand-ins: the clock, the pool and every RSU hosted elsewhere forward to the coordinator.
        let up = coordinator.clone();
        let codec = st.codec.clone();
        let clock_fwd: Forward<ClockMsg> = Box::new(move |m| {
            let encode = |s: &Share| match &codec {
                Some(c) => (c.encode_share)(s),
                None => Err("this node cannot encode shares of the joint record".into()),
            };
            send_up(&up, Wire::Clock(ClockWire::from_msg(m, encode)?))
        });
        let (clock, _) = Actor::spawn(None, StandIn::<ClockMsg>::new(), clock_fwd).await.map_err(|e| e.to_string())?;
        let up = coordinator.clone();
        let pool_fwd: Forward<PoolMsg> = Box::new(move |m| send_up(&up, Wire::Pool(PoolWire::from_msg(m)?)));
        let (pool, _) = Actor::spawn(None, StandIn::<PoolMsg>::new(), pool_fwd).await.map_err(|e| e.to_string())?;
        let mut table = Vec::with_capacity(n);
        let mut rsu_of = HashMap::new();
        // The RSU actors are pinned to threads of their own, as in one process (their policies'
        // working forms, e.g. resident networks, are not `Send`): RSU e on `spawners[e % k]`.
        vecsim_actors::probe_threads(st.threads).map_err(|e| e.to_string())?;
        let spawners: Vec<ThreadLocalActorSpawner> = (0..st.threads).map(|_| ThreadLocalActorSpawner::new()).collect();
        let mut restarts: Vec<Option<RsuArgs>> = (0..n).map(|_| None).collect();
        if !scenario.faults.crash_rsu.is_empty() {
            vecsim_actors::install_crash_hook();
        }
        let mut travelled = setup.policies.is_some().then(Vec::new);
        for (e, spec) in specs.iter().enumerate() {
            let r = if local[e] {
                let cell: PolicyCell = Arc::new(Mutex::new(policies[e].take()));
                if let Some(t) = travelled.as_mut() {
                    t.push((e as u32, cell.clone()));
                }
                let args = RsuArgs {
                    id: RsuId(e as u32),
                    world: world.clone(),
                    vault: Arc::new(Mutex::new(Checkpoint::new(
                        RsuNode::new(spec.clone(), scenario.seed),
                        scenario.seed,
                    ))),
                    policy: cell,
                    redo_slot: None,
                    clock: clock.clone(),
                };
                let restart = args.clone();
                let spawner = spawners[e % spawners.len()].clone();
                let (r, _) = PinnedRsuActor::spawn_linked(None, args, st.me.get_cell(), spawner)
                    .await
                    .map_err(|e| e.to_string())?;
                rsu_of.insert(r.get_id(), e);
                restarts[e] = Some(restart);
                r
            } else {
                let up = coordinator.clone();
                let rsu = e as u32;
                let fwd: Forward<RsuMsg> =
                    Box::new(move |m| send_up(&up, Wire::Rsu { rsu, msg: RsuWire::from_msg(m)? }));
                let (r, _) = Actor::spawn(None, StandIn::<RsuMsg>::new(), fwd).await.map_err(|e| e.to_string())?;
                r
            };
            table.push(r);
        }
        let hub = st.me.clone();
        let run_id = setup.run;
        let answer: Forward<ClockMsg> = Box::new(move |m| match m {
            ClockMsg::Stepped { vehicle, slot, what } => hub
                .send_message(HubMsg::Stepped { run: run_id, vehicle, slot, what })
                .map_err(|e| format!("the node's hub is gone: {e}")),
            other => Err(format!("a vehicle sent {other:?}")),
        });
        let (vehicle_clock, _) =
            Actor::spawn(None, StandIn::<ClockMsg>::new(), answer).await.map_err(|e| e.to_string())?;
        st.run = Some(Hosted {
            setup,
            table,
            local,
            clock,
            pool,
            ctx: None,
            travelled,
            coordinator,
            checkpoint_dir,
            world,
            vehicles: BTreeMap::new(),
            vehicle_clock,
            step: None,
            joint: None,
            rsu_of,
            restarts,
            begun: vec![None; n],
            spawners,
        });
        Ok(())
    }

    /// Phase 1 on this node: the arriving vehicles join (as actors of this process), then every
    /// hosted vehicle steps; the answers go up together once all are in ([`Self::stepped`]).
    async fn step(st: &mut HubState, vs: VehicleStep) -> Result<(), String> {
        let me = st.me.clone();
        let run = st.run.as_mut().ok_or("vehicles to step outside a run")?;
        if vs.run != run.setup.run {
            // A message of another run (one that ended or was refused here): stale, dropped.
            return Ok(());
        }
        if run.step.is_some() {
            return Err(format!("slot {}: vehicles to step before the previous slot's answers went up", vs.slot));
        }
        if vs.up.len() != run.table.len() {
            return Err(format!("an up-mask of {} RSUs for {}", vs.up.len(), run.table.len()));
        }
        let seed = run.world.scenario.seed;
        for v in vs.arrive {
            let id = v.handover.id;
            let vehicle = Vehicle::resume(&v.handover, Arc::new(v.path), seed);
            let (r, _) = Actor::spawn_linked(None, VehicleActor, (vehicle, run.world.clone()), me.get_cell())
                .await
                .map_err(|e| format!("vehicle {}: {e}", id.0))?;
            if let Some((_, old)) = run.vehicles.insert(id, (v.last, r)) {
                old.stop(None);
                return Err(format!("vehicle {} arrived twice", id.0));
            }
        }
        for id in &vs.depart {
            if !run.vehicles.contains_key(id) {
                return Err(format!("vehicle {} is to leave, but it is not hosted here", id.0));
            }
        }
        let ctx =
            Arc::new(SlotCtx { slot: vs.slot, up: vs.up, rsus: run.table.clone(), clock: run.vehicle_clock.clone() });
        for (_, v) in run.vehicles.values() {
            v.send_message(VehicleMsg::Step(ctx.clone())).map_err(|e| format!("vehicle step: {e}"))?;
        }
        run.step = Some(StepInProgress {
            slot: vs.slot,
            waiting: run.vehicles.len(),
            answers: Vec::with_capacity(run.vehicles.len()),
            depart: vs.depart,
        });
        if run.vehicles.is_empty() {
            Self::finish_step(run).await?;
        }
        Ok(())
    }

    /// A hosted vehicle's answer.
    async fn stepped(run: &mut Hosted, vehicle: VehicleId, slot: u32, what: Stepped) -> Result<(), String> {
        let step = run.step.as_mut().ok_or("a vehicle answered outside phase 1")?;
        if step.slot != slot || step.waiting == 0 {
            return Err(format!("vehicle {} answered for slot {slot} out of turn", vehicle.0));
        }
        step.answers.push((vehicle, what.into()));
        step.waiting -= 1;
        if step.waiting == 0 {
            Self::finish_step(run).await?;
        }
        Ok(())
    }

    /// Every hosted vehicle has stepped: the departing ones hand their streams over and stop,
    /// those at their last slot stop, and the answers go up in one message.
    async fn finish_step(run: &mut Hosted) -> Result<(), String> {
        let Some(mut step) = run.step.take() else { return Ok(()) };
        let mut departed = Vec::with_capacity(step.depart.len());
        for id in &step.depart {
            let (_, v) = run.vehicles.remove(id).ok_or_else(|| format!("vehicle {} is gone", id.0))?;
            // It has answered its step, so this is the next message it handles.
            let h = ractor::call!(v, VehicleMsg::Leave).map_err(|e| format!("vehicle {}: {e}", id.0))?;
            departed.push(h);
        }
        let slot = step.slot;
        run.vehicles.retain(|_, (last, v)| {
            let keep = *last > slot;
            if !keep {
                v.stop(None);
            }
            keep
        });
        step.answers.sort_unstable_by_key(|(id, _)| *id);
        let node = run.setup.node;
        let msg = VehiclesStepped { node, slot, answers: step.answers, departed };
        send_up(&run.coordinator, Wire::Stepped(Box::new(msg)))
    }

    /// The hosted RSUs' policies that travelled here, encoded, by RSU id: asked for after the
    /// episode's last slot and VEC POOL round, when every RSU actor is done with its policy.
    /// Their working forms come back from the RSU actors' threads into their cells first.
    async fn collect(run: &mut Hosted, codec: Option<&PolicyCodec>) -> Result<Vec<(u32, Vec<u8>)>, String> {
        let codec = codec.ok_or("this node cannot encode policies")?;
        let cells = run.travelled.take().ok_or("no policies travelled to this node for the run")?;
        for r in &run.table {
            r.stop(None);
        }
        let k = run.spawners.len();
        for (i, spawner) in run.spawners.iter().enumerate() {
            let mine = cells.iter().filter(|(e, _)| *e as usize % k == i).cloned().collect();
            vecsim_actors::rsu::collect(spawner.clone(), mine)
                .await
                .map_err(|e| format!("the policies did not come back from their threads: {e}"))?;
        }
        let mut out = Vec::with_capacity(cells.len());
        for (e, cell) in cells {
            let p = cell.lock().unwrap_or_else(|p| p.into_inner()).take();
            let p = p.ok_or_else(|| format!("RSU {e}'s policy is gone"))?;
            out.push((e, (codec.encode)(p).map_err(|m| format!("RSU {e}'s policy does not encode: {m}"))?));
        }
        Ok(out)
    }

    /// Restarts a hosted RSU actor that failed at the start of a slot in which the scenario
    /// crashes it (`faults.crash_rsu`), as the clock does in one process: from its last
    /// slot-boundary checkpoint, with the same policy, told to begin the slot again; the
    /// coordinator is told first, so that the crash is counted before the slot's report.
    /// `Ok(false)`: not such a failure.
    async fn restart(run: &mut Hosted, id: ActorId, me: ActorRef<HubMsg>) -> Result<bool, String> {
        let Some(e) = run.rsu_of.remove(&id) else { return Ok(false) };
        let Some(slot) = run.begun[e] else { return Ok(false) };
        if !run.world.scenario.faults.crashes(RsuId(e as u32), slot) {
            return Ok(false);
        }
        let args = run.restarts[e].clone().ok_or_else(|| format!("RSU {e} cannot be restarted"))?;
        let args = RsuArgs { redo_slot: Some(slot), ..args };
        let spawner = run.spawners[e % run.spawners.len()].clone();
        let (r, _) = PinnedRsuActor::spawn_linked(None, args, me.get_cell(), spawner)
            .await
            .map_err(|err| format!("cannot restart RSU {e}: {err}"))?;
        run.rsu_of.insert(r.get_id(), e);
        run.table[e] = r.clone();
        run.ctx = None;
        send_up(&run.coordinator, Wire::Clock(ClockWire::Restarted { rsu: RsuId(e as u32), slot }))?;
        r.send_message(RsuMsg::Begin { slot, ack: true }).map_err(|err| format!("RSU {e}: {err}"))?;
        Ok(true)
    }

    fn deliver(run: &mut Hosted, codec: Option<&PolicyCodec>, rsu: u32, msg: RsuWire) -> Result<(), String> {
        let e = rsu as usize;
        if !run.local.get(e).copied().unwrap_or(false) {
            return Err(format!("RSU {rsu} is not hosted here"));
        }
        if let RsuWire::Begin { slot, .. } = &msg {
            run.begun[e] = Some(*slot);
        }
        let table = &run.table;
        let clock = &run.clock;
        let cached = &mut run.ctx;
        let joint = &mut run.joint;
        let msg = msg.into_msg(
            |slot, up| match cached {
                Some(c) if c.slot == slot && c.up == up => c.clone(),
                _ => {
                    let c = Arc::new(SlotCtx { slot, up, rsus: table.clone(), clock: clock.clone() });
                    *cached = Some(c.clone());
                    c
                }
            },
            || Some(run.pool.clone()),
            |shares| match shares {
                Some(list) => {
                    let codec = codec.ok_or("this node cannot decode shares of the joint record")?;
                    let decoded = list
                        .iter()
                        .map(|b| b.as_deref().map(|b| (codec.decode_share)(b)).transpose())
                        .collect::<Result<Vec<_>, String>>()?;
                    let shares = Arc::new(decoded);
                    *joint = Some(shares.clone());
                    Ok(shares)
                }
                None => joint.clone().ok_or_else(|| "a joint record recalled before any was sent".into()),
            },
        )?;
        run.table[e].send_message(msg).map_err(|e| format!("RSU {rsu}: {e}"))
    }
}

impl Actor for NodeHub {
    type Msg = HubMsg;
    type State = HubState;
    type Arguments = NodeArgs;

    async fn pre_start(&self, me: ActorRef<HubMsg>, a: NodeArgs) -> Result<HubState, ActorProcessingErr> {
        Ok(HubState { build: a.build, codec: a.codec, die_at_slot: a.die_at_slot, threads: a.threads, me, run: None })
    }

    async fn handle(&self, _: ActorRef<HubMsg>, msg: HubMsg, st: &mut HubState) -> Result<(), ActorProcessingErr> {
        let r = match msg {
            HubMsg::Net(Wire::Setup(s)) => Self::setup(st, *s).await,
            HubMsg::Net(Wire::End { run }) => {
                if st.run.as_ref().is_some_and(|h| h.setup.run == run) {
                    if let Some(h) = st.run.take() {
                        h.stop();
                    }
                }
                Ok(())
            }
            HubMsg::Net(Wire::Collect { run }) => match st.run.as_mut() {
                Some(h) if h.setup.run == run => {
                    let policies = Self::collect(h, st.codec.as_ref()).await;
                    let node = h.setup.node;
                    send_up(&h.coordinator, Wire::Policies { run, node, policies })
                }
                _ => {
                    // Answer anyway, so that the coordinator does not wait for nothing.
                    let why = format!("policies of run {run} asked for, which is not hosted here");
                    if let Ok(c) = coordinator_hub(run).await {
                        let _ = send_up(&c, Wire::Policies { run, node: u32::MAX, policies: Err(why.clone()) });
                    }
                    Err(why)
                }
            },
            HubMsg::Net(Wire::Rsu { msg: RsuWire::Begin { slot, .. }, .. }) if st.die_at_slot == Some(slot) => {
                eprintln!("vecsim node: exiting at the start of slot {slot} (--die-at-slot)");
                std::process::exit(137);
            }
            HubMsg::Net(Wire::Vehicles(vs)) => Self::step(st, *vs).await,
            HubMsg::Stepped { run: id, vehicle, slot, what } => match st.run.as_mut() {
                Some(run) if run.setup.run == id => Self::stepped(run, vehicle, slot, what).await,
                _ => Ok(()), // the run ended, or was replaced, meanwhile: a stale answer
            },
            HubMsg::Net(Wire::Rsu { rsu, msg }) => match st.run.as_mut() {
                Some(run) => Self::deliver(run, st.codec.as_ref(), rsu, msg),
                None => Err(format!("a message for RSU {rsu} outside a run")),
            },
            HubMsg::Garbled(why) => Err(format!("undecodable message from the coordinator: {why}")),
            other => Err(format!("unexpected message at a node: {other:?}")),
        };
        if let Err(message) = r {
            eprintln!("vecsim node: {message}");
            if let Some(run) = &st.run {
                let _ = send_up(&run.coordinator, Wire::Failed { node: run.setup.node, message });
            }
        }
        Ok(())
    }

    async fn handle_supervisor_evt(
        &self,
        _: ActorRef<HubMsg>,
        evt: SupervisionEvent,
        st: &mut HubState,
    ) -> Result<(), ActorProcessingErr> {
        if let SupervisionEvent::ActorFailed(cell, err) = evt {
            if let Some(run) = st.run.as_mut() {
                match Self::restart(run, cell.get_id(), st.me.clone()).await {
                    Ok(true) => return Ok(()),
                    Ok(false) => {}
                    Err(message) => {
                        let _ = send_up(&run.coordinator, Wire::Failed { node: run.setup.node, message });
                        return Ok(());
                    }
                }
            }
            let message = format!("an actor failed on this node ({}): {err}", cell.get_id());
            eprintln!("vecsim node: {message}");
            if let Some(run) = &st.run {
                let _ = send_up(&run.coordinator, Wire::Failed { node: run.setup.node, message });
            }
        }
        Ok(())
    }
}
