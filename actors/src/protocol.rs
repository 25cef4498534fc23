//! The slot protocol, written down once.
//!
//! Every slot `t` is a fixed sequence of phases. The [`Clock`](crate::clock) opens a phase by
//! sending one message to every actor that takes part in it, counts the answers, and opens the
//! next phase only when every one of them has answered. Nothing is ever decided by wall-clock
//! time or by the order in which answers arrive: answers are collected into slots indexed by
//! entity id (or sorted by task id) before anything acts on them, and every entity draws from
//! its own seeded random streams (inside [`Vehicle`](vecsim_core::vehicle::Vehicle) and
//! [`RsuNode`](vecsim_core::rsu::RsuNode)). The model code is the core's: these actors only carry
//! its inputs and outputs, which is why the actor engine writes byte-identical reports to the
//! sequential [`Engine`](vecsim_core::Engine).
//!
//! ```text
//!  Clock                    Vehicle v (live ones)       RSU e (all)                VEC POOL
//!  ─────                    ─────────                   ─────                      ────────
//!  0 begin    Begin(t) ───────────────────────────────▶ crash hook, reset buffers
//!             ◀────────────────────────────────────────  Ready (only in a slot with a crash)
//!  1 step     Step(t), spawn arrivals ─▶ move, draw task,
//!                                        pick nearest RSU
//!                                        Upload(task) ───▶ (buffered)
//!             ◀───────────────────────── Stepped(absent | idle | ended(result) | uploaded(e))
//!             stop leavers
//!  2 uploads  CloseUploads(n_e) ──────────────────────▶ wait for n_e uploads, sort by task id,
//!                                                       upload times (eq. 1), load summary
//!             ◀────────────────────────────────────────  Summary
//!  3 decide   Decide(all summaries) ──────────────────▶ candidates, policy.decide
//!             [RSUs in turn instead: DecideInTurn(summaries, declarations so far) ▶ RSU 0,
//!              ◀── Declared(what it sends where); then RSU 1 ... RSU n−1, one at a time,
//!              as many rounds as asked; then Decide(decided) to all]
//!             [br-ne only: ◀── Proposal(decisions, uploads); JointRefiner over all proposals;
//!                          Dispatch(final decisions) ──▶]
//!  4 migrate                                            migrate (eq. 4), wired faults,
//!                                                       Migrated(tasks) ──▶ RSU e' (one batch
//!                                                                           per destination)
//!             ◀────────────────────────────────────────  Dispatched(destinations, lost tasks)
//!  5 execute  Execute(b_e batches expected) ──────────▶ wait for b_e batches, allocate
//!                                                       (KKT, ...), execute (eq. 3, 5, 6)
//!             ◀────────────────────────────────────────  Executed(results)
//!  6 report   score (eq. 7, 18, 19), SlotReport ──▶ run_actors ──▶ on_slot
//!             Feedback(reward, ...) ──────────────────▶ policy.feedback, slot-boundary checkpoint
//!             ◀────────────────────────────────────────  Closed (only before a pool round and
//!                                                        after the last slot; otherwise the
//!                                                        next Begin follows at once: FIFO
//!                                                        from the clock orders them)
//!  6b joint   [centralised training only: ◀── Shared(policy.share());
//!             Joint(all shares) ──────────────────────▶ policy.receive: the RSU's learner
//!                                                       trains, in parallel with the others;
//!             ◀──────────────────────────────────────── Closed (as above)]
//!  (rounds)   Open(round, participants) ─────────────────────────────────────────────▶ collect
//!                                                       Contribute(bytes) | Skip ───────▶ FedAvg
//!                                                       ◀─────────────── Global(bytes) broadcast
//!             ◀──────────────────────────────────────── PoolApplied (when an average came)
//! ```
//!
//! Phase by phase:
//!
//! 0. **Begin.** `Begin(t)` to every RSU. An RSU scheduled to crash in `t`
//!    (`FaultPlan::crashes`) panics here, before it has done anything in the slot; the clock,
//!    its supervisor, restarts it from its slot-boundary checkpoint and sends `Begin(t)` again
//!    (the slot is redone for that RSU; the restarted actor knows not to crash again in `t`).
//!    In such a slot the clock waits for every `Ready` before phase 1, which also guarantees
//!    that no upload is ever sent to an RSU that is about to crash. In any other slot (the
//!    crash schedule is part of the scenario) no `Ready` is asked for and phase 1 follows at
//!    once: every `Begin(t)` is queued before the first `Step(t)` is sent, so it reaches its
//!    RSU before any upload of the slot.
//! 1. **Positions and tasks.** Every live vehicle gets `Step`; then the vehicles whose span
//!    starts at `t` are spawned (id order) and stepped (the others work meanwhile). A vehicle that uploads sends its task straight to its RSU
//!    actor and then answers the clock `Stepped(uploaded(e))`; per-sender FIFO is not needed for
//!    correctness, because the clock tells each RSU how many uploads to wait for. Vehicles
//!    whose span ends at `t` are stopped once the phase closes. With the RSUs in other
//!    processes ([`RemoteRsus`](crate::RemoteRsus)) the vehicles live there too: the clock sends
//!    one [`FleetMsg::Step`] per slot, with the arrivals, and counts one `Stepped` per vehicle
//!    as ever.
//! 2. **Uploads.** `CloseUploads(n_e)`: RSU `e` waits until it holds `n_e` uploads (they may
//!    arrive before or after this message), sorts them by task id and answers its public
//!    [`LoadSummary`](vecsim_core::rsu::LoadSummary).
//! 3. **Decisions.** Every RSU gets everyone's summaries and asks its own policy. With the
//!    `br-ne` oracle the RSUs also send their uploads, and the clock (an oracle with global
//!    knowledge, by design) runs the [`JointRefiner`](vecsim_core::policy::JointRefiner) over
//!    all proposals and sends back the final decisions. Without an oracle the RSU goes on to
//!    phase 4 at once (one barrier fewer). When the RSUs decide in turn (a policy
//!    [`decides_in_turn`](vecsim_core::policy::Policy::decides_in_turn);
//!    [`vecsim_core::policy::intent`]), the clock first asks them one at a time, in id order,
//!    with `DecideInTurn` carrying the declarations so far; each decides, keeps its decisions
//!    and answers `Declared`; then `Decide { decided: true }` goes to all as usual. `2n`
//!    messages and `n` sequential steps more per slot and round: with
//!    [`turn_rounds`](vecsim_core::policy::Policy::turn_rounds) `R` ≥ 2 the clock goes through
//!    RSU 0 ... RSU n−1 `R` times, keeping the latest declaration of each RSU, so from the second
//!    round on an RSU sees every other RSU's plan; the last round's decisions are carried out.
//! 4. **Wired migrations.** Each RSU applies eq. 4 and its wired-fault stream in task-id order,
//!    and sends one `Migrated` batch to each other executing RSU that gets tasks; it tells the
//!    clock where it sent batches, so the clock can tell each RSU how many batches to wait for.
//! 5. **Allocation and outcomes.** Each RSU waits for its batches, sorts its tasks by id,
//!    allocates and executes.
//! 6. **Report.** The clock sorts all results by task id, scores the slot, hands the
//!    [`SlotReport`](vecsim_core::report::SlotReport) to the caller, and sends each RSU its
//!    feedback; the RSU feeds its policy and stores its checkpoint for the next slot boundary.
//!    The clock waits for the `Closed` answers only when something must see every policy fed
//!    (a pool round, the end of the run); otherwise it sends the next `Begin` straight away —
//!    messages from one sender (the clock) arrive in order, so every RSU feeds its policy and
//!    checkpoints before it begins the next slot.
//!    With centralised training (a policy that [`shares`](vecsim_core::policy::Policy::shares):
//!    maddpg, masac) every RSU answers the feedback with its policy's `Shared` part of the joint
//!    record; once all are in, the clock sends all of them, by RSU id, to every RSU (`Joint`),
//!    whose policy trains in its own actor — so RSUs train in parallel, on the same joint
//!    record whatever the order of the answers. `Closed` then follows `Joint` as above.
//!
//! VEC POOL rounds (see [`crate::pool`]) run between slots when the coordinator opens one:
//! the participants are fixed when the round opens, each participant draws its own fate from
//! `FaultPlan::pool` with its `(seed, FaultPool, rsu)` stream (or follows the set a trainer gave,
//! `ActorOptions::pool_participants`) and sends either its encoded parameters (its policy's
//! actor network when the policy federates) or an explicit `Skip`, so the pool closes the round by counting answers. The clock
//! starts the next slot once every RSU has applied the broadcast average (`PoolApplied`).
//!
//! Across processes (`vecsim-cluster`) these messages are also the wire form: the ones that
//! cross derive serde's traits, and what in them is local to a process says how it crosses
//! ([`CtxHandle`], [`JointShares`], a skipped actor reference); the receiving process fills it
//! in with [`RsuMsg::resolve`]. A new message is written here and handled by its actor; nothing
//! else mirrors it.

