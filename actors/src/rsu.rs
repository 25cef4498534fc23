//! The RSU actor: owns its [`RsuNode`] and its policy, and runs its part of each phase.
//!
//! The model code is the core's (`RsuNode::receive_uploads/summary/candidates/dispatch/execute`,
//! `Policy::decide/feedback`); this actor only buffers messages until the clock says how many
//! to expect, sorts them by id, and calls it. After each slot it stores a [`Checkpoint`]; the
//! clock (its supervisor) restarts it from there after a crash.
//!
//! Two actors run that code. [`PinnedRsuActor`], the actor engine's, is a ractor thread-local
//! actor: it stays on one OS thread for the episode and works with its policy's working form
//! ([`Policy::into_working`]), which need not be `Send` (a learner's networks resident on its
//! device: a dfdx `Cuda` handle, gradient tapes). [`RsuActor`] is a plain actor that calls the
//! `Send` policy in its cell (the cluster nodes host it).

use crate::protocol::{ClockMsg, Dispatched, PoolMsg, Proposal, RsuMsg, SlotCtx};
use crate::World;
use ractor::thread_local::ThreadLocalActor;
use ractor::{Actor, ActorProcessingErr, ActorRef};
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};
use vecsim_core::codec::{decode_params, encode_params};
use vecsim_core::engine::check_decisions;
use vecsim_core::fault::Delivery;
use vecsim_core::ids::RsuId;
use vecsim_core::policy::intent::{self, Intent};
use vecsim_core::policy::{Observation, Policy, Working};
use vecsim_core::rng::{self, Domain, SimRng};
use vecsim_core::rsu::{LoadSummary, RsuNode};
use vecsim_core::slot::ExecTask;
use vecsim_core::task::UploadedTask;
use vecsim_core::vehicle::UploadMsg;

/// An RSU's state at the last slot boundary: what a restarted actor starts from.
#[derive(Clone, Debug)]
pub struct Checkpoint {
    /// The RSU's model state at the boundary: spec, tasks still running, wired-fault stream.
    pub node: RsuNode,
    /// Its `(seed, FaultPool, rsu)` stream: round dropouts and pool latency.
    pub pool_rng: SimRng,
    /// Federated parameters, if the RSU takes part in VEC POOL rounds, and its sample count.
    pub params: Option<(Vec<f32>, u64)>,
}

impl Checkpoint {
    /// The checkpoint before the first slot: `node` as built, the pool stream drawn from the
    /// run's `seed`, no federated parameters.
    pub fn new(node: RsuNode, seed: u64) -> Checkpoint {
        let id = node.spec.id.0 as u64;
        Checkpoint { node, pool_rng: rng::stream(seed, Domain::FaultPool, id), params: None }
    }
}

/// The policy an RSU actor owns. It sits behind a mutex only so that the supervisor can hand
/// the same policy to a restarted actor and give it back at the end of the run; during the run
/// only the RSU actor touches it (the lock is never contended). A [`PinnedRsuActor`] takes it
/// out for the episode; [`collect`] puts it back after the run.
pub type PolicyCell = Arc<Mutex<Option<Box<dyn Policy>>>>;

thread_local! {
    /// The working forms of the policies of the pinned RSU actors on this thread, by RSU id.
    /// They live here rather than in the actors' states so that a crash (the actor's state is
    /// dropped) does not lose what the policy learnt: the supervisor restarts the actor on the
    /// same thread, and it finds its working form here, as a plain actor finds its policy in
    /// its [`PolicyCell`]. Each run has its own threads ([`crate::run_async`]), so a thread
    /// holds the RSUs of one run only.
    static WORKING: RefCell<BTreeMap<u32, Box<dyn Working>>> = const { RefCell::new(BTreeMap::new()) };
}

/// Where an RSU actor's policy is while it runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Home {
    /// In its [`PolicyCell`] (a plain [`RsuActor`]).
    Cell,
    /// As its working form in this thread's [`WORKING`] (a [`PinnedRsuActor`]).
    Pinned,
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// The RSU actor, calling the `Send` policy in its [`PolicyCell`] (any tokio worker may run
/// it). The cluster nodes host this one.
pub struct RsuActor;

