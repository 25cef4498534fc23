//! An RSU's part of a slot: receive uploads, dispatch decisions over the wire, execute.

use crate::allocation::AllocatorKind;
use crate::channel::ChannelConfig;
use crate::fault::{Delivery, FaultPlan};
use crate::ids::RsuId;
use crate::outcome::{DropCause, Outcome, TaskResult};
use crate::policy::Candidate;
use crate::rng::{self, Domain, SimRng};
use crate::scenario::RsuSpec;
use crate::slot::{execute_at, migrate, ExecTask};
use crate::task::UploadedTask;
use crate::vehicle::UploadMsg;
use crate::wired::WiredLink;
use serde::{Deserialize, Serialize};

/// Work still running from earlier slots (`carry_over = true`).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Running {
    /// CPU share held, cycles/s.
    pub cpu_hz: f64,
    /// Simulated time at which it finishes, seconds from the episode start.
    pub until_s: f64,
}

/// The public summary an RSU broadcasts after the upload phase.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct LoadSummary {
    /// `Σ sqrt(d_k c_k)` over this slot's uploads.
    pub uploaded_load: f64,
    /// Number of tasks uploaded to this RSU this slot.
    pub uploaded_tasks: u32,
    /// CPU free for new work this slot, cycles/s.
    pub free_cpu_hz: f64,
    /// False while the RSU is down (fault injection).
    pub available: bool,
}

/// One RSU's state between slots. Cloning it is the slot-boundary snapshot a supervisor
/// restarts a crashed RSU actor from.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RsuNode {
    /// The RSU's static parameters (id, position, CPU, range, bandwidth).
    pub spec: RsuSpec,
    running: Vec<Running>,
    wired_rng: SimRng,
}

impl RsuNode {
    /// A fresh RSU with no running work, its wired-fault stream derived from `(seed, id)`.
    pub fn new(spec: RsuSpec, seed: u64) -> RsuNode {
        let id = spec.id.0 as u64;
        RsuNode { spec, running: Vec::new(), wired_rng: rng::stream(seed, Domain::FaultWired, id) }
    }

    /// CPU free for new work in a slot starting at `t_s`, cycles/s.
    pub fn free_cpu_hz(&self, t_s: f64) -> f64 {
        let busy: f64 = self.running.iter().filter(|r| r.until_s > t_s).map(|r| r.cpu_hz).sum();
        (self.spec.cpu_hz - busy).max(0.0)
    }

    /// Turns this slot's upload messages into uploaded tasks (eq. 1), sorted by task id.
    pub fn receive_uploads(&self, mut msgs: Vec<UploadMsg>, channel: &ChannelConfig) -> Vec<UploadedTask> {
        msgs.sort_by_key(|m| m.task.id);
        let n = msgs.len();
        msgs.iter()
            .map(|m| UploadedTask {
                task: m.task,
                uploader: self.spec.id,
                distance_m: m.distance_m,
                upload_s: channel.upload_s(m.task.data_bits, self.spec.bandwidth_bps, m.distance_m, n)
                    + m.extra_latency_s,
                upload_extra_s: m.extra_latency_s,
            })
            .collect()
    }

    /// The summary broadcast to every RSU before decisions.
    pub fn summary(&self, uploads: &[UploadedTask], t_s: f64, available: bool) -> LoadSummary {
        LoadSummary {
            uploaded_load: uploads.iter().map(|u| u.task.work_cycles().sqrt()).sum(),
            uploaded_tasks: uploads.len() as u32,
            free_cpu_hz: self.free_cpu_hz(t_s),
            available,
        }
    }

    /// This RSU's candidate table built from everyone's summaries.
    pub fn candidates(&self, rsus: &[RsuSpec], summaries: &[LoadSummary]) -> Vec<Candidate> {
        rsus.iter()
            .zip(summaries)
            .map(|(r, s)| Candidate {
                rsu: r.id,
                distance_m: self.spec.pos.distance(r.pos),
                free_cpu_hz: s.free_cpu_hz,
                uploaded_load: s.uploaded_load,
                uploaded_tasks: s.uploaded_tasks,
                available: s.available,
                declared: Default::default(),
            })
            .collect()
    }