use ractor::{ActorRef, DerivedActorRef, RpcReplyPort};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use vecsim_core::ids::{RsuId, VehicleId};
use vecsim_core::outcome::TaskResult;
use vecsim_core::policy::intent::Intent;
use vecsim_core::policy::{Feedback, Share};
use vecsim_core::rsu::LoadSummary;
use vecsim_core::slot::ExecTask;
use vecsim_core::task::UploadedTask;
use vecsim_core::vehicle::{UploadMsg, VehicleHandover};

/// What every actor needs to know about the current slot; one `Arc` per slot.
#[derive(Debug)]
pub struct SlotCtx {
    /// The slot index `t` (0-based).
    pub slot: u32,
    /// `up[e]`: whether RSU e is up this slot (outages).
    pub up: Vec<bool>,
    /// The RSU actors, by id (refreshed after a restart).
    pub rsus: Vec<ActorRef<RsuMsg>>,
    /// The clock actor, to which every phase answer goes.
    pub clock: ActorRef<ClockMsg>,
}

/// Messages to a vehicle actor.
#[derive(Debug)]
pub enum VehicleMsg {
    /// Phase 1: move to the slot's position, maybe draw a task and upload it.
    Step(Arc<SlotCtx>),
    /// Cluster handover (between slots): answer where the vehicle's random streams stand, and
    /// stop. The vehicle carries on in another process ([`vecsim_core::vehicle::Vehicle::resume`]).
    Leave(RpcReplyPort<VehicleHandover>),
}