/// The RSU actor of the actor engine: a thread-local actor, pinned to the thread of the
/// spawner it was spawned on, working with its policy's working form.
#[derive(Default)]
pub struct PinnedRsuActor;

/// What an RSU actor is spawned (or restarted) with.
#[derive(Clone)]
pub struct RsuArgs {
    /// The RSU's id.
    pub id: RsuId,
    /// The run's shared, read-only context.
    pub world: Arc<World>,
    /// Its slot-boundary checkpoint, shared with the supervisor for restarts.
    pub vault: Arc<Mutex<Checkpoint>>,
    /// Its policy.
    pub policy: PolicyCell,
    /// Set on a restart: the slot being redone, in which the injected crash must not recur.
    pub redo_slot: Option<u32>,
    /// The clock actor, its supervisor, to answer.
    pub clock: ActorRef<ClockMsg>,
}

/// An RSU actor's state: its arguments, its working copy of the checkpoint, and the current
/// slot's buffers.
pub struct RsuState {
    a: RsuArgs,
    home: Home,
    cp: Checkpoint,
    ctx: Option<Arc<SlotCtx>>,
    inbox: Vec<UploadMsg>,
    expected_uploads: Option<u32>,
    uploads: Vec<UploadedTask>,
    decisions: Vec<RsuId>,
    incoming: Vec<ExecTask>,
    batches_in: u32,
    expected_batches: Option<u32>,
    /// The pool round this RSU last answered: (round, its policy federates, it contributed).
    pool_round: Option<(u64, bool, bool)>,
}

impl RsuState {
    fn new(a: RsuArgs, home: Home) -> RsuState {
        let cp = lock(&a.vault).clone();
        RsuState {
            a,
            home,
            cp,
            ctx: None,
            inbox: Vec::new(),
            expected_uploads: None,
            uploads: Vec::new(),
            decisions: Vec::new(),
            incoming: Vec::new(),
            batches_in: 0,
            expected_batches: None,
            pool_round: None,
        }
    }

    /// Runs `f` on the policy, wherever it is; `None` when it is gone.
    fn with_policy<R>(&self, f: impl FnOnce(&mut dyn Working) -> R) -> Option<R> {
        match self.home {
            Home::Cell => lock(&self.a.policy).as_mut().map(|p| f(p)),
            Home::Pinned => WORKING.with(|w| w.borrow_mut().get_mut(&self.a.id.0).map(|p| f(&mut **p))),
        }
    }

    fn ctx(&self) -> Result<&Arc<SlotCtx>, ActorProcessingErr> {
        self.ctx.as_ref().ok_or_else(|| "RSU message outside a slot".into())
    }

    fn reply(&self, m: ClockMsg) -> Result<(), ActorProcessingErr> {
        self.a.clock.send_message(m).map_err(|e| format!("reply to clock: {e}").into())
    }

    /// Phase 2 closes for this RSU once the clock's count and the uploads are all in.
    fn try_close_uploads(&mut self) -> Result<(), ActorProcessingErr> {
        if self.expected_uploads.is_none() || self.expected_uploads != Some(self.inbox.len() as u32) {
            return Ok(());
        }
        self.expected_uploads = None;
        let ctx = self.ctx()?.clone();
        let w = &*self.a.world;
        let e = self.a.id.index();
        // The core takes the buffer: the next one is sized like this one (no regrowth).
        let next = Vec::with_capacity(self.inbox.len());
        let inbox = std::mem::replace(&mut self.inbox, next);
        self.uploads = self.cp.node.receive_uploads(inbox, &w.scenario.channel);
        let summary = self.cp.node.summary(&self.uploads, w.clock.start_s(ctx.slot), ctx.up[e]);
        self.reply(ClockMsg::Summary { rsu: self.a.id, summary })
    }

