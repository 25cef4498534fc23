//! The coordinator: the clock and the VEC POOL run here (the actor engine's own,
//! [`vecsim_actors::run_async`]); every RSU and every vehicle runs on a node. The clock talks to
//! stand-ins of the RSUs and of the fleet; each stand-in hands what it is sent to the hub, which
//! encodes it and casts it to the node concerned (where vehicles live and move: [`fleet`]).
//! What nodes send (answers to the clock and the pool, uploads and wired migrations to RSUs on
//! other nodes) comes back to the hub, which decodes it and delivers it.
//!
//! The hub is also where a lost node is handled. It sees every message to and from every node,
//! so it knows, for the current slot, which tasks entered each node (uploads, migrations relayed
//! in), which left it (migrations relayed out) and which the node reported (results, lost
//! migrations). When a node's session closes, the hub answers for its RSUs from then on, as the
//! protocol expects them to (the phases still close by counts), reports every task the node
//! still held with the cause `node_lost`, and flags the RSUs lost, so that the clock treats them
//! as down from the next slot it opens: every task still ends in exactly one outcome. The
//! node's vehicles are recovered ([`fleet`]).

mod fleet;
mod nearest;

use crate::error::{protocol, HubError, PreauthError};
use crate::preauth::{self, Authenticated};
use crate::wire::{Forward, HubMsg, Setup, StandIn, Wire};
use crate::{
    ClusterConfig, ClusterError, NodeLoss, COORDINATOR_GROUP_PREFIX, MAX_FRAME_BYTES, MAX_MESSAGE_BYTES, NODE_GROUP,
};
use ractor::{Actor, ActorProcessingErr, ActorRef};
use ractor_cluster::node::NodeServerSessionInformation;
use ractor_cluster::{NodeEventSubscription, NodeServerMessage};
use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver, UnboundedSender};
use vecsim_actors::protocol::{Answer, ClockMsg, Dispatched, FleetMsg, JointShares, PoolMsg, Proposal, RsuMsg};
use vecsim_actors::{ActorOptions, ActorRun, RemoteRsus};
use vecsim_core::engine::RoundRequest;
use vecsim_core::ids::{RsuId, TaskId};
use vecsim_core::mobility::Fleet;
use vecsim_core::observer::Observer;
use vecsim_core::outcome::{DropCause, Outcome, TaskResult};
use vecsim_core::policy::PolicySet;
use vecsim_core::rsu::LoadSummary;
use vecsim_core::Scenario;

/// How long to wait for a node to accept the connection and authenticate.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long to wait for the nodes to build their RSU actors (a learner's networks included).
const SETUP_TIMEOUT: Duration = Duration::from_secs(300);

/// What the hub tells the driver.
#[derive(Debug)]
enum HubEvent {
    SetupDone {
        node: usize,
        error: Option<String>,
    },
    /// A node's session closed (its loss is reported again, with its tasks, on `Flush`).
    Down {
        node: usize,
        slot: u32,
    },
    /// A node's answer to `Wire::Collect`.
    Policies {
        node: usize,
        policies: Result<Vec<(u32, Vec<u8>)>, String>,
    },
    Lost(NodeLoss),
    /// Every loss has been reported; the run's count of vehicle handovers between nodes.
    Flushed {
        handovers: u64,
    },
    Failed(HubError),
}

/// Session events from the node server, by `ractor_cluster` node id.
#[derive(Debug)]
enum SessionEvent {
    Authenticated(u64),
    Ready(u64),
    Disconnected { node_id: u64 },
}

struct Events(UnboundedSender<SessionEvent>);

impl NodeEventSubscription for Events {
    fn node_session_opened(&self, _: NodeServerSessionInformation) {}
    fn node_session_disconnected(&self, s: NodeServerSessionInformation) {
        let _ = self.0.send(SessionEvent::Disconnected { node_id: s.node_id });
    }
    fn node_session_authenticated(&self, s: NodeServerSessionInformation) {
        let _ = self.0.send(SessionEvent::Authenticated(s.node_id));
    }
    fn node_session_ready(&self, s: NodeServerSessionInformation) {
        let _ = self.0.send(SessionEvent::Ready(s.node_id));
    }
}

/// A connected node.
struct Node {
    addr: String,
    node_id: u64,
    hub: ActorRef<HubMsg>,
}