    /// Sends each task to its executing RSU (eq. 4), drawing wired faults from this RSU's own
    /// stream in task-id order. Returns the tasks that left (with their destination) and those
    /// lost on the wire.
    pub fn dispatch(
        &mut self,
        uploads: &[UploadedTask],
        decisions: &[RsuId],
        rsus: &[RsuSpec],
        wired: &WiredLink,
        faults: &FaultPlan,
    ) -> (Vec<ExecTask>, Vec<TaskResult>) {
        let mut sent = Vec::with_capacity(uploads.len());
        let mut lost = Vec::new();
        for (up, &ex) in uploads.iter().zip(decisions) {
            let mut t = migrate(up, &self.spec, &rsus[ex.index()], wired);
            if ex != self.spec.id {
                match faults.wired(&mut self.wired_rng) {
                    Delivery::Lost => {
                        let mut r = TaskResult::early(
                            up.task.id,
                            Some(self.spec.id),
                            up.upload_s,
                            Outcome::Dropped(DropCause::MessageLost),
                        );
                        r.executor = Some(ex);
                        r.upload_extra_s = up.upload_extra_s;
                        lost.push(r);
                        continue;
                    }
                    Delivery::Delivered { extra_s } => {
                        t.wired_s += extra_s;
                        t.wired_extra_s = extra_s;
                    }
                }
            }
            sent.push(t);
        }
        (sent, lost)
    }

