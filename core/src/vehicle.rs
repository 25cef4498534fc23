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

/// A vehicle in transit between processes: its id and the position of each of its random
/// streams (ChaCha word positions; the streams themselves follow from the seed and the id).
/// 52 bytes, whatever the vehicle has drawn so far.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct VehicleHandover {
    /// The vehicle.
    pub id: VehicleId,
    /// Word position of its task stream.
    pub tasks_word: u128,
    /// Word position of its dropout stream.
    pub dropout_word: u128,
    /// Word position of its upload stream.
    pub upload_word: u128,
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

    /// The vehicle's whole part of `slot` (slots `slot_s` seconds long): `None` when it is not
    /// in the scenario at the slot's start (it draws nothing then), otherwise [`Vehicle::step`]
    /// at its position. Every engine steps vehicles through this, so a vehicle replayed
    /// elsewhere (a cluster recovering the vehicles of a lost node) draws exactly what it drew.
    #[allow(clippy::too_many_arguments)]
    pub fn advance(
        &mut self,
        slot: u32,
        slot_s: f64,
        tasks: &TaskConfig,
        rsus: &[RsuSpec],
        rsu_up: &[bool],
        faults: &FaultPlan,
    ) -> Option<VehicleEmit> {
        let pos = self.position(slot, slot_s)?;
        Some(self.step(slot, pos, tasks, rsus, rsu_up, faults))
    }

    /// What another process needs to carry on with this vehicle (with its path and the
    /// scenario's seed): where each of its random streams stands.
    pub fn handover(&self) -> VehicleHandover {
        VehicleHandover {
            id: self.id,
            tasks_word: self.tasks_rng.get_word_pos(),
            dropout_word: self.dropout_rng.get_word_pos(),
            upload_word: self.upload_rng.get_word_pos(),
        }
    }

    /// The vehicle `h` describes, on `path`, in a run seeded `seed`: it draws from here on
    /// exactly what the vehicle it was taken from would have drawn.
    pub fn resume(h: &VehicleHandover, path: Arc<VehiclePath>, seed: u64) -> Vehicle {
        let mut v = Vehicle::new(h.id, path, seed);
        v.tasks_rng.set_word_pos(h.tasks_word);
        v.dropout_rng.set_word_pos(h.dropout_word);
        v.upload_rng.set_word_pos(h.upload_word);
        v
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

    /// A vehicle handed over after any slot goes on drawing what the original draws: same
    /// tasks, same dropouts, same upload faults (all three streams in use).
    #[test]
    fn a_resumed_vehicle_draws_what_the_original_draws() {
        let text = format!(
            "{}\n[faults]\nvehicle_dropout = 0.2\nloss.upload = 0.2\nlatency.upload = {{ kind = \"fixed\", s = 0.01 }}\n",
            crate::scenario::tests::MINIMAL
        );
        let sc = crate::Scenario::parse(&text).unwrap();
        let rsus = sc.rsu_specs();
        let path = Arc::new(VehiclePath::Linear {
            enter_s: 0.0,
            exit_s: 1e6,
            start: Point::new(10.0, 0.0),
            velocity_mps: (20.0, 0.0),
        });
        let up = vec![true; rsus.len()];
        let run = |v: &mut Vehicle, slots: std::ops::Range<u32>| -> Vec<Option<VehicleEmit>> {
            slots.map(|t| v.advance(t, 1.0, &sc.tasks, &rsus, &up, &sc.faults)).collect()
        };
        let mut whole = Vehicle::new(VehicleId(3), path.clone(), 11);
        let all = run(&mut whole, 0..60);
        assert!(all.iter().filter(|e| matches!(e, Some(VehicleEmit::Upload(_)))).count() > 3);
        assert!(all.iter().filter(|e| matches!(e, Some(VehicleEmit::Ended(_)))).count() > 1);
        for cut in [0, 1, 17, 59] {
            let mut first = Vehicle::new(VehicleId(3), path.clone(), 11);
            let mut got = run(&mut first, 0..cut);
            let h = first.handover();
            let mut second = Vehicle::resume(&h, path.clone(), 11);
            assert_eq!(second.handover(), h);
            got.extend(run(&mut second, cut..60));
            // Compared as text: an early result's unset times are NaN, which `==` never equals.
            assert_eq!(format!("{got:?}"), format!("{all:?}"), "handed over after slot {cut}");
        }
        // Not in the scenario: nothing drawn.
        let mut v = Vehicle::new(VehicleId(3), path, 11);
        assert!(v.advance(0, 1.0, &sc.tasks, &rsus, &up, &sc.faults).is_some());
        let before = v.handover();
        let gone = Arc::new(VehiclePath::Linear {
            enter_s: 5.0,
            exit_s: 6.0,
            start: Point::new(0.0, 0.0),
            velocity_mps: (0.0, 0.0),
        });
        let mut w = Vehicle::resume(&before, gone, 11);
        assert_eq!(w.advance(1, 1.0, &sc.tasks, &rsus, &up, &sc.faults), None);
        assert_eq!(w.handover(), before);
    }
}
