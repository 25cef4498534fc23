//! What the networks see: a compact raw observation (stored in the replay buffer) and its
//! normalised encoding (recomputed when used, so the buffer holds ~100 floats per RSU-slot
//! instead of tasks x candidates x features).
//!
//! Nothing here is sized by the number of tasks or RSUs (SPEC §3): an observation is a *set* of
//! tasks and a *set* of candidate RSUs, every task is kept (no truncation), and every feature is
//! scaled to O(1) with the scenario's own ranges (bits ~1e6, Hz ~1e9 would otherwise saturate
//! the first layer).

use serde::{Deserialize, Serialize};
use std::sync::Arc;
use vecsim_core::policy::intent::Declared;
use vecsim_core::policy::Observation;
use vecsim_core::wired::WiredLink;
use vecsim_core::Scenario;

/// Per-task features: d, c, t, upload fraction of the deadline, slack, V2I distance.
pub(crate) const TASK_F: usize = 6;
/// Per (task, candidate) features: the candidate's wired distance, free CPU, uploaded load,
/// uploaded task count, is-self, available; then the predicted migration, execution and service
/// times over the deadline, and whether the predicted service time meets it.
pub(crate) const PAIR_F: usize = 10;
/// Pooled summary of the RSU's own tasks: log count, mean d, mean c, mean t.
pub(crate) const SUM_F: usize = 4;
/// Actor input: one row per (task, candidate).
pub(crate) const ACTOR_IN: usize = TASK_F + PAIR_F + SUM_F;
/// Critic input: one row per task with the chosen candidate's pair features, plus an own-task
/// flag (the centralised critic pools over every RSU's tasks).
pub(crate) const CRITIC_IN: usize = TASK_F + PAIR_F + SUM_F + 1;

/// Column of an actor row holding the pair's is-self flag (1 when the candidate is the
/// deciding RSU: keeping the task).
const KEEP_COL: usize = TASK_F + 4;

/// Adds `prior` logits to every row of `rows` (actor rows, [`ACTOR_IN`] wide) that keeps its task
/// at the deciding RSU (`[learning] local_prior`): the actor's scores are `net(row) + prior ·
/// keep`, everywhere they are used (decisions, TD targets, the actor's gradient, cloning), so the
/// prior is part of the policy, not of its inputs. A constant: it adds nothing to any gradient.
pub(crate) fn add_local_prior(logits: &mut [f32], rows: &[f32], prior: f32) {
    if prior == 0.0 {
        return;
    }
    debug_assert_eq!(rows.len(), logits.len() * ACTOR_IN, "one actor row per logit");
    for (z, row) in logits.iter_mut().zip(rows.chunks_exact(ACTOR_IN)) {
        *z += prior * row[KEEP_COL];
    }
}

/// Ratios are clipped here: beyond 4 deadlines late, "late" is all a network needs to know.
const RATIO_CAP: f32 = 4.0;

/// One RSU's observation at one slot, in SI units, as stored in the replay buffer.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RawObs {
    /// Index of the deciding RSU among `cands`.
    pub self_idx: u32,
    /// Per task: `[d bits, c cycles/bit, t_k s, upload s, V2I distance m]`.
    pub tasks: Vec<[f32; 5]>,
    /// Per candidate RSU: `[wired distance m, free CPU Hz, uploaded load sqrt(cycles), uploaded
    /// tasks, available 0/1]`.
    pub cands: Vec<[f32; 5]>,
    /// Per candidate RSU, what the other RSUs' declared intent changes (`[learning]
    /// rsus_in_turn`; empty without it): `[load sqrt(cycles), tasks]` to add to the
    /// candidate's load — for another RSU what it receives less what it sends away, for the
    /// deciding RSU what it receives ([`vecsim_core::policy::intent::Declared`]).
    pub declared: Vec<[f32; 2]>,
}

impl RawObs {
    /// Copies the parts of a policy's [`Observation`] the networks use (SI units, as `f32`).
    pub fn from_observation(obs: &Observation<'_>) -> RawObs {
        RawObs {
            self_idx: obs.rsu.0,
            tasks: obs
                .tasks
                .iter()
                .map(|u| {
                    [
                        u.task.data_bits as f32,
                        u.task.cycles_per_bit as f32,
                        u.task.deadline_s as f32,
                        u.upload_s as f32,
                        u.distance_m as f32,
                    ]
                })
                .collect(),
            cands: obs
                .candidates
                .iter()
                .map(|c| {
                    [
                        c.distance_m as f32,
                        c.free_cpu_hz as f32,
                        c.uploaded_load as f32,
                        c.uploaded_tasks as f32,
                        if c.available { 1.0 } else { 0.0 },
                    ]
                })
                .collect(),
            declared: Vec::new(),
        }
        .with_declared(obs.candidates.iter().map(|c| c.declared))
    }