    /// Phase 3: the policy's decisions for this RSU's uploads, from everyone's summaries and,
    /// when the RSUs decide in turn, the declarations of the RSUs before this one.
    fn decide(&mut self, summaries: &[LoadSummary], before: Option<&[Intent]>) -> Result<(), ActorProcessingErr> {
        let ctx = self.ctx()?.clone();
        let w = &*self.a.world;
        let n = w.specs.len();
        self.decisions = if self.uploads.is_empty() {
            Vec::new()
        } else {
            let mut candidates = self.cp.node.candidates(&w.specs, summaries);
            if let Some(before) = before {
                intent::fold(&mut candidates, self.a.id, before);
            }
            let obs = Observation {
                rsu: self.a.id,
                slot: ctx.slot,
                slot_s: w.clock.slot_s,
                tasks: &self.uploads,
                candidates: &candidates,
                wired: w.scenario.wired,
                allocator: w.scenario.allocation.allocator,
            };
            let (name, d) = self.with_policy(|p| (p.name(), p.decide(&obs))).ok_or("the RSU's policy is gone")?;
            check_decisions(name, self.a.id, self.uploads.len(), n, &d)?;
            d
        };
        Ok(())
    }

    /// Phase 4: migrate over the wire, one batch per destination RSU.
    fn dispatch(&mut self) -> Result<(), ActorProcessingErr> {
        let ctx = self.ctx()?.clone();
        let w = &*self.a.world;
        let (sent, lost) =
            self.cp.node.dispatch(&self.uploads, &self.decisions, &w.specs, &w.scenario.wired, &w.scenario.faults);
        let mut out: BTreeMap<u32, Vec<ExecTask>> = BTreeMap::new();
        for s in sent {
            if s.executor == self.a.id {
                self.incoming.push(s);
            } else {
                out.entry(s.executor.0).or_default().push(s);
            }
        }
        let mut sent_to = Vec::with_capacity(out.len());
        for (dest, tasks) in out {
            ctx.rsus[dest as usize]
                .send_message(RsuMsg::Migrated { from: self.a.id, tasks })
                .map_err(|e| format!("wired migration to RSU {dest}: {e}"))?;
            sent_to.push(RsuId(dest));
        }
        self.reply(ClockMsg::Dispatched(Box::new(Dispatched {
            rsu: self.a.id,
            sent_to,
            lost,
            uploads: self.uploads.clone(),
        })))
    }

    /// Phase 5 closes for this RSU once the clock's count and the batches are all in.
    fn try_execute(&mut self) -> Result<(), ActorProcessingErr> {
        if self.expected_batches != Some(self.batches_in) {
            return Ok(());
        }
        self.expected_batches = None;
        self.batches_in = 0;
        let ctx = self.ctx()?.clone();
        let sc = &*self.a.world.scenario;
        let next = Vec::with_capacity(self.incoming.len());
        let tasks = std::mem::replace(&mut self.incoming, next);
        let results = self.cp.node.execute(
            tasks,
            ctx.slot,
            self.a.world.clock.slot_s,
            sc.allocation.allocator,
            sc.allocation.carry_over,
            &sc.faults,
        );
        self.reply(ClockMsg::Executed { rsu: self.a.id, results })
    }
}

impl Actor for RsuActor {
    type Msg = RsuMsg;
    type State = RsuState;
    type Arguments = RsuArgs;

    async fn pre_start(&self, _me: ActorRef<RsuMsg>, a: RsuArgs) -> Result<RsuState, ActorProcessingErr> {
        Ok(RsuState::new(a, Home::Cell))
    }

    async fn handle(&self, _me: ActorRef<RsuMsg>, msg: RsuMsg, st: &mut RsuState) -> Result<(), ActorProcessingErr> {
        st.on_msg(msg)
    }
}

impl ThreadLocalActor for PinnedRsuActor {
    type Msg = RsuMsg;
    type State = RsuState;
    type Arguments = RsuArgs;

