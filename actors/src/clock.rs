//! The clock actor: owns slot `t`, runs the phases of [`crate::protocol`], supervises the RSU
//! actors, the VEC POOL and the vehicle actors (it is the root of the supervision tree).
//!
//! Supervision: an RSU that fails in phase 0 (the injected crash, `faults.crash_rsu`) is
//! restarted from its last slot-boundary [`Checkpoint`](crate::rsu::Checkpoint) with the same
//! policy, and phase 0 is re-sent to it: the slot is redone and the crash counted. A failure
//! anywhere else (a vehicle, the pool, an RSU in the middle of a slot) cannot be redone without
//! replaying other actors' random draws, so it ends the run with an error naming the actor —
//! never a hang and never a silently wrong report.
//!
//! Pacing (`--pace`): the clock opens a slot no sooner than the pace allows. When the next slot
//! is not due yet it sets a timer (`send_after`, a [`ClockMsg::Due`] to itself) and returns, so
//! no handler ever blocks and the engine never runs ahead of what it has reported. It measures
//! each slot's wall time itself, from opening the slot to being ready to open the next.

use crate::pool::VecPool;
use crate::protocol::{
    ClockMsg, Dispatched, FleetMsg, JointShares, PoolMsg, Proposal, RoundOutcome, RsuMsg, SlotCtx, Stepped, VehicleMsg,
};
use crate::rsu::{Checkpoint, PinnedRsuActor, PolicyCell, RsuArgs};
use crate::vehicle::VehicleActor;
use crate::World;
use ractor::thread_local::{ThreadLocalActor, ThreadLocalActorSpawner};
use ractor::{Actor, ActorId, ActorProcessingErr, ActorRef, SupervisionEvent};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::mpsc::UnboundedSender;
use vecsim_core::engine::SpawnSchedule;
use vecsim_core::ids::{RsuId, VehicleId};
use vecsim_core::mobility::VehiclePath;
use vecsim_core::observer::Pacer;
use vecsim_core::outcome::TaskResult;
use vecsim_core::policy::intent::Intent;
use vecsim_core::policy::{JointRefiner, Share};
use vecsim_core::report::SlotReport;
use vecsim_core::rsu::LoadSummary;
use vecsim_core::slot::{difference_rewards, score, SlotProblem};
use vecsim_core::task::UploadedTask;
use vecsim_core::vehicle::Vehicle;

/// What the clock tells the caller.
pub(crate) enum Event {
    /// A slot closed; `live` vehicle actors are alive after it.
    Slot {
        report: SlotReport,
        live: usize,
        /// RSUs down in this slot because their process was lost (cluster runs).
        lost: Vec<u32>,
    },
    /// An RSU actor crashed and was restarted to redo `slot`.
    Crash {
        rsu: RsuId,
        slot: u32,
    },
    Round(RoundOutcome),
    /// Slot `slot`'s wall time, s, from opening it to being ready to open the next (the wait
    /// for the pace not included); after its `Slot` (and its `Round`, if any).
    Timed {
        slot: u32,
        wall_s: f64,
    },
    Done(Result<Finish, String>),
}

/// Counters of a finished run.
pub(crate) struct Finish {
    pub crashes: u64,
    pub peak_live: usize,
    pub messages: u64,
}