    /// Sets what the declarations before this RSU change (`declared`), one per candidate;
    /// left empty when nothing was declared (the encoding is then the same).
    pub fn with_declared<I>(mut self, d: I) -> RawObs
    where
        I: IntoIterator<Item = Declared>,
        I::IntoIter: Clone,
    {
        let d = d.into_iter();
        self.declared = if d.clone().all(|d| d == Declared::default()) {
            Vec::new()
        } else {
            d.map(|d| [(d.in_load - d.out_load) as f32, d.in_tasks as f32 - d.out_tasks as f32]).collect()
        };
        self
    }

    /// The observation of an RSU that had no uploads this slot (its policy was not asked).
    pub fn empty(rsu: usize) -> RawObs {
        RawObs { self_idx: rsu as u32, tasks: Vec::new(), cands: Vec::new(), declared: Vec::new() }
    }
}

/// Normalisers taken from the scenario, so features are O(1) whatever the units' magnitudes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Scales {
    /// Largest task size `d_max`, bits.
    pub data_bits: f32,
    /// Largest task intensity `c_max`, CPU cycles per bit.
    pub cycles_per_bit: f32,
    /// Longest task deadline `t_max`, s.
    pub deadline_s: f32,
    /// Largest RSU V2I range, m (at least 1).
    pub range_m: f32,
    /// Largest RSU-to-RSU distance, m (at least 1).
    pub wired_m: f32,
    /// Largest RSU CPU frequency, Hz (cycles/s; at least 1).
    pub cpu_hz: f32,
    /// `sqrt(d_max c_max)`, the load of one largest task.
    pub sqrt_work: f32,
    /// The scenario's wired link, to predict migration delays (eq. 4).
    pub wired: WiredLink,
}

impl Scales {
    /// Takes the normalisers from the scenario's task ranges and RSU specs.
    pub fn from_scenario(s: &Scenario) -> Scales {
        let specs = s.rsu_specs();
        let mut wired_m: f64 = 1.0;
        for a in &specs {
            for b in &specs {
                wired_m = wired_m.max(a.pos.distance(b.pos));
            }
        }
        let data_bits = s.tasks.data_mbit.max * 1e6;
        let cpb = s.tasks.cycles_per_bit.max;
        Scales {
            data_bits: data_bits as f32,
            cycles_per_bit: cpb as f32,
            deadline_s: s.tasks.deadline_s.max as f32,
            range_m: specs.iter().map(|r| r.range_m).fold(1.0, f64::max) as f32,
            wired_m: wired_m as f32,
            cpu_hz: specs.iter().map(|r| r.cpu_hz).fold(1.0, f64::max) as f32,
            sqrt_work: (data_bits * cpb).sqrt().max(1.0) as f32,
            wired: s.wired,
        }
    }
}

/// An encoded observation: features ready to be laid out as network rows.
#[derive(Clone, Debug, Default)]
pub(crate) struct Enc {
    /// Number of tasks uploaded to the deciding RSU this slot.
    pub n_tasks: usize,
    /// Number of candidate executing RSUs.
    pub n_cands: usize,
    /// `[n_tasks x TASK_F]`.
    pub task: Vec<f32>,
    /// `[n_tasks x n_cands x PAIR_F]`.
    pub pair: Vec<f32>,
    /// Which candidates may be chosen.
    pub mask: Vec<bool>,
    /// Pooled summary of the RSU's tasks (see [`SUM_F`]).
    pub summary: [f32; SUM_F],
    /// Tasks decided in turn: the source to recompute pair features from ([`encode_in_turn`]).
    pub in_turn: Option<InTurnSrc>,
}

impl Enc {
    /// The `PAIR_F` features of task `k` sent to candidate `j`.
    pub(crate) fn pair(&self, k: usize, j: usize) -> &[f32] {
        let o = (k * self.n_cands + j) * PAIR_F;
        &self.pair[o..o + PAIR_F]
    }