    /// Takes the policy out of its cell as its working form, on this thread, or (restarted
    /// after a crash) finds the working form it left here.
    async fn pre_start(&self, _me: ActorRef<RsuMsg>, a: RsuArgs) -> Result<RsuState, ActorProcessingErr> {
        let id = a.id.0;
        if !WORKING.with(|w| w.borrow().contains_key(&id)) {
            let p = lock(&a.policy).take().ok_or("the RSU's policy is gone")?;
            let working = p.into_working();
            WORKING.with(|w| w.borrow_mut().insert(id, working));
        }
        Ok(RsuState::new(a, Home::Pinned))
    }

    async fn handle(&self, _me: ActorRef<RsuMsg>, msg: RsuMsg, st: &mut RsuState) -> Result<(), ActorProcessingErr> {
        st.on_msg(msg)
    }
}

/// Turns the working forms left on a spawner's thread back into policies, into their cells.
#[derive(Default)]
struct Collector;

impl ThreadLocalActor for Collector {
    type Msg = ();
    type State = ();
    type Arguments = Vec<(u32, PolicyCell)>;

    async fn pre_start(&self, _me: ActorRef<()>, cells: Vec<(u32, PolicyCell)>) -> Result<(), ActorProcessingErr> {
        for (id, cell) in cells {
            if let Some(w) = WORKING.with(|w| w.borrow_mut().remove(&id)) {
                *lock(&cell) = Some(w.into_policy());
            }
        }
        Ok(())
    }
}

/// After a run (the clock has finished, so no RSU actor will be sent anything more): turns the
/// working forms of the RSUs `cells` (RSU id, its cell) that ran on `spawner`'s thread back
/// into their policies, on that thread, and puts them into their cells. (Not in the RSU
/// actors' `post_stop`: the clock's end kills the children that have not stopped yet, and a
/// killed actor skips it.)
pub async fn collect(
    spawner: ractor::thread_local::ThreadLocalActorSpawner,
    cells: Vec<(u32, PolicyCell)>,
) -> Result<(), ractor::SpawnErr> {
    let (r, h) = Collector::spawn(None, cells, spawner).await?;
    r.stop(None);
    let _ = h.await;
    Ok(())
}

