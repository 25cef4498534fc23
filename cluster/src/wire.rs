//! What crosses processes: the slot protocol's messages ([`vecsim_actors::protocol`]) in a
//! serialisable form, encoded with the project's codec ([`vecsim_core::codec`], bincode 2) and
//! carried by `ractor_cluster` as one cast to the receiving process's hub actor.
//!
//! Only values cross: an `Arc<SlotCtx>` becomes its slot and up-mask (the receiver rebuilds the
//! context with its own actor table), an actor reference becomes nothing (the receiver knows
//! its own stand-ins), shared buffers become owned ones. Floats are encoded bit for bit, so a
//! value decoded on the other side is the value that was sent.

use crate::error::HubError;
use ractor::message::{BoxedDowncastErr, SerializedMessage};
use ractor::Message;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
pub use vecsim_actors::protocol::EncodedShare;
use vecsim_actors::protocol::{ClockMsg, FleetMsg, PoolGlobal, PoolMsg, RsuMsg, SlotCtx, Stepped};
use vecsim_core::codec;
use vecsim_core::ids::{RsuId, VehicleId};
use vecsim_core::mobility::VehiclePath;
use vecsim_core::policy::{Feedback, Share};
use vecsim_core::rsu::LoadSummary;
use vecsim_core::slot::ExecTask;
use vecsim_core::vehicle::{UploadMsg, VehicleHandover};

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

/// A message between the coordinator and a node. The answers to the clock and to the pool are
/// the protocol's own messages ([`ClockMsg`], [`PoolMsg`]); the messages to an RSU cross as
/// [`RsuWire`] (they hold actor references and the slot's context, which the receiver rebuilds).
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
        /// The message.
        msg: RsuWire,
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

/// [`RsuMsg`] as it crosses processes.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[allow(missing_docs)]
pub enum RsuWire {
    Begin {
        slot: u32,
        ack: bool,
    },
    Upload(UploadMsg),
    CloseUploads {
        expected: u32,
        slot: u32,
        up: Vec<bool>,
    },
    Decide {
        summaries: Vec<LoadSummary>,
        send_uploads: bool,
    },
    Dispatch {
        decisions: Option<Vec<RsuId>>,
    },
    Migrated {
        from: RsuId,
        tasks: Vec<ExecTask>,
    },
    Execute {
        batches: u32,
    },
    Feedback {
        fb: Feedback,
        ack: bool,
        share: bool,
    },
    /// The slot's shares, encoded, by RSU id; `None`: the ones last sent to this node (every
    /// RSU of a node gets the same, which crosses once).
    Joint {
        shares: Option<Vec<Option<Vec<u8>>>>,
        ack: bool,
    },
    PoolRound {
        round: u64,
    },
    PoolGlobal {
        round: u64,
        bytes: Vec<u8>,
    },
}

impl RsuWire {
    /// The wire form of `m`. The shares of a `Joint` must be [`EncodedShare`]s (as the
    /// coordinator holds them); `joint_sent` says this node already has them.
    pub fn from_msg(m: RsuMsg) -> Result<RsuWire, HubError> {
        Self::from_msg_with(m, false)
    }

    /// [`RsuWire::from_msg`], sending a `Joint`'s shares only when `joint_sent` is false.
    pub fn from_msg_with(m: RsuMsg, joint_sent: bool) -> Result<RsuWire, HubError> {
        Ok(match m {
            RsuMsg::Begin { slot, ack } => RsuWire::Begin { slot, ack },
            RsuMsg::Upload(u) => RsuWire::Upload(u),
            RsuMsg::CloseUploads { expected, ctx } => {
                RsuWire::CloseUploads { expected, slot: ctx.slot, up: ctx.up.clone() }
            }
            RsuMsg::Decide { summaries, send_uploads } => {
                RsuWire::Decide { summaries: summaries.as_ref().clone(), send_uploads }
            }
            RsuMsg::Dispatch { decisions } => RsuWire::Dispatch { decisions },
            RsuMsg::Migrated { from, tasks } => RsuWire::Migrated { from, tasks },
            RsuMsg::Execute { batches } => RsuWire::Execute { batches },
            RsuMsg::Feedback { fb, ack, share } => RsuWire::Feedback { fb, ack, share },
            RsuMsg::Joint { shares, ack } => {
                let shares = if joint_sent {
                    None
                } else {
                    let bytes = shares.iter().map(|s| match s {
                        None => Ok(None),
                        Some(s) => s
                            .downcast_ref::<EncodedShare>()
                            .map(|b| Some(b.0.clone()))
                            .ok_or_else(|| HubError::from("a share that was not encoded by a node")),
                    });
                    Some(bytes.collect::<Result<Vec<_>, HubError>>()?)
                };
                RsuWire::Joint { shares, ack }
            }
            RsuMsg::PoolRound { round, pool: _ } => RsuWire::PoolRound { round },
            RsuMsg::PoolGlobal(g) => RsuWire::PoolGlobal { round: g.round, bytes: g.bytes.as_ref().clone() },
        })
    }

    /// Back to an [`RsuMsg`] in the receiving process: `ctx` builds the slot's context from the
    /// slot and up-mask, `pool` is the local stand-in of the VEC POOL, `joint` decodes a
    /// `Joint`'s shares (or recalls the ones last decoded).
    pub fn into_msg(
        self,
        ctx: impl FnOnce(u32, Vec<bool>) -> Arc<SlotCtx>,
        pool: impl FnOnce() -> Option<ractor::ActorRef<PoolMsg>>,
        joint: impl FnOnce(Option<Vec<Option<Vec<u8>>>>) -> Result<Arc<Vec<Option<Share>>>, HubError>,
    ) -> Result<RsuMsg, HubError> {
        Ok(match self {
            RsuWire::Begin { slot, ack } => RsuMsg::Begin { slot, ack },
            RsuWire::Upload(u) => RsuMsg::Upload(u),
            RsuWire::CloseUploads { expected, slot, up } => RsuMsg::CloseUploads { expected, ctx: ctx(slot, up) },
            RsuWire::Decide { summaries, send_uploads } => {
                RsuMsg::Decide { summaries: Arc::new(summaries), send_uploads }
            }
            RsuWire::Dispatch { decisions } => RsuMsg::Dispatch { decisions },
            RsuWire::Migrated { from, tasks } => RsuMsg::Migrated { from, tasks },
            RsuWire::Execute { batches } => RsuMsg::Execute { batches },
            RsuWire::Feedback { fb, ack, share } => RsuMsg::Feedback { fb, ack, share },
            RsuWire::Joint { shares, ack } => RsuMsg::Joint { shares: joint(shares)?, ack },
            RsuWire::PoolRound { round } => {
                RsuMsg::PoolRound { round, pool: pool().ok_or("a pool round without a VEC POOL")? }
            }
            RsuWire::PoolGlobal { round, bytes } => RsuMsg::PoolGlobal(PoolGlobal { round, bytes: Arc::new(bytes) }),
        })
    }
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
    use vecsim_core::ids::TaskId;
    use vecsim_core::outcome::{Outcome, TaskResult};

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