/// Phase 1 for the vehicles hosted by other processes (`vecsim-cluster`), one message per
/// slot to the stand-in of all of them ([`crate::RemoteRsus::fleet`]). Each vehicle still
/// answers the clock with its own [`ClockMsg::Stepped`].
#[derive(Debug)]
pub enum FleetMsg {
    /// Step every vehicle of the slot: those already alive (a vehicle lives from its first to
    /// its last slot, inclusive) and the `arrivals`.
    Step {
        /// The slot's context (its RSU table is the clock's: stand-ins on a coordinator).
        ctx: Arc<SlotCtx>,
        /// The vehicles whose first slot this is, in id order: `(vehicle, its last slot)`.
        arrivals: Vec<(VehicleId, u32)>,
    },
}

/// A vehicle's answer in phase 1.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum Stepped {
    /// Not in the scenario at the slot's start instant.
    Absent,
    /// Present, no task.
    Idle,
    /// Present; its task ended before reaching an RSU (boxed: rare, and it keeps the hot
    /// `ClockMsg::Stepped` small).
    Ended(Box<TaskResult>),
    /// Present; its task was sent to this RSU.
    Uploaded(RsuId),
}

/// Messages to an RSU actor.
///
/// They cross processes as they are (`vecsim-cluster` encodes them with `vecsim_core::codec`):
/// what is local to a process (the slot's context, the VEC POOL's actor reference, decoded
/// shares of the joint record) is held in a type that carries only its values across
/// ([`CtxHandle`], a skipped `Option`, [`JointShares`]), and the receiving process fills the
/// rest in, in one place, before it delivers the message: [`RsuMsg::resolve`].
#[derive(Debug, Serialize, Deserialize)]
pub enum RsuMsg {
    /// Phase 0. Carries only the slot: a restart in this phase changes the RSU table, so the
    /// slot's context (with the final table) comes with `CloseUploads`. `ack`: answer `Ready`
    /// (only in slots in which an RSU is scheduled to crash).
    Begin {
        /// The slot being opened.
        slot: u32,
        /// Whether the clock waits for a `Ready` answer.
        ack: bool,
    },
    /// Phase 1, from a vehicle.
    Upload(UploadMsg),
    /// Phase 2: how many uploads to wait for, and the slot's context.
    CloseUploads {
        /// The number of uploads vehicles sent to this RSU in phase 1.
        expected: u32,
        /// The slot's context, with the RSU table as it stands after any restart.
        ctx: CtxHandle,
    },
    /// Phase 3 when the RSUs decide in turn (a policy [`decides_in_turn`](vecsim_core::policy::Policy::decides_in_turn)):
    /// decide now, seeing the declarations of the RSUs before this one, and answer
    /// [`ClockMsg::Declared`]; the clock then asks the next RSU.
    DecideInTurn {
        /// Every RSU's load summary from phase 2, indexed by RSU id.
        summaries: Arc<Vec<LoadSummary>>,
        /// The declarations so far, indexed by RSU id (empty for the RSUs not yet asked).
        before: Arc<Vec<Intent>>,
    },
    /// Phase 3: everyone's public summaries. `send_uploads` when the oracle refines (the RSU
    /// answers `Proposal` and waits for `Dispatch`); otherwise the RSU goes straight on to
    /// phase 4 and answers `Dispatched`.
    Decide {
        /// Every RSU's load summary from phase 2, indexed by RSU id.
        summaries: Arc<Vec<LoadSummary>>,
        /// Whether to answer `Proposal` (with the uploads) and wait for `Dispatch`.
        send_uploads: bool,
        /// The RSU already decided in its turn (`DecideInTurn`): go on with those decisions.
        decided: bool,
    },
    /// Phase 4: go ahead, with the refined decisions if the oracle changed them.
    Dispatch {
        /// The oracle's final executor per upload (in task-id order); `None`: keep the
        /// RSU's own decisions.
        decisions: Option<Vec<RsuId>>,
    },
    /// Phase 4, from another RSU: tasks migrated here over the wire.
    Migrated {
        /// The sending RSU.
        from: RsuId,
        /// The tasks this RSU is to execute, as they came off the wire.
        tasks: Vec<ExecTask>,
    },
    /// Phase 5: how many `Migrated` batches to wait for.
    Execute {
        /// The number of `Migrated` batches other RSUs sent to this RSU in phase 4.
        batches: u32,
    },
    /// Phase 6: the slot's feedback for the policy; the RSU then checkpoints.
    Feedback {
        /// The reward and outcome of the slot, for `Policy::feedback`.
        fb: Feedback,
        /// Whether the clock waits for a `Closed` answer (before a pool round and after the
        /// last slot).
        ack: bool,
        /// Centralised training: answer `Shared` with the policy's share (always, instead of
        /// `Closed`).
        share: bool,
    },
    /// Phase 6b (centralised training): every RSU's share of the slot, by RSU id; the policy
    /// receives them and trains, here, in this RSU's actor.
    Joint {
        /// The shares, index = RSU id.
        shares: JointShares,
        /// Whether the clock waits for a `Closed` answer (before a pool round and after the
        /// last slot).
        ack: bool,
    },
    /// VEC POOL: contribute to round `round` (or skip it, by this RSU's own fault draw).
    PoolRound {
        /// The round number.
        round: u64,
        /// The VEC POOL actor to send `Contribute` or `Skip` to. An actor reference is its
        /// process's: it does not cross, and the receiving process fills in its own stand-in of
        /// the VEC POOL ([`RsuMsg::resolve`]).
        #[serde(skip)]
        pool: Option<ActorRef<PoolMsg>>,
    },
    /// VEC POOL: the averaged parameters of a round.
    PoolGlobal(PoolGlobal),
}