impl RsuState {
    /// One message of the slot protocol, for either actor.
    fn on_msg(&mut self, msg: RsuMsg) -> Result<(), ActorProcessingErr> {
        let st = self;
        match msg {
            RsuMsg::Begin { slot: t, ack } => {
                if st.a.world.scenario.faults.crashes(st.a.id, t) && st.a.redo_slot != Some(t) {
                    // A real panic, so that supervision is exercised; the hook installed by
                    // `run_async` prints it as one line (see `crate::install_crash_hook`).
                    std::panic::panic_any(format!(
                        "{} of RSU {} at the start of slot {t} (faults.crash_rsu)",
                        crate::INJECTED_CRASH,
                        st.a.id.0
                    ));
                }
                st.ctx = None;
                st.inbox.clear();
                st.uploads.clear();
                st.decisions.clear();
                st.incoming.clear();
                st.batches_in = 0;
                st.expected_uploads = None;
                st.expected_batches = None;
                if ack {
                    st.reply(ClockMsg::Ready { rsu: st.a.id, slot: t })?;
                }
            }
            RsuMsg::Upload(m) => {
                st.inbox.push(m);
                st.try_close_uploads()?;
            }
            RsuMsg::CloseUploads { expected, ctx } => {
                st.ctx = Some(ctx.get().ok_or("a slot context from another process, not resolved")?.clone());
                st.expected_uploads = Some(expected);
                st.try_close_uploads()?;
            }
            RsuMsg::DecideInTurn { summaries, before } => {
                st.decide(&summaries, Some(&before))?;
                let intent = Intent::of(st.a.id, &st.uploads, &st.decisions);
                st.reply(ClockMsg::Declared { rsu: st.a.id, intent })?;
            }
            RsuMsg::Decide { summaries, send_uploads, decided } => {
                if !decided {
                    st.decide(&summaries, None)?;
                }
                if send_uploads {
                    let uploads = Some(st.uploads.clone());
                    let p = Proposal { rsu: st.a.id, decisions: st.decisions.clone(), uploads };
                    st.reply(ClockMsg::Proposal(Box::new(p)))?;
                } else {
                    st.dispatch()?;
                }
            }
            RsuMsg::Dispatch { decisions } => {
                if let Some(d) = decisions {
                    st.decisions = d;
                }
                st.dispatch()?;
            }
            RsuMsg::Migrated { from: _, mut tasks } => {
                st.incoming.append(&mut tasks);
                st.batches_in += 1;
                st.try_execute()?;
            }
            RsuMsg::Execute { batches } => {
                st.expected_batches = Some(batches);
                st.try_execute()?;
            }
            RsuMsg::Feedback { fb, ack, share } => {
                let shared = st
                    .with_policy(|p| {
                        p.feedback(&fb);
                        share.then(|| p.share()).flatten()
                    })
                    .flatten();
                st.ctx = None;
                // Only the node changes during a slot (pool state is stored by pool messages).
                lock(&st.a.vault).node = st.cp.node.clone();
                if share {
                    st.reply(ClockMsg::Shared { rsu: st.a.id, share: shared })?;
                } else if ack {
                    st.reply(ClockMsg::Closed { rsu: st.a.id })?;
                }
            }
            RsuMsg::Joint { shares, ack } => {
                // The learner's update steps run here, in this RSU's actor.
                let shares = shares.get().ok_or("shares of the joint record from another process, not resolved")?;
                st.with_policy(|p| p.receive(shares));
                if ack {
                    st.reply(ClockMsg::Closed { rsu: st.a.id })?;
                }
            }
            RsuMsg::PoolRound { round, pool } => {
                let pool = pool.ok_or("a pool round from another process, without the VEC POOL filled in")?;
                let from = st.a.id.0;
                let w = &*st.a.world;
                // A trainer's participant set, or this RSU's own fault draw.
                let fate = match &w.pool_participants {
                    Some(set) if set[st.a.id.index()] => Delivery::Delivered { extra_s: 0.0 },
                    Some(_) => Delivery::Lost,
                    None => w.scenario.faults.pool(&mut st.cp.pool_rng),
                };
                // A federating policy (fed-maddpg) contributes its actor parameters; other RSUs
                // their plain parameters, if they have any.
                let exported = st.with_policy(|p| p.export_params()).flatten();
                let federates = exported.is_some();
                let params = exported.or_else(|| st.cp.params.as_ref().map(|(p, n)| (*n, p.clone())));
                let msg = match (fate, params) {
                    (Delivery::Delivered { extra_s }, Some((samples, p))) => PoolMsg::Contribute {
                        round,
                        from,
                        weight: if w.weighted_fedavg { samples as f64 } else { 1.0 },
                        extra_latency_s: extra_s,
                        bytes: encode_params(&p),
                    },
                    _ => PoolMsg::Skip { round, from },
                };
                st.pool_round = Some((round, federates, matches!(msg, PoolMsg::Contribute { .. })));
                pool.send_message(msg).map_err(|e| format!("pool round {round}: {e}"))?;
                *lock(&st.a.vault) = st.cp.clone();
            }
            RsuMsg::PoolGlobal(g) => {
                let v = decode_params(&g.bytes)?;
                match st.pool_round {
                    // The policy's networks take the average only if they took part (eq. 28),
                    // exactly as in the learners' in-process round; a policy that missed the
                    // round keeps its own parameters.
                    Some((round, true, contributed)) if round == g.round => {
                        if contributed {
                            st.with_policy(|p| p.import_params(&v));
                        }
                    }
                    // Plain parameters: every member stores the global model.
                    _ => {
                        let samples = st.cp.params.as_ref().map_or(0, |p| p.1);
                        st.cp.params = Some((v, samples));
                        *lock(&st.a.vault) = st.cp.clone();
                    }
                }
                st.reply(ClockMsg::PoolApplied { rsu: st.a.id, round: g.round })?;
            }
        }
        Ok(())
    }
}

/// Sets the federated parameters an RSU starts with (before the run, through its checkpoint).
pub fn set_params(vault: &Mutex<Checkpoint>, params: Vec<f32>, samples: u64) {
    lock(vault).params = Some((params, samples));
}
