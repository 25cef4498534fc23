//! Replay buffer of slot records and the n-step return of eq. (21).
//!
//! The buffer stores one record per slot (the observations and actions of the RSUs it covers,
//! their rewards, and whether the slot ended the episode) in a ring of fixed capacity. A
//! transition is assembled when sampled: from record `i` the n-step return is
//! `Σ_{n<N} γ^n r_{i+n}`, bootstrapping from the observation of record `i+N` with discount
//! `γ^N`; a window that reaches the episode's last slot (a time limit, not a terminal state)
//! stops there and bootstraps from it. Storing slots rather
//! than (o, a, R, o') tuples halves memory and keeps `N` a sampling choice.
//!
//! A local learner (fed-maddpg) has one buffer holding only its RSU's data (no state sharing);
//! each centralised learner (maddpg, masac) holds its own copy of the joint records.

use crate::features::RawObs;
use rand::Rng;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// What one slot leaves in a buffer: the covered RSUs' observations, actions and rewards.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SlotRecord {
    /// One observation per RSU the buffer covers (shared: every RSU's copy of a joint record
    /// points at the same observations).
    pub obs: Vec<Arc<RawObs>>,
    /// The executing-RSU index chosen for each task of each observation.
    pub act: Vec<Vec<u16>>,
    /// `r_e^t` per RSU (eq. 19).
    pub reward: Vec<f32>,
    /// The slot was the episode's last.
    pub end: bool,
}

/// A sampled n-step transition for one RSU.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct NStep {
    /// Logical index of the record the transition starts from.
    pub idx: u64,
    /// `Σ_{n<N} γ^n r`.
    pub ret: f32,
    /// `γ^N`, or 0 when the episode ended within the N steps.
    pub discount: f32,
    /// Record to bootstrap from (`idx + N`), absent at the episode's end.
    pub next: Option<u64>,
}

/// Ring buffer of [`SlotRecord`]s with a fixed capacity (Table III: `10^6`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Replay {
    capacity: usize,
    ring: Vec<SlotRecord>,
    /// Records ever pushed; logical indices `total - len .. total` are in the ring.
    total: u64,
    /// Records in the ring where each covered RSU had tasks (a decision to learn from).
    decisions: Vec<u64>,
}

impl Replay {
    /// An empty buffer of `capacity` records (at least 1) covering `covered` RSUs.
    pub fn new(capacity: usize, covered: usize) -> Replay {
        Replay { capacity: capacity.max(1), ring: Vec::new(), total: 0, decisions: vec![0; covered] }
    }

    /// Checks a loaded buffer's invariants against what it must cover: `covered` RSUs per
    /// record, each observation's actions within its candidates. The error names the field.
    pub fn validate(&self, covered: usize) -> Result<(), String> {
        if self.capacity == 0 {
            return Err("replay.capacity: 0".into());
        }
        if self.decisions.len() != covered {
            return Err(format!("replay.decisions: {} entries, expected {covered}", self.decisions.len()));
        }
        // Records `total - len .. total` sit at index `idx % capacity`: the ring is full, or
        // holds every record ever pushed.
        let expect = self.total.min(self.capacity as u64);
        if self.ring.len() as u64 != expect {
            return Err(format!(
                "replay.ring: {} records, expected {expect} (capacity {}, {} pushed)",
                self.ring.len(),
                self.capacity,
                self.total
            ));
        }
        let mut decisions = vec![0u64; covered];
        for (r, rec) in self.ring.iter().enumerate() {
            if rec.obs.len() != covered || rec.act.len() != covered || rec.reward.len() != covered {
                return Err(format!(
                    "replay.ring[{r}]: {} observations, {} action lists, {} rewards, expected {covered} each",
                    rec.obs.len(),
                    rec.act.len(),
                    rec.reward.len()
                ));
            }
            for (i, (o, a)) in rec.obs.iter().zip(&rec.act).enumerate() {
                if a.len() != o.tasks.len() {
                    return Err(format!("replay.ring[{r}].act[{i}]: {} actions for {} tasks", a.len(), o.tasks.len()));
                }
                if let Some(bad) = a.iter().find(|&&x| x as usize >= o.cands.len()) {
                    return Err(format!("replay.ring[{r}].act[{i}]: action {bad} of {} candidates", o.cands.len()));
                }
                decisions[i] += u64::from(!a.is_empty());
            }
        }
        if decisions != self.decisions {
            return Err(format!("replay.decisions: {:?}, the records hold {decisions:?}", self.decisions));
        }
        Ok(())
    }

    /// Replaces record `idx` (tests: damaged buffers).
    #[cfg(test)]
    pub(crate) fn replace_for_test(&mut self, idx: u64, r: SlotRecord) {
        let i = (idx % self.capacity as u64) as usize;
        self.ring[i] = r;
    }

    /// The capacity, records.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// RSUs each record covers.
    pub fn covered(&self) -> usize {
        self.decisions.len()
    }

    /// Records held now (at most the capacity).
    pub fn len(&self) -> usize {
        self.ring.len()
    }

    /// Whether no record is held.
    pub fn is_empty(&self) -> bool {
        self.ring.is_empty()
    }

    /// Records ever pushed, evicted ones included; the next record's logical index.
    pub fn total(&self) -> u64 {
        self.total
    }

    /// Records in the buffer with a decision by covered RSU `i`.
    pub fn decisions(&self, i: usize) -> u64 {
        self.decisions[i]
    }