/// The VEC POOL's broadcast of a round's average (codec-encoded `Vec<f32>`).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PoolGlobal {
    /// The round whose average this is.
    pub round: u64,
    /// The averaged parameters, codec-encoded (shared by every member).
    pub bytes: Arc<Vec<u8>>,
}

impl From<PoolGlobal> for RsuMsg {
    fn from(g: PoolGlobal) -> RsuMsg {
        RsuMsg::PoolGlobal(g)
    }
}

impl TryFrom<RsuMsg> for PoolGlobal {
    type Error = RsuMsg;
    fn try_from(m: RsuMsg) -> Result<PoolGlobal, RsuMsg> {
        match m {
            RsuMsg::PoolGlobal(g) => Ok(g),
            other => Err(other),
        }
    }
}

/// The slot's context as [`RsuMsg::CloseUploads`] carries it. In the clock's process, the
/// clock's `Arc`; across processes only its values cross, the slot and the up-mask (the actor
/// references are the sender's), and the receiving process rebuilds the context with its own
/// actor table ([`RsuMsg::resolve`]) before it delivers the message.
#[derive(Clone, Debug)]
pub enum CtxHandle {
    /// The context, ready for an RSU actor of this process.
    Here(Arc<SlotCtx>),
    /// Its values, as they came from another process: to be resolved.
    Values {
        /// The slot index `t`.
        slot: u32,
        /// `up[e]`: whether RSU e is up this slot.
        up: Vec<bool>,
    },
}

impl CtxHandle {
    /// The context, once resolved (`None`: it came from another process and was not).
    pub fn get(&self) -> Option<&Arc<SlotCtx>> {
        match self {
            CtxHandle::Here(c) => Some(c),
            CtxHandle::Values { .. } => None,
        }
    }
}

impl From<Arc<SlotCtx>> for CtxHandle {
    fn from(c: Arc<SlotCtx>) -> CtxHandle {
        CtxHandle::Here(c)
    }
}

impl Serialize for CtxHandle {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            CtxHandle::Here(c) => (c.slot, &c.up).serialize(s),
            CtxHandle::Values { slot, up } => (slot, up).serialize(s),
        }
    }
}