pub(crate) struct ClockArgs {
    pub world: Arc<World>,
    pub paths: Vec<Arc<VehiclePath>>,
    pub schedule: SpawnSchedule,
    pub policies: Vec<PolicyCell>,
    pub vaults: Vec<Arc<Mutex<Checkpoint>>>,
    pub refiner: Option<Box<dyn JointRefiner>>,
    /// Open a VEC POOL round after every `k` slots.
    pub pool_every: Option<u32>,
    /// Some policy trains centrally: exchange shares after every slot (phase 6b).
    pub sharing: bool,
    /// Rounds of turns per slot (phase 3, `DecideInTurn`;
    /// [`vecsim_core::policy::intent::rounds`]); 0: the RSUs decide at once.
    pub turn_rounds: u32,
    /// RSUs hosted by other processes: use these stand-ins, spawn no RSU actor.
    pub remote: Option<crate::RemoteRsus>,
    pub events: UnboundedSender<Event>,
    /// RSU e's actor is pinned to the thread of `spawners[e % len]` (a restart too).
    pub spawners: Vec<ThreadLocalActorSpawner>,
    /// The observer's pace (`--pace`); `None`: as fast as it runs.
    pub pace: Option<Pacer>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    Idle,
    Begin,
    Step,
    Uploads,
    InTurn,
    Decide,
    Dispatch,
    Execute,
    Feedback,
    Joint,
    Pool,
    /// Waiting for the pace's timer ([`ClockMsg::Due`]) before opening `slot`.
    Paced,
    Done,
}

pub(crate) struct ClockActor;

pub(crate) struct ClockState {
    a: ClockArgs,
    me: ActorRef<ClockMsg>,
    rsus: Vec<ActorRef<RsuMsg>>,
    rsu_of: HashMap<ActorId, usize>,
    pool: Option<ActorRef<PoolMsg>>,
    /// Live vehicle actors: (last slot, id, actor).
    live: Vec<(u32, VehicleId, ActorRef<VehicleMsg>)>,
    /// Live vehicles hosted by other processes (`RemoteRsus::fleet`): (last slot, id).
    remote_live: Vec<(u32, VehicleId)>,
    next_spawn: usize,
    slot: u32,
    phase: Phase,
    pending: usize,
    ctx: Option<Arc<SlotCtx>>,
    up: Vec<bool>,
    /// RSUs down in the current slot because their process was lost (cluster runs).
    lost_now: Vec<u32>,
    // Per-slot buffers, indexed by RSU id.
    present: u32,
    results: Vec<TaskResult>,
    /// The previous slot's number of results (capacity of the next slot's buffer).
    results_hint: usize,
    expected_uploads: Vec<u32>,
    /// Shared with the RSUs in phase 3 (no copy); unique again by the next slot.
    summaries: Arc<Vec<LoadSummary>>,
    decisions: Vec<Vec<RsuId>>,
    uploads: Vec<Vec<UploadedTask>>,
    batches: Vec<u32>,
    /// Whether this slot's joint refiner stopped without converging.
    unconverged: bool,
    /// Phase 6b: the policies' shares of this slot, by RSU id.
    shares: Vec<Option<Share>>,
    /// Phase 3 in turn: the declarations of this slot so far, by RSU id (shared with the RSU
    /// being asked; unique again when it answers).
    intents: Arc<Vec<Intent>>,
    /// Phase 3 in turn: the RSU being asked.
    turn: usize,
    /// Phase 3 in turn: the round of turns (from 0).
    turn_round: u32,
    round: u64,
    crashes: u64,
    peak_live: usize,
    messages: u64,
    /// When the current slot was opened (its wall time is measured from here).
    opened: Instant,
}

type R = Result<(), ActorProcessingErr>;

/// `v` as `n` copies of `x`, keeping its allocation.
fn reset<T: Clone>(v: &mut Vec<T>, n: usize, x: T) {
    v.clear();
    v.resize(n, x);
}

fn send<M: ractor::Message>(to: &ActorRef<M>, m: M) -> R {
    to.send_message(m).map_err(|e| format!("send to {}: {e}", to.get_id()).into())
}

impl ClockState {
    fn n(&self) -> usize {
        self.rsus.len()
    }

    fn expect(&mut self, phase: Phase, slot: u32, what: &str) -> R {
        if self.phase != phase || self.slot != slot {
            return Err(format!(
                "protocol error: {what} for slot {slot} in phase {:?} of slot {}",
                self.phase, self.slot
            )
            .into());
        }
        if self.pending == 0 {
            return Err(format!("protocol error: unexpected {what} in slot {slot}").into());
        }
        self.pending -= 1;
        self.messages += 1;
        Ok(())
    }

