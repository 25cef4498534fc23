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

use crate::error::{protocol, BoxError, HubError};
use crate::preauth::{self, Authenticated};
use crate::wire::{EncodedShare, Forward, HubMsg, Setup, StandIn, VehicleStep, VehiclesStepped, Wire};
use crate::{ClusterError, NodeTls, PolicyCodec, COORDINATOR_GROUP_PREFIX, MAX_FRAME_BYTES, NODE_GROUP};
use ractor::thread_local::{ThreadLocalActor, ThreadLocalActorSpawner};
use ractor::ActorId;
use ractor::{Actor, ActorProcessingErr, ActorRef, SupervisionEvent};
use ractor_cluster::node::NodeServerSessionInformation;
use ractor_cluster::{NodeEventSubscription, NodeServerMessage};
use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use vecsim_actors::protocol::{ClockMsg, PoolMsg, Resolver, RsuMsg, SlotCtx, Stepped, VehicleMsg};
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
pub type PolicyBuilder = Arc<dyn Fn(&Scenario, Option<&Path>) -> Result<PolicySet, BoxError> + Send + Sync>;

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
        let listen_err = |source: BoxError| ClusterError::Listen { addr: listen.to_string(), source };
        // This process accepts coordinators itself and hands `ractor_cluster` only connections
        // that passed the pre-authentication (`preauth`): its frame limit, sized for a learner's
        // state, never applies to a peer that has not proven the cookie. `ractor_cluster`'s own
        // listener, which it always opens, is bound to loopback on a port the OS picks and is
        // not announced anywhere.
        let listener = tokio::net::TcpListener::bind(listen).await.map_err(|e| listen_err(e.into()))?;
        let bound = listener.local_addr().map_err(|e| listen_err(e.into()))?;
        let name = format!("vecsim-node@{bound}");
        let server = ractor_cluster::NodeServer::new(
            0,
            cookie.clone(),
            name,
            "localhost".into(),
            None,
            Some(ractor_cluster::node::NodeConnectionMode::Isolated),
        )
        .with_listen_addr(std::net::IpAddr::from([127, 0, 0, 1]))
        .with_max_inbound_frame_size(MAX_FRAME_BYTES);
        let (server, server_handle) = Actor::spawn(None, server, ()).await.map_err(|e| listen_err(e.into()))?;
        let (hub, hub_handle) =
            Actor::spawn(None, NodeHub, NodeArgs { build, codec, die_at_slot, threads: threads.max(1) })
                .await
                .map_err(|e| listen_err(e.into()))?;
        ractor::pg::join(NODE_GROUP.to_string(), vec![hub.get_cell()]);
        // A closed session is how this node learns that its coordinator is gone (TCP keepalive
        // closes the session of a coordinator whose host vanished): the run is dropped at once.
        server
            .cast(NodeServerMessage::SubscribeToEvents {
                id: "vecsim".into(),
                subscription: Box::new(Closed(hub.clone())),
            })
            .map_err(|e| listen_err(e.to_string().into()))?;
        let acceptor = tls.map(|t| t.acceptor);
        tokio::spawn(accept_loop(listener, server.clone(), Arc::from(cookie.into_bytes()), acceptor));
        ready(bound);
        let _ = hub_handle.await;
        let _ = server_handle.await;
        Ok(())
    })
}

/// Tells the node's hub when a session closes.
struct Closed(ActorRef<HubMsg>);

impl NodeEventSubscription for Closed {
    fn node_session_opened(&self, _: NodeServerSessionInformation) {}
    fn node_session_disconnected(&self, s: NodeServerSessionInformation) {
        let _ = self.0.send_message(HubMsg::Down { node_id: s.node_id });
    }
    fn node_session_authenticated(&self, _: NodeServerSessionInformation) {}
    fn node_session_ready(&self, _: NodeServerSessionInformation) {}
}