impl<'de> Deserialize<'de> for CtxHandle {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<CtxHandle, D::Error> {
        let (slot, up) = <(u32, Vec<bool>)>::deserialize(d)?;
        Ok(CtxHandle::Values { slot, up })
    }
}

/// Every RSU's share of a slot (centralised training) as [`RsuMsg::Joint`] carries it. The
/// shares are type-erased (the runtime does not know the learners' types): across processes
/// each crosses as the bytes of an [`EncodedShare`], and the receiving process decodes them
/// ([`RsuMsg::resolve`]). Every RSU gets the same shares in a slot, so they cross to a process
/// once, for all the RSUs it hosts: the sender sends the others [`JointShares::LastSent`].
#[derive(Clone, Debug)]
pub enum JointShares {
    /// The shares, index = RSU id, ready for a policy of this process (to cross, each must be
    /// an [`EncodedShare`]).
    Here(Arc<Vec<Option<Share>>>),
    /// The shares' bytes, as they came from another process: to be decoded.
    Encoded(Vec<Option<Vec<u8>>>),
    /// The shares last sent to the receiving process (across processes only).
    LastSent,
}

impl JointShares {
    /// The shares, once resolved (`None`: they came from another process and were not).
    pub fn get(&self) -> Option<&Arc<Vec<Option<Share>>>> {
        match self {
            JointShares::Here(s) => Some(s),
            JointShares::Encoded(_) | JointShares::LastSent => None,
        }
    }
}

impl Serialize for JointShares {
    /// `Option<Vec<Option<bytes>>>`: `None` for [`JointShares::LastSent`].
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        /// One share, by reference, as its bytes.
        struct Bytes<'a>(&'a Option<Share>);
        impl Serialize for Bytes<'_> {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                encoded_share::serialize(self.0, s)
            }
        }
        match self {
            JointShares::Here(list) => s.serialize_some(&list.iter().map(Bytes).collect::<Vec<_>>()),
            JointShares::Encoded(list) => s.serialize_some(list),
            JointShares::LastSent => s.serialize_none(),
        }
    }
}

impl<'de> Deserialize<'de> for JointShares {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<JointShares, D::Error> {
        Ok(match Option::<Vec<Option<Vec<u8>>>>::deserialize(d)? {
            Some(list) => JointShares::Encoded(list),
            None => JointShares::LastSent,
        })
    }
}

/// What the process that receives an [`RsuMsg`] from another process fills in before it
/// delivers it: the parts of a message that are local to a process (see [`RsuMsg`]). Its
/// methods are asked only for what the message lacks.
pub trait Resolver {
    /// Why a part cannot be filled in.
    type Error;
    /// The slot's context, from its values, with this process's actor table.
    fn ctx(&mut self, slot: u32, up: Vec<bool>) -> Arc<SlotCtx>;
    /// This process's VEC POOL (its stand-in).
    fn pool(&mut self) -> Result<ActorRef<PoolMsg>, Self::Error>;
    /// The joint record's shares, decoded from `encoded`, or (`None`) the ones this process
    /// last received.
    fn shares(&mut self, encoded: Option<Vec<Option<Vec<u8>>>>) -> Result<Arc<Vec<Option<Share>>>, Self::Error>;
}