    /// Phase 0 of slot `self.slot`, or the end of the run. Phase 1 follows when `pending` is 0.
    fn begin_slot(&mut self) -> R {
        let w = self.a.world.clone();
        if self.slot >= w.clock.slots {
            self.phase = Phase::Done;
            return Ok(());
        }
        let t = self.slot;
        self.up = w.specs.iter().map(|r| w.scenario.faults.rsu_up(r.id, t)).collect();
        if let Some(remote) = &self.a.remote {
            // An RSU whose process was lost is an outage from the first slot opened after.
            self.lost_now.clear();
            for (e, (up, lost)) in self.up.iter_mut().zip(remote.lost.iter()).enumerate() {
                if lost.load(std::sync::atomic::Ordering::SeqCst) {
                    *up = false;
                    self.lost_now.push(e as u32);
                }
            }
        }
        let n = self.n();
        self.present = 0;
        self.unconverged = false;
        // Buffers are reused from slot to slot; `results` goes out with the report, so it is
        // allocated once per slot at the size of the previous one.
        self.results = Vec::with_capacity(self.results_hint);
        reset(&mut self.expected_uploads, n, 0);
        let empty = LoadSummary { uploaded_load: 0.0, uploaded_tasks: 0, free_cpu_hz: 0.0, available: false };
        reset(Arc::make_mut(&mut self.summaries), n, empty);
        self.decisions.resize_with(n, Vec::new);
        self.decisions.iter_mut().for_each(Vec::clear);
        self.uploads.resize_with(n, Vec::new);
        self.uploads.iter_mut().for_each(Vec::clear);
        reset(&mut self.batches, n, 0);
        // Wait for `Ready` only in a slot in which an RSU is scheduled to crash: that barrier
        // keeps uploads away from an RSU about to crash and lets the supervisor redo the slot
        // for it. Otherwise phase 1 starts at once: every `Begin` is queued before any vehicle
        // is stepped, so it reaches its RSU before any upload of the slot.
        let ack = w.specs.iter().any(|r| w.scenario.faults.crashes(r.id, t));
        self.phase = Phase::Begin;
        self.pending = if ack { n } else { 0 };
        for r in &self.rsus {
            send(r, RsuMsg::Begin { slot: t, ack })?;
        }
        self.messages += n as u64;
        if n == 0 {
            return Err("a scenario without RSUs cannot run".into());
        }
        Ok(())
    }

    /// Whether the clock waits for every RSU's `Closed` after slot `t`: only where every policy
    /// must have been fed (and, with centralised training, must have trained): before a pool
    /// round and after the last slot. Otherwise the next `Begin` follows (FIFO from one sender).
    fn must_close(&self, t: u32) -> bool {
        let done = t + 1 >= self.a.world.clock.slots;
        done || self.a.pool_every.is_some_and(|k| k > 0 && (t + 1).is_multiple_of(k))
    }

    fn close_slot(&mut self) -> R {
        let t = self.slot;
        let n = self.n();
        let mut results = std::mem::take(&mut self.results);
        self.results_hint = results.len();
        results.sort_by_key(|r| r.id);
        let sc = score(&results, n);
        let free: Vec<f64> = self.summaries.iter().map(|s| s.free_cpu_hz).collect();
        let allocator = self.a.world.scenario.allocation.allocator;
        let difference = difference_rewards(&results, &self.uploads, &free, allocator, &sc);
        let done = t + 1 >= self.a.world.clock.slots;
        let ack = self.must_close(t);
        let share = self.a.sharing;
        self.phase = Phase::Feedback;
        self.pending = if ack || share { n } else { 0 };
        if share {
            reset(&mut self.shares, n, None);
        }
        for (e, r) in self.rsus.iter().enumerate() {
            send(r, RsuMsg::Feedback { fb: sc.feedback(e, t, difference[e], done), ack, share })?;
        }
        self.messages += n as u64;
        let report = SlotReport { slot: t, vehicles: self.present, results, score: sc, unconverged: self.unconverged };
        self.a
            .events
            .send(Event::Slot { report, live: self.live.len() + self.remote_live.len(), lost: self.lost_now.clone() })
            .map_err(|_| "the caller stopped listening")?;
        Ok(())
    }
}

