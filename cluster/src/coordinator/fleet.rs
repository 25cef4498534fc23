//! Where the vehicle actors live on a cluster, and how they move.
//!
//! A vehicle is **homed** on the node hosting the RSU nearest to it (by distance, whatever the
//! RSU's range; ties to the lower id; only nodes still connected count): its actor runs there,
//! so most uploads stay inside one process. Homes follow the paths, which the coordinator knows
//! ahead of time: in slot `t` the hub already knows each vehicle's home in `t + 1`, so a vehicle
//! whose home changes is told to leave with its step of slot `t` (`VehicleStep::depart`); its
//! node answers with where its random streams stand ([`VehicleHandover`], 52 bytes) and the
//! vehicle is spawned on its new node with the next slot's step (**handover**). No extra round
//! trip, and nothing of a vehicle but its streams' positions and its path crosses processes.
//!
//! Phase 1 waits for the slot's `Begin` to have gone to every RSU (the clock sends them
//! through separate stand-ins): a node steps its vehicles only after it has handed `Begin` to
//! its RSUs, and an upload relayed to another node follows that node's `Begin` too.
//!
//! A lost node loses its vehicle actors, not its vehicles: a vehicle draws only from its own
//! streams, so the hub **replays** it from its first slot with the up-masks of the slots it
//! lived through ([`Vehicle::advance`], which every engine steps vehicles with) and gets
//! exactly the vehicle that was lost. If the node still owed the current slot's answers, the
//! replay gives them (and its upload, if it never reached its RSU); the vehicle then moves to
//! its home among the nodes left. Every task is still generated exactly as in one process.

use super::nearest::NearestRsu;
use super::{node_lost, CoordState};
use crate::error::{protocol, HubError};
use crate::wire::HubMsg;
use crate::wire::{VehicleStep, VehicleWire, VehiclesStepped, Wire};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use vecsim_actors::protocol::{ClockMsg, RsuMsg, SlotCtx, Stepped};
use vecsim_core::geometry::Point;
use vecsim_core::ids::{RsuId, TaskId, VehicleId};
use vecsim_core::mobility::VehiclePath;
use vecsim_core::scenario::RsuSpec;
use vecsim_core::vehicle::{Vehicle, VehicleEmit, VehicleHandover};
use vecsim_core::Scenario;

/// The clock's phase 1 of a slot: its context and the arrivals `(vehicle, last slot)`.
type HeldStep = (Arc<SlotCtx>, Vec<(VehicleId, u32)>);

/// A live vehicle as the hub tracks it.
#[derive(Debug)]
struct Tracked {
    /// Its first and last slot.
    first: u32,
    last: u32,
    /// The node hosting it; `None` between nodes (new, handed over, recovered).
    at: Option<usize>,
    /// Where its streams stand while it is between nodes (`None` for a new vehicle).
    state: Option<VehicleHandover>,
    /// The next slot it steps in (it has stepped in every earlier slot of its life).
    next: u32,
    /// It leaves `at` after its step in the current slot.
    leaving: bool,
}

/// The hub's view of every vehicle (see the module's documentation).
pub(super) struct Fleet {
    scenario: Arc<Scenario>,
    specs: Vec<RsuSpec>,
    /// Slot length, seconds.
    slot_s: f64,
    /// Every vehicle's path, by id.
    paths: Vec<Arc<VehiclePath>>,
    live: BTreeMap<VehicleId, Tracked>,
    /// The up-mask of every slot so far (to replay a lost node's vehicles); consecutive equal
    /// masks share one allocation.
    ups: Vec<Arc<Vec<bool>>>,
    /// The clock's phase 1, held until every RSU has been sent the slot's `Begin`.
    held: Option<HeldStep>,
    /// `(slot, RSUs sent its Begin)`.
    begun: (u32, usize),
    /// The slot of the last phase 1 sent to the nodes.
    step_slot: Option<u32>,
    /// Per node: the slot whose answers it owes, and for which vehicles (in id order).
    awaiting: Vec<Option<(u32, Vec<VehicleId>)>>,
    /// Uploads of the current slot relayed between nodes (or delivered by a recovery).
    relayed: BTreeSet<TaskId>,
    /// Vehicles handed over between nodes so far.
    pub(super) handovers: u64,
    /// Vehicles recovered from lost nodes so far, by node.
    pub(super) recovered: Vec<u64>,
}

impl Fleet {
    pub(super) fn new(scenario: Arc<Scenario>, paths: Vec<Arc<VehiclePath>>, nodes: usize) -> Fleet {
        let specs = scenario.rsu_specs();
        let slot_s = scenario.time.slot_s;
        Fleet {
            scenario,
            specs,
            slot_s,
            paths,
            live: BTreeMap::new(),
            ups: Vec::new(),
            held: None,
            begun: (0, 0),
            step_slot: None,
            awaiting: vec![None; nodes],
            relayed: BTreeSet::new(),
            handovers: 0,
            recovered: vec![0; nodes],
        }
    }
}