/// Messages to the clock (answers, plus the run's start).
///
/// The answers cross processes as they are (`vecsim-cluster` encodes them with
/// `vecsim_core::codec`): a share of the joint record crosses as the bytes of an
/// [`EncodedShare`], and `Start` and `Due`, the clock's own, never cross (they stay last, so
/// that the variants' indices are the same encoded and decoded).
#[derive(Debug, Serialize, Deserialize)]
pub enum ClockMsg {
    /// Phase 0: this RSU has begun the slot (asked for only in a slot with a crash).
    Ready {
        /// The answering RSU.
        rsu: RsuId,
        /// The slot it began.
        slot: u32,
    },
    /// Phase 1: a vehicle has stepped (and sent its upload, if any).
    Stepped {
        /// The answering vehicle.
        vehicle: VehicleId,
        /// The slot it stepped in.
        slot: u32,
        /// What it did.
        what: Stepped,
    },
    /// Phase 2: an RSU holds all its uploads; its public load summary.
    Summary {
        /// The answering RSU.
        rsu: RsuId,
        /// Its load summary for the slot.
        summary: LoadSummary,
    },
    /// Phase 3 in turn: an RSU has decided; what it sends where (empty without uploads).
    Declared {
        /// The answering RSU.
        rsu: RsuId,
        /// Its declaration.
        intent: Intent,
    },
    /// Boxed, like `Dispatched`: once per RSU per slot, and a small `ClockMsg` keeps the
    /// per-vehicle `Stepped` messages small.
    Proposal(Box<Proposal>),
    /// Phase 4: where an RSU sent its wired batches, and what was lost on the wire.
    Dispatched(Box<Dispatched>),
    /// Phase 5: the outcomes of the tasks an RSU executed.
    Executed {
        /// The answering RSU.
        rsu: RsuId,
        /// The results of the tasks it executed (the clock sorts them by task id).
        results: Vec<TaskResult>,
    },
    /// Phase 6: an RSU has fed its policy and stored its checkpoint (asked for only before a
    /// pool round and after the last slot); with centralised training, it has trained on the
    /// slot's joint record.
    Closed {
        /// The answering RSU.
        rsu: RsuId,
    },
    /// Phase 6 with centralised training: an RSU has fed its policy; here is the policy's share.
    Shared {
        /// The answering RSU.
        rsu: RsuId,
        /// What its policy shares (`Policy::share`); across processes, an [`EncodedShare`].
        #[serde(with = "encoded_share")]
        share: Option<Share>,
    },
    /// An RSU hosted by another process crashed at the start of `slot` and its supervisor
    /// there restarted it (`faults.crash_rsu` on a cluster): counted as the clock counts the
    /// crashes it supervises itself. Its `Ready` follows.
    Restarted {
        /// The RSU.
        rsu: RsuId,
        /// The slot it redoes.
        slot: u32,
    },
    /// VEC POOL: this RSU applied the broadcast average of `round`.
    PoolApplied {
        /// The answering RSU.
        rsu: RsuId,
        /// The round whose average it applied.
        round: u64,
    },
    /// Starts the episode.
    #[serde(skip)]
    Start,
    /// The clock's own timer (`--pace`): `slot` is due to open. Never crosses a process.
    #[serde(skip)]
    Due {
        /// The slot to open.
        slot: u32,
    },
}

/// A share of the joint record as it crosses processes: the bytes the policy's codec wrote
/// (the runtime does not know the learners' types; the process that receives the shares for
/// its RSUs decodes them).
#[derive(Debug)]
pub struct EncodedShare(pub Vec<u8>);

/// `Option<Share>` as `Option<bytes>`: only an [`EncodedShare`] can be encoded; it decodes to
/// one.
mod encoded_share {
    use super::{EncodedShare, Share};
    use serde::{de::Deserializer, ser::Error as _, ser::Serializer, Deserialize as _};
    use std::sync::Arc;