impl ClockActor {
    async fn spawn_rsu(st: &mut ClockState, e: usize, redo_slot: Option<u32>) -> R {
        let args = RsuArgs {
            id: RsuId(e as u32),
            world: st.a.world.clone(),
            vault: st.a.vaults[e].clone(),
            policy: st.a.policies[e].clone(),
            redo_slot,
            clock: st.me.clone(),
        };
        let spawner = st.a.spawners[e % st.a.spawners.len()].clone();
        let (r, _) = PinnedRsuActor::spawn_linked(None, args, st.me.get_cell(), spawner).await?;
        st.rsu_of.insert(r.get_id(), e);
        if e < st.rsus.len() {
            st.rsus[e] = r;
        } else {
            st.rsus.push(r);
        }
        Ok(())
    }

    /// Phase 1: step every live vehicle, spawn arrivals and step them too. The vehicles already
    /// alive are stepped first, so that they work while the clock awaits each spawn (the order
    /// in which vehicles are stepped changes nothing: answers are counted, results sorted).
    async fn step_phase(st: &mut ClockState) -> R {
        let t = st.slot;
        let w = st.a.world.clone();
        let ctx = Arc::new(SlotCtx { slot: t, up: st.up.clone(), rsus: st.rsus.clone(), clock: st.me.clone() });
        st.ctx = Some(ctx.clone());
        st.phase = Phase::Step;
        if let Some(fleet) = st.a.remote.as_ref().map(|r| r.fleet.clone()) {
            // The vehicles live elsewhere: one message for all of them; each answers.
            let mut arrivals = Vec::new();
            while let Some(&(first, last, id)) = st.a.schedule.spans.get(st.next_spawn) {
                if first > t {
                    break;
                }
                arrivals.push((id, last));
                st.remote_live.push((last, id));
                st.next_spawn += 1;
            }
            st.pending = st.remote_live.len();
            st.peak_live = st.peak_live.max(st.remote_live.len());
            st.messages += st.remote_live.len() as u64;
            send(&fleet, FleetMsg::Step { ctx, arrivals })?;
            if st.pending == 0 {
                Self::uploads_phase(st)?;
            }
            return Ok(());
        }
        // Answers are handled only after this handler returns, so `pending` can grow below.
        st.pending = st.live.len();
        for (_, _, v) in &st.live {
            send(v, VehicleMsg::Step(ctx.clone()))?;
        }
        while let Some(&(first, last, id)) = st.a.schedule.spans.get(st.next_spawn) {
            if first > t {
                break;
            }
            let v = Vehicle::new(id, st.a.paths[id.index()].clone(), w.scenario.seed);
            let (r, _) = Actor::spawn_linked(None, VehicleActor, (v, w.clone()), st.me.get_cell()).await?;
            send(&r, VehicleMsg::Step(ctx.clone()))?;
            st.pending += 1;
            st.live.push((last, id, r));
            st.next_spawn += 1;
        }
        st.peak_live = st.peak_live.max(st.live.len());
        st.messages += st.live.len() as u64;
        if st.pending == 0 {
            Self::uploads_phase(st)?;
        }
        Ok(())
    }

    /// Phase 2: stop leavers, tell each RSU how many uploads to wait for.
    fn uploads_phase(st: &mut ClockState) -> R {
        let t = st.slot;
        st.live.retain(|(last, _, v)| {
            let keep = *last > t;
            if !keep {
                v.stop(None);
            }
            keep
        });
        // Remote vehicles past their last slot are stopped by their host.
        st.remote_live.retain(|(last, _)| *last > t);
        st.phase = Phase::Uploads;
        st.pending = st.n();
        let ctx = st.ctx.clone().expect("set in phase 1");
        for (e, r) in st.rsus.iter().enumerate() {
            send(r, RsuMsg::CloseUploads { expected: st.expected_uploads[e], ctx: ctx.clone().into() })?;
        }
        st.messages += st.n() as u64;
        Ok(())
    }