/// The fresh vehicle `id`, or the one `state` describes.
fn vehicle(f: &Fleet, id: VehicleId, state: Option<&VehicleHandover>) -> Vehicle {
    let path = f.paths[id.index()].clone();
    match state {
        Some(h) => Vehicle::resume(h, path, f.scenario.seed),
        None => Vehicle::new(id, path, f.scenario.seed),
    }
}

/// The node a vehicle at `pos` is homed on: the node (`owner[e]`) of the RSU nearest to `pos`
/// among those on `alive` nodes (`rsus` indexes exactly those), whatever the RSU's range (ties
/// to the lower RSU id); off the map (`pos` is `None`), `current` if alive, else the first alive
/// node. `None`: no node alive.
fn home(
    pos: Option<Point>,
    rsus: Option<&NearestRsu>,
    owner: &[usize],
    alive: &[bool],
    current: Option<usize>,
) -> Option<usize> {
    let nearest = pos.zip(rsus).and_then(|(p, g)| g.nearest(p)).map(|e| owner[e]);
    nearest.or_else(|| current.filter(|&c| alive[c])).or_else(|| alive.iter().position(|&a| a))
}

impl CoordState {
    /// Node `i` is still connected.
    fn alive(&self, i: usize) -> bool {
        !self.nodes[i].lost
    }

    /// Where vehicle `id` is homed in `slot` ([`home`]), with `rsus` the index of the RSUs on
    /// the `alive` nodes.
    fn home(
        &self,
        id: VehicleId,
        slot: u32,
        current: Option<usize>,
        rsus: Option<&NearestRsu>,
        alive: &[bool],
    ) -> Result<usize, HubError> {
        let f = &self.fleet;
        let pos = f.paths[id.index()].position_at(slot as f64 * f.slot_s);
        home(pos, rsus, &self.a.owner, alive, current)
            .ok_or_else(|| HubError::from("every node was lost: no process left to host the vehicles"))
    }

    /// The clock's phase 1 (through the fleet's stand-in): held until every RSU has been sent
    /// the slot's `Begin`.
    pub(super) fn fleet_step(&mut self, ctx: Arc<SlotCtx>, arrivals: Vec<(VehicleId, u32)>) -> Result<(), HubError> {
        if self.fleet.held.is_some() {
            return Err(protocol!("phase 1 of slot {} before the previous one went out", ctx.slot));
        }
        self.fleet.held = Some((ctx, arrivals));
        self.release_step()
    }

    /// `Begin` of `slot` went to one more RSU.
    pub(super) fn begun(&mut self, slot: u32) -> Result<(), HubError> {
        let b = &mut self.fleet.begun;
        *b = if b.0 == slot { (slot, b.1 + 1) } else { (slot, 1) };
        self.release_step()
    }

    fn release_step(&mut self) -> Result<(), HubError> {
        let n = self.rsus.len();
        match &self.fleet.held {
            Some((ctx, _)) if self.fleet.begun == (ctx.slot, n) => {}
            _ => return Ok(()),
        }
        let (ctx, arrivals) = self.fleet.held.take().expect("checked");
        self.step_vehicles(&ctx, arrivals)
    }