/// Accepts coordinators on `listener`: each connection (inside TLS with `tls`) must pass the
/// pre-authentication within its time limit, [`preauth::MAX_PENDING`] at most at once, before
/// it is handed to `ractor_cluster`; any other is closed.
async fn accept_loop(
    listener: tokio::net::TcpListener,
    server: ActorRef<NodeServerMessage>,
    cookie: Arc<[u8]>,
    tls: Option<tokio_rustls::TlsAcceptor>,
) {
    let pending = Arc::new(tokio::sync::Semaphore::new(preauth::MAX_PENDING));
    loop {
        let (tcp, peer) = match listener.accept().await {
            Ok(c) => c,
            Err(e) => {
                // Out of file descriptors, say: wait a little rather than spin.
                eprintln!("vecsim node: accept: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let Ok(permit) = pending.clone().try_acquire_owned() else {
            continue; // too many unauthenticated connections at once: this one is closed
        };
        let (server, cookie, tls) = (server.clone(), cookie.clone(), tls.clone());
        tokio::spawn(async move {
            preauth::tune(&tcp);
            let peer = peer.to_string();
            let stream: Box<dyn ractor_cluster::ClusterBidiStream> = match tls {
                None => {
                    let mut tcp = tcp;
                    if let Err(e) = preauth::accept(&mut tcp, &cookie).await {
                        eprintln!("vecsim node: connection from {peer} closed: {e}");
                        return;
                    }
                    Box::new(Authenticated { stream: tcp, peer })
                }
                Some(acceptor) => {
                    let mut s = match tokio::time::timeout(preauth::PREAUTH_TIMEOUT, acceptor.accept(tcp)).await {
                        Ok(Ok(s)) => s,
                        Ok(Err(e)) => {
                            eprintln!("vecsim node: connection from {peer} closed: TLS: {e}");
                            return;
                        }
                        Err(_) => {
                            eprintln!("vecsim node: connection from {peer} closed: no TLS handshake in time");
                            return;
                        }
                    };
                    if let Err(e) = preauth::accept(&mut s, &cookie).await {
                        eprintln!("vecsim node: connection from {peer} closed: {e}");
                        return;
                    }
                    Box::new(Authenticated { stream: s, peer })
                }
            };
            drop(permit);
            let _ = server.cast(NodeServerMessage::ConnectionOpenedExternal { stream, is_server: true });
        });
    }
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
    answers: Vec<(VehicleId, Stepped)>,
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

fn send_up(to: &ActorRef<HubMsg>, w: Wire) -> Result<(), HubError> {
    to.send_message(HubMsg::Net(w)).map_err(|e| HubError::gone("the coordinator", e))
}

/// The coordinator's hub for run `run`, as `ractor_cluster` synchronised it (bounded wait).
async fn coordinator_hub(run: u64) -> Result<ActorRef<HubMsg>, HubError> {
    let group = format!("{COORDINATOR_GROUP_PREFIX}{run}");
    for _ in 0..500 {
        if let Some(c) = ractor::pg::get_members(&group).into_iter().next() {
            return Ok(ActorRef::from(c));
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    Err(protocol!("no coordinator hub in process group {group}"))
}

impl NodeHub {
    async fn setup(st: &mut HubState, setup: Setup) -> Result<(), HubError> {
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
        eprintln!("vecsim node: run {:016x}: hosting RSUs {:?}", setup.run, setup.rsus);
        let result = Self::host(st, setup.clone(), coordinator.clone()).await;
        let error = result.as_ref().err().map(|e| vecsim_core::message::error_message(e));
        send_up(&coordinator, Wire::SetupDone { run: setup.run, node: setup.node, error })?;
        result
    }

    async fn host(st: &mut HubState, setup: Setup, coordinator: ActorRef<HubMsg>) -> Result<(), HubError> {
        let mut scenario: Scenario =
            toml::from_str(&setup.scenario_toml).map_err(|e| HubError::Scenario(Box::new(e)))?;
        scenario.seed = setup.seed;
        let scenario = Arc::new(scenario);
        let checkpoint_dir = match &setup.checkpoint {
            None => None,
            Some(files) => {
                let dir = std::env::temp_dir().join(format!("vecsim-node-{}-{}", std::process::id(), setup.run));
                std::fs::create_dir_all(&dir)
                    .map_err(|source| HubError::Io { what: format!("cannot create {}", dir.display()), source })?;
                for (name, bytes) in files {
                    let name = Path::new(name).file_name().ok_or("a checkpoint file without a name")?;
                    let path = dir.join(name);
                    std::fs::write(&path, bytes)
                        .map_err(|source| HubError::Io { what: format!("cannot write {}", path.display()), source })?;
                }
                Some(dir)
            }
        };
        let specs = scenario.rsu_specs();
        let n = specs.len();
        let mut local = vec![false; n];
        for &e in &setup.rsus {
            let slot = local.get_mut(e as usize).ok_or_else(|| protocol!("RSU {e} is not in the scenario"))?;
            if std::mem::replace(slot, true) {
                return Err(protocol!("RSU {e} assigned twice"));
            }
        }
        if let Some(p) = &setup.pool_participants {
            if p.len() != n {
                return Err(protocol!("VEC POOL participants for {} RSUs, the scenario has {n}", p.len()));
            }
        }
        let mut policies: Vec<Option<Box<dyn Policy>>> = match &setup.policies {
            // Learners that travelled here for the episode.
            Some(shipped) => {
                let codec = st.codec.as_ref().ok_or("this node cannot decode policies sent to it")?;
                if shipped.len() != setup.rsus.len() {
                    return Err(protocol!("{} policies for {} hosted RSUs", shipped.len(), setup.rsus.len()));
                }
                let mut v: Vec<Option<Box<dyn Policy>>> = (0..n).map(|_| None).collect();
                for (&e, bytes) in setup.rsus.iter().zip(shipped) {
                    v[e as usize] = Some(
                        (codec.decode)(bytes).map_err(HubError::policy(format!("RSU {e}'s policy does not decode")))?,
                    );
                }
                v
            }
            None => {
                let PolicySet { per_rsu, refiner: _ } = (st.build)(&scenario, checkpoint_dir.as_deref())
                    .map_err(HubError::policy("the RSUs' policies cannot be built"))?;
                if per_rsu.len() != n {
                    return Err(protocol!("{} policies for {n} RSUs", per_rsu.len()));
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
            let m = match m {
                // A share of the joint record crosses as the bytes of the policy's codec.
                ClockMsg::Shared { rsu, share: Some(sh) } => {
                    let codec = codec.as_ref().ok_or("this node cannot encode shares of the joint record")?;
                    let bytes = (codec.encode_share)(&sh)
                        .map_err(HubError::policy("a share of the joint record does not encode"))?;
                    ClockMsg::Shared { rsu, share: Some(Arc::new(EncodedShare(bytes)) as Share) }
                }
                m if m.answer().is_some() => m,
                other => return Err(protocol!("{other:?} is not an RSU's answer")),
            };
            send_up(&up, Wire::Clock(m))
        });
        let (clock, _) = Actor::spawn(None, StandIn::<ClockMsg>::new(), clock_fwd)
            .await
            .map_err(HubError::spawn("the clock's stand-in"))?;
        let up = coordinator.clone();
        let pool_fwd: Forward<PoolMsg> = Box::new(move |m| match m.answer() {
            Some(_) => send_up(&up, Wire::Pool(m)),
            None => Err(protocol!("{m:?} is not an RSU's answer")),
        });
        let (pool, _) = Actor::spawn(None, StandIn::<PoolMsg>::new(), pool_fwd)
            .await
            .map_err(HubError::spawn("the pool's stand-in"))?;
        let mut table = Vec::with_capacity(n);
        let mut rsu_of = HashMap::new();
        // The RSU actors are pinned to threads of their own, as in one process (their policies'
        // working forms, e.g. resident networks, are not `Send`): RSU e on `spawners[e % k]`.
        vecsim_actors::probe_threads(st.threads)
            .map_err(|source| HubError::Io { what: format!("cannot start {} RSU threads", st.threads), source })?;
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
                    .map_err(HubError::spawn(format!("RSU {e}")))?;
                rsu_of.insert(r.get_id(), e);
                restarts[e] = Some(restart);
                r
            } else {
                let up = coordinator.clone();
                let rsu = e as u32;
                let fwd: Forward<RsuMsg> = Box::new(move |msg| send_up(&up, Wire::Rsu { rsu, msg }));
                let (r, _) = Actor::spawn(None, StandIn::<RsuMsg>::new(), fwd)
                    .await
                    .map_err(HubError::spawn(format!("RSU {e}'s stand-in")))?;
                r
            };
            table.push(r);
        }
        let hub = st.me.clone();
        let run_id = setup.run;
        let answer: Forward<ClockMsg> = Box::new(move |m| match m {
            ClockMsg::Stepped { vehicle, slot, what } => hub
                .send_message(HubMsg::Stepped { run: run_id, vehicle, slot, what })
                .map_err(|e| HubError::gone("the node's hub", e)),
            other => Err(protocol!("a vehicle sent {other:?}")),
        });
        let (vehicle_clock, _) = Actor::spawn(None, StandIn::<ClockMsg>::new(), answer)
            .await
            .map_err(HubError::spawn("the vehicles' clock"))?;
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
    async fn step(st: &mut HubState, vs: VehicleStep) -> Result<(), HubError> {
        let me = st.me.clone();
        let run = st.run.as_mut().ok_or("vehicles to step outside a run")?;
        if vs.run != run.setup.run {
            // A message of another run (one that ended or was refused here): stale, dropped.
            return Ok(());
        }
        if run.step.is_some() {
            return Err(protocol!("slot {}: vehicles to step before the previous slot's answers went up", vs.slot));
        }
        if vs.up.len() != run.table.len() {
            return Err(protocol!("an up-mask of {} RSUs for {}", vs.up.len(), run.table.len()));
        }
        let seed = run.world.scenario.seed;
        for v in vs.arrive {
            let id = v.handover.id;
            let vehicle = Vehicle::resume(&v.handover, Arc::new(v.path), seed);
            let (r, _) = Actor::spawn_linked(None, VehicleActor, (vehicle, run.world.clone()), me.get_cell())
                .await
                .map_err(HubError::spawn(format!("vehicle {}", id.0)))?;
            if let Some((_, old)) = run.vehicles.insert(id, (v.last, r)) {
                old.stop(None);
                return Err(protocol!("vehicle {} arrived twice", id.0));
            }
        }
        for id in &vs.depart {
            if !run.vehicles.contains_key(id) {
                return Err(protocol!("vehicle {} is to leave, but it is not hosted here", id.0));
            }
        }
        let ctx =
            Arc::new(SlotCtx { slot: vs.slot, up: vs.up, rsus: run.table.clone(), clock: run.vehicle_clock.clone() });
        for (_, v) in run.vehicles.values() {
            v.send_message(VehicleMsg::Step(ctx.clone())).map_err(|e| HubError::gone("a vehicle", e))?;
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
    async fn stepped(run: &mut Hosted, vehicle: VehicleId, slot: u32, what: Stepped) -> Result<(), HubError> {
        let step = run.step.as_mut().ok_or("a vehicle answered outside phase 1")?;
        if step.slot != slot || step.waiting == 0 {
            return Err(protocol!("vehicle {} answered for slot {slot} out of turn", vehicle.0));
        }
        step.answers.push((vehicle, what));
        step.waiting -= 1;
        if step.waiting == 0 {
            Self::finish_step(run).await?;
        }
        Ok(())
    }

    /// Every hosted vehicle has stepped: the departing ones hand their streams over and stop,
    /// those at their last slot stop, and the answers go up in one message.
    async fn finish_step(run: &mut Hosted) -> Result<(), HubError> {
        let Some(mut step) = run.step.take() else { return Ok(()) };
        let mut departed = Vec::with_capacity(step.depart.len());
        for id in &step.depart {
            let (_, v) = run.vehicles.remove(id).ok_or_else(|| protocol!("vehicle {} is gone", id.0))?;
            // It has answered its step, so this is the next message it handles.
            let h = ractor::call!(v, VehicleMsg::Leave).map_err(|e| HubError::gone(format!("vehicle {}", id.0), e))?;
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
    async fn collect(run: &mut Hosted, codec: Option<&PolicyCodec>) -> Result<Vec<(u32, Vec<u8>)>, HubError> {
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
                .map_err(|e| HubError::gone("the RSU threads (the policies did not come back)", e))?;
        }
        let mut out = Vec::with_capacity(cells.len());
        for (e, cell) in cells {
            let p = cell.lock().unwrap_or_else(|p| p.into_inner()).take();
            let p = p.ok_or_else(|| protocol!("RSU {e}'s policy is gone"))?;
            out.push((e, (codec.encode)(p).map_err(HubError::policy(format!("RSU {e}'s policy does not encode")))?));
        }
        let bytes: usize = out.iter().map(|(_, b)| b.len()).sum();
        if bytes as u64 > crate::MAX_MESSAGE_BYTES {
            return Err(protocol!(
                "the learners of this node's RSUs are {bytes} bytes encoded, over the {}-byte limit of a message",
                crate::MAX_MESSAGE_BYTES
            ));
        }
        Ok(out)
    }

    /// Restarts a hosted RSU actor that failed at the start of a slot in which the scenario
    /// crashes it (`faults.crash_rsu`), as the clock does in one process: from its last
    /// slot-boundary checkpoint, with the same policy, told to begin the slot again; the
    /// coordinator is told first, so that the crash is counted before the slot's report.
    /// `Ok(false)`: not such a failure.
    async fn restart(run: &mut Hosted, id: ActorId, me: ActorRef<HubMsg>) -> Result<bool, HubError> {
        let Some(e) = run.rsu_of.remove(&id) else { return Ok(false) };
        let Some(slot) = run.begun[e] else { return Ok(false) };
        if !run.world.scenario.faults.crashes(RsuId(e as u32), slot) {
            return Ok(false);
        }
        let args = run.restarts[e].clone().ok_or_else(|| protocol!("RSU {e} cannot be restarted"))?;
        let args = RsuArgs { redo_slot: Some(slot), ..args };
        let spawner = run.spawners[e % run.spawners.len()].clone();
        let (r, _) = PinnedRsuActor::spawn_linked(None, args, me.get_cell(), spawner)
            .await
            .map_err(HubError::spawn(format!("RSU {e} again (a restart)")))?;
        run.rsu_of.insert(r.get_id(), e);
        run.table[e] = r.clone();
        run.ctx = None;
        send_up(&run.coordinator, Wire::Clock(ClockMsg::Restarted { rsu: RsuId(e as u32), slot }))?;
        r.send_message(RsuMsg::Begin { slot, ack: true }).map_err(|err| HubError::gone(format!("RSU {e}"), err))?;
        Ok(true)
    }

    fn deliver(run: &mut Hosted, codec: Option<&PolicyCodec>, rsu: u32, mut msg: RsuMsg) -> Result<(), HubError> {
        let e = rsu as usize;
        if !run.local.get(e).copied().unwrap_or(false) {
            return Err(protocol!("RSU {rsu} is not hosted here"));
        }
        if let RsuMsg::Begin { slot, .. } = &msg {
            run.begun[e] = Some(*slot);
        }
        msg.resolve(&mut Local { run: &mut *run, codec })?;
        run.table[e].send_message(msg).map_err(|e| HubError::gone(format!("RSU {rsu}"), e))
    }
}

/// What a message to a hosted RSU lacks when it arrives ([`RsuMsg::resolve`]), filled in from
/// the run as this node hosts it.
struct Local<'a> {
    run: &'a mut Hosted,
    codec: Option<&'a PolicyCodec>,
}

impl Resolver for Local<'_> {
    type Error = HubError;

    /// The slot's context with this node's RSU table: one `Arc` per slot for every hosted RSU.
    fn ctx(&mut self, slot: u32, up: Vec<bool>) -> Arc<SlotCtx> {
        let run = &mut *self.run;
        match &run.ctx {
            Some(c) if c.slot == slot && c.up == up => c.clone(),
            _ => {
                let c = Arc::new(SlotCtx { slot, up, rsus: run.table.clone(), clock: run.clock.clone() });
                run.ctx = Some(c.clone());
                c
            }
        }
    }

    fn pool(&mut self) -> Result<ActorRef<PoolMsg>, HubError> {
        Ok(self.run.pool.clone())
    }

    /// The shares decoded with the policy's codec (and kept: the coordinator sends them once
    /// for all the RSUs of this node), or the ones kept.
    fn shares(&mut self, encoded: Option<Vec<Option<Vec<u8>>>>) -> Result<Arc<Vec<Option<Share>>>, HubError> {
        let Some(list) = encoded else {
            return self.run.joint.clone().ok_or_else(|| HubError::from("a joint record recalled before any was sent"));
        };
        let codec = self.codec.ok_or("this node cannot decode shares of the joint record")?;
        let decoded = list
            .iter()
            .map(|b| b.as_deref().map(|b| (codec.decode_share)(b)).transpose())
            .collect::<Result<Vec<_>, BoxError>>()
            .map_err(HubError::policy("a share of the joint record does not decode"))?;
        let shares = Arc::new(decoded);
        self.run.joint = Some(shares.clone());
        Ok(shares)
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
                    let policies =
                        Self::collect(h, st.codec.as_ref()).await.map_err(|e| vecsim_core::message::error_message(&e));
                    let node = h.setup.node;
                    send_up(&h.coordinator, Wire::Policies { run, node, policies })
                }
                _ => {
                    // Answer anyway, so that the coordinator does not wait for nothing.
                    let why = format!("policies of run {run} asked for, which is not hosted here");
                    if let Ok(c) = coordinator_hub(run).await {
                        let _ = send_up(&c, Wire::Policies { run, node: u32::MAX, policies: Err(why.clone()) });
                    }
                    Err(HubError::Protocol(why))
                }
            },
            HubMsg::Net(Wire::Rsu { msg: RsuMsg::Begin { slot, .. }, .. }) if st.die_at_slot == Some(slot) => {
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
                None => Err(protocol!("a message for RSU {rsu} outside a run")),
            },
            HubMsg::Down { node_id } => {
                // The session of the coordinator whose run this node hosts closed: the run is
                // over; nothing of it stays (actors, vehicles, checkpoint files).
                if st.run.as_ref().is_some_and(|h| h.coordinator.get_id().node() == node_id) {
                    if let Some(h) = st.run.take() {
                        eprintln!(
                            "vecsim node: the coordinator of run {:016x} is gone (its session closed): run stopped, ready for another",
                            h.setup.run
                        );
                        h.stop();
                    }
                }
                Ok(())
            }
            HubMsg::Garbled(why) => Err(HubError::Garbled { from: "the coordinator", why }),
            other => Err(protocol!("unexpected message at a node: {other:?}")),
        };
        if let Err(e) = r {
            let message = vecsim_core::message::error_message(&e);
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
                    Err(e) => {
                        let message = vecsim_core::message::error_message(&e);
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
