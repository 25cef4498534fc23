//! A vehicle's part of a slot: move, maybe draw a task, upload it to the nearest RSU.

use crate::fault::{Delivery, FaultPlan};
use crate::geometry::Point;
use crate::ids::{RsuId, TaskId, VehicleId};
use crate::mobility::VehiclePath;
use crate::outcome::{DropCause, Outcome, TaskResult};
use crate::rng::{self, Domain, SimRng};
use crate::scenario::{RsuSpec, TaskConfig};
use crate::task::Task;
use std::sync::Arc;

/// What a vehicle did in a slot.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum VehicleEmit {
    /// Present, no task this slot.
    Idle,
    /// Its task ended before reaching an RSU (uncovered, dropout, lost upload).
    Ended(TaskResult),
    /// Its task goes to `rsu`.
    Upload(UploadMsg),
}

/// A V2I upload on its way to an RSU. The RSU computes the upload time when it knows how many
/// vehicles share its channel in the slot.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct UploadMsg {
    /// The task being uploaded.
    pub task: Task,
    /// The RSU it is uploaded to (the nearest one in range and up).
    pub rsu: RsuId,
    /// Vehicle–RSU distance, metres.
    pub distance_m: f64,
    /// Injected V2I latency, seconds.
    pub extra_latency_s: f64,
}

/// The nearest RSU whose range covers `p` among those up; ties go to the lower id.
pub fn nearest_rsu(p: Point, rsus: &[RsuSpec], up: &[bool]) -> Option<(RsuId, f64)> {
    let mut best: Option<(RsuId, f64)> = None;
    for r in rsus {
        if !up[r.id.index()] {
            continue;
        }
        let d = p.distance(r.pos);
        if d <= r.range_m && best.is_none_or(|(_, b)| d < b) {
            best = Some((r.id, d));
        }
    }
    best
}

/// One vehicle: its path and its own random streams.
#[derive(Clone, Debug)]
pub struct Vehicle {
    /// The vehicle's dense id.
    pub id: VehicleId,
    /// Its position over simulated time (shared with the fleet).
    pub path: Arc<VehiclePath>,
    tasks_rng: SimRng,
    dropout_rng: SimRng,
    upload_rng: SimRng,
}

impl Vehicle {
    /// Vehicle `id` on `path`, its task, dropout and upload streams derived from `(seed, id)`.
    pub fn new(id: VehicleId, path: Arc<VehiclePath>, seed: u64) -> Vehicle {
        let i = id.0 as u64;
        Vehicle {
            id,
            path,
            tasks_rng: rng::stream(seed, Domain::VehicleTasks, i),
            dropout_rng: rng::stream(seed, Domain::FaultVehicle, i),
            upload_rng: rng::stream(seed, Domain::FaultUpload, i),
        }
    }

    /// Position at the start of `slot`, or `None` when the vehicle is not in the scenario.
    pub fn position(&self, slot: u32, slot_s: f64) -> Option<Point> {
        self.path.position_at(slot as f64 * slot_s)
    }

    /// The vehicle's step in `slot`, given where it is. `rsu_up[e]` says which RSUs are up.
    pub fn step(
        &mut self,
        slot: u32,
        pos: Point,
        tasks: &TaskConfig,
        rsus: &[RsuSpec],
        rsu_up: &[bool],
        faults: &FaultPlan,
    ) -> VehicleEmit {
        let id = TaskId { slot, vehicle: self.id.0 };
        let Some(task) = tasks.draw(&mut self.tasks_rng, id) else {
            return VehicleEmit::Idle;
        };
        if faults.vehicle_drops(&mut self.dropout_rng) {
            return VehicleEmit::Ended(TaskResult::early(id, None, 0.0, Outcome::Dropped(DropCause::VehicleDropout)));
        }
        let Some((rsu, distance_m)) = nearest_rsu(pos, rsus, rsu_up) else {
            return VehicleEmit::Ended(TaskResult::early(id, None, 0.0, Outcome::Uncovered));
        };
        match faults.upload(&mut self.upload_rng) {
            // A task lost on its way up was covered and failed: it counts against the RSU it was
            // sent to (SPEC §2: the completion rate is over covered tasks).
            Delivery::Lost => {
                VehicleEmit::Ended(TaskResult::early(id, Some(rsu), 0.0, Outcome::Dropped(DropCause::MessageLost)))
            }
            Delivery::Delivered { extra_s } => {
                VehicleEmit::Upload(UploadMsg { task, rsu, distance_m, extra_latency_s: extra_s })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rsu(id: u32, x: f64) -> RsuSpec {
        RsuSpec { id: RsuId(id), pos: Point::new(x, 0.0), cpu_hz: 1e9, bandwidth_bps: 1e6, range_m: 500.0 }
    }

    #[test]
    fn nearest_in_range_with_ties_to_lower_id() {
        let rsus = [rsu(0, 0.0), rsu(1, 600.0), rsu(2, 2000.0)];
        let up = [true, true, true];
        assert_eq!(nearest_rsu(Point::new(250.0, 0.0), &rsus, &up), Some((RsuId(0), 250.0)));
        assert_eq!(nearest_rsu(Point::new(300.0, 0.0), &rsus, &up), Some((RsuId(0), 300.0)));
        assert_eq!(nearest_rsu(Point::new(400.0, 0.0), &rsus, &up), Some((RsuId(1), 200.0)));
        assert_eq!(nearest_rsu(Point::new(1300.0, 0.0), &rsus, &up), None);
        // RSU 0 down: re-home to the next RSU in range.
        assert_eq!(nearest_rsu(Point::new(250.0, 0.0), &rsus, &[false, true, true]), Some((RsuId(1), 350.0)));
        assert_eq!(nearest_rsu(Point::new(50.0, 0.0), &rsus, &[false, true, true]), None);
    }
}