    /// Sends phase 1 of `ctx.slot` to every connected node: who arrives, who leaves after.
    fn step_vehicles(&mut self, ctx: &SlotCtx, arrivals: Vec<(VehicleId, u32)>) -> Result<(), HubError> {
        let t = ctx.slot;
        if self.fleet.ups.len() != t as usize {
            return Err(protocol!("phase 1 of slot {t} after {} slots", self.fleet.ups.len()));
        }
        let up = match self.fleet.ups.last() {
            Some(prev) if **prev == ctx.up => prev.clone(),
            _ => Arc::new(ctx.up.clone()),
        };
        self.fleet.ups.push(up);
        self.fleet.relayed.clear();
        self.fleet.step_slot = Some(t);
        for (id, last) in arrivals {
            if id.index() >= self.fleet.paths.len() {
                return Err(protocol!("vehicle {} is not in the fleet", id.0));
            }
            let v = Tracked { first: t, last, at: None, state: None, next: t, leaving: false };
            self.fleet.live.insert(id, v);
        }
        let nodes = self.nodes.len();
        let mut arrive: Vec<Vec<VehicleWire>> = (0..nodes).map(|_| Vec::new()).collect();
        let mut depart: Vec<Vec<VehicleId>> = vec![Vec::new(); nodes];
        let mut hosted: Vec<Vec<VehicleId>> = vec![Vec::new(); nodes];
        let ids: Vec<VehicleId> = self.fleet.live.keys().copied().collect();
        let alive: Vec<bool> = (0..nodes).map(|i| self.alive(i)).collect();
        let rsus = NearestRsu::new(&self.fleet.specs, |e| alive[self.a.owner[e]]);
        for id in ids {
            let (at, last) = {
                let v = &self.fleet.live[&id];
                (v.at, v.last)
            };
            let at = match at {
                Some(at) => at,
                None => {
                    let to = self.home(id, t, None, rsus.as_ref(), &alive)?;
                    let state = self.fleet.live.get_mut(&id).expect("live").state.take();
                    let handover = state.unwrap_or_else(|| vehicle(&self.fleet, id, None).handover());
                    let path = (*self.fleet.paths[id.index()]).clone();
                    arrive[to].push(VehicleWire { handover, path, last });
                    self.fleet.live.get_mut(&id).expect("live").at = Some(to);
                    to
                }
            };
            hosted[at].push(id);
            if last > t && self.home(id, t + 1, Some(at), rsus.as_ref(), &alive)? != at {
                depart[at].push(id);
                self.fleet.live.get_mut(&id).expect("live").leaving = true;
            }
        }
        let run = self.a.run;
        for (i, ((arrive, depart), hosted)) in arrive.into_iter().zip(depart).zip(hosted).enumerate() {
            if !self.alive(i) {
                continue;
            }
            self.fleet.awaiting[i] = Some((t, hosted));
            let step = VehicleStep { run, slot: t, up: ctx.up.clone(), arrive, depart };
            // A failed send means the session is closing: the `Down` event follows, and the
            // node's vehicles are recovered then.
            let _ = self.a.nodes[i].2.send_message(HubMsg::Net(Wire::Vehicles(Box::new(step))));
        }
        Ok(())
    }

    /// A node's answers to phase 1: on to the clock, one by one; the departed vehicles wait
    /// for the next slot's step on their new node.
    pub(super) fn vehicles_stepped(&mut self, s: VehiclesStepped) -> Result<(), HubError> {
        let node = s.node as usize;
        if node >= self.nodes.len() {
            return Err(protocol!("vehicle answers from node {node}, which is not in the cluster file"));
        }
        if !self.alive(node) {
            return Ok(()); // its vehicles were recovered
        }
        let addr = self.nodes[node].addr.clone();
        let (slot, hosted) =
            self.fleet.awaiting[node].take().ok_or_else(|| protocol!("node {addr} answered for vehicles unasked"))?;
        if s.slot != slot || s.answers.len() != hosted.len() || s.answers.iter().zip(&hosted).any(|(a, h)| a.0 != *h) {
            return Err(protocol!(
                "node {addr} answered slot {} for other vehicles than it hosts in slot {slot}",
                s.slot
            ));
        }
        let n = self.rsus.len();
        for (id, what) in s.answers {
            if let Stepped::Uploaded(e) = &what {
                if e.index() >= n {
                    return Err(protocol!("vehicle {} uploaded to RSU {}, which is not in the scenario", id.0, e.0));
                }
                // If the node hosting `e` is lost, the task counts `node_lost` there.
                let task = TaskId { slot, vehicle: id.0 };
                self.nodes[self.a.owner[e.index()]].held.insert(task, node_lost(task, Some(*e), None));
            }
            let v = self.fleet.live.get_mut(&id).expect("hosted vehicles are live");
            v.next = slot + 1;
            if v.last <= slot {
                self.fleet.live.remove(&id);
            }
            self.tell_clock(ClockMsg::Stepped { vehicle: id, slot, what })?;
        }
        for h in s.departed {
            match self.fleet.live.get_mut(&h.id) {
                Some(v) if v.leaving && v.at == Some(node) => {
                    v.at = None;
                    v.state = Some(h);
                    v.leaving = false;
                    self.fleet.handovers += 1;
                }
                _ => return Err(protocol!("node {addr} handed over vehicle {}, which was not leaving it", h.id.0)),
            }
        }
        if let Some((id, _)) = self.fleet.live.iter().find(|(_, v)| v.leaving && v.at == Some(node)) {
            return Err(protocol!("node {addr} kept vehicle {}, which was to leave it", id.0));
        }
        Ok(())
    }

