//! ORM, Offloading-Request Migration: greedy migration to the RSU with the lowest predicted
//! service time given the load already assigned in this slot.

use super::{Observation, Policy};
use crate::ids::RsuId;

/// Greedy ORM. It predicts with the KKT allocation: a task of work `W` joining an RSU whose
/// assigned load is `S = Σ sqrt(W_j)` and free CPU `C` runs for `sqrt(W)·(S + sqrt(W)) / C`.
/// Other RSUs start from their own uploads (public `uploaded_load`: they are assumed to keep
/// them); this RSU starts empty and its tasks are assigned in task-id order. Ties go to the
/// lower RSU id.
#[derive(Clone, Copy, Debug, Default)]
pub struct Orm;

/// Predicted service time, seconds, of a task with upload time `u`, wired delay `w`, and
/// `sqrt_w = sqrt(d·c)` joining load `load` at free CPU `free_hz`.
pub(super) fn predicted_service_s(u: f64, w: f64, sqrt_w: f64, load: f64, free_hz: f64) -> f64 {
    if free_hz <= 0.0 {
        return f64::INFINITY;
    }
    u + w + sqrt_w * (load + sqrt_w) / free_hz
}

impl Policy for Orm {
    fn name(&self) -> &'static str {
        "orm"
    }

    fn decide(&mut self, obs: &Observation<'_>) -> Vec<RsuId> {
        let mut load: Vec<f64> = obs.candidates.iter().map(|c| c.uploaded_load).collect();
        load[obs.rsu.index()] = 0.0;
        greedy(obs, load)
    }
}

/// `orm-in-turn` (beyond the paper): ORM with the RSUs deciding in turn
/// ([`super::intent`]): it starts every candidate from its load with the declarations of the
/// RSUs before it carried out, then assigns its tasks as ORM does. The heuristic the learners
/// deciding in turn (`[learning] rsus_in_turn`) should be held against: the same information,
/// no learning.
#[derive(Clone, Copy, Debug, Default)]
pub struct OrmInTurn;

impl Policy for OrmInTurn {
    fn name(&self) -> &'static str {
        "orm-in-turn"
    }

    fn decide(&mut self, obs: &Observation<'_>) -> Vec<RsuId> {
        let me = obs.rsu.index();
        let load = obs.candidates.iter().enumerate().map(|(i, c)| c.declared.expected_load(c.uploaded_load, i == me));
        greedy(obs, load.collect())
    }

    fn decides_in_turn(&self) -> bool {
        true
    }
}

/// Assigns `obs.tasks` in task-id order, each to the available candidate with the lowest
/// predicted service time given `load` (sqrt(cycles), per candidate), which grows by each
/// assignment.
fn greedy(obs: &Observation<'_>, mut load: Vec<f64>) -> Vec<RsuId> {
    obs.tasks
        .iter()
        .map(|t| {
            let sqrt_w = t.task.work_cycles().sqrt();
            let mut best: Option<(f64, usize)> = None;
            for (i, c) in obs.candidates.iter().enumerate() {
                if !c.available {
                    continue;
                }
                let w = obs.wired.delay_s(t.task.data_bits, c.distance_m);
                let s = predicted_service_s(t.upload_s, w, sqrt_w, load[i], c.free_cpu_hz);
                if best.is_none_or(|(b, _)| s < b) {
                    best = Some((s, i));
                }
            }
            let pick = best.map_or(obs.rsu.index(), |(_, i)| i);
            load[pick] += sqrt_w;
            RsuId(pick as u32)
        })
        .collect()
}
