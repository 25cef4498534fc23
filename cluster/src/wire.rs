//! What crosses processes: the slot protocol's messages ([`vecsim_actors::protocol`]) as they
//! are, plus the cluster's own (set-up, vehicles, policies), encoded with the project's codec
//! ([`vecsim_core::codec`], bincode 2) and carried by `ractor_cluster` as one cast to the
//! receiving process's hub actor.
//!
//! Only values cross: the protocol's types say how (a slot's context crosses as its slot and
//! up-mask, an actor reference not at all, a share of the joint record as its bytes), and the
//! receiving hub fills in the rest with [`RsuMsg::resolve`]. Floats are encoded bit for bit, so
//! a value decoded on the other side is the value that was sent.

use crate::error::HubError;
use ractor::message::{BoxedDowncastErr, SerializedMessage};
use ractor::Message;
use serde::{Deserialize, Serialize};
pub use vecsim_actors::protocol::EncodedShare;
use vecsim_actors::protocol::{ClockMsg, FleetMsg, PoolMsg, RsuMsg, Stepped};
use vecsim_core::codec;
use vecsim_core::ids::VehicleId;
use vecsim_core::mobility::VehiclePath;
use vecsim_core::vehicle::VehicleHandover;

/// A run's set-up for one node: what it hosts and how to build it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Setup {
    /// The run, so that a node never mixes two runs' messages.
    pub run: u64,
    /// The node's index in the cluster file.
    pub node: u32,
    /// The scenario, resolved (overrides applied), as TOML, with seed 0.
    pub scenario_toml: String,
    /// The scenario's seed (apart: TOML integers stop at `i64::MAX`).
    pub seed: u64,
    /// The RSUs this node hosts, by id.
    pub rsus: Vec<u32>,
    /// The files of a learner's checkpoint directory (name, bytes), for `--checkpoint`.
    pub checkpoint: Option<Vec<(String, Vec<u8>)>>,
    /// The hosted RSUs' policies, encoded ([`crate::PolicyCodec`]), in the order of `rsus`:
    /// learners travelling for a training episode, to be sent back on [`Wire::Collect`].
    /// `None`: the node builds its RSUs' policies (from the scenario and `checkpoint`).
    pub policies: Option<Vec<Vec<u8>>>,
    /// `ActorOptions::pool_participants`.
    pub pool_participants: Option<Vec<bool>>,
    /// `ActorOptions::weighted_fedavg`.
    pub weighted_fedavg: bool,
}

/// A message between the coordinator and a node. The messages to an RSU and the answers to the
/// clock and to the pool are the protocol's own ([`RsuMsg`], [`ClockMsg`], [`PoolMsg`]).
#[derive(Debug, Serialize, Deserialize)]
pub enum Wire {
    /// Coordinator → node: host these RSUs for this run.
    Setup(Box<Setup>),
    /// Coordinator → node: the episode is over (its last slot and its VEC POOL round): send
    /// back the hosted RSUs' policies that travelled with the set-up ([`Wire::Policies`]).
    Collect {
        /// The run.
        run: u64,
    },
    /// Node → coordinator: the answer to [`Wire::Collect`].
    Policies {
        /// The run.
        run: u64,
        /// The node's index.
        node: u32,
        /// `(RSU id, encoded policy)` for every hosted RSU, or why they could not be sent.
        policies: Result<Vec<(u32, Vec<u8>)>, String>,
    },
    /// Coordinator → node: the run is over; stop its actors.
    End {
        /// The run that ended.
        run: u64,
    },
    /// Either way: a message to RSU `rsu` (node → coordinator only for an upload or a wired
    /// migration to an RSU hosted elsewhere, which the coordinator relays).
    Rsu {
        /// The addressee.
        rsu: u32,
        /// The message (the receiver resolves it: [`RsuMsg::resolve`]).
        msg: RsuMsg,
    },
    /// Node → coordinator: the node's RSU actors are up (or why not).
    SetupDone {
        /// The run.
        run: u64,
        /// The node's index.
        node: u32,
        /// `Some(why)` when the node could not host its RSUs.
        error: Option<String>,
    },
    /// Node → coordinator: an RSU's answer to the clock (with a share of the joint record as
    /// an [`EncodedShare`]), or its node's report of a restart.
    Clock(ClockMsg),
    /// Node → coordinator: an RSU's answer to the VEC POOL.
    Pool(PoolMsg),
    /// Coordinator → node: phase 1 of a slot for the vehicles the node hosts.
    Vehicles(Box<VehicleStep>),
    /// Node → coordinator: every hosted vehicle has stepped (the answer to
    /// [`Wire::Vehicles`]).
    Stepped(Box<VehiclesStepped>),
    /// Node → coordinator: an actor failed on the node (the run cannot go on).
    Failed {
        /// The node's index.
        node: u32,
        /// What failed.
        message: String,
    },
}