    /// Phase 3 in turn: asks RSU `st.turn`, with the declarations of the RSUs before it.
    fn ask_in_turn(st: &mut ClockState) -> R {
        st.pending = 1;
        let m = RsuMsg::DecideInTurn { summaries: st.summaries.clone(), before: st.intents.clone() };
        send(&st.rsus[st.turn], m)?;
        st.messages += 1;
        Ok(())
    }

    /// Phase 3: everyone's summaries to every RSU (`decided`: they already decided in turn).
    fn decide_phase(st: &mut ClockState, decided: bool) -> R {
        // Without an oracle the RSUs dispatch right after deciding.
        st.phase = if st.a.refiner.is_some() { Phase::Decide } else { Phase::Dispatch };
        st.pending = st.n();
        let send_uploads = st.a.refiner.is_some();
        for r in &st.rsus {
            send(r, RsuMsg::Decide { summaries: st.summaries.clone(), send_uploads, decided })?;
        }
        st.messages += st.n() as u64;
        Ok(())
    }

    async fn pool_round(st: &mut ClockState) -> R {
        let Some(pool) = st.pool.clone() else { return Ok(()) };
        let round = st.round;
        st.round += 1;
        let participants: Vec<u32> = (0..st.n() as u32).collect();
        let members = st.rsus.iter().map(|r| r.get_derived()).collect();
        let (tx, rx) = ractor::concurrency::oneshot();
        send(&pool, PoolMsg::Open { round, participants, members, reply: tx.into() })?;
        for r in &st.rsus {
            send(r, RsuMsg::PoolRound { round, pool: Some(pool.clone()) })?;
        }
        // The clock waits for the pool's answer (no timeout: every participant answers).
        let outcome = rx.await.map_err(|_| "the VEC POOL dropped a round")?;
        st.messages += 2 + 2 * st.n() as u64;
        // Every member applies the average and says so before the next slot starts.
        st.phase = Phase::Pool;
        st.pending = if outcome.global.is_some() { st.n() } else { 0 };
        st.messages += st.pending as u64;
        st.a.events.send(Event::Round(outcome)).map_err(|_| "the caller stopped listening")?;
        Ok(())
    }

    /// Slot `st.slot`'s work is done: its wall time goes out, then the next slot opens now, or
    /// when the pace's timer says it is due.
    async fn next_slot(st: &mut ClockState) -> R {
        let wall_s = st.opened.elapsed().as_secs_f64();
        st.a.events.send(Event::Timed { slot: st.slot, wall_s }).map_err(|_| "the caller stopped listening")?;
        st.slot += 1;
        Self::begin_when_due(st).await
    }

    /// Opens slot `st.slot` now if the pace allows (or there is none), else when its timer
    /// says so: the handler returns at once and `Due` comes back later.
    async fn begin_when_due(st: &mut ClockState) -> R {
        let wait = st.a.pace.as_ref().map_or(Duration::ZERO, |p| p.wait(Instant::now()));
        if !wait.is_zero() && st.slot < st.a.world.clock.slots {
            st.phase = Phase::Paced;
            let slot = st.slot;
            // Fire and forget: a clock stopped meanwhile (an aborted run) drops the message.
            drop(st.me.send_after(wait, move || ClockMsg::Due { slot }));
            return Ok(());
        }
        Self::begin(st).await
    }

    /// Phase 0, then phase 1 at once unless `Ready` is awaited; or the end of the run.
    async fn begin(st: &mut ClockState) -> R {
        st.opened = Instant::now();
        if let Some(p) = &st.a.pace {
            p.opened(st.opened);
        }
        st.begin_slot()?;
        if st.phase == Phase::Done {
            Self::finish(st);
        } else if st.pending == 0 {
            Self::step_phase(st).await?;
        }
        Ok(())
    }

    fn abort(st: &mut ClockState, why: String) {
        if st.phase != Phase::Done {
            st.phase = Phase::Done;
            let _ = st.a.events.send(Event::Done(Err(why)));
            st.me.stop_children(None);
            st.me.stop(None);
        }
    }