    /// Executes the tasks that arrived for this slot (any order; sorted here by task id).
    ///
    /// Outages of this RSU in `faults` (SPEC §6): a down RSU fails every task sent to it with
    /// cause `rsu_down` (and, with `carry_over`, drops what it was still running); an up RSU
    /// whose next outage starts while a task is still pending fails that task with cause
    /// `rsu_down` too. A task ends with the first thing that happens to it: it completes at
    /// `t0 + ψ_k`, or misses its deadline at `t0 + t_k`; an outage starting strictly later
    /// changes nothing (a task that had already missed stays `missed_deadline`).
    pub fn execute(
        &mut self,
        mut tasks: Vec<ExecTask>,
        slot: u32,
        slot_s: f64,
        allocator: AllocatorKind,
        carry_over: bool,
        faults: &FaultPlan,
    ) -> Vec<TaskResult> {
        tasks.sort_by_key(|t| t.up.task.id);
        let t0 = slot as f64 * slot_s;
        if !faults.rsu_up(self.spec.id, slot) {
            self.running.clear();
            return tasks
                .iter()
                .map(|t| {
                    let mut r = TaskResult::early(
                        t.up.task.id,
                        Some(t.up.uploader),
                        t.up.upload_s,
                        Outcome::Dropped(DropCause::RsuDown),
                    );
                    r.executor = Some(self.spec.id);
                    r.wired_s = t.wired_s;
                    r.upload_extra_s = t.up.upload_extra_s;
                    r.wired_extra_s = t.wired_extra_s;
                    r
                })
                .collect();
        }
        let mut results = execute_at(allocator, self.free_cpu_hz(t0), &tasks);
        let down_s = faults.next_down_slot(self.spec.id, slot).map_or(f64::INFINITY, |d| d as f64 * slot_s);
        if carry_over {
            let next = t0 + slot_s;
            self.running.retain(|r| r.until_s > next);
            for r in &results {
                let until_s = (t0 + r.service_s).min(down_s);
                if r.cpu_hz > 0.0 && until_s.is_finite() && until_s > next {
                    self.running.push(Running { cpu_hz: r.cpu_hz, until_s });
                }
            }
        }
        if down_s.is_finite() {
            for (r, t) in results.iter_mut().zip(&tasks) {
                // A task ends with the first thing that happens to it: it completes at `t0 + ψ`,
                // or misses its deadline at `t0 + t_k` (whatever its ψ, even an infinite one);
                // only if the outage starts before that is it dropped with cause `rsu_down`.
                let ends_s = t0 + if r.completed() { r.service_s } else { t.up.task.deadline_s };
                if ends_s > down_s {
                    r.outcome = Outcome::Dropped(DropCause::RsuDown);
                }
            }
        }
        results
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::geometry::Point;
    use crate::ids::TaskId;
    use crate::task::Task;

    #[test]
    fn carry_over_holds_cpu_into_the_next_slot() {
        let spec = RsuSpec { id: RsuId(0), pos: Point::new(0.0, 0.0), cpu_hz: 4e9, bandwidth_bps: 1e9, range_m: 500.0 };
        let mut node = RsuNode::new(spec, 1);
        // One task of 6e9 cycles alone on 4 GHz: x = 1.5 s, upload 0.001 s; runs past the 1 s slot.
        let task = Task { id: TaskId { slot: 0, vehicle: 0 }, data_bits: 1e6, cycles_per_bit: 6000.0, deadline_s: 2.0 };
        let up = UploadedTask { task, uploader: RsuId(0), distance_m: 1.0, upload_s: 0.001, upload_extra_s: 0.0 };
        let t = ExecTask { up, executor: RsuId(0), wired_s: 0.0, wired_extra_s: 0.0 };
        let r = node.execute(vec![t], 0, 1.0, AllocatorKind::Kkt, true, &FaultPlan::default());
        assert!((r[0].service_s - 1.501).abs() < 1e-12);
        // During slot 1 the whole CPU is still held; in slot 2 it is free again.
        assert_eq!(node.free_cpu_hz(1.0), 0.0);
        assert_eq!(node.free_cpu_hz(2.0), 4e9);
        // Without carry-over nothing is held.
        let mut fresh = RsuNode::new(node.spec.clone(), 1);
        fresh.execute(vec![t], 0, 1.0, AllocatorKind::Kkt, false, &FaultPlan::default());
        assert_eq!(fresh.free_cpu_hz(1.0), 4e9);
    }

    /// Issue 10, item 2: a task ends with the first thing that happens to it. RSU 0 at 1 GHz is
    /// down from slot 2 (t = 2 s); each task runs alone in slot 1 (t0 = 1 s), upload 0, so
    /// ψ = work / 1e9 exactly.
    #[test]
    fn outage_attribution_first_event_wins() {
        use crate::fault::Outage;
        let spec = RsuSpec { id: RsuId(0), pos: Point::new(0.0, 0.0), cpu_hz: 1e9, bandwidth_bps: 1e9, range_m: 500.0 };
        let plan = FaultPlan { rsu_outage: vec![Outage { rsu: 0, from_slot: 2, to_slot: 3 }], ..Default::default() };
        let run = |cpb: f64, deadline_s: f64| {
            let task = Task { id: TaskId { slot: 1, vehicle: 0 }, data_bits: 1e6, cycles_per_bit: cpb, deadline_s };
            let up = UploadedTask { task, uploader: RsuId(0), distance_m: 1.0, upload_s: 0.0, upload_extra_s: 0.0 };
            let t = ExecTask { up, executor: RsuId(0), wired_s: 0.0, wired_extra_s: 0.0 };
            let mut node = RsuNode::new(spec.clone(), 1);
            let r = node.execute(vec![t], 1, 1.0, AllocatorKind::Kkt, false, &plan);
            (r[0].service_s, r[0].outcome)
        };
        let down = Outcome::Dropped(DropCause::RsuDown);
        // ψ = 1.5 s, deadline 0.5 s: missed at 1.5 s, before the outage at 2 s (it would
        // "finish" at 2.5 s, which used to make it rsu_down).
        assert_eq!(run(1500.0, 0.5), (1.5, Outcome::MissedDeadline));
        // Deadline at exactly the outage start (1 + 1.0 = 2.0 s): missed first.
        assert_eq!(run(1500.0, 1.0), (1.5, Outcome::MissedDeadline));
        // ψ = 1.5 s, deadline 1.2 s: would miss at 2.2 s, but the outage comes first.
        assert_eq!(run(1500.0, 1.2), (1.5, down));
        // ψ = 1.5 s ≤ deadline 2.0 s: would complete at 2.5 s, after the outage started.
        assert_eq!(run(1500.0, 2.0), (1.5, down));
        // ψ = 0.8 s: completes at 1.8 s, before the outage.
        assert_eq!(run(800.0, 1.0), (0.8, Outcome::Completed));
    }
}