/// A vehicle on its way to the node that hosts it next: new (its streams at their start),
/// handed over from another node, or recovered from a lost one.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct VehicleWire {
    /// Where its random streams stand.
    pub handover: VehicleHandover,
    /// Its path (the node needs nothing else of the fleet).
    pub path: VehiclePath,
    /// Its last slot: the node stops it after stepping it then.
    pub last: u32,
}

/// Phase 1 of slot `slot` on one node: step every vehicle hosted there, the `arrive`ing ones
/// included, then hand the `depart`ing ones back.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct VehicleStep {
    /// The run.
    pub run: u64,
    /// The slot.
    pub slot: u32,
    /// Which RSUs are up in the slot (by id).
    pub up: Vec<bool>,
    /// Vehicles that join the node before the step.
    pub arrive: Vec<VehicleWire>,
    /// Vehicles that leave the node after the step (their next slot is hosted elsewhere).
    pub depart: Vec<VehicleId>,
}

/// A node's answer to [`VehicleStep`].
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct VehiclesStepped {
    /// The node's index.
    pub node: u32,
    /// The slot.
    pub slot: u32,
    /// Every hosted vehicle's answer, in id order.
    pub answers: Vec<(VehicleId, Stepped)>,
    /// The departing vehicles, after their step.
    pub departed: Vec<VehicleHandover>,
}

/// The message type of both hubs (the coordinator's and a node's): [`Wire`] from the network,
/// plus local messages from the process's own stand-ins and node events.
///
/// Only `Net` is serialisable: `ractor_cluster` calls [`Message::serialize`] when the addressee
/// is in another process, which encodes the [`Wire`] with [`vecsim_core::codec`].
#[derive(Debug)]
pub enum HubMsg {
    /// A message from (or to) another process.
    Net(Wire),
    /// Bytes from another process that did not decode (a version mismatch, corruption).
    Garbled(String),
    /// Local: a message a stand-in of RSU `rsu` was sent.
    Rsu {
        /// The RSU the message is for.
        rsu: u32,
        /// The message.
        msg: RsuMsg,
    },
    /// Local (coordinator): phase 1 for every vehicle, from the clock (through the fleet's
    /// stand-in).
    Fleet(FleetMsg),
    /// Local (node): a hosted vehicle's answer to its step.
    Stepped {
        /// The run the vehicle belongs to (answers of a run already replaced are dropped).
        run: u64,
        /// The vehicle.
        vehicle: VehicleId,
        /// The slot.
        slot: u32,
        /// What it did.
        what: Stepped,
    },
    /// Local (coordinator): report the lost nodes (at the end of a run).
    Flush,
    /// Local (coordinator): the session with a node closed.
    Down {
        /// `ractor_cluster`'s id of the node session.
        node_id: u64,
    },
}

const VARIANT: &str = "vecsim";

impl Message for HubMsg {
    fn serializable() -> bool {
        true
    }

    fn serialize(self) -> Result<SerializedMessage, BoxedDowncastErr> {
        match self {
            HubMsg::Net(w) => {
                let args = codec::encode(&w).map_err(|_| BoxedDowncastErr)?;
                Ok(SerializedMessage::Cast { variant: VARIANT.into(), args, metadata: None })
            }
            _ => Err(BoxedDowncastErr),
        }
    }

    fn deserialize(m: SerializedMessage) -> Result<HubMsg, BoxedDowncastErr> {
        match m {
            SerializedMessage::Cast { args, .. } => Ok(match codec::decode::<Wire>(&args) {
                Ok(w) => HubMsg::Net(w),
                Err(e) => HubMsg::Garbled(e.to_string()),
            }),
            _ => Err(BoxedDowncastErr),
        }
    }
}

/// A stand-in for an actor of another process: a local actor of the message type the protocol
/// expects (`ActorRef<RsuMsg>`, `ActorRef<ClockMsg>`, `ActorRef<PoolMsg>`) that hands what it
/// is sent to `forward`, in the order it was sent.
pub(crate) struct StandIn<M>(std::marker::PhantomData<fn() -> M>);

