//! One slot's migration, allocation, execution and scoring (SPEC §1 steps 3–5, §2).
//!
//! These are the pure functions every engine composes: the sequential engine calls them in a
//! loop, the actor engine calls the same functions inside RSU and clock actors, `vecsim slot`
//! calls [`SlotProblem::evaluate`] on a hand-written slot, and the `br-ne` oracle calls
//! [`execute_at`] to evaluate switches exactly. Inputs are always sorted by task id, so the
//! floating-point sums run in one order whoever calls them.

use crate::allocation::{allocate, exec_time_s, AllocatorKind, Demand};
use crate::ids::RsuId;
use crate::outcome::{Outcome, TaskResult};
use crate::scenario::RsuSpec;
use crate::task::UploadedTask;
use crate::wired::WiredLink;

/// A task on its way to (or at) its executing RSU.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ExecTask {
    /// The task as uploaded (with its upload time `u`).
    pub up: UploadedTask,
    /// The executing RSU `e'` chosen by the policy.
    pub executor: RsuId,
    /// Wired migration time `w` (eq. 4) plus injected latency, seconds; 0 when local.
    pub wired_s: f64,
    /// The injected wired latency included in `wired_s`, seconds (0 without faults).
    pub wired_extra_s: f64,
}

/// Sends `up` to `executor` over the wire (eq. 4). Local execution costs nothing.
pub fn migrate(up: &UploadedTask, from: &RsuSpec, executor: &RsuSpec, wired: &WiredLink) -> ExecTask {
    let wired_s =
        if from.id == executor.id { 0.0 } else { wired.delay_s(up.task.data_bits, from.pos.distance(executor.pos)) };
    ExecTask { up: *up, executor: executor.id, wired_s, wired_extra_s: 0.0 }
}

/// Allocates `free_cpu_hz` among `tasks` (sorted by task id) and executes them (eq. 3, 5, 6).
pub fn execute_at(allocator: AllocatorKind, free_cpu_hz: f64, tasks: &[ExecTask]) -> Vec<TaskResult> {
    let demands: Vec<Demand> = tasks
        .iter()
        .map(|t| Demand {
            work_cycles: t.up.task.work_cycles(),
            slack_s: t.up.task.deadline_s - t.up.upload_s - t.wired_s,
        })
        .collect();
    let shares = allocate(allocator, free_cpu_hz, &demands);
    tasks
        .iter()
        .zip(shares)
        .map(|(t, cpu_hz)| {
            let exec_s = exec_time_s(t.up.task.work_cycles(), cpu_hz);
            let service_s = t.up.upload_s + t.wired_s + exec_s;
            let outcome = if service_s <= t.up.task.deadline_s { Outcome::Completed } else { Outcome::MissedDeadline };
            TaskResult {
                id: t.up.task.id,
                uploader: Some(t.up.uploader),
                executor: Some(t.executor),
                upload_s: t.up.upload_s,
                wired_s: t.wired_s,
                upload_extra_s: t.up.upload_extra_s,
                wired_extra_s: t.wired_extra_s,
                cpu_hz,
                exec_s,
                service_s,
                outcome,
            }
        })
        .collect()
}

/// Rates, potential and rewards of a slot (eq. 7, 18, 19).
#[derive(Clone, Debug, PartialEq)]
pub struct SlotScore {
    /// `|K_e^t|`: tasks credited to each uploading RSU.
    pub uploaded: Vec<u32>,
    /// Completed tasks credited to each uploading RSU.
    pub completed: Vec<u32>,
    /// `ψ_e^t`, `None` for an RSU with no uploads.
    pub rates: Vec<Option<f64>>,
    /// `F^t = Σ_e ψ_e^t`.
    pub potential: f64,
    /// `r_e^t = F^t − F^t_{−e}`.
    pub rewards: Vec<f64>,
}

impl SlotScore {
    /// What RSU `e` learns after slot `slot`: its eq. 19 reward, the potential, its
    /// `difference` reward ([`difference_rewards`]) and its rate. Both engines send exactly
    /// this, so their policies see the same numbers.
    pub fn feedback(&self, e: usize, slot: u32, difference: f64, done: bool) -> crate::policy::Feedback {
        crate::policy::Feedback {
            rsu: RsuId(e as u32),
            slot,
            reward: self.rewards[e],
            potential: self.potential,
            difference,
            completion_rate: self.rates[e],
            done,
        }
    }
}

