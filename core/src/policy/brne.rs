//! `br-ne`: best-response dynamics on the offloading game, an oracle for what learners should
//! approach (Theorem 3 of the paper: the game has a pure Nash equilibrium).
//!
//! RSUs take turns in id order; for each of its tasks (task-id order) an RSU tries every other
//! available executing RSU, evaluating its own completion rate `ψ_e` exactly (allocation
//! re-run at the two RSUs the switch touches), and keeps the switch that raises `ψ_e` most
//! (strictly; ties keep the current choice, then lower RSU id). Passes repeat until a full pass
//! changes nothing — an equilibrium for single-task switches — or `max_passes` is reached.

use super::JointRefiner;
use crate::ids::RsuId;
use crate::outcome::TaskResult;
use crate::slot::{execute_at, ExecTask, SlotProblem};
use std::sync::atomic::{AtomicU64, Ordering};

/// The best-response refiner.
#[derive(Debug)]
pub struct BestResponse {
    /// Upper bound on full passes (a safety net: improvement dynamics of `ψ_e` alone are not
    /// guaranteed to be acyclic). Runs that hit it are counted in [`BestResponse::unconverged`].
    pub max_passes: u32,
    unconverged: AtomicU64,
}

impl Default for BestResponse {
    fn default() -> Self {
        BestResponse { max_passes: 100, unconverged: AtomicU64::new(0) }
    }
}

impl BestResponse {
    /// Best response with at most `max_passes` full passes per slot.
    pub fn with_max_passes(max_passes: u32) -> BestResponse {
        BestResponse { max_passes, unconverged: AtomicU64::new(0) }
    }

    /// Slots in which the dynamics stopped at `max_passes` instead of an equilibrium.
    pub fn unconverged(&self) -> u64 {
        self.unconverged.load(Ordering::Relaxed)
    }

    /// Runs the dynamics; returns whether an equilibrium was reached.
    #[allow(clippy::needless_range_loop)] // indices tie uploads, decisions and executors together
    pub fn run(&self, p: &SlotProblem<'_>, decisions: &mut [Vec<RsuId>]) -> bool {
        let n = p.rsus.len();
        let mut at: Vec<Vec<ExecTask>> = p.dispatch(decisions);
        let mut res: Vec<Vec<TaskResult>> = (0..n).map(|x| execute_at(p.allocator, p.free_cpu_hz[x], &at[x])).collect();
        let done_by = |r: &[TaskResult], e: RsuId| r.iter().filter(|t| t.uploader == Some(e) && t.completed()).count();
        for _ in 0..self.max_passes.max(1) {
            let mut changed = false;
            for e in 0..n {
                let me = RsuId(e as u32);
                for i in 0..p.uploads[e].len() {
                    let up = p.uploads[e][i];
                    let a = decisions[e][i].index();
                    let without = SlotProblem::without(&at[a], &up);
                    let res_without = execute_at(p.allocator, p.free_cpu_hz[a], &without);
                    let base = done_by(&res[a], me);
                    let mut best: Option<(usize, Vec<ExecTask>, Vec<TaskResult>)> = None;
                    let mut best_gain = 0isize;
                    for b in 0..n {
                        if b == a || !p.available[b] {
                            continue;
                        }
                        let with = p.joined(&at[b], &up, e, b);
                        let res_with = execute_at(p.allocator, p.free_cpu_hz[b], &with);
                        let gain = (done_by(&res_without, me) + done_by(&res_with, me)) as isize
                            - (base + done_by(&res[b], me)) as isize;
                        if gain > best_gain {
                            best_gain = gain;
                            best = Some((b, with, res_with));
                        }
                    }
                    if let Some((b, with, res_with)) = best {
                        at[a] = without;
                        res[a] = res_without;
                        at[b] = with;
                        res[b] = res_with;
                        decisions[e][i] = RsuId(b as u32);
                        changed = true;
                    }
                }
            }
            if !changed {
                return true;
            }
        }
        self.unconverged.fetch_add(1, Ordering::Relaxed);
        false
    }
}