impl<M> StandIn<M> {
    pub(crate) fn new() -> StandIn<M> {
        StandIn(std::marker::PhantomData)
    }
}

/// What a stand-in does with a message (`Err`: the stand-in stops with that error).
pub(crate) type Forward<M> = Box<dyn FnMut(M) -> Result<(), HubError> + Send + 'static>;

impl<M: Message> ractor::Actor for StandIn<M> {
    type Msg = M;
    type State = Forward<M>;
    type Arguments = Forward<M>;

    async fn pre_start(&self, _: ractor::ActorRef<M>, f: Forward<M>) -> Result<Forward<M>, ractor::ActorProcessingErr> {
        Ok(f)
    }

    async fn handle(&self, _: ractor::ActorRef<M>, m: M, f: &mut Forward<M>) -> Result<(), ractor::ActorProcessingErr> {
        f(m).map_err(Into::into)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ractor::{Actor, ActorRef};
    use std::sync::Arc;
    use vecsim_actors::protocol::{JointShares, PoolGlobal, Resolver, SlotCtx};
    use vecsim_core::ids::{RsuId, TaskId};
    use vecsim_core::outcome::{Outcome, TaskResult};
    use vecsim_core::policy::intent::Intent;
    use vecsim_core::policy::{Feedback, Share};
    use vecsim_core::rsu::LoadSummary;
    use vecsim_core::slot::ExecTask;
    use vecsim_core::task::{Task, UploadedTask};
    use vecsim_core::vehicle::UploadMsg;

    /// The receiving process of the test: its own clock and pool (stand-ins that drop what
    /// they are sent), and a "decoder" of shares that keeps their bytes as a `Vec<u8>` share.
    struct Far {
        clock: ActorRef<ClockMsg>,
        pool: ActorRef<PoolMsg>,
        last: Option<Arc<Vec<Option<Share>>>>,
    }

    impl Resolver for Far {
        type Error = HubError;
        fn ctx(&mut self, slot: u32, up: Vec<bool>) -> Arc<SlotCtx> {
            Arc::new(SlotCtx { slot, up, rsus: Vec::new(), clock: self.clock.clone() })
        }
        fn pool(&mut self) -> Result<ActorRef<PoolMsg>, HubError> {
            Ok(self.pool.clone())
        }
        fn shares(&mut self, encoded: Option<Vec<Option<Vec<u8>>>>) -> Result<Arc<Vec<Option<Share>>>, HubError> {
            match encoded {
                Some(list) => {
                    let decoded = Arc::new(list.into_iter().map(|b| b.map(|b| Arc::new(b) as Share)).collect());
                    self.last = Some(Arc::clone(&decoded));
                    Ok(decoded)
                }
                None => self.last.clone().ok_or_else(|| HubError::from("nothing sent yet")),
            }
        }
    }

    /// The variant's name; exhaustive, so that a new message cannot be left out of the test.
    fn variant(m: &RsuMsg) -> &'static str {
        match m {
            RsuMsg::Begin { .. } => "Begin",
            RsuMsg::Upload(_) => "Upload",
            RsuMsg::CloseUploads { .. } => "CloseUploads",
            RsuMsg::DecideInTurn { .. } => "DecideInTurn",
            RsuMsg::Decide { .. } => "Decide",
            RsuMsg::Dispatch { .. } => "Dispatch",
            RsuMsg::Migrated { .. } => "Migrated",
            RsuMsg::Execute { .. } => "Execute",
            RsuMsg::Feedback { .. } => "Feedback",
            RsuMsg::Joint { .. } => "Joint",
            RsuMsg::PoolRound { .. } => "PoolRound",
            RsuMsg::PoolGlobal(_) => "PoolGlobal",
        }
    }

    /// Through the hub's codec, as a message to RSU 2, and resolved on the far side.
    fn cross(msg: RsuMsg, far: &mut Far) -> RsuMsg {
        let m = HubMsg::Net(Wire::Rsu { rsu: 2, msg }).serialize().expect("encodes");
        let HubMsg::Net(Wire::Rsu { rsu: 2, mut msg }) = HubMsg::deserialize(m).unwrap() else {
            panic!("not the message sent")
        };
        msg.resolve(far).expect("resolves");
        msg
    }