    /// Appends a record, evicting the oldest when full.
    pub fn push(&mut self, r: SlotRecord) {
        for (i, a) in r.act.iter().enumerate() {
            if !a.is_empty() {
                self.decisions[i] += 1;
            }
        }
        if self.ring.len() < self.capacity {
            self.ring.push(r);
        } else {
            let slot = (self.total % self.capacity as u64) as usize;
            let old = std::mem::replace(&mut self.ring[slot], r);
            for (i, a) in old.act.iter().enumerate() {
                if !a.is_empty() {
                    self.decisions[i] -= 1;
                }
            }
        }
        self.total += 1;
    }

    /// Logical index of the oldest record still held.
    pub fn oldest(&self) -> u64 {
        self.total - self.ring.len() as u64
    }

    /// The record at logical index `idx`; panics if it is not held.
    pub fn get(&self, idx: u64) -> &SlotRecord {
        assert!(idx >= self.oldest() && idx < self.total, "record {idx} is not in the buffer");
        &self.ring[(idx % self.capacity as u64) as usize]
    }

    /// The n-step transition of covered RSU `i` from record `idx`, if it is complete and has a
    /// decision.
    ///
    /// The end of an episode is a time limit, not a terminal state: the value beyond it is not
    /// zero. So a window that reaches the episode's last slot stops there and bootstraps from that
    /// slot's observation (`Σ_{k<m} γ^k r`, discount `γ^m`); the last slot itself, whose successor
    /// was never observed, is no transition.
    pub fn nstep(&self, idx: u64, i: usize, n: u32, gamma: f32) -> Option<NStep> {
        if idx < self.oldest() || idx >= self.total || self.get(idx).act[i].is_empty() || self.get(idx).end {
            return None;
        }
        let mut ret = 0.0f32;
        let mut g = 1.0f32;
        for k in 0..n as u64 {
            if idx + k + 1 >= self.total {
                return None;
            }
            let r = self.get(idx + k);
            ret += g * r.reward[i];
            g *= gamma;
            if self.get(idx + k + 1).end {
                return Some(NStep { idx, ret, discount: g, next: Some(idx + k + 1) });
            }
        }
        Some(NStep { idx, ret, discount: g, next: Some(idx + n as u64) })
    }

    /// Up to `batch` complete transitions of RSU `i`, uniformly among records in the buffer
    /// (with replacement; records without a decision are redrawn, a bounded number of times).
    pub fn sample<R: Rng + ?Sized>(&self, i: usize, batch: usize, n: u32, gamma: f32, rng: &mut R) -> Vec<NStep> {
        let mut out = Vec::with_capacity(batch);
        if self.ring.is_empty() {
            return out;
        }
        let lo = self.oldest();
        for _ in 0..batch {
            for _ in 0..64 {
                let idx = rng.gen_range(lo..self.total);
                if let Some(t) = self.nstep(idx, i, n, gamma) {
                    out.push(t);
                    break;
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(r: f32, end: bool, has: bool) -> SlotRecord {
        SlotRecord {
            obs: vec![Arc::new(RawObs::empty(0))],
            act: vec![if has { vec![0] } else { vec![] }],
            reward: vec![r],
            end,
        }
    }

    #[test]
    fn nstep_return_and_episode_end() {
        let mut b = Replay::new(10, 1);
        for (k, r) in [1.0, 2.0, 4.0, 8.0].into_iter().enumerate() {
            b.push(rec(r, k == 3, true));
        }
        // eq. (21) with N = 2, γ = 0.5: 1 + 0.5·2, bootstrapping from record 2 with γ² = 0.25.
        assert_eq!(b.nstep(0, 0, 2, 0.5), Some(NStep { idx: 0, ret: 2.0, discount: 0.25, next: Some(2) }));
        // From record 2 the window meets the episode's last slot (record 3, a time limit): 4,
        // then bootstrap from record 3 with γ = 0.5, not a terminal zero.
        assert_eq!(b.nstep(2, 0, 2, 0.5), Some(NStep { idx: 2, ret: 4.0, discount: 0.5, next: Some(3) }));
        // From record 1 with N = 3: 2 + 0.5·4, bootstrapping from record 3 with γ² = 0.25.
        assert_eq!(b.nstep(1, 0, 3, 0.5), Some(NStep { idx: 1, ret: 4.0, discount: 0.25, next: Some(3) }));
        // The last slot has no observed successor: no transition.
        assert_eq!(b.nstep(3, 0, 3, 0.5), None);
    }

    #[test]
    fn incomplete_and_decisionless_records_are_not_transitions() {
        let mut b = Replay::new(10, 1);
        b.push(rec(1.0, false, false));
        b.push(rec(1.0, false, true));
        assert_eq!(b.nstep(0, 0, 1, 0.9), None);
        assert_eq!(b.nstep(1, 0, 1, 0.9), None, "needs record 2 to bootstrap");
        b.push(rec(1.0, false, true));
        assert!(b.nstep(1, 0, 1, 0.9).is_some());
    }

    #[test]
    fn ring_evicts_oldest_and_keeps_counts() {
        let mut b = Replay::new(3, 1);
        for k in 0..5 {
            b.push(rec(k as f32, false, k % 2 == 0));
        }
        assert_eq!(b.len(), 3);
        assert_eq!(b.oldest(), 2);
        assert_eq!(b.get(4).reward[0], 4.0);
        assert_eq!(b.decisions(0), 2); // records 2 and 4
    }
}