    fn finish(st: &mut ClockState) {
        for (_, _, v) in st.live.drain(..) {
            v.stop(None);
        }
        let f = Finish { crashes: st.crashes, peak_live: st.peak_live, messages: st.messages };
        let _ = st.a.events.send(Event::Done(Ok(f)));
        st.me.stop_children(None);
        st.me.stop(None);
    }
}

impl Actor for ClockActor {
    type Msg = ClockMsg;
    type State = ClockState;
    type Arguments = ClockArgs;

    async fn pre_start(&self, me: ActorRef<ClockMsg>, a: ClockArgs) -> Result<ClockState, ActorProcessingErr> {
        Ok(ClockState {
            opened: Instant::now(),
            a,
            me,
            rsus: Vec::new(),
            rsu_of: HashMap::new(),
            pool: None,
            live: Vec::new(),
            remote_live: Vec::new(),
            next_spawn: 0,
            slot: 0,
            phase: Phase::Idle,
            pending: 0,
            ctx: None,
            up: Vec::new(),
            lost_now: Vec::new(),
            present: 0,
            results: Vec::new(),
            results_hint: 0,
            expected_uploads: Vec::new(),
            summaries: Arc::new(Vec::new()),
            decisions: Vec::new(),
            uploads: Vec::new(),
            batches: Vec::new(),
            unconverged: false,
            shares: Vec::new(),
            intents: Arc::default(),
            turn: 0,
            turn_round: 0,
            round: 0,
            crashes: 0,
            peak_live: 0,
            messages: 0,
        })
    }

    async fn handle(&self, _me: ActorRef<ClockMsg>, msg: ClockMsg, st: &mut ClockState) -> R {
        if st.phase == Phase::Done {
            return Ok(());
        }
        // The hot path (one answer per vehicle per slot) stays out of the big async match.
        let r = match msg {
            ClockMsg::Stepped { vehicle: _, slot, what } => Self::on_stepped(st, slot, what),
            // Boxed: the cold path's future (it spawns actors) is large, and an unboxed one would
            // make every hot `Stepped` future as large (copied on each message).
            msg => Box::pin(Self::on_msg(st, msg)).await,
        };
        if let Err(e) = r {
            Self::abort(st, e.to_string());
        }
        Ok(())
    }

    async fn handle_supervisor_evt(&self, _me: ActorRef<ClockMsg>, evt: SupervisionEvent, st: &mut ClockState) -> R {
        let SupervisionEvent::ActorFailed(cell, err) = evt else { return Ok(()) };
        if st.phase == Phase::Done {
            return Ok(());
        }
        let id = cell.get_id();
        if let Some(e) = st.rsu_of.remove(&id) {
            if st.phase == Phase::Begin {
                // The injected crash at the start of the slot: restart from the checkpoint and
                // redo the slot for this RSU (its `Ready` is still pending).
                st.crashes += 1;
                let slot = st.slot;
                let _ = st.a.events.send(Event::Crash { rsu: RsuId(e as u32), slot });
                if let Err(err) = Self::spawn_rsu(st, e, Some(slot)).await {
                    Self::abort(st, format!("cannot restart RSU {e}: {err}"));
                    return Ok(());
                }
                if let Err(err) = send(&st.rsus[e], RsuMsg::Begin { slot, ack: true }) {
                    Self::abort(st, err.to_string());
                }
                st.messages += 1;
                return Ok(());
            }
            Self::abort(st, format!("RSU {e} failed in phase {:?} of slot {}: {err}", st.phase, st.slot));
        } else if st.pool.as_ref().is_some_and(|p| p.get_id() == id) {
            Self::abort(st, format!("the VEC POOL failed: {err}"));
        } else {
            Self::abort(st, format!("an actor failed in slot {}: {err}", st.slot));
        }
        Ok(())
    }
}