    #[tokio::test]
    async fn every_message_to_an_rsu_crosses_as_it_is_and_is_resolved_on_the_far_side() {
        let drop_all = || -> Forward<ClockMsg> { Box::new(|_| Ok(())) };
        let (near_clock, _) = Actor::spawn(None, StandIn::<ClockMsg>::new(), drop_all()).await.unwrap();
        let (far_clock, _) = Actor::spawn(None, StandIn::<ClockMsg>::new(), drop_all()).await.unwrap();
        let (near_pool, _) =
            Actor::spawn(None, StandIn::<PoolMsg>::new(), Box::new(|_| Ok(())) as Forward<PoolMsg>).await.unwrap();
        let (far_pool, _) =
            Actor::spawn(None, StandIn::<PoolMsg>::new(), Box::new(|_| Ok(())) as Forward<PoolMsg>).await.unwrap();
        let mut far = Far { clock: far_clock.clone(), pool: far_pool.clone(), last: None };

        let x = 0.1 + 0.2; // not a short decimal: crosses bit for bit or not at all
        let task =
            Task { id: TaskId { slot: 5, vehicle: 9 }, data_bits: 8e5 * x, cycles_per_bit: 500.0, deadline_s: x };
        let up = UploadedTask { task, uploader: RsuId(2), distance_m: x, upload_s: x, upload_extra_s: 0.0 };
        let ctx =
            Arc::new(SlotCtx { slot: 5, up: vec![true, false, true], rsus: Vec::new(), clock: near_clock.clone() });
        let shares: Arc<Vec<Option<Share>>> = Arc::new(vec![Some(Arc::new(EncodedShare(vec![1, 2, 3]))), None]);
        let summary = LoadSummary { uploaded_load: x, uploaded_tasks: 1, free_cpu_hz: f64::NAN, available: true };
        let fb = Feedback {
            rsu: RsuId(2),
            slot: 5,
            reward: x,
            potential: -0.0,
            difference: f64::INFINITY,
            completion_rate: Some(x),
            done: true,
        };
        let sent = vec![
            RsuMsg::Begin { slot: 5, ack: true },
            RsuMsg::Upload(UploadMsg { task, rsu: RsuId(2), distance_m: x, extra_latency_s: 0.0 }),
            RsuMsg::CloseUploads { expected: 3, ctx: ctx.clone().into() },
            RsuMsg::DecideInTurn {
                summaries: Arc::new(vec![summary; 2]),
                before: Arc::new(vec![Intent { sends: vec![(RsuId(1), x, 2)] }, Intent::default()]),
            },
            RsuMsg::Decide { summaries: Arc::new(vec![summary; 3]), send_uploads: true, decided: false },
            RsuMsg::Dispatch { decisions: Some(vec![RsuId(0), RsuId(2)]) },
            RsuMsg::Migrated {
                from: RsuId(0),
                tasks: vec![ExecTask { up, executor: RsuId(2), wired_s: x, wired_extra_s: 0.0 }],
            },
            RsuMsg::Execute { batches: 2 },
            RsuMsg::Feedback { fb, ack: true, share: true },
            RsuMsg::Joint { shares: JointShares::Here(shares.clone()), ack: false },
            RsuMsg::Joint { shares: JointShares::LastSent, ack: true },
            RsuMsg::PoolRound { round: 4, pool: Some(near_pool.clone()) },
            RsuMsg::PoolGlobal(PoolGlobal { round: 4, bytes: Arc::new(vec![0, 255, 7]) }),
        ];
        let mut seen = std::collections::BTreeSet::new();
        let mut first_joint = None;
        for msg in sent {
            seen.insert(variant(&msg));
            let before = format!("{msg:?}");
            let asked = msg.expects();
            let got = cross(msg, &mut far);
            assert_eq!(got.expects(), asked, "{before}");
            match &got {
                // The context is the far side's, with the values that crossed.
                RsuMsg::CloseUploads { expected: 3, ctx: c } => {
                    let c = c.get().expect("resolved");
                    assert_eq!((c.slot, c.up.clone()), (5, vec![true, false, true]));
                    assert_eq!(c.clock.get_id(), far_clock.get_id());
                }
                // The shares are the far side's decoding of the bytes sent; `LastSent` recalls
                // the same record, which crossed once.
                RsuMsg::Joint { shares: s, .. } => {
                    let s = s.get().expect("resolved");
                    let bytes = s[0].as_ref().and_then(|b| b.downcast_ref::<Vec<u8>>()).cloned();
                    assert_eq!((bytes, s.len(), s[1].is_none()), (Some(vec![1, 2, 3]), 2, true));
                    match &first_joint {
                        None => first_joint = Some(s.clone()),
                        Some(f) => assert!(Arc::ptr_eq(f, s), "LastSent is the record already sent"),
                    }
                }
                // The pool is the far side's own.
                RsuMsg::PoolRound { round: 4, pool: Some(p) } => assert_eq!(p.get_id(), far_pool.get_id()),
                // Values only: the same message, every float bit for bit (`Debug` prints the
                // shortest decimal that reads back to the same bits).
                other => assert_eq!(format!("{other:?}"), before),
            }
        }
        assert_eq!(seen.len(), 12, "every variant of RsuMsg crossed: {seen:?}");
        // A share that no node encoded does not cross; a context that came from another process
        // is unresolved until `resolve` (an RSU actor refuses it).
        let raw =
            RsuMsg::Joint { shares: JointShares::Here(Arc::new(vec![Some(Arc::new(5u32) as Share)])), ack: false };
        assert!(HubMsg::Net(Wire::Rsu { rsu: 0, msg: raw }).serialize().is_err());
        let m = HubMsg::Net(Wire::Rsu { rsu: 0, msg: RsuMsg::CloseUploads { expected: 0, ctx: ctx.into() } });
        let HubMsg::Net(Wire::Rsu { msg: RsuMsg::CloseUploads { ctx, .. }, .. }) =
            HubMsg::deserialize(m.serialize().unwrap()).unwrap()
        else {
            panic!("not the message sent")
        };
        assert!(ctx.get().is_none(), "a context from another process must be resolved before delivery");
        for a in [near_clock, far_clock] {
            a.stop(None);
        }
        for a in [near_pool, far_pool] {
            a.stop(None);
        }
    }