/// Starts this process's node server and connects to every node of `cfg`, in order: an
/// unreachable node and a node that refuses the cookie are errors naming the node.
async fn connect(
    cfg: &ClusterConfig,
    run: u64,
) -> Result<(ActorRef<NodeServerMessage>, Vec<Node>, UnboundedReceiver<SessionEvent>), ClusterError> {
    let name = format!("vecsim-coordinator-{}-{run}", std::process::id());
    // Port 0 on loopback: the coordinator only dials out.
    let server = ractor_cluster::NodeServer::new(
        0,
        cfg.cookie.clone(),
        name,
        "localhost".into(),
        None,
        Some(ractor_cluster::node::NodeConnectionMode::Isolated),
    )
    .with_listen_addr(std::net::IpAddr::from([127, 0, 0, 1]))
    .with_max_inbound_frame_size(MAX_FRAME_BYTES);
    let (server, _) = Actor::spawn(None, server, ())
        .await
        .map_err(|e| ClusterError::Listen { addr: "127.0.0.1:0".into(), source: e.into() })?;
    let (tx, mut rx) = unbounded_channel();
    server
        .cast(NodeServerMessage::SubscribeToEvents { id: "vecsim".into(), subscription: Box::new(Events(tx)) })
        .map_err(|e| ClusterError::Listen { addr: "127.0.0.1:0".into(), source: e.to_string().into() })?;
    let mut nodes: Vec<Node> = Vec::new();
    for addr in &cfg.nodes {
        let unreachable = |message: String| ClusterError::Unreachable { addr: addr.clone(), message };
        let sock: SocketAddr = tokio::time::timeout(CONNECT_TIMEOUT, tokio::net::lookup_host(addr.as_str()))
            .await
            .map_err(|_| unreachable("name lookup timed out".into()))?
            .map_err(|e| unreachable(e.to_string()))?
            .next()
            .ok_or_else(|| unreachable("the name has no address".into()))?;
        let tcp = tokio::time::timeout(CONNECT_TIMEOUT, tokio::net::TcpStream::connect(sock))
            .await
            .map_err(|_| unreachable(format!("no answer within {} s", CONNECT_TIMEOUT.as_secs())))?
            .map_err(|e| unreachable(e.to_string()))?;
        preauth::tune(&tcp);
        // Both ends prove the cookie before `ractor_cluster` reads a frame (`preauth`). A node
        // that closes the connection instead knows another cookie, or expects TLS.
        let preauth_failed = |e: PreauthError| match e {
            PreauthError::Io(_) => ClusterError::Refused { addr: addr.clone() },
            other => ClusterError::Handshake { addr: addr.clone(), message: other.to_string() },
        };
        let stream: Box<dyn ractor_cluster::ClusterBidiStream> = match &cfg.tls {
            None => {
                let mut tcp = tcp;
                preauth::connect(&mut tcp, cfg.cookie.as_bytes()).await.map_err(preauth_failed)?;
                Box::new(Authenticated { stream: tcp, peer: addr.clone() })
            }
            Some(tls) => {
                let name = crate::tls::CoordinatorTls::server_name(addr)?;
                let mut s = tokio::time::timeout(CONNECT_TIMEOUT, tls.connector.connect(name, tcp))
                    .await
                    .map_err(|_| ClusterError::Handshake {
                        addr: addr.clone(),
                        message: format!("no TLS handshake within {} s", CONNECT_TIMEOUT.as_secs()),
                    })?
                    .map_err(|io| ClusterError::Handshake { addr: addr.clone(), message: format!("TLS: {io}") })?;
                preauth::connect(&mut s, cfg.cookie.as_bytes()).await.map_err(preauth_failed)?;
                Box::new(Authenticated { stream: s, peer: addr.clone() })
            }
        };
        ractor_cluster::client_connect_external(&server, stream).await.map_err(|e| unreachable(connect_error(&e)))?;
        // Wait for this session to authenticate and be ready, or to be refused.
        let deadline = tokio::time::Instant::now() + CONNECT_TIMEOUT;
        let mut authenticated = None;
        let node_id = loop {
            let ev = tokio::time::timeout_at(deadline, rx.recv()).await.map_err(|_| ClusterError::Handshake {
                addr: addr.clone(),
                message: format!("no handshake within {} s", CONNECT_TIMEOUT.as_secs()),
            })?;
            match ev {
                Some(SessionEvent::Authenticated(id)) => authenticated = Some(id),
                Some(SessionEvent::Ready(id)) => break id,
                Some(SessionEvent::Disconnected { node_id, .. })
                    if authenticated.is_none() || authenticated == Some(node_id) =>
                {
                    return Err(if authenticated.is_none() {
                        ClusterError::Refused { addr: addr.clone() }
                    } else {
                        ClusterError::Handshake { addr: addr.clone(), message: "the session closed".into() }
                    });
                }
                Some(SessionEvent::Disconnected { .. }) => {}
                None => {
                    return Err(ClusterError::Handshake { addr: addr.clone(), message: "node server stopped".into() })
                }
            }
        };
        // The node's hub, as the session synchronised its process groups (bounded wait).
        let mut hub = None;
        while hub.is_none() {
            hub = ractor::pg::get_members(&NODE_GROUP.to_string())
                .into_iter()
                .find(|c| c.get_id().node() == node_id && !c.get_id().is_local())
                .map(ActorRef::<HubMsg>::from);
            if hub.is_none() {
                if tokio::time::Instant::now() > deadline {
                    return Err(ClusterError::Handshake {
                        addr: addr.clone(),
                        message: "it is not a vecsim node (no hub in its process groups)".into(),
                    });
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }
        nodes.push(Node { addr: addr.clone(), node_id, hub: hub.expect("found") });
    }
    Ok((server, nodes, rx))
}

fn connect_error(e: &ractor_cluster::ClientConnectErr) -> String {
    match e {
        ractor_cluster::ClientConnectErr::Socket(io) => io.to_string(),
        other => other.to_string(),
    }
}

/// Which node hosts each RSU: contiguous groups of (almost) equal size, in id order.
pub fn assign(rsus: usize, nodes: usize) -> Vec<usize> {
    (0..rsus).map(|e| e * nodes / rsus.max(1)).collect()
}

/// What [`run_cluster`] hands back.
pub(crate) struct ClusterRun {
    /// The actor engine's run (its policies are the coordinator's, not the nodes').
    pub(crate) run: ActorRun,
    /// The nodes lost during the run.
    pub(crate) losses: Vec<NodeLoss>,
    /// The RSUs' policies as they came back from the nodes, encoded, by RSU id (when they
    /// travelled there).
    pub(crate) policies: Option<Vec<Vec<u8>>>,
    /// Vehicles handed over between nodes.
    pub(crate) handovers: u64,
}

/// One run on the cluster. The scenario, the fleet and the coordinator's policies (only the
/// `br-ne` refiner is used here: the RSUs' policies are built on the nodes, from the scenario
/// and `checkpoint`, or travel to them: `shipped`, encoded, by RSU id, which come back after the
/// run).
#[allow(clippy::too_many_arguments)]
pub(crate) async fn run_cluster(
    cfg: &ClusterConfig,
    scenario: Arc<Scenario>,
    fleet: Fleet,
    policies: PolicySet,
    checkpoint: Option<Vec<(String, Vec<u8>)>>,
    shipped: Option<Vec<Vec<u8>>>,
    opts: &ActorOptions,
    observer: &mut dyn Observer,
) -> Result<ClusterRun, ClusterError> {
    let round = opts.pool_participants.as_ref().map(|p| RoundRequest { participants: p.clone(), weighted: false });
    vecsim_core::engine::check_episode(&scenario, &policies, round.as_ref()).map_err(ClusterError::Episode)?;
    if let Some(s) = &shipped {
        if s.len() != scenario.rsu_count() {
            return Err(protocol!("{} policies for {} RSUs", s.len(), scenario.rsu_count()).into());
        }
    }
    let travel = shipped.is_some();
    let mut shipped = shipped;
    let run: u64 =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64)
            ^ ((std::process::id() as u64) << 32);
    let (server, nodes, mut sessions) = connect(cfg, run).await?;
    let n = scenario.rsu_count();
    let owner = assign(n, nodes.len());
    // The seed travels beside the TOML, which cannot hold a u64 above i64::MAX (a training
    // episode's traffic seed usually is).
    let scenario_toml = {
        let mut s = (*scenario).clone();
        s.seed = 0;
        toml::to_string(&s).map_err(|e| ClusterError::Unsupported(format!("scenario: {e}")))?
    };
    let lost: Arc<Vec<AtomicBool>> = Arc::new((0..n).map(|_| AtomicBool::new(false)).collect());
    let clock_slot: Arc<Mutex<Option<ActorRef<ClockMsg>>>> = Arc::new(Mutex::new(None));
    let (events_tx, mut events) = unbounded_channel();
    let paths = fleet.paths.iter().map(|p| Arc::new(p.clone())).collect();
    let hub_args = CoordArgs {
        run,
        scenario: scenario.clone(),
        paths,
        nodes: nodes.iter().map(|nd| (nd.addr.clone(), nd.node_id, nd.hub.clone())).collect(),
        owner: owner.clone(),
        lost: lost.clone(),
        clock: clock_slot.clone(),
        events: events_tx,
    };
    let (hub, hub_handle) =
        Actor::spawn(None, CoordHub, hub_args).await.map_err(HubError::spawn("the coordinator's hub"))?;
    ractor::pg::join(format!("{COORDINATOR_GROUP_PREFIX}{run}"), vec![hub.get_cell()]);
    // Session events go to the hub from now on (a lost node is a message among the others).
    let h = hub.clone();
    let ids: Vec<u64> = nodes.iter().map(|nd| nd.node_id).collect();
    let forwarder = tokio::spawn(async move {
        while let Some(ev) = sessions.recv().await {
            if let SessionEvent::Disconnected { node_id } = ev {
                if ids.contains(&node_id) {
                    let _ = h.send_message(HubMsg::Down { node_id });
                }
            }
        }
    });
    let result = async {
        for (i, nd) in nodes.iter().enumerate() {
            let rsus: Vec<u32> = (0..n as u32).filter(|&e| owner[e as usize] == i).collect();
            let policies =
                shipped.as_mut().map(|all| rsus.iter().map(|&e| std::mem::take(&mut all[e as usize])).collect());
            let setup = Setup {
                run,
                node: i as u32,
                scenario_toml: scenario_toml.clone(),
                seed: scenario.seed,
                rsus,
                checkpoint: checkpoint.clone(),
                policies,
                pool_participants: opts.pool_participants.clone(),
                weighted_fedavg: opts.weighted_fedavg,
            };
            let w = Wire::Setup(Box::new(setup));
            let bytes = vecsim_core::codec::encode(&w).map_or(0, |b| b.len());
            if bytes as u64 > MAX_MESSAGE_BYTES {
                return Err(ClusterError::TooLarge {
                    what: format!("the set-up of node {} (scenario, checkpoint files, learners)", nd.addr),
                    bytes,
                    limit: MAX_MESSAGE_BYTES,
                });
            }
            nd.hub.send_message(HubMsg::Net(w)).map_err(|e| HubError::gone(format!("node {}", nd.addr), e))?;
        }
        let mut ready = 0;
        while ready < nodes.len() {
            match tokio::time::timeout(SETUP_TIMEOUT, events.recv()).await {
                Ok(Some(HubEvent::SetupDone { node: _, error: None })) => ready += 1,
                Ok(Some(HubEvent::SetupDone { node, error: Some(e) })) => {
                    return Err(ClusterError::Setup { addr: nodes[node].addr.clone(), message: e })
                }
                Ok(Some(HubEvent::Lost(l))) => {
                    return Err(ClusterError::Setup { addr: l.addr, message: "the node was lost".into() })
                }
                Ok(Some(HubEvent::Down { node, .. })) => {
                    return Err(ClusterError::Setup {
                        addr: nodes[node].addr.clone(),
                        message: "the node was lost".into(),
                    })
                }
                Ok(Some(HubEvent::Failed(e))) => return Err(e.into()),
                Ok(Some(HubEvent::Flushed { .. } | HubEvent::Policies { .. })) => {}
                Ok(None) => return Err(HubError::from("the hub stopped").into()),
                Err(_) => return Err(HubError::from("the nodes did not set up in time").into()),
            }
        }
        // The RSU stand-ins the clock talks to.
        let mut stand_ins = Vec::with_capacity(n);
        for e in 0..n as u32 {
            let h = hub.clone();
            let fwd: Forward<RsuMsg> = Box::new(move |msg| {
                h.send_message(HubMsg::Rsu { rsu: e, msg }).map_err(|e| HubError::gone("the hub", e))
            });
            let (r, _) = Actor::spawn(None, StandIn::<RsuMsg>::new(), fwd)
                .await
                .map_err(HubError::spawn(format!("RSU {e}'s stand-in")))?;
            stand_ins.push(r);
        }
        // The vehicles' stand-in: phase 1 goes to the hub, which steps them on their nodes.
        let h = hub.clone();
        let fwd: Forward<FleetMsg> =
            Box::new(move |msg| h.send_message(HubMsg::Fleet(msg)).map_err(|e| HubError::gone("the hub", e)));
        let (fleet_ref, _) = Actor::spawn(None, StandIn::<FleetMsg>::new(), fwd)
            .await
            .map_err(HubError::spawn("the fleet's stand-in"))?;
        let mut opts = opts.clone();
        opts.remote = Some(RemoteRsus {
            rsus: stand_ins.clone(),
            lost: lost.clone(),
            clock: clock_slot.clone(),
            fleet: fleet_ref.clone(),
        });
        let run_fut = vecsim_actors::run_async(scenario.clone(), fleet, policies, &opts, observer);
        tokio::pin!(run_fut);
        let out = loop {
            tokio::select! {
                r = &mut run_fut => break r.map_err(ClusterError::Clock),
                ev = events.recv() => match ev {
                    Some(HubEvent::Failed(e)) => {
                        if let Some(c) = lock(&clock_slot).clone() { c.stop(None); }
                        break Err(e.into());
                    }
                    Some(
                        HubEvent::SetupDone { .. }
                        | HubEvent::Lost(_)
                        | HubEvent::Flushed { .. }
                        | HubEvent::Down { .. }
                        | HubEvent::Policies { .. },
                    ) => {}
                    None => break Err(HubError::from("the hub stopped").into()),
                }
            }
        };
        for s in stand_ins {
            s.stop(None);
        }
        fleet_ref.stop(None);
        // The lost nodes, with the tasks counted for them (final now that the run is over).
        let mut losses = Vec::new();
        let mut handovers = 0;
        if hub.send_message(HubMsg::Flush).is_ok() {
            while let Some(ev) = events.recv().await {
                match ev {
                    HubEvent::Lost(l) => losses.push(l),
                    HubEvent::Flushed { handovers: h } => {
                        handovers = h;
                        break;
                    }
                    _ => {}
                }
            }
        }
        let out = out?;
        // The policies that travelled come back, unless a node was lost with some of them.
        let policies = if travel {
            if let Some(l) = losses.first() {
                return Err(ClusterError::LearnersLost { addr: l.addr.clone(), slot: l.slot, rsus: l.rsus.clone() });
            }
            Some(collect(&nodes, &owner, run, &mut events).await?)
        } else {
            None
        };
        Ok(ClusterRun { run: out, losses, policies, handovers })
    }
    .await;
    for nd in &nodes {
        let _ = nd.hub.send_message(HubMsg::Net(Wire::End { run }));
    }
    hub.stop(None);
    let _ = hub_handle.await;
    forwarder.abort();
    // Let the ends reach the nodes before the sessions close.
    tokio::time::sleep(Duration::from_millis(50)).await;
    server.stop(None);
    result
}

/// Asks every node for the policies that travelled to it and waits (bounded) for them all:
/// encoded, by RSU id. A node that is lost meanwhile, answers with an error, or sends an RSU it
/// does not host fails the run.
async fn collect(
    nodes: &[Node],
    owner: &[usize],
    run: u64,
    events: &mut UnboundedReceiver<HubEvent>,
) -> Result<Vec<Vec<u8>>, ClusterError> {
    for nd in nodes {
        nd.hub
            .send_message(HubMsg::Net(Wire::Collect { run }))
            .map_err(|e| HubError::gone(format!("node {}", nd.addr), e))?;
    }
    let mut back: Vec<Option<Vec<u8>>> = vec![None; owner.len()];
    let mut answered = vec![false; nodes.len()];
    let deadline = tokio::time::Instant::now() + SETUP_TIMEOUT;
    while answered.iter().any(|a| !a) {
        let ev = tokio::time::timeout_at(deadline, events.recv())
            .await
            .map_err(|_| HubError::from("the nodes did not send the policies back in time"))?;
        match ev {
            Some(HubEvent::Policies { node, policies }) => {
                let Some(nd) = nodes.get(node) else {
                    let why = policies.err().unwrap_or_default();
                    return Err(protocol!("policies from an unknown node: {why}").into());
                };
                let list = policies.map_err(|message| HubError::Node { addr: nd.addr.clone(), message })?;
                if std::mem::replace(&mut answered[node], true) {
                    return Err(protocol!("node {} sent its policies twice", nd.addr).into());
                }
                for (e, bytes) in list {
                    let e = e as usize;
                    if owner.get(e) != Some(&node) || back[e].is_some() {
                        return Err(
                            protocol!("node {} sent a policy for RSU {e}, which it does not host", nd.addr).into()
                        );
                    }
                    back[e] = Some(bytes);
                }
            }
            Some(HubEvent::Down { node, slot }) => {
                let rsus = (0..owner.len() as u32).filter(|&e| owner[e as usize] == node).collect();
                let addr = nodes.get(node).map_or_else(|| "?".into(), |nd| nd.addr.clone());
                return Err(ClusterError::LearnersLost { addr, slot, rsus });
            }
            Some(HubEvent::Failed(e)) => return Err(e.into()),
            Some(HubEvent::SetupDone { .. } | HubEvent::Lost(_) | HubEvent::Flushed { .. }) => {}
            None => return Err(HubError::from("the hub stopped").into()),
        }
    }
    back.into_iter()
        .enumerate()
        .map(|(e, b)| b.ok_or_else(|| protocol!("no policy came back for RSU {e}").into()))
        .collect()
}

/// What the hub knows of an RSU on a node in the current slot.
#[derive(Default)]
struct RsuTrack {
    slot: Option<u32>,
    /// The answers the clock (or the pool) asked of it and has not had yet
    /// ([`RsuMsg::expects`]).
    asks: Vec<Answer>,
    /// RSUs it sent a relayed wired batch to.
    relayed_to: BTreeSet<u32>,
    /// The destinations in its `Dispatched` answer, once received.
    dispatched_to: Option<Vec<RsuId>>,
}

/// What the hub knows of a node in the current slot.
#[derive(Default)]
struct NodeTrack {
    addr: String,
    node_id: u64,
    rsus: Vec<u32>,
    lost: bool,
    lost_slot: u32,
    slot: Option<u32>,
    /// Tasks that entered the node this slot, as the result they get if the node is lost.
    held: BTreeMap<TaskId, TaskResult>,
    /// Tasks the node reported or passed on.
    done: BTreeSet<TaskId>,
    /// Tasks counted `node_lost` so far.
    counted: u64,
    /// The joint record last sent to the node, whose shares it holds (the clock sends one `Arc`
    /// to every RSU; held here so that its address is never reused for another).
    joint: Option<Arc<Vec<Option<vecsim_core::policy::Share>>>>,
}

struct CoordHub;

struct CoordArgs {
    run: u64,
    scenario: Arc<vecsim_core::Scenario>,
    paths: Vec<Arc<vecsim_core::mobility::VehiclePath>>,
    nodes: Vec<(String, u64, ActorRef<HubMsg>)>,
    owner: Vec<usize>,
    lost: Arc<Vec<AtomicBool>>,
    clock: Arc<Mutex<Option<ActorRef<ClockMsg>>>>,
    events: UnboundedSender<HubEvent>,
}

struct CoordState {
    a: CoordArgs,
    clock: Option<ActorRef<ClockMsg>>,
    pool: Option<ActorRef<PoolMsg>>,
    slot: u32,
    rsus: Vec<RsuTrack>,
    nodes: Vec<NodeTrack>,
    fleet: fleet::Fleet,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn node_lost(id: TaskId, uploader: Option<RsuId>, executor: Option<RsuId>) -> TaskResult {
    let mut r = TaskResult::early(id, uploader, 0.0, Outcome::Dropped(DropCause::NodeLost));
    r.executor = executor;
    r
}

impl CoordState {
    fn clock(&mut self) -> Result<ActorRef<ClockMsg>, HubError> {
        if self.clock.is_none() {
            self.clock = lock(&self.a.clock).clone();
        }
        self.clock.clone().ok_or_else(|| HubError::from("an answer before the clock started"))
    }

    fn tell_clock(&mut self, m: ClockMsg) -> Result<(), HubError> {
        self.clock()?.send_message(m).map_err(|e| HubError::gone("the clock", e))
    }

    fn slot_start(&mut self, e: usize, slot: u32) {
        let t = &mut self.rsus[e];
        if t.slot != Some(slot) {
            t.slot = Some(slot);
            t.relayed_to.clear();
            t.dispatched_to = None;
        }
        let nd = &mut self.nodes[self.a.owner[e]];
        if nd.slot != Some(slot) {
            nd.slot = Some(slot);
            nd.held.clear();
            nd.done.clear();
        }
        self.slot = slot;
    }

    /// A message from the clock (through a stand-in) to RSU `e`.
    fn send_rsu(&mut self, e: usize, msg: RsuMsg) -> Result<(), HubError> {
        let ask = msg.expects();
        match &msg {
            RsuMsg::Begin { slot, .. } => {
                let slot = *slot;
                self.slot_start(e, slot);
                // Sent below; phase 1 may go out once every RSU has been sent it.
                let r = self.forward_rsu(e, msg, ask);
                self.begun(slot)?;
                return r;
            }
            RsuMsg::Upload(u) => {
                let r = node_lost(u.task.id, Some(RsuId(e as u32)), None);
                self.nodes[self.a.owner[e]].held.insert(u.task.id, r);
            }
            RsuMsg::Migrated { tasks, .. } => {
                let nd = &mut self.nodes[self.a.owner[e]];
                for t in tasks {
                    nd.held.insert(t.up.task.id, node_lost(t.up.task.id, Some(t.up.uploader), Some(t.executor)));
                }
            }
            RsuMsg::PoolRound { pool: Some(pool), .. } => self.pool = Some(pool.clone()),
            _ => {}
        }
        self.forward_rsu(e, msg, ask)
    }

    /// Sends `msg` to RSU `e`'s node, remembering what answer it asks for, or answers it here
    /// when the node is lost.
    fn forward_rsu(&mut self, e: usize, mut msg: RsuMsg, ask: Option<Answer>) -> Result<(), HubError> {
        let node = self.a.owner[e];
        if self.nodes[node].lost {
            if let Some(a) = ask {
                self.stand_in_answer(e, a)?;
            }
            return Ok(());
        }
        if let Some(a) = ask {
            self.rsus[e].asks.push(a);
        }
        // The slot's shares cross to each node once, for all its RSUs.
        if let RsuMsg::Joint { shares, .. } = &mut msg {
            if let JointShares::Here(list) = shares {
                let last = &mut self.nodes[node].joint;
                if last.as_ref().is_some_and(|l| Arc::ptr_eq(l, list)) {
                    *shares = JointShares::LastSent;
                } else {
                    *last = Some(list.clone());
                }
            }
        }
        match self.a.nodes[node].2.send_message(HubMsg::Net(Wire::Rsu { rsu: e as u32, msg })) {
            // Encoding failed (only a share of the joint record that a node did not encode can).
            Err(ractor::MessagingErr::InvalidActorType) => Err(protocol!("a message to RSU {e} does not encode")),
            // A failed send means the session is closing: the `Down` event follows.
            _ => Ok(()),
        }
    }

    /// `given` arrived from RSU `e`: the request it settles is answered.
    fn answered(&mut self, e: usize, given: Answer) {
        let asks = &mut self.rsus[e].asks;
        if let Some(i) = asks.iter().position(|&a| given.settles(a)) {
            asks.remove(i);
        }
    }

    /// An RSU's answer to the clock (or its node's report of a restart), from its node.
    fn answer_from_node(&mut self, msg: ClockMsg) -> Result<(), HubError> {
        let rsu = match (&msg, msg.answer()) {
            (_, Some((rsu, _))) => rsu,
            (ClockMsg::Restarted { rsu, .. }, None) => *rsu,
            _ => return Err(protocol!("a node sent {msg:?} to the clock")),
        };
        let e = rsu.index();
        if e >= self.rsus.len() {
            return Err(protocol!("an answer from RSU {e}, which is not in the scenario"));
        }
        let node = self.a.owner[e];
        if self.nodes[node].lost {
            return Ok(()); // answered for it already
        }
        match &msg {
            ClockMsg::Dispatched(d) => {
                self.rsus[e].dispatched_to = Some(d.sent_to.clone());
                self.nodes[node].done.extend(d.lost.iter().map(|r| r.id));
            }
            ClockMsg::Executed { results, .. } => self.nodes[node].done.extend(results.iter().map(|r| r.id)),
            _ => {}
        }
        if let Some((_, given)) = msg.answer() {
            self.answered(e, given);
        }
        self.tell_clock(msg)
    }

    /// A wired batch from an RSU on one node to an RSU on another, or a vehicle's upload to an
    /// RSU on another node: relayed.
    fn relay(&mut self, dest: usize, msg: RsuMsg) -> Result<(), HubError> {
        if let RsuMsg::Upload(u) = msg {
            if dest >= self.rsus.len() || u.rsu.index() != dest {
                return Err(protocol!("an upload to RSU {dest} addressed to RSU {}", u.rsu.0));
            }
            return self.relay_upload(dest, u);
        }
        let RsuMsg::Migrated { from, tasks } = &msg else {
            return Err(protocol!("a node sent {msg:?} to RSU {dest}"));
        };
        let src = from.index();
        if dest >= self.rsus.len() || src >= self.rsus.len() {
            return Err(protocol!("a wired batch from RSU {src} to RSU {dest}, not in the scenario"));
        }
        if self.nodes[self.a.owner[src]].lost {
            return Ok(());
        }
        self.rsus[src].relayed_to.insert(dest as u32);
        let src_node = self.a.owner[src];
        self.nodes[src_node].done.extend(tasks.iter().map(|t| t.up.task.id));
        self.send_rsu(dest, msg)
    }

    fn pool_answer(&mut self, msg: PoolMsg) -> Result<(), HubError> {
        let Some((from, given)) = msg.answer() else { return Err(protocol!("{msg:?} is not an answer")) };
        let e = from as usize;
        if e >= self.rsus.len() || self.nodes[self.a.owner[e]].lost {
            return Ok(());
        }
        self.answered(e, given);
        let pool = self.pool.clone().ok_or("a pool answer without a round")?;
        pool.send_message(msg).map_err(|e| HubError::gone("the VEC POOL", e))
    }

    /// Answers `ask` for RSU `e`, whose node is lost, as an RSU with nothing left would.
    fn stand_in_answer(&mut self, e: usize, ask: Answer) -> Result<(), HubError> {
        let rsu = RsuId(e as u32);
        let node = self.a.owner[e];
        match ask {
            Answer::Ready(slot) => self.tell_clock(ClockMsg::Ready { rsu, slot }),
            Answer::Summary => {
                let summary = LoadSummary { uploaded_load: 0.0, uploaded_tasks: 0, free_cpu_hz: 0.0, available: false };
                self.tell_clock(ClockMsg::Summary { rsu, summary })
            }
            Answer::Declared => self.tell_clock(ClockMsg::Declared { rsu, intent: Default::default() }),
            Answer::Proposal => self.tell_clock(ClockMsg::Proposal(Box::new(Proposal {
                rsu,
                decisions: Vec::new(),
                uploads: Some(Vec::new()),
            }))),
            Answer::Dispatched => {
                let sent_to = self.rsus[e].relayed_to.iter().map(|&d| RsuId(d)).collect();
                // The lost node's uploads are gone with it: its tasks end as `node_lost`, and the
                // difference reward sees an RSU without uploads.
                let uploads = Vec::new();
                self.tell_clock(ClockMsg::Dispatched(Box::new(Dispatched { rsu, sent_to, lost: Vec::new(), uploads })))
            }
            Answer::Executed => {
                // Every task that entered the node this slot and was neither reported nor
                // passed on: the clock has all of them by now (it asks for execution only
                // once every RSU has dispatched).
                let nd = &mut self.nodes[node];
                let mut results = Vec::new();
                for (id, r) in &nd.held {
                    if nd.done.insert(*id) {
                        results.push(*r);
                    }
                }
                nd.counted += results.len() as u64;
                self.tell_clock(ClockMsg::Executed { rsu, results })
            }
            Answer::Closed => self.tell_clock(ClockMsg::Closed { rsu }),
            Answer::Shared => self.tell_clock(ClockMsg::Shared { rsu, share: None }),
            Answer::Pool(round) => {
                let pool = self.pool.clone().ok_or("a pool round without a pool")?;
                pool.send_message(PoolMsg::Skip { round, from: rsu.0 }).map_err(|e| HubError::gone("the VEC POOL", e))
            }
            Answer::PoolApplied(round) => self.tell_clock(ClockMsg::PoolApplied { rsu, round }),
        }
    }

    /// The session with node `node` closed: its RSUs are answered for from now on.
    fn lose(&mut self, node: usize) -> Result<(), HubError> {
        if self.nodes[node].lost {
            return Ok(());
        }
        self.nodes[node].lost = true;
        self.nodes[node].lost_slot = self.slot;
        let _ = self.a.events.send(HubEvent::Down { node, slot: self.slot });
        let rsus: Vec<usize> = (0..self.rsus.len()).filter(|&e| self.a.owner[e] == node).collect();
        eprintln!(
            "cluster: node {} lost in slot {}: its RSUs {:?} are an outage from then on; the tasks it held count as node_lost",
            self.nodes[node].addr, self.slot, rsus
        );
        for &e in &rsus {
            self.a.lost[e].store(true, Ordering::SeqCst);
        }
        // Its vehicles first: their answers and uploads of the slot may still be owed.
        self.recover_vehicles(node)?;
        for &e in &rsus {
            // A wired batch it announced but that never reached the hub: an empty one in its
            // place, so that the receiver stops waiting (its tasks are counted `node_lost`).
            if let Some(sent_to) = self.rsus[e].dispatched_to.clone() {
                for d in sent_to {
                    if !self.rsus[e].relayed_to.contains(&d.0) && !self.nodes[self.a.owner[d.index()]].lost {
                        self.rsus[e].relayed_to.insert(d.0);
                        self.send_rsu(d.index(), RsuMsg::Migrated { from: RsuId(e as u32), tasks: Vec::new() })?;
                    }
                }
            }
            for ask in std::mem::take(&mut self.rsus[e].asks) {
                self.stand_in_answer(e, ask)?;
            }
        }
        Ok(())
    }

    fn report_losses(&mut self) {
        for (i, nd) in self.nodes.iter().enumerate().filter(|(_, nd)| nd.lost) {
            let loss = NodeLoss {
                addr: nd.addr.clone(),
                slot: nd.lost_slot,
                rsus: nd.rsus.clone(),
                tasks: nd.counted,
                vehicles: self.fleet.recovered[i],
            };
            let _ = self.a.events.send(HubEvent::Lost(loss));
        }
        let _ = self.a.events.send(HubEvent::Flushed { handovers: self.fleet.handovers });
    }
}

impl Actor for CoordHub {
    type Msg = HubMsg;
    type State = CoordState;
    type Arguments = CoordArgs;

    async fn pre_start(&self, _: ActorRef<HubMsg>, mut a: CoordArgs) -> Result<CoordState, ActorProcessingErr> {
        let nodes = a
            .nodes
            .iter()
            .enumerate()
            .map(|(i, (addr, id, _))| NodeTrack {
                addr: addr.clone(),
                node_id: *id,
                rsus: (0..a.owner.len()).filter(|&e| a.owner[e] == i).map(|e| e as u32).collect(),
                ..Default::default()
            })
            .collect();
        let rsus = (0..a.owner.len()).map(|_| RsuTrack::default()).collect();
        let fleet = fleet::Fleet::new(a.scenario.clone(), std::mem::take(&mut a.paths), a.nodes.len());
        Ok(CoordState { a, clock: None, pool: None, slot: 0, rsus, nodes, fleet })
    }

    async fn handle(&self, _: ActorRef<HubMsg>, msg: HubMsg, st: &mut CoordState) -> Result<(), ActorProcessingErr> {
        let r = match msg {
            HubMsg::Rsu { rsu, msg } => st.send_rsu(rsu as usize, msg),
            HubMsg::Fleet(FleetMsg::Step { ctx, arrivals }) => st.fleet_step(ctx, arrivals),
            HubMsg::Net(Wire::Stepped(s)) => st.vehicles_stepped(*s),
            HubMsg::Net(Wire::Clock(w)) => st.answer_from_node(w),
            HubMsg::Net(Wire::Rsu { rsu, msg }) => st.relay(rsu as usize, msg),
            HubMsg::Net(Wire::Pool(w)) => st.pool_answer(w),
            HubMsg::Net(Wire::SetupDone { run: _, node, error }) => {
                let _ = st.a.events.send(HubEvent::SetupDone { node: node as usize, error });
                Ok(())
            }
            HubMsg::Net(Wire::Policies { run: _, node, policies }) => {
                let _ = st.a.events.send(HubEvent::Policies { node: node as usize, policies });
                Ok(())
            }
            HubMsg::Net(Wire::Failed { node, message }) => {
                let addr = st.nodes.get(node as usize).map_or("?", |n| n.addr.as_str()).to_string();
                Err(HubError::Node { addr, message })
            }
            HubMsg::Down { node_id } => match st.nodes.iter().position(|n| n.node_id == node_id) {
                Some(i) => st.lose(i),
                None => Ok(()),
            },
            HubMsg::Flush => {
                st.report_losses();
                Ok(())
            }
            HubMsg::Garbled(why) => Err(HubError::Garbled { from: "a node", why }),
            HubMsg::Stepped { vehicle, .. } => Err(protocol!("vehicle {} answered the coordinator's hub", vehicle.0)),
            HubMsg::Net(other) => Err(protocol!("unexpected message at the coordinator: {other:?}")),
        };
        if let Err(e) = r {
            let _ = st.a.events.send(HubEvent::Failed(e));
        }
        Ok(())
    }
}