impl ClockActor {
    fn on_stepped(st: &mut ClockState, slot: u32, what: Stepped) -> R {
        st.expect(Phase::Step, slot, "Stepped")?;
        match what {
            Stepped::Absent => {}
            Stepped::Idle => st.present += 1,
            Stepped::Ended(r) => {
                st.present += 1;
                st.results.push(*r);
            }
            Stepped::Uploaded(e) => {
                st.present += 1;
                st.expected_uploads[e.index()] += 1;
                st.messages += 1;
            }
        }
        if st.pending == 0 {
            Self::uploads_phase(st)?;
        }
        Ok(())
    }

    async fn on_msg(st: &mut ClockState, msg: ClockMsg) -> R {
        match msg {
            ClockMsg::Start => {
                let n = st.a.world.specs.len();
                if let Some(remote) = &st.a.remote {
                    // RSUs hosted elsewhere: their stand-ins, which answer this clock.
                    *crate::rsu::lock(&remote.clock) = Some(st.me.clone());
                    st.rsus = remote.rsus.clone();
                } else {
                    for e in 0..n {
                        Self::spawn_rsu(st, e, None).await?;
                    }
                }
                if st.a.pool_every.is_some() {
                    let (p, _) = Actor::spawn_linked(None, VecPool, (), st.me.get_cell()).await?;
                    st.pool = Some(p);
                }
                // The pace holds across episodes: the previous one's last slot may be recent.
                Self::begin_when_due(st).await?;
            }
            ClockMsg::Restarted { rsu, slot } => {
                if st.phase != Phase::Begin || st.slot != slot {
                    return Err(format!(
                        "RSU {} restarted for slot {slot} in phase {:?} of slot {}",
                        rsu.0, st.phase, st.slot
                    )
                    .into());
                }
                st.crashes += 1;
                let _ = st.a.events.send(Event::Crash { rsu, slot });
            }
            ClockMsg::Ready { rsu: _, slot } => {
                st.expect(Phase::Begin, slot, "Ready")?;
                if st.pending == 0 {
                    Self::step_phase(st).await?;
                }
            }
            ClockMsg::Stepped { vehicle: _, slot, what } => Self::on_stepped(st, slot, what)?,
            ClockMsg::Summary { rsu, summary } => {
                let slot = st.slot;
                st.expect(Phase::Uploads, slot, "Summary")?;
                Arc::make_mut(&mut st.summaries)[rsu.index()] = summary;
                if st.pending == 0 {
                    if st.a.turn_rounds > 0 {
                        let n = st.n();
                        st.phase = Phase::InTurn;
                        reset(Arc::make_mut(&mut st.intents), n, Intent::default());
                        st.turn = 0;
                        st.turn_round = 0;
                        Self::ask_in_turn(st)?;
                    } else {
                        Self::decide_phase(st, false)?;
                    }
                }
            }
            ClockMsg::Declared { rsu, intent } => {
                let slot = st.slot;
                st.expect(Phase::InTurn, slot, "Declared")?;
                if rsu.index() != st.turn {
                    return Err(format!("protocol error: RSU {} declared in RSU {}'s turn", rsu.0, st.turn).into());
                }
                Arc::make_mut(&mut st.intents)[rsu.index()] = intent;
                st.turn += 1;
                if st.turn == st.n() && st.turn_round + 1 < st.a.turn_rounds {
                    // Another round: every RSU again, seeing the others' latest declarations.
                    st.turn = 0;
                    st.turn_round += 1;
                }
                if st.turn < st.n() {
                    Self::ask_in_turn(st)?;
                } else {
                    Self::decide_phase(st, true)?;
                }
            }
            ClockMsg::Proposal(p) => {
                let Proposal { rsu, decisions, uploads } = *p;
                let slot = st.slot;
                st.expect(Phase::Decide, slot, "Proposal")?;
                st.decisions[rsu.index()] = decisions;
                if let Some(u) = uploads {
                    st.uploads[rsu.index()] = u;
                }
                if st.pending == 0 {
                    let mut refined = false;
                    if let Some(refiner) = &st.a.refiner {
                        // The br-ne oracle: global knowledge of the slot, by design.
                        let w = &*st.a.world;
                        let free: Vec<f64> = st.summaries.iter().map(|s| s.free_cpu_hz).collect();
                        let problem = SlotProblem {
                            rsus: &w.specs,
                            free_cpu_hz: &free,
                            available: &st.up,
                            wired: w.scenario.wired,
                            allocator: w.scenario.allocation.allocator,
                            uploads: &st.uploads,
                        };
                        st.unconverged = !refiner.refine(&problem, &mut st.decisions);
                        refined = true;
                    }
                    st.phase = Phase::Dispatch;
                    st.pending = st.n();
                    for (e, r) in st.rsus.iter().enumerate() {
                        let decisions = refined.then(|| std::mem::take(&mut st.decisions[e]));
                        send(r, RsuMsg::Dispatch { decisions })?;
                    }
                    st.messages += st.n() as u64;
                }
            }
            ClockMsg::Dispatched(d) => {
                let Dispatched { rsu, sent_to, mut lost, uploads } = *d;
                let slot = st.slot;
                st.expect(Phase::Dispatch, slot, "Dispatched")?;
                for d in &sent_to {
                    st.batches[d.index()] += 1;
                }
                st.messages += sent_to.len() as u64;
                st.results.append(&mut lost);
                st.uploads[rsu.index()] = uploads;
                if st.pending == 0 {
                    st.phase = Phase::Execute;
                    st.pending = st.n();
                    for (e, r) in st.rsus.iter().enumerate() {
                        send(r, RsuMsg::Execute { batches: st.batches[e] })?;
                    }
                    st.messages += st.n() as u64;
                }
            }
            ClockMsg::Executed { rsu: _, mut results } => {
                let slot = st.slot;
                st.expect(Phase::Execute, slot, "Executed")?;
                st.results.append(&mut results);
                if st.pending == 0 {
                    st.close_slot()?;
                    if st.pending == 0 {
                        Self::next_slot(st).await?;
                    }
                }
            }
            ClockMsg::Shared { rsu, share } => {
                let slot = st.slot;
                st.expect(Phase::Feedback, slot, "Shared")?;
                st.shares[rsu.index()] = share;
                if st.pending == 0 {
                    // Phase 6b: everyone's shares to everyone; the RSUs train in parallel.
                    let n = st.n();
                    let ack = st.must_close(slot);
                    let shares = Arc::new(std::mem::take(&mut st.shares));
                    st.phase = Phase::Joint;
                    st.pending = if ack { n } else { 0 };
                    for r in &st.rsus {
                        send(r, RsuMsg::Joint { shares: JointShares::Here(shares.clone()), ack })?;
                    }
                    st.messages += n as u64;
                    if st.pending == 0 {
                        Self::next_slot(st).await?;
                    }
                }
            }
            ClockMsg::Closed { rsu: _ } => {
                let slot = st.slot;
                let phase = if st.a.sharing { Phase::Joint } else { Phase::Feedback };
                st.expect(phase, slot, "Closed")?;
                if st.pending == 0 {
                    if let Some(k) = st.a.pool_every {
                        if k > 0 && (slot + 1).is_multiple_of(k) {
                            Self::pool_round(st).await?;
                        }
                    }
                    if st.pending == 0 {
                        Self::next_slot(st).await?;
                    }
                }
            }
            ClockMsg::Due { slot } => {
                if st.phase != Phase::Paced || st.slot != slot {
                    return Err(format!(
                        "protocol error: the pace's timer for slot {slot} in phase {:?} of slot {}",
                        st.phase, st.slot
                    )
                    .into());
                }
                Self::begin(st).await?;
            }
            ClockMsg::PoolApplied { rsu: _, round: _ } => {
                let slot = st.slot;
                st.messages -= 1; // counted when the round closed
                st.expect(Phase::Pool, slot, "PoolApplied")?;
                if st.pending == 0 {
                    Self::next_slot(st).await?;
                }
            }
        }
        Ok(())
    }
}