    #[test]
    fn a_wire_message_round_trips_through_the_codec_bit_for_bit() {
        let r = TaskResult::early(TaskId { slot: 3, vehicle: 7 }, Some(RsuId(2)), 0.1 + 0.2, Outcome::Uncovered);
        let w = Wire::Clock(ClockMsg::Executed { rsu: RsuId(2), results: vec![r] });
        let m = HubMsg::Net(w).serialize().unwrap();
        let HubMsg::Net(Wire::Clock(ClockMsg::Executed { rsu, results })) = HubMsg::deserialize(m).unwrap() else {
            panic!("not the message sent")
        };
        assert_eq!(rsu, RsuId(2));
        assert_eq!(results[0].upload_s.to_bits(), (0.1f64 + 0.2).to_bits());
        assert!(results[0].service_s.is_nan());
        let back = Wire::Policies { run: 7, node: 1, policies: Ok(vec![(2, vec![0, 255, 7])]) };
        let m = HubMsg::Net(back).serialize().unwrap();
        let HubMsg::Net(Wire::Policies { run: 7, node: 1, policies: Ok(p) }) = HubMsg::deserialize(m).unwrap() else {
            panic!("not the policies sent")
        };
        assert_eq!(p, vec![(2, vec![0, 255, 7])]);
        // A share of the joint record crosses as its bytes; one not encoded does not cross.
        let share = Some(Arc::new(EncodedShare(vec![9, 8, 7])) as Share);
        let m = HubMsg::Net(Wire::Clock(ClockMsg::Shared { rsu: RsuId(1), share })).serialize().unwrap();
        let HubMsg::Net(Wire::Clock(ClockMsg::Shared { rsu: RsuId(1), share: Some(s) })) =
            HubMsg::deserialize(m).unwrap()
        else {
            panic!("not the share sent")
        };
        assert_eq!(s.downcast_ref::<EncodedShare>().map(|b| b.0.clone()), Some(vec![9, 8, 7]));
        let raw = Some(Arc::new(5u32) as Share);
        assert!(HubMsg::Net(Wire::Clock(ClockMsg::Shared { rsu: RsuId(1), share: raw })).serialize().is_err());
        // The pool's answers and a vehicle's answer, as they are.
        let m = HubMsg::Net(Wire::Pool(PoolMsg::Skip { round: 4, from: 2 })).serialize().unwrap();
        assert!(matches!(HubMsg::deserialize(m), Ok(HubMsg::Net(Wire::Pool(PoolMsg::Skip { round: 4, from: 2 })))));
        let garbled = SerializedMessage::Cast { variant: VARIANT.into(), args: vec![200, 1], metadata: None };
        assert!(matches!(HubMsg::deserialize(garbled), Ok(HubMsg::Garbled(_))));
    }
}