/// Scores a slot from all its task results (any order is fine: only counts are used).
///
/// `F_{−e}` is the same slot with every task executed at `e` counted as failed, so
/// `F − F_{−e} = Σ_u c_{u,e} / |K_u|` where `c_{u,e}` counts completed tasks uploaded at `u` and
/// executed at `e`; computing it in that closed form keeps scoring linear in the task count.
pub fn score(results: &[TaskResult], rsus: usize) -> SlotScore {
    let mut uploaded = vec![0u32; rsus];
    let mut completed = vec![0u32; rsus];
    // c[u][e] only for completed tasks; sparse in practice, so keep (u, e) pairs and sort.
    let mut pairs: Vec<(u32, u32)> = Vec::new();
    for r in results {
        if let Some(u) = r.uploader {
            uploaded[u.index()] += 1;
            if r.completed() {
                completed[u.index()] += 1;
                if let Some(e) = r.executor {
                    pairs.push((e.0, u.0));
                }
            }
        }
    }
    let rates: Vec<Option<f64>> =
        uploaded.iter().zip(&completed).map(|(&k, &c)| (k > 0).then(|| c as f64 / k as f64)).collect();
    // Folded from +0.0: an empty f64 `sum()` is -0.0, which would print as `-0`.
    let potential = rates.iter().flatten().fold(0.0, |a, r| a + r);
    pairs.sort_unstable();
    let mut rewards = vec![0.0; rsus];
    let mut i = 0;
    while i < pairs.len() {
        let (e, u) = pairs[i];
        let mut j = i;
        while j < pairs.len() && pairs[j] == (e, u) {
            j += 1;
        }
        rewards[e as usize] += (j - i) as f64 / uploaded[u as usize] as f64;
        i = j;
    }
    SlotScore { uploaded, completed, rates, potential, rewards }
}

/// Difference rewards `r_e^t = F^t − F'^t_{−e}` (issue 14): `F'_{−e}` re-evaluates the slot with
/// the tasks *uploaded at* `e` absent, so RSU `e`'s term `ψ_e` leaves the sum and every executor
/// that held one of `e`'s tasks re-allocates its free CPU among the remaining tasks (eq. 5–6) and
/// re-times them. Unlike eq. 19 ([`SlotScore::rewards`], which credits a completed task to the
/// RSU that *executes* it), this credits the RSU that *decided*: a good migration pays its
/// uploader, and crowding a neighbour's CPU costs it.
///
/// `uploads[e]`: the tasks uploaded at `e`; `free_cpu_hz[x]`: the CPU `x` had for new work this
/// slot (its load summary), cycles/s. Tasks that did not run through the allocator (lost, dropped,
/// uncovered) keep their outcome in `F'`, and their CPU share (zero, or cut short by an outage)
/// is not redistributed.
pub fn difference_rewards(
    results: &[TaskResult],
    uploads: &[Vec<UploadedTask>],
    free_cpu_hz: &[f64],
    allocator: AllocatorKind,
    score: &SlotScore,
) -> Vec<f64> {
    let n = score.uploaded.len();
    let mut by_id: Vec<(crate::ids::TaskId, &UploadedTask)> =
        uploads.iter().flatten().map(|u| (u.task.id, u)).collect();
    by_id.sort_by_key(|(id, _)| *id);
    let find = |id| by_id.binary_search_by_key(&id, |(i, _)| *i).ok().map(|k| by_id[k].1);
    // Tasks that went through each executor's allocator, sorted by task id (results are).
    let mut at: Vec<Vec<ExecTask>> = vec![Vec::new(); n];
    let mut done_at: Vec<Vec<u32>> = vec![vec![0; n]; n];
    for r in results {
        let (Some(x), Some(u)) = (r.executor, r.uploader) else { continue };
        if !matches!(r.outcome, crate::outcome::Outcome::Completed | crate::outcome::Outcome::MissedDeadline) {
            continue;
        }
        let Some(up) = find(r.id) else { continue };
        at[x.index()].push(ExecTask { up: *up, executor: x, wired_s: r.wired_s, wired_extra_s: r.wired_extra_s });
        if r.completed() {
            done_at[x.index()][u.index()] += 1;
        }
    }
    (0..n)
        .map(|e| {
            if score.uploaded[e] == 0 {
                return 0.0;
            }
            let mut completed: Vec<i64> = score.completed.iter().map(|&c| c as i64).collect();
            for (x, tasks) in at.iter().enumerate() {
                if !tasks.iter().any(|t| t.up.uploader.index() == e) {
                    continue;
                }
                for (u, c) in completed.iter_mut().enumerate() {
                    *c -= done_at[x][u] as i64;
                }
                let rest: Vec<ExecTask> = tasks.iter().filter(|t| t.up.uploader.index() != e).copied().collect();
                let free = free_cpu_hz.get(x).copied().unwrap_or(0.0);
                for r in execute_at(allocator, free, &rest) {
                    if r.completed() {
                        completed[r.uploader.map_or(e, |u| u.index())] += 1;
                    }
                }
            }
            let without: f64 = (0..n)
                .filter(|&u| u != e && score.uploaded[u] > 0)
                .fold(0.0, |a, u| a + completed[u] as f64 / score.uploaded[u] as f64);
            score.potential - without
        })
        .collect()
}