    pub(super) fn serialize<S: Serializer>(share: &Option<Share>, s: S) -> Result<S::Ok, S::Error> {
        match share {
            None => s.serialize_none(),
            Some(sh) => match sh.downcast_ref::<EncodedShare>() {
                Some(b) => s.serialize_some(&b.0),
                None => Err(S::Error::custom("a share of the joint record that was not encoded (EncodedShare)")),
            },
        }
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Share>, D::Error> {
        Ok(Option::<Vec<u8>>::deserialize(d)?.map(|b| Arc::new(EncodedShare(b)) as Share))
    }
}

/// An RSU's decisions (phase 3, `br-ne` only), with its uploads for the oracle.
#[derive(Debug, Serialize, Deserialize)]
pub struct Proposal {
    /// The proposing RSU.
    pub rsu: RsuId,
    /// Its policy's executor per upload, in task-id order.
    pub decisions: Vec<RsuId>,
    /// Its uploads, in task-id order, for the oracle's joint refinement.
    pub uploads: Option<Vec<UploadedTask>>,
}

/// Where an RSU sent wired batches (phase 4), and the tasks lost on the wire.
#[derive(Debug, Serialize, Deserialize)]
pub struct Dispatched {
    /// The answering RSU.
    pub rsu: RsuId,
    /// The RSUs it sent one `Migrated` batch each, in id order.
    pub sent_to: Vec<RsuId>,
    /// Results of the tasks lost to wired faults.
    pub lost: Vec<TaskResult>,
    /// Its uploads of the slot, in task-id order (the clock scores the difference reward with
    /// them).
    pub uploads: Vec<UploadedTask>,
}

/// The outcome of one VEC POOL round.
#[derive(Clone, Debug, PartialEq)]
pub struct RoundOutcome {
    /// The round number.
    pub round: u64,
    /// Participants whose parameters were averaged, by id.
    pub contributed: Vec<u32>,
    /// Participants that skipped the round (dropout or lost message), by id.
    pub skipped: Vec<u32>,
    /// The encoded average (`None` when nobody contributed: the old global model stands).
    pub global: Option<Arc<Vec<u8>>>,
    /// The round's simulated latency (s): the largest injected pool latency among
    /// contributions.
    pub latency_s: f64,
}

/// Messages to the VEC POOL. The participants' answers cross processes as they are; `Open`,
/// the coordinator's own, never does (it stays last: see [`ClockMsg`]).
#[derive(Debug, Serialize, Deserialize)]
pub enum PoolMsg {
    /// A participant's parameters (`vecsim_learn::codec`-encoded `Vec<f32>`) and FedAvg weight
    /// (1, or its sample count with `ActorOptions::weighted_fedavg`).
    Contribute {
        /// The round answered.
        round: u64,
        /// The participant's RSU id.
        from: u32,
        /// Its FedAvg weight (1 or its sample count).
        weight: f64,
        /// Its injected pool latency (s), from its `FaultPlan::pool` draw.
        extra_latency_s: f64,
        /// Its parameters, codec-encoded.
        bytes: Vec<u8>,
    },
    /// A participant that will not send this round.
    Skip {
        /// The round skipped.
        round: u64,
        /// The participant's RSU id.
        from: u32,
    },
    /// Opens a round with a fixed set of participants; the outcome is answered on `reply`
    /// once every participant has contributed or skipped.
    /// `members` receive the average (participants or not: the global model goes to everyone).
    #[serde(skip)]
    Open {
        /// The round number.
        round: u64,
        /// The RSU ids expected to answer `Contribute` or `Skip`.
        participants: Vec<u32>,
        /// Everyone that receives the broadcast average.
        members: Vec<DerivedActorRef<PoolGlobal>>,
        /// Where the round's outcome goes.
        reply: RpcReplyPort<RoundOutcome>,
    },
}

/// An answer the clock (or the VEC POOL) waits for from an RSU before it closes a phase: what
/// each message to an RSU asks for ([`RsuMsg::expects`]) and which answer settles it
/// ([`ClockMsg::answer`], [`PoolMsg::answer`]), stated once, here, for whoever must answer in
/// an RSU's place (the cluster's coordinator, for the RSUs of a lost node).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Answer {
    /// `Ready` (phase 0, in a slot with a crash).
    Ready(u32),
    /// `Summary` (phase 2).
    Summary,
    /// `Declared` (phase 3, RSUs in turn).
    Declared,
    /// `Proposal` (phase 3, `br-ne`).
    Proposal,
    /// `Dispatched` (phase 4).
    Dispatched,
    /// `Executed` (phase 5).
    Executed,
    /// `Closed` (phase 6 or 6b, when acknowledged).
    Closed,
    /// `Shared` (phase 6, centralised training).
    Shared,
    /// `Contribute` or `Skip`, to the VEC POOL, for a round.
    Pool(u64),
    /// `PoolApplied`, for a round.
    PoolApplied(u64),
}

impl Answer {
    /// Whether `self`, given, settles `asked` (answers carry no more than their kind: a round
    /// or a slot is not compared).
    pub fn settles(self, asked: Answer) -> bool {
        std::mem::discriminant(&self) == std::mem::discriminant(&asked)
    }
}

impl RsuMsg {
    /// Fills in what this message, come from another process, lacks ([`Resolver`]): the one
    /// place that knows which parts of a message to an RSU do not cross. A message whose
    /// parts are all values needs nothing here.
    pub fn resolve<R: Resolver>(&mut self, r: &mut R) -> Result<(), R::Error> {
        match self {
            RsuMsg::CloseUploads { ctx, .. } => {
                if let CtxHandle::Values { slot, up } = ctx {
                    *ctx = CtxHandle::Here(r.ctx(*slot, std::mem::take(up)));
                }
            }
            RsuMsg::PoolRound { pool, .. } if pool.is_none() => *pool = Some(r.pool()?),
            RsuMsg::Joint { shares, .. } => {
                let sent = match shares {
                    JointShares::Here(_) => return Ok(()),
                    JointShares::Encoded(list) => Some(std::mem::take(list)),
                    JointShares::LastSent => None,
                };
                *shares = JointShares::Here(r.shares(sent)?);
            }
            // Values only: they cross as they are.
            _ => {}
        }
        Ok(())
    }

