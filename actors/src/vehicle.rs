//! The vehicle actor: one per vehicle, alive while the vehicle is in the scenario.
//!
//! Its state is the core's [`Vehicle`] (id, an `Arc` of its path, its own random streams) and
//! an `Arc` of the shared, read-only [`World`]: a few hundred bytes per actor, nothing copied
//! per vehicle.

use crate::protocol::{ClockMsg, RsuMsg, Stepped, VehicleMsg};
use crate::World;
use ractor::{Actor, ActorProcessingErr, ActorRef};
use std::sync::Arc;
use vecsim_core::vehicle::{Vehicle, VehicleEmit};

/// The vehicle actor.
pub struct VehicleActor;

/// A vehicle actor's state: the core's vehicle and the shared world.
pub struct VehicleState {
    vehicle: Vehicle,
    world: Arc<World>,
}

impl Actor for VehicleActor {
    type Msg = VehicleMsg;
    type State = VehicleState;
    type Arguments = (Vehicle, Arc<World>);

    async fn pre_start(
        &self,
        _me: ActorRef<VehicleMsg>,
        (vehicle, world): Self::Arguments,
    ) -> Result<VehicleState, ActorProcessingErr> {
        Ok(VehicleState { vehicle, world })
    }

    async fn handle(
        &self,
        me: ActorRef<VehicleMsg>,
        msg: VehicleMsg,
        st: &mut VehicleState,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            VehicleMsg::Step(ctx) => {
                let w = &*st.world;
                let s = &w.scenario;
                let what = match st.vehicle.advance(ctx.slot, w.clock.slot_s, &s.tasks, &w.specs, &ctx.up, &s.faults) {
                    None => Stepped::Absent,
                    Some(VehicleEmit::Idle) => Stepped::Idle,
                    Some(VehicleEmit::Ended(r)) => Stepped::Ended(Box::new(r)),
                    Some(VehicleEmit::Upload(m)) => {
                        let e = m.rsu;
                        ctx.rsus[e.index()].send_message(RsuMsg::Upload(m)).map_err(|e| format!("upload: {e}"))?;
                        Stepped::Uploaded(e)
                    }
                };
                ctx.clock
                    .send_message(ClockMsg::Stepped { vehicle: st.vehicle.id, slot: ctx.slot, what })
                    .map_err(|e| format!("step reply: {e}"))?;
            }
            VehicleMsg::Leave(reply) => {
                // The answer may find nobody waiting (the node's run ended): nothing to do then.
                let _ = reply.send(st.vehicle.handover());
                me.stop(None);
            }
        }
        Ok(())
    }
}