/// A whole slot as a pure problem: who uploaded what where, and the resources available.
/// Used by `vecsim slot` and by the `br-ne` oracle. Faults are not part of it.
#[derive(Clone, Copy, Debug)]
pub struct SlotProblem<'a> {
    /// Every RSU of the scenario, by id.
    pub rsus: &'a [RsuSpec],
    /// CPU free for new work at each RSU this slot, cycles/s.
    pub free_cpu_hz: &'a [f64],
    /// RSUs that can execute work this slot (false while down).
    pub available: &'a [bool],
    /// Wired link parameters for migration delays (eq. 4).
    pub wired: WiredLink,
    /// The CPU allocator each executing RSU uses.
    pub allocator: AllocatorKind,
    /// `uploads[e]`: tasks uploaded to RSU e, sorted by task id.
    pub uploads: &'a [Vec<UploadedTask>],
}

impl SlotProblem<'_> {
    /// The tasks `at` RSU `to` (sorted by task id) with `up`, uploaded at RSU `from`, migrated
    /// there, still sorted by task id: what `to` runs if that one task moves to it.
    pub fn joined(&self, at: &[ExecTask], up: &UploadedTask, from: usize, to: usize) -> Vec<ExecTask> {
        let mut with = Vec::with_capacity(at.len() + 1);
        let ins = at.partition_point(|t| t.up.task.id < up.task.id);
        with.extend_from_slice(&at[..ins]);
        with.push(migrate(up, &self.rsus[from], &self.rsus[to], &self.wired));
        with.extend_from_slice(&at[ins..]);
        with
    }

    /// The tasks `at` an RSU without `up`, which must be among them: what the RSU runs if that
    /// one task moves away.
    pub fn without(at: &[ExecTask], up: &UploadedTask) -> Vec<ExecTask> {
        let pos = at.iter().position(|t| t.up.task.id == up.task.id).expect("the task is at its executor");
        let mut without = at.to_vec();
        without.remove(pos);
        without
    }

    /// Groups the tasks by executing RSU (each group sorted by task id).
    pub fn dispatch(&self, decisions: &[Vec<RsuId>]) -> Vec<Vec<ExecTask>> {
        let mut at: Vec<Vec<ExecTask>> = vec![Vec::new(); self.rsus.len()];
        for (e, ups) in self.uploads.iter().enumerate() {
            for (up, &ex) in ups.iter().zip(&decisions[e]) {
                at[ex.index()].push(migrate(up, &self.rsus[e], &self.rsus[ex.index()], &self.wired));
            }
        }
        for v in &mut at {
            v.sort_by_key(|t| t.up.task.id);
        }
        at
    }

    /// Every task's result, sorted by task id.
    pub fn evaluate(&self, decisions: &[Vec<RsuId>]) -> Vec<TaskResult> {
        let mut out: Vec<TaskResult> = self
            .dispatch(decisions)
            .iter()
            .enumerate()
            .flat_map(|(e, tasks)| execute_at(self.allocator, self.free_cpu_hz[e], tasks))
            .collect();
        out.sort_by_key(|r| r.id);
        out
    }

    /// For every task (`[uploader][task]`, as `decisions`), the available executors it could
    /// move to, alone, without lowering the slot's number of completed tasks (all uploaders
    /// counted), every other task staying as `decisions` put it; sorted by RSU id, and always
    /// holding the task's own executor in `decisions`.
    ///
    /// Why: `br-ne`'s equilibrium leaves many choices that cost nothing — a task that misses its
    /// deadline anywhere can go to any RSU where it slows no task below its deadline — and the
    /// oracle's pick among them is an accident of its pass order. Cloning it as the one right
    /// answer teaches an actor to spread its probability over equivalent choices (and a greedy
    /// actor then often keeps the task); the set says what the slot accepts (`--pretrain`).
    pub fn no_worse_moves(&self, decisions: &[Vec<RsuId>]) -> Vec<Vec<Vec<RsuId>>> {
        let n = self.rsus.len();
        let at = self.dispatch(decisions);
        let done = |tasks: &[ExecTask], x: usize| {
            execute_at(self.allocator, self.free_cpu_hz[x], tasks).iter().filter(|r| r.completed()).count()
        };
        let here: Vec<usize> = (0..n).map(|x| done(&at[x], x)).collect();
        self.uploads
            .iter()
            .enumerate()
            .map(|(e, ups)| {
                ups.iter()
                    .zip(&decisions[e])
                    .map(|(up, &a)| {
                        let a = a.index();
                        let left = done(&Self::without(&at[a], up), a);
                        (0..n)
                            .filter(|&b| {
                                if b == a {
                                    return true;
                                }
                                if !self.available[b] {
                                    return false;
                                }
                                left + done(&self.joined(&at[b], up, e, b), b) >= here[a] + here[b]
                            })
                            .map(|b| RsuId(b as u32))
                            .collect()
                    })
                    .collect()
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::geometry::Point;
    use crate::ids::TaskId;
    use crate::task::Task;

    fn rsu(id: u32, x: f64, ghz: f64) -> RsuSpec {
        RsuSpec { id: RsuId(id), pos: Point::new(x, 0.0), cpu_hz: ghz * 1e9, bandwidth_bps: 100e6, range_m: 500.0 }
    }

    fn up(v: u32, uploader: u32, mbit: f64, cpb: f64, deadline: f64) -> UploadedTask {
        let task = Task {
            id: TaskId { slot: 0, vehicle: v },
            data_bits: mbit * 1e6,
            cycles_per_bit: cpb,
            deadline_s: deadline,
        };
        UploadedTask {
            task,
            uploader: RsuId(uploader),
            distance_m: 10.0,
            upload_s: mbit * 1e6 / 100e6,
            upload_extra_s: 0.0,
        }
    }

    /// Up to 5 uploads at each of `n` RSUs, of `mbit` Mbit at `cpb` cycles/bit with deadlines of
    /// 0.2–1 s, vehicles numbered from 1.
    fn random_uploads(
        rng: &mut impl rand::Rng,
        n: u32,
        mbit: std::ops::Range<f64>,
        cpb: std::ops::Range<f64>,
    ) -> Vec<Vec<UploadedTask>> {
        let mut v = 0;
        (0..n)
            .map(|e| {
                (0..rng.gen_range(0..6))
                    .map(|_| {
                        v += 1;
                        up(v, e, rng.gen_range(mbit.clone()), rng.gen_range(cpb.clone()), rng.gen_range(0.2..1.0))
                    })
                    .collect()
            })
            .collect()
    }

    /// Random slots: a move is in the set exactly when replaying the whole slot with that one
    /// task moved completes at least as many tasks (brute force with `evaluate`).
    #[test]
    fn no_worse_moves_are_the_moves_that_lose_no_completion() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(5);
        let done = |r: &[TaskResult]| r.iter().filter(|t| t.completed()).count();
        let (mut members, mut others) = (0, 0);
        for case in 0..80 {
            let n = rng.gen_range(2..5u32);
            let rsus: Vec<RsuSpec> = (0..n).map(|i| rsu(i, i as f64 * 700.0, rng.gen_range(1.0..8.0))).collect();
            let uploads = random_uploads(&mut rng, n, 0.5..3.0, 200.0..1500.0);
            let free: Vec<f64> = rsus.iter().map(|r| r.cpu_hz).collect();
            let available: Vec<bool> = (0..n).map(|i| i == 0 || rng.gen_bool(0.8)).collect();
            let p = SlotProblem {
                rsus: &rsus,
                free_cpu_hz: &free,
                available: &available,
                wired: WiredLink::default(),
                allocator: AllocatorKind::Kkt,
                uploads: &uploads,
            };
            let dec: Vec<Vec<RsuId>> = uploads
                .iter()
                .map(|u| u.iter().map(|_| RsuId(rng.gen_range(0..n))).collect())
                .map(|d: Vec<RsuId>| d.into_iter().map(|r| if available[r.index()] { r } else { RsuId(0) }).collect())
                .collect();
            let sets = p.no_worse_moves(&dec);
            let base = done(&p.evaluate(&dec));
            for (e, row) in sets.iter().enumerate() {
                assert_eq!(row.len(), uploads[e].len());
                for (i, set) in row.iter().enumerate() {
                    assert!(set.contains(&dec[e][i]), "case {case}: the current executor is always accepted");
                    for b in 0..n {
                        let mut alt = dec.clone();
                        alt[e][i] = RsuId(b);
                        let ok = available[b as usize] && done(&p.evaluate(&alt)) >= base;
                        let member = set.contains(&RsuId(b));
                        assert_eq!(member, ok || RsuId(b) == dec[e][i], "case {case}: rsu {e} task {i} -> {b}");
                        if RsuId(b) != dec[e][i] {
                            if member {
                                members += 1
                            } else {
                                others += 1
                            }
                        }
                    }
                }
            }
        }
        assert!(members > 50 && others > 50, "both kinds of move occur: {members} accepted, {others} not");
    }

    #[test]
    fn hand_worked_slot() {
        // RSU0 at x=0 (2 GHz), RSU1 at x=1000 (8 GHz). Wired: default (ζ=0.0006667, z=50·2^20).
        // Tasks at RSU0: A = 1 Mbit × 1000 c/b (1e9 cycles), deadline 0.6 s, kept local;
        //                B = 2 Mbit × 1000 c/b (2e9 cycles), deadline 1.0 s, migrated to RSU1.
        // Task at RSU1:  C = 1 Mbit × 2000 c/b (2e9 cycles), deadline 0.5 s, local.
        let rsus = [rsu(0, 0.0, 2.0), rsu(1, 1000.0, 8.0)];
        let uploads =
            vec![vec![up(0, 0, 1.0, 1000.0, 0.6), up(1, 0, 2.0, 1000.0, 1.0)], vec![up(2, 1, 1.0, 2000.0, 0.5)]];
        let free = [2e9, 8e9];
        let p = SlotProblem {
            rsus: &rsus,
            free_cpu_hz: &free,
            available: &[true, true],
            wired: WiredLink::default(),
            allocator: AllocatorKind::Kkt,
            uploads: &uploads,
        };
        let r = p.evaluate(&[vec![RsuId(0), RsuId(1)], vec![RsuId(1)]]);
        // A alone at RSU0: 2 GHz, x = 0.5 s, u = 0.01 s, ψ = 0.51 ≤ 0.6: completed.
        assert_eq!(r[0].cpu_hz, 2e9);
        assert!((r[0].service_s - 0.51).abs() < 1e-12);
        assert_eq!(r[0].outcome, Outcome::Completed);
        // B and C share RSU1 by KKT: equal work (2e9 each) -> 4 GHz each, x = 0.5 s.
        // B: u = 0.02, w = 0.0006667·2e6·1000/52428800 = 1333.4/52428.8 = 0.025432...,
        //    ψ = 0.545432 ≤ 1.0: completed.
        let w = 0.0006667 * 2e6 * 1000.0 / 52_428_800.0;
        assert!((r[1].wired_s - w).abs() < 1e-15);
        assert!((r[1].cpu_hz - 4e9).abs() < 1e-3);
        assert!((r[1].service_s - (0.02 + w + 0.5)).abs() < 1e-12);
        assert_eq!(r[1].outcome, Outcome::Completed);
        // C: ψ = 0.01 + 0.5 = 0.51 > 0.5: missed.
        assert_eq!(r[2].outcome, Outcome::MissedDeadline);
        let s = score(&r, 2);
        assert_eq!(s.rates, vec![Some(1.0), Some(0.0)]);
        assert_eq!(s.potential, 1.0);
        // F_{-0}: A fails -> ψ0 = 1/2, F = 0.5, r0 = 0.5. F_{-1}: B fails -> ψ0 = 1/2, r1 = 0.5.
        assert_eq!(s.rewards, vec![0.5, 0.5]);
    }

    /// The definition of eq. 19, computed the slow way, against the closed form.
    #[test]
    fn rewards_match_definition_on_random_slots() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
        for _ in 0..200 {
            let n = rng.gen_range(1..6usize);
            let results: Vec<TaskResult> = (0..rng.gen_range(0..40u32))
                .map(|v| {
                    let mut t = TaskResult::early(
                        TaskId { slot: 0, vehicle: v },
                        Some(RsuId(rng.gen_range(0..n as u32))),
                        0.0,
                        Outcome::MissedDeadline,
                    );
                    t.executor = Some(RsuId(rng.gen_range(0..n as u32)));
                    if rng.gen_bool(0.5) {
                        t.outcome = Outcome::Completed;
                    }
                    t
                })
                .collect();
            let s = score(&results, n);
            let f = |skip: Option<u32>| -> f64 {
                (0..n as u32)
                    .filter_map(|u| {
                        let k: Vec<_> = results.iter().filter(|r| r.uploader == Some(RsuId(u))).collect();
                        if k.is_empty() {
                            return None;
                        }
                        let c = k.iter().filter(|r| r.completed() && r.executor.map(|e| e.0) != skip).count();
                        Some(c as f64 / k.len() as f64)
                    })
                    .sum()
            };
            assert!((s.potential - f(None)).abs() < 1e-12);
            for e in 0..n {
                assert!((s.rewards[e] - (f(None) - f(Some(e as u32)))).abs() < 1e-12);
            }
        }
    }

    /// The difference reward against a brute-force re-run of the slot without RSU e's uploads.
    #[test]
    fn difference_rewards_match_a_rerun_without_the_uploader() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(11);
        for _ in 0..150 {
            let n = rng.gen_range(1..5usize);
            let rsus: Vec<RsuSpec> =
                (0..n).map(|i| rsu(i as u32, 300.0 * i as f64, rng.gen_range(1.0..10.0))).collect();
            let free: Vec<f64> = rsus.iter().map(|r| r.cpu_hz * rng.gen_range(0.3..1.0)).collect();
            let uploads = random_uploads(&mut rng, n as u32, 0.5..4.0, 200.0..900.0);
            let decisions: Vec<Vec<RsuId>> =
                uploads.iter().map(|u| u.iter().map(|_| RsuId(rng.gen_range(0..n as u32))).collect()).collect();
            let available = vec![true; n];
            for allocator in [AllocatorKind::Proportional, AllocatorKind::Kkt] {
                let problem = SlotProblem {
                    rsus: &rsus,
                    free_cpu_hz: &free,
                    available: &available,
                    wired: WiredLink::default(),
                    allocator,
                    uploads: &uploads,
                };
                let results = problem.evaluate(&decisions);
                let s = score(&results, n);
                let d = difference_rewards(&results, &uploads, &free, allocator, &s);
                for e in 0..n {
                    let mut ups = uploads.clone();
                    ups[e].clear();
                    let mut dec = decisions.clone();
                    dec[e].clear();
                    let without = score(&SlotProblem { uploads: &ups, ..problem }.evaluate(&dec), n).potential;
                    let want = if uploads[e].is_empty() { 0.0 } else { s.potential - without };
                    assert!((d[e] - want).abs() < 1e-9, "e={e}: {} vs {want}", d[e]);
                }
            }
        }
    }
}