    /// The answer this message asks of the RSU, if any (see the phases above).
    pub fn expects(&self) -> Option<Answer> {
        match self {
            RsuMsg::Begin { slot, ack } => ack.then_some(Answer::Ready(*slot)),
            RsuMsg::Upload(_) | RsuMsg::Migrated { .. } => None,
            RsuMsg::CloseUploads { .. } => Some(Answer::Summary),
            RsuMsg::DecideInTurn { .. } => Some(Answer::Declared),
            RsuMsg::Decide { send_uploads: true, .. } => Some(Answer::Proposal),
            RsuMsg::Decide { send_uploads: false, .. } | RsuMsg::Dispatch { .. } => Some(Answer::Dispatched),
            RsuMsg::Execute { .. } => Some(Answer::Executed),
            RsuMsg::Feedback { share: true, .. } => Some(Answer::Shared),
            RsuMsg::Feedback { ack, .. } | RsuMsg::Joint { ack, .. } => ack.then_some(Answer::Closed),
            RsuMsg::PoolRound { round, .. } => Some(Answer::Pool(*round)),
            RsuMsg::PoolGlobal(g) => Some(Answer::PoolApplied(g.round)),
        }
    }
}

impl ClockMsg {
    /// The RSU and the answer, when this is an RSU's answer to the clock (`Restarted` is a
    /// supervisor's report, not an answer; `Start`, `Due` and `Stepped` are not an RSU's).
    pub fn answer(&self) -> Option<(RsuId, Answer)> {
        Some(match self {
            ClockMsg::Ready { rsu, slot } => (*rsu, Answer::Ready(*slot)),
            ClockMsg::Summary { rsu, .. } => (*rsu, Answer::Summary),
            ClockMsg::Declared { rsu, .. } => (*rsu, Answer::Declared),
            ClockMsg::Proposal(p) => (p.rsu, Answer::Proposal),
            ClockMsg::Dispatched(d) => (d.rsu, Answer::Dispatched),
            ClockMsg::Executed { rsu, .. } => (*rsu, Answer::Executed),
            ClockMsg::Closed { rsu } => (*rsu, Answer::Closed),
            ClockMsg::Shared { rsu, .. } => (*rsu, Answer::Shared),
            ClockMsg::PoolApplied { rsu, round } => (*rsu, Answer::PoolApplied(*round)),
            ClockMsg::Start | ClockMsg::Due { .. } | ClockMsg::Stepped { .. } | ClockMsg::Restarted { .. } => {
                return None
            }
        })
    }
}

impl PoolMsg {
    /// The participant and the answer, when this is an RSU's answer to the pool.
    pub fn answer(&self) -> Option<(u32, Answer)> {
        match self {
            PoolMsg::Contribute { round, from, .. } | PoolMsg::Skip { round, from } => {
                Some((*from, Answer::Pool(*round)))
            }
            PoolMsg::Open { .. } => None,
        }
    }
}

// Every message type implements `ractor::Message` explicitly: the workspace builds ractor with
// its `cluster` feature (for `vecsim-cluster`), which drops ractor's blanket implementation.
// Across processes `vecsim-cluster` carries the messages to an RSU, the answers to the clock
// and to the pool as they are (serde, encoded with `vecsim_core::codec`); what of a message to
// an RSU is local to a process, the receiver fills in (`RsuMsg::resolve`).
impl ractor::Message for VehicleMsg {}
impl ractor::Message for FleetMsg {}
impl ractor::Message for RsuMsg {}
impl ractor::Message for PoolGlobal {}
impl ractor::Message for ClockMsg {}
impl ractor::Message for PoolMsg {}

#[cfg(test)]
mod answer_tests {
    use super::*;

    #[test]
    fn every_request_is_settled_by_its_answer_and_by_no_other() {
        let rsu = RsuId(3);
        let requests = [
            (RsuMsg::Begin { slot: 4, ack: true }.expects(), ClockMsg::Ready { rsu, slot: 4 }.answer()),
            (RsuMsg::Execute { batches: 2 }.expects(), ClockMsg::Executed { rsu, results: Vec::new() }.answer()),
            (RsuMsg::Dispatch { decisions: None }.expects(), None),
        ];
        assert_eq!(requests[0].0, Some(Answer::Ready(4)));
        assert!(requests[0].0.unwrap().settles(requests[0].1.unwrap().1));
        assert!(!requests[1].1.unwrap().1.settles(requests[0].0.unwrap()), "Executed does not settle Ready");
        assert_eq!(requests[2].0, Some(Answer::Dispatched));
        assert_eq!(RsuMsg::Begin { slot: 4, ack: false }.expects(), None, "no Ready asked outside a crash slot");
        assert_eq!(ClockMsg::Restarted { rsu, slot: 1 }.answer(), None);
        assert_eq!(PoolMsg::Skip { round: 2, from: 3 }.answer(), Some((3, Answer::Pool(2))));
    }
}