    /// Appends the actor rows `[task_k, pair_kj, summary]` for every (k, j).
    pub(crate) fn actor_rows(&self, out: &mut Vec<f32>) {
        for k in 0..self.n_tasks {
            for j in 0..self.n_cands {
                out.extend_from_slice(&self.task[k * TASK_F..(k + 1) * TASK_F]);
                out.extend_from_slice(self.pair(k, j));
                out.extend_from_slice(&self.summary);
            }
        }
    }

    /// Appends one critic row per task: `[task_k, pair_{k,a_k}, summary, own]`.
    pub(crate) fn critic_rows(&self, actions: &[u16], own: bool, out: &mut Vec<f32>) {
        assert_eq!(actions.len(), self.n_tasks, "one action per task");
        for (k, &a) in actions.iter().enumerate() {
            out.extend_from_slice(&self.task[k * TASK_F..(k + 1) * TASK_F]);
            out.extend_from_slice(self.pair(k, a as usize));
            out.extend_from_slice(&self.summary);
            out.push(if own { 1.0 } else { 0.0 });
        }
    }
}

impl Enc {
    /// Like [`Enc::critic_rows`] with a relaxed action: `weights[k * n_cands + j]` is task k's
    /// weight on candidate j, and the row carries `Σ_j w_kj · pair_kj` (a one-hot weight gives
    /// exactly `critic_rows`' row). The actor chain's finite-difference tests use it.
    pub(crate) fn critic_rows_relaxed(&self, weights: &[f32], own: bool, out: &mut Vec<f32>) {
        assert_eq!(weights.len(), self.n_tasks * self.n_cands, "one weight per (task, candidate)");
        for k in 0..self.n_tasks {
            out.extend_from_slice(&self.task[k * TASK_F..(k + 1) * TASK_F]);
            let mut p = [0.0f32; PAIR_F];
            for j in 0..self.n_cands {
                let w = weights[k * self.n_cands + j];
                for (a, &b) in p.iter_mut().zip(self.pair(k, j)) {
                    *a += w * b;
                }
            }
            out.extend_from_slice(&p);
            out.extend_from_slice(&self.summary);
            out.push(if own { 1.0 } else { 0.0 });
        }
    }
}

fn ratio(x: f32, t: f32) -> f32 {
    if t > 0.0 && x.is_finite() {
        (x / t).min(RATIO_CAP)
    } else {
        RATIO_CAP
    }
}

/// Encodes a raw observation. Deterministic: the same input gives the same bits.
pub(crate) fn encode(raw: &RawObs, s: &Scales) -> Enc {
    let n_t = raw.tasks.len();
    let n_c = raw.cands.len();
    let mut task = Vec::with_capacity(n_t * TASK_F);
    let mut summary = [0.0f32; SUM_F];
    summary[0] = (1.0 + n_t as f32).ln() / 4.0;
    for t in &raw.tasks {
        let [d, c, tk, up, dist] = *t;
        task.extend_from_slice(&[
            d / s.data_bits,
            c / s.cycles_per_bit,
            tk / s.deadline_s,
            ratio(up, tk),
            (tk - up) / s.deadline_s,
            dist / s.range_m,
        ]);
        summary[1] += d / s.data_bits / n_t as f32;
        summary[2] += c / s.cycles_per_bit / n_t as f32;
        summary[3] += tk / s.deadline_s / n_t as f32;
    }
    let mut pair = Vec::with_capacity(n_t * n_c * PAIR_F);
    for k in 0..n_t {
        for j in 0..n_c {
            pair.extend_from_slice(&pair_row(raw, s, k, j, None));
        }
    }
    let mut mask: Vec<bool> = raw.cands.iter().map(|c| c[4] > 0.5).collect();
    if !mask.iter().any(|&m| m) && n_c > 0 {
        // Every candidate down (cannot happen with uploads: the uploader is up). Fall back to self.
        mask[(raw.self_idx as usize).min(n_c - 1)] = true;
    }
    Enc { n_tasks: n_t, n_cands: n_c, task, pair, mask, summary, in_turn: None }
}