impl JointRefiner for BestResponse {
    fn refine(&self, problem: &SlotProblem<'_>, decisions: &mut [Vec<RsuId>]) -> bool {
        self.run(problem, decisions)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::allocation::AllocatorKind;
    use crate::geometry::Point;
    use crate::ids::TaskId;
    use crate::scenario::RsuSpec;
    use crate::slot::score;
    use crate::task::{Task, UploadedTask};
    use crate::wired::WiredLink;
    use rand::{Rng, SeedableRng};

    /// Random slots: br-ne stops at an equilibrium, and from there no single-task switch by any
    /// RSU raises that RSU's completion rate (checked by brute force with `evaluate`).
    #[test]
    fn terminates_at_a_single_switch_equilibrium() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(11);
        for case in 0..60 {
            let n = rng.gen_range(2..5usize);
            let rsus: Vec<RsuSpec> = (0..n)
                .map(|i| RsuSpec {
                    id: RsuId(i as u32),
                    pos: Point::new(i as f64 * 800.0, 0.0),
                    cpu_hz: rng.gen_range(2e9..10e9),
                    bandwidth_bps: 100e6,
                    range_m: 500.0,
                })
                .collect();
            let free: Vec<f64> = rsus.iter().map(|r| r.cpu_hz).collect();
            let mut v = 0;
            let uploads: Vec<Vec<UploadedTask>> = (0..n)
                .map(|e| {
                    (0..rng.gen_range(0..6))
                        .map(|_| {
                            v += 1;
                            let d = rng.gen_range(0.5e6..3e6);
                            UploadedTask {
                                task: Task {
                                    id: TaskId { slot: 0, vehicle: v },
                                    data_bits: d,
                                    cycles_per_bit: rng.gen_range(300.0..1500.0),
                                    deadline_s: rng.gen_range(0.2..1.0),
                                },
                                uploader: RsuId(e as u32),
                                distance_m: 100.0,
                                upload_s: d / 100e6,
                                upload_extra_s: 0.0,
                            }
                        })
                        .collect()
                })
                .collect();
            let avail = vec![true; n];
            let p = SlotProblem {
                rsus: &rsus,
                free_cpu_hz: &free,
                available: &avail,
                wired: WiredLink::default(),
                allocator: AllocatorKind::Kkt,
                uploads: &uploads,
            };
            let mut dec: Vec<Vec<RsuId>> =
                uploads.iter().enumerate().map(|(e, u)| vec![RsuId(e as u32); u.len()]).collect();
            let br = BestResponse::default();
            assert!(br.run(&p, &mut dec), "case {case} did not converge");
            let at_eq = score(&p.evaluate(&dec), n).completed;
            for e in 0..n {
                for i in 0..uploads[e].len() {
                    for b in 0..n {
                        let mut alt = dec.clone();
                        alt[e][i] = RsuId(b as u32);
                        let c = score(&p.evaluate(&alt), n).completed[e];
                        assert!(c <= at_eq[e], "case {case}: rsu {e} task {i} -> {b} improves {} -> {c}", at_eq[e]);
                    }
                }
            }
        }
    }

    /// Issue 10, item 5: a run stopped at the pass limit says so (return value and counter).
    #[test]
    fn pass_limit_is_reported() {
        // RSU0 (1 GHz) has two 1e9-cycle tasks with 1 s deadlines; RSU1 (10 GHz, 100 m away) has
        // none. Pass 1 moves both to RSU1 (alone at RSU0 the second would still take 1.001 s;
        // at RSU1 they share 10 GHz: 0.2 s each); pass 2 changes nothing: the equilibrium.
        let rsus: Vec<RsuSpec> = [1e9, 10e9]
            .iter()
            .enumerate()
            .map(|(i, &c)| RsuSpec {
                id: RsuId(i as u32),
                pos: Point::new(i as f64 * 100.0, 0.0),
                cpu_hz: c,
                bandwidth_bps: 1e9,
                range_m: 500.0,
            })
            .collect();
        let task = |v: u32| UploadedTask {
            task: Task { id: TaskId { slot: 0, vehicle: v }, data_bits: 1e6, cycles_per_bit: 1000.0, deadline_s: 1.0 },
            uploader: RsuId(0),
            distance_m: 10.0,
            upload_s: 1e-3,
            upload_extra_s: 0.0,
        };
        let uploads = vec![vec![task(0), task(1)], vec![]];
        let free = [1e9, 10e9];
        let p = SlotProblem {
            rsus: &rsus,
            free_cpu_hz: &free,
            available: &[true, true],
            wired: WiredLink::default(),
            allocator: AllocatorKind::Kkt,
            uploads: &uploads,
        };
        let one = BestResponse::with_max_passes(1);
        let mut d = vec![vec![RsuId(0), RsuId(0)], vec![]];
        assert!(!JointRefiner::refine(&one, &p, &mut d));
        assert_eq!(d[0], vec![RsuId(1), RsuId(1)]);
        assert_eq!(one.unconverged(), 1);
        let two = BestResponse::with_max_passes(2);
        let mut d = vec![vec![RsuId(0), RsuId(0)], vec![]];
        assert!(JointRefiner::refine(&two, &p, &mut d));
        assert_eq!(two.unconverged(), 0);
    }
}