    /// An upload from a vehicle on one node to an RSU on another: relayed, once.
    pub(super) fn relay_upload(&mut self, dest: usize, u: vecsim_core::vehicle::UploadMsg) -> Result<(), HubError> {
        if self.fleet.step_slot != Some(u.task.id.slot) {
            return Err(protocol!("an upload of slot {} outside its slot", u.task.id.slot));
        }
        if self.fleet.relayed.insert(u.task.id) {
            self.send_rsu(dest, RsuMsg::Upload(u))?;
        }
        Ok(())
    }

    /// Node `node` is lost: every vehicle it hosted is replayed here to where it stood, its
    /// answers of the current slot given if the node still owed them, and it moves to a
    /// connected node with the next step.
    pub(super) fn recover_vehicles(&mut self, node: usize) -> Result<(), HubError> {
        let owed = self.fleet.awaiting[node].take();
        let ids: Vec<VehicleId> =
            self.fleet.live.iter().filter(|(_, v)| v.at == Some(node)).map(|(id, _)| *id).collect();
        // The current slot's uploads are still in flight only while no later slot has begun.
        let current = self.fleet.step_slot.filter(|&s| self.slot == s);
        for id in ids {
            let (first, next) = {
                let v = &self.fleet.live[&id];
                (v.first, v.next)
            };
            let due = owed.as_ref().filter(|(_, hosted)| hosted.binary_search(&id).is_ok()).map(|(s, _)| *s);
            let through = due.map_or(next, |s| s + 1);
            let mut veh = vehicle(&self.fleet, id, None);
            let mut emit = None;
            for s in first..through {
                let f = &self.fleet;
                let up = f.ups.get(s as usize).ok_or_else(|| protocol!("no up-mask for slot {s}"))?;
                let sc = &f.scenario;
                emit = veh.advance(s, f.slot_s, &sc.tasks, &f.specs, up, &sc.faults);
            }
            let stepped_now = through > 0 && current == Some(through - 1);
            if let (true, Some(VehicleEmit::Upload(m))) = (stepped_now, &emit) {
                // Its upload reaches its RSU exactly once (an RSU on a lost node counts it
                // `node_lost`).
                if self.fleet.relayed.insert(m.task.id) {
                    self.send_rsu(m.rsu.index(), RsuMsg::Upload(*m))?;
                }
            }
            if let Some(s) = due {
                let what = match emit {
                    None => Stepped::Absent,
                    Some(VehicleEmit::Idle) => Stepped::Idle,
                    Some(VehicleEmit::Ended(r)) => Stepped::Ended(Box::new(r)),
                    Some(VehicleEmit::Upload(m)) => Stepped::Uploaded(RsuId(m.rsu.0)),
                };
                self.tell_clock(ClockMsg::Stepped { vehicle: id, slot: s, what })?;
            }
            self.fleet.recovered[node] += 1;
            let v = self.fleet.live.get_mut(&id).expect("live");
            v.next = through;
            if v.last < through {
                self.fleet.live.remove(&id);
            } else {
                v.at = None;
                v.state = Some(veh.handover());
                v.leaving = false;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rsu(id: u32, x: f64) -> RsuSpec {
        RsuSpec { id: RsuId(id), pos: Point::new(x, 0.0), cpu_hz: 1e9, bandwidth_bps: 1e6, range_m: 100.0 }
    }

    #[test]
    fn a_vehicle_is_homed_by_its_nearest_rsu_on_a_connected_node() {
        // RSUs at 0, 1000, 2000, 3000 m; RSUs 0–1 on node 0, 2–3 on node 1.
        let specs: Vec<RsuSpec> = (0..4).map(|e| rsu(e, 1000.0 * e as f64)).collect();
        let owner = [0, 0, 1, 1];
        let both = [true, true];
        let at = |x: f64| Some(Point::new(x, 0.0));
        let index = |alive: &[bool]| NearestRsu::new(&specs, |e| alive[owner[e]]);
        let home = |pos, alive: &[bool], current| home(pos, index(alive).as_ref(), &owner, alive, current);
        assert_eq!(home(at(900.0), &both, None), Some(0));
        // Out of every RSU's range (100 m): still the nearest one's node.
        assert_eq!(home(at(1600.0), &both, Some(0)), Some(1));
        // Half-way between RSU 1 (node 0) and RSU 2 (node 1): the lower id.
        assert_eq!(home(at(1500.0), &both, Some(1)), Some(0));
        // Node 1 lost: the nearest RSU on a connected node.
        assert_eq!(home(at(2900.0), &[true, false], Some(1)), Some(0));
        // Off the map: where it is, unless that node is gone.
        assert_eq!(home(None, &both, Some(1)), Some(1));
        assert_eq!(home(None, &[true, false], Some(1)), Some(0));
        assert_eq!(home(None, &[false, true], None), Some(1));
        assert_eq!(home(at(0.0), &[false, false], Some(0)), None);
    }
}