/// The `PAIR_F` features of task `k` sent to candidate `j`. `assigned`: tasks decided in turn
/// (`[learning] tasks_in_turn`), with `(load, count)` the `sqrt(d·c)` load (cycles^½) and the
/// number of tasks this RSU has already sent to each candidate in this slot; `None`: the
/// paper-faithful independent form.
fn pair_row(raw: &RawObs, s: &Scales, k: usize, j: usize, assigned: Option<(&[f32], &[f32])>) -> [f32; PAIR_F] {
    let [d, c, tk, up, _] = raw.tasks[k];
    let sk = (d * c).sqrt();
    let [wd, free, load, count, avail] = raw.cands[j];
    let is_self = j == raw.self_idx as usize;
    // The others' declared intent, carried out (`[learning] rsus_in_turn`; 0 without it).
    let [dl, dn] = raw.declared.get(j).copied().unwrap_or_default();
    let (load, count) = ((load + dl).max(0.0), (count + dn).max(0.0));
    let w = s.wired.delay_s(d as f64, wd as f64) as f32;
    let (load, count, denom) = match assigned {
        // KKT share if the task joins candidate j's uploads (its own load already counts it).
        None => (load, count, if is_self { load.max(sk) } else { load + sk }),
        // orm's model (`core/src/policy/orm.rs`): another RSU keeps its own uploads and gains
        // what this RSU has sent it so far; this RSU starts empty and holds what it kept.
        Some((al, ac)) => {
            let (l, n) = if is_self { (al[j] + dl, ac[j] + dn) } else { (load + al[j], count + ac[j]) };
            (l, n, l + sk)
        }
    };
    let x = if free > 0.0 { sk * denom / free } else { f32::INFINITY };
    let psi = up + w + x;
    [
        wd / s.wired_m,
        free / s.cpu_hz,
        (1.0 + load / s.sqrt_work).ln() / 4.0,
        (1.0 + count).ln() / 4.0,
        if is_self { 1.0 } else { 0.0 },
        avail,
        ratio(w, tk),
        ratio(x, tk),
        ratio(psi, tk),
        if psi <= tk { 1.0 } else { 0.0 },
    ]
}

/// What an in-turn encoding needs to recompute a task's pair features when the tasks before it
/// are assigned differently (the target actor's own decisions in the TD target).
#[derive(Clone, Debug)]
pub(crate) struct InTurnSrc {
    /// The raw observation.
    pub raw: Arc<RawObs>,
    /// The scenario's normalisers.
    pub scales: Arc<Scales>,
}

/// The load (`sqrt(d·c)`, cycles^½) and task count this RSU has sent to each of `n_c`
/// candidates with the decisions `prefix` of its first tasks.
fn assigned_by(raw: &RawObs, prefix: &[u16], n_c: usize) -> (Vec<f32>, Vec<f32>) {
    let (mut load, mut count) = (vec![0.0f32; n_c], vec![0.0f32; n_c]);
    for (t, &a) in raw.tasks.iter().zip(prefix) {
        if let Some(l) = load.get_mut(a as usize) {
            *l += (t[0] * t[1]).sqrt();
            count[a as usize] += 1.0;
        }
    }
    (load, count)
}

/// Encodes `raw` for tasks decided in turn (`[learning] tasks_in_turn`): task `k`'s pair
/// features see the load this RSU has already sent to each candidate with `acts[..k]` (all of
/// `acts` for the tasks past its end). With the actions the RSU took, this is exactly what its
/// actor saw when it decided (decisions and replay both go through here).
pub(crate) fn encode_in_turn(raw: &Arc<RawObs>, s: &Arc<Scales>, acts: &[u16]) -> Enc {
    let mut enc = encode(raw, s);
    enc.in_turn = Some(InTurnSrc { raw: raw.clone(), scales: s.clone() });
    for k in 0..enc.n_tasks {
        enc.refresh_task(k, &acts[..k.min(acts.len())]);
    }
    enc
}

impl Enc {
    /// Whether this encoding decides tasks in turn.
    pub(crate) fn is_in_turn(&self) -> bool {
        self.in_turn.is_some()
    }

    /// Recomputes task `k`'s pair features with the tasks before it assigned as `prefix`
    /// (in-turn encodings only; a no-op otherwise).
    pub(crate) fn refresh_task(&mut self, k: usize, prefix: &[u16]) {
        let Some(src) = &self.in_turn else { return };
        let nc = self.n_cands;
        let (load, count) = assigned_by(&src.raw, prefix, nc);
        for j in 0..nc {
            let row = pair_row(&src.raw, &src.scales, k, j, Some((&load, &count)));
            let o = (k * nc + j) * PAIR_F;
            self.pair[o..o + PAIR_F].copy_from_slice(&row);
        }
    }

    /// Appends the actor rows `[task_k, pair_kj, summary]` of task `k` only.
    pub(crate) fn task_actor_rows(&self, k: usize, out: &mut Vec<f32>) {
        for j in 0..self.n_cands {
            out.extend_from_slice(&self.task[k * TASK_F..(k + 1) * TASK_F]);
            out.extend_from_slice(self.pair(k, j));
            out.extend_from_slice(&self.summary);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RSU 0 deciding three tasks between itself (1 GHz free, its own uploads 2.5e4 cycles^½)
    /// and RSU 1 (2 GHz free, 500 m away, 1e4 cycles^½ of uploads, one task).
    fn example() -> (Arc<RawObs>, Arc<Scales>) {
        let raw = RawObs {
            self_idx: 0,
            tasks: vec![
                // d bits, c cycles/bit, deadline s, upload s, V2I m; sqrt(d·c) = 1e4, 5e3, 1e4.
                [1e6, 100.0, 1.0, 0.1, 50.0],
                [1e6, 25.0, 1.0, 0.1, 50.0],
                [1e6, 100.0, 1.0, 0.1, 50.0],
            ],
            cands: vec![[0.0, 1e9, 2.5e4, 3.0, 1.0], [500.0, 2e9, 1e4, 1.0, 1.0]],
            declared: Vec::new(),
        };
        let s = Scales {
            data_bits: 1e6,
            cycles_per_bit: 100.0,
            deadline_s: 1.0,
            range_m: 100.0,
            wired_m: 1000.0,
            cpu_hz: 2e9,
            sqrt_work: 1e4,
            wired: WiredLink { rate_bps: 1e8, discount_per_m: 1e-3 },
        };
        (Arc::new(raw), Arc::new(s))
    }

    fn close(a: f32, b: f32) -> bool {
        (a - b).abs() <= 1e-6 * b.abs().max(1.0)
    }

    /// The local prior lands on the rows that keep a task at RSU 0 (candidate 0 of the
    /// example, `self_idx` 0): rows 0, 2 and 4 of three tasks × two candidates, in either
    /// encoding; 0 changes nothing.
    #[test]
    fn the_local_prior_raises_keeping_only() {
        let (raw, s) = example();
        for enc in [encode(&raw, &s), encode_in_turn(&raw, &s, &[])] {
            let mut rows = Vec::new();
            enc.actor_rows(&mut rows);
            let base = [0.5f32, -1.0, 0.25, 0.0, 3.0, 2.0];
            let mut z = base;
            add_local_prior(&mut z, &rows, 0.0);
            assert_eq!(z, base);
            add_local_prior(&mut z, &rows, 2.0);
            assert_eq!(z, [2.5, -1.0, 2.25, 0.0, 5.0, 2.0]);
        }
    }

    /// Worked by hand (orm's model: self starts empty, a neighbour keeps its uploads).
    /// Decisions: task 0 → RSU 1, task 1 → RSU 0 (self). Task 2 then sees
    /// - self: load 5e3 (task 1), 1 task: x = 1e4·(5e3 + 1e4)/1e9 = 0.15 s;
    /// - RSU 1: load 1e4 + 1e4 (task 0), 2 tasks: x = 1e4·(2e4 + 1e4)/2e9 = 0.15 s,
    ///   wired w = 1e-3·1e6·500/1e8 = 0.005 s, ψ = 0.1 + 0.005 + 0.15 = 0.255 s.
    ///
    /// Task 0 sees nothing assigned: self x = 1e4·1e4/1e9 = 0.1 s, RSU 1 x = 1e4·2e4/2e9 = 0.1 s.
    #[test]
    fn in_turn_features_count_the_tasks_already_assigned() {
        let (raw, s) = example();
        let enc = encode_in_turn(&raw, &s, &[1, 0, 1]);
        let t2_self = enc.pair(2, 0);
        assert!(close(t2_self[2], (1.5f32).ln() / 4.0), "{t2_self:?}");
        assert!(close(t2_self[3], (2.0f32).ln() / 4.0));
        assert!(close(t2_self[7], 0.15));
        assert!(close(t2_self[8], 0.25), "ψ = 0.1 + 0 + 0.15");
        let t2_n = enc.pair(2, 1);
        assert!(close(t2_n[2], (3.0f32).ln() / 4.0), "{t2_n:?}");
        assert!(close(t2_n[3], (3.0f32).ln() / 4.0));
        assert!(close(t2_n[6], 0.005));
        assert!(close(t2_n[7], 0.15));
        assert!(close(t2_n[8], 0.255));
        assert_eq!(t2_n[9], 1.0, "meets the 1 s deadline");
        assert!(close(enc.pair(0, 0)[7], 0.1) && close(enc.pair(0, 1)[7], 0.1));
        assert_eq!(enc.pair(0, 0)[2], 0.0, "self starts empty");
        // The independent encoding: self counts all its uploads, x = 1e4·2.5e4/1e9 = 0.25 s;
        // RSU 1 x = 1e4·(1e4 + 1e4)/2e9 = 0.1 s, whatever was decided before.
        let ind = encode(&raw, &s);
        assert!(close(ind.pair(2, 0)[7], 0.25) && close(ind.pair(2, 1)[7], 0.1));
        // Task features, summary and mask are those of the independent encoding.
        assert_eq!(
            (ind.task.clone(), ind.summary, ind.mask.clone()),
            (enc.task.clone(), enc.summary, enc.mask.clone())
        );
    }

    /// The example with declared intent: the other RSUs declared 5e3 (one task) to RSU 0, and
    /// RSU 1 declared its one upload (1e4) away. Task 0, nothing assigned yet, sees
    /// - self: load 5e3, 1 task: x = 1e4·(5e3 + 1e4)/1e9 = 0.15 s (0.1 s without intent);
    /// - RSU 1: load 1e4 − 1e4 = 0, 0 tasks: x = 1e4·1e4/2e9 = 0.05 s (0.1 s without).
    ///
    /// Task 2 after task 0 → RSU 1 and task 1 → self: self 5e3 + 5e3, x = 1e4·2e4/1e9 = 0.2 s;
    /// RSU 1 0 + 1e4, x = 1e4·2e4/2e9 = 0.1 s. The independent form (no task counted as
    /// assigned): self 2.5e4 + 5e3, x = 1e4·3e4/1e9 = 0.3 s; RSU 1 load 0, x = 0.05 s.
    #[test]
    fn rsus_in_turn_moves_the_loads_the_features_see() {
        let (raw, s) = example();
        let mut raw = (*raw).clone();
        raw.declared = vec![[5e3, 1.0], [-1e4, -1.0]];
        let raw = Arc::new(raw);
        let enc = encode_in_turn(&raw, &s, &[1, 0, 1]);
        assert!(close(enc.pair(0, 0)[7], 0.15) && close(enc.pair(0, 1)[7], 0.05), "{:?}", enc.pair(0, 1));
        assert!(close(enc.pair(0, 0)[2], (1.5f32).ln() / 4.0) && close(enc.pair(0, 0)[3], (2.0f32).ln() / 4.0));
        assert_eq!((enc.pair(0, 1)[2], enc.pair(0, 1)[3]), (0.0, 0.0), "RSU 1 sends its upload away");
        assert!(close(enc.pair(2, 0)[7], 0.2) && close(enc.pair(2, 1)[7], 0.1));
        let ind = encode(&raw, &s);
        assert!(close(ind.pair(2, 0)[7], 0.3) && close(ind.pair(2, 1)[7], 0.05));
    }

    /// Refreshing a task with a prefix gives the encoding of that prefix, so a rollout that
    /// refreshes task by task ends with `encode_in_turn` of its decisions.
    #[test]
    fn refreshing_in_turn_matches_encoding_with_the_decisions() {
        let (raw, s) = example();
        let mut enc = encode_in_turn(&raw, &s, &[]);
        let acts = [0u16, 1, 1];
        for k in 0..3 {
            enc.refresh_task(k, &acts[..k]);
        }
        assert_eq!(enc.pair, encode_in_turn(&raw, &s, &acts).pair);
        assert_ne!(enc.pair, encode_in_turn(&raw, &s, &[1, 0, 0]).pair);
        // An independent encoding ignores refreshes.
        let mut ind = encode(&raw, &s);
        let before = ind.pair.clone();
        ind.refresh_task(2, &acts[..2]);
        assert_eq!(ind.pair, before);
    }
}
