//! RSUs that decide in turn (beyond the paper): RSU 0 decides first and declares what it
//! sends where; RSU 1 decides seeing that declaration; and so on in id order, each RSU seeing
//! the declarations of the RSUs before it.
//!
//! Why: an RSU decides from its own uploads and the others' public load summaries, so it
//! cannot see that three neighbours are about to send their tasks to the same idle RSU; the
//! `br-ne` oracle can (it sees every RSU's tasks). Declarations narrow that gap with messages
//! only, and execution stays decentralised: each RSU still decides alone, from its own
//! observation plus the declarations it was sent — per destination, the load `Σ sqrt(d·c)`
//! (sqrt(cycles)) and the number of tasks. A declaration is the RSU's final decision, so what
//! a later RSU sees is what will happen. (A first version held one simultaneous round in which
//! every RSU declared `orm`'s tentative pass before anyone decided: everyone then re-decided at
//! once against plans nobody carried out, and `orm` on those loads fell below staying local on
//! dense traffic; `docs/learning.md` has the numbers.)
//!
//! A run decides in turn only when a policy asks for it ([`super::Policy::decides_in_turn`]):
//! otherwise the candidates' [`Declared`] are zero and nothing else changes.

use super::Candidate;
use crate::ids::RsuId;
use crate::task::UploadedTask;
use serde::{Deserialize, Serialize};

/// One RSU's declaration for one slot: what it sends to each other RSU.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Intent {
    /// `(destination, load Σ sqrt(d·c) in sqrt(cycles), tasks)`, by destination id; only
    /// destinations other than the declaring RSU, only those that get tasks.
    pub sends: Vec<(RsuId, f64, u32)>,
}

impl Intent {
    /// The declaration of RSU `me` that sends `tasks[i]` to `decisions[i]`.
    pub fn of(me: RsuId, tasks: &[UploadedTask], decisions: &[RsuId]) -> Intent {
        let mut sends: Vec<(RsuId, f64, u32)> = Vec::new();
        for (t, &to) in tasks.iter().zip(decisions) {
            if to == me {
                continue;
            }
            let w = t.task.work_cycles().sqrt();
            match sends.iter_mut().find(|s| s.0 == to) {
                Some(s) => {
                    s.1 += w;
                    s.2 += 1;
                }
                None => sends.push((to, w, 1)),
            }
        }
        sends.sort_by_key(|s| s.0);
        Intent { sends }
    }
}

/// What the RSUs before the deciding one declared about one candidate. Zero when the run does
/// not decide in turn.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Declared {
    /// Load the other RSUs (not the deciding one) declared they send to this candidate,
    /// `Σ sqrt(d·c)`, sqrt(cycles).
    pub in_load: f64,
    /// Number of tasks in `in_load`.
    pub in_tasks: u32,
    /// Load of its own uploads this candidate declared it sends away (0 for the deciding RSU
    /// itself and for the RSUs after it, which have not declared yet), sqrt(cycles).
    pub out_load: f64,
    /// Number of tasks in `out_load`.
    pub out_tasks: u32,
}

impl Declared {
    /// The candidate's load once the declarations are carried out: its own uploads less what it
    /// sends away plus what it receives, sqrt(cycles). For the deciding RSU this is what it
    /// receives (it starts from what it keeps, as `orm` does).
    pub fn expected_load(&self, uploaded_load: f64, is_self: bool) -> f64 {
        if is_self {
            self.in_load
        } else {
            (uploaded_load - self.out_load).max(0.0) + self.in_load
        }
    }
}

/// What RSU `me` sees of the declarations `intents[i]` (RSU i's; empty for an RSU that has
/// not declared), for each of `n` candidates (index = RSU id). `me`'s own entry is left out: it
/// decides afresh.
pub fn declared(n: usize, me: RsuId, intents: &[Intent]) -> Vec<Declared> {
    let mut out = vec![Declared::default(); n];
    for (i, intent) in intents.iter().enumerate() {
        if i == me.index() {
            continue;
        }
        for &(to, load, k) in &intent.sends {
            if let Some(c) = out.get_mut(to.index()) {
                c.in_load += load;
                c.in_tasks += k;
            }
            if let Some(c) = out.get_mut(i) {
                c.out_load += load;
                c.out_tasks += k;
            }
        }
    }
    out
}

/// How many rounds of turns a slot holds for `policies`: 0 when none decides in turn, else the
/// largest [`super::Policy::turn_rounds`] of those that do (at least 1).
///
/// Why rounds: in one round an RSU sees what the RSUs before it will do, and assumes the RSUs
/// after it keep their uploads. A second round shows every RSU every other RSU's latest plan
/// (the oracle's best-response passes with load sums alone: on paper-morning one pass of them
/// reaches 69.2 % where the oracle reaches 74.4, two passes 72.6; `docs/learning.md`).
pub fn rounds<'a, I>(policies: I) -> u32
where
    I: IntoIterator<Item = &'a Box<dyn super::Policy>>,
{
    policies.into_iter().filter(|p| p.decides_in_turn()).map(|p| p.turn_rounds().max(1)).max().unwrap_or(0)
}

/// Folds the declarations into RSU `me`'s candidate table ([`declared`]).
pub fn fold(candidates: &mut [Candidate], me: RsuId, intents: &[Intent]) {
    let d = declared(candidates.len(), me, intents);
    for (c, d) in candidates.iter_mut().zip(d) {
        c.declared = d;
    }
}

/// One slot's turns, for whoever asks the RSUs one after another (the sequential engine, a
/// replay of a baseline): how many rounds to go through, each RSU's latest declaration, and RSU
/// `me`'s table with the others' folded in. Off (0 rounds, [`rounds`]), it goes through one
/// round, hands the tables back as they are and records nothing.
#[derive(Debug)]
pub struct Turns {
    rounds: u32,
    declared: Vec<Intent>,
    table: Vec<Candidate>,
}

impl Turns {
    /// The turns of one slot of `n` RSUs, in `rounds` rounds (0: not held).
    pub fn new(rounds: u32, n: usize) -> Turns {
        let declared = if rounds > 0 { vec![Intent::default(); n] } else { Vec::new() };
        Turns { rounds, declared, table: Vec::new() }
    }

    /// The rounds to go through, each asking every RSU in id order: one when the turns are not
    /// held (every RSU decides once, unseen).
    pub fn rounds(&self) -> std::ops::Range<u32> {
        0..self.rounds.max(1)
    }

    /// RSU `me`'s candidate table: `candidates`, with the latest declarations of the other RSUs
    /// folded in when the turns are held (those before it in this round, those after it from the
    /// round before, if any).
    pub fn table<'a>(&'a mut self, me: RsuId, candidates: &'a [Candidate]) -> &'a [Candidate] {
        if self.rounds == 0 {
            return candidates;
        }
        self.table.clear();
        self.table.extend_from_slice(candidates);
        fold(&mut self.table, me, &self.declared);
        &self.table
    }

    /// RSU `me` sent `tasks[i]` to `decisions[i]`: what the RSUs after it will see (and, in the
    /// next round, those before it).
    pub fn declare(&mut self, me: RsuId, tasks: &[UploadedTask], decisions: &[RsuId]) {
        if self.rounds > 0 {
            self.declared[me.index()] = Intent::of(me, tasks, decisions);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::TaskId;
    use crate::task::Task;

    fn cand(j: u32, free_ghz: f64, load: f64, tasks: u32) -> Candidate {
        Candidate {
            rsu: RsuId(j),
            distance_m: 0.0,
            free_cpu_hz: free_ghz * 1e9,
            uploaded_load: load,
            uploaded_tasks: tasks,
            available: true,
            declared: Declared::default(),
        }
    }

    fn upload(vehicle: u32, d: f64, c: f64) -> UploadedTask {
        let task = Task { id: TaskId { slot: 0, vehicle }, data_bits: d, cycles_per_bit: c, deadline_s: 1.0 };
        UploadedTask { task, uploader: RsuId(0), distance_m: 10.0, upload_s: 0.0, upload_extra_s: 0.0 }
    }

    /// Four tasks of sqrt(d·c) = 1e4, 5e3, 1e4, 1e4 at RSU 1: kept, to RSU 2, to RSU 0, to
    /// RSU 2 → RSU 0 1e4 (1 task), RSU 2 5e3 + 1e4 (2 tasks), by destination id.
    #[test]
    fn a_declaration_sums_the_decisions_per_destination() {
        let tasks = [upload(1, 1e6, 100.0), upload(2, 1e6, 25.0), upload(3, 1e6, 100.0), upload(4, 1e6, 100.0)];
        let d = [RsuId(1), RsuId(2), RsuId(0), RsuId(2)];
        let got = Intent::of(RsuId(1), &tasks, &d);
        assert_eq!(got, Intent { sends: vec![(RsuId(0), 1e4, 1), (RsuId(2), 1.5e4, 2)] });
        assert_eq!(Intent::of(RsuId(1), &tasks, &[RsuId(1); 4]), Intent::default(), "keeping everything");
    }

    /// Turns held: RSU 1 sees RSU 0's declaration and RSU 0 sees nothing; not held: the tables
    /// come back as they are and nothing is recorded.
    #[test]
    fn turns_fold_what_the_rsus_before_declared() {
        let cands = [cand(0, 1.0, 2e4, 2), cand(1, 1.0, 0.0, 0)];
        let tasks = [upload(1, 1e6, 100.0), upload(2, 1e6, 100.0)];
        let mut on = Turns::new(1, 2);
        assert_eq!(on.rounds(), 0..1);
        assert!(on.table(RsuId(0), &cands).iter().all(|c| c.declared == Declared::default()));
        on.declare(RsuId(0), &tasks, &[RsuId(1), RsuId(0)]);
        let t = on.table(RsuId(1), &cands);
        assert_eq!(t[1].declared, Declared { in_load: 1e4, in_tasks: 1, out_load: 0.0, out_tasks: 0 });
        assert_eq!(t[0].declared, Declared { in_load: 0.0, in_tasks: 0, out_load: 1e4, out_tasks: 1 });
        let mut off = Turns::new(0, 2);
        assert_eq!(off.rounds(), 0..1, "one round, unseen");
        assert_eq!(Turns::new(3, 2).rounds(), 0..3);
        off.declare(RsuId(0), &tasks, &[RsuId(1), RsuId(0)]);
        assert!(std::ptr::eq(off.table(RsuId(1), &cands), &cands[..]));
    }

    /// Three declarations seen from RSU 1: RSU 0 sends 5 (2 tasks) to 1 and 3 (1) to 2; RSU 1
    /// (the decider) sends 7 to 2, left out; RSU 2 sends 4 (1) to 0.
    #[test]
    fn folding_leaves_the_deciders_own_plan_out() {
        let intents = [
            Intent { sends: vec![(RsuId(1), 5.0, 2), (RsuId(2), 3.0, 1)] },
            Intent { sends: vec![(RsuId(2), 7.0, 3)] },
            Intent { sends: vec![(RsuId(0), 4.0, 1)] },
        ];
        let mut c = [cand(0, 1.0, 10.0, 4), cand(1, 1.0, 6.0, 2), cand(2, 1.0, 8.0, 3)];
        fold(&mut c, RsuId(1), &intents);
        assert_eq!(c[0].declared, Declared { in_load: 4.0, in_tasks: 1, out_load: 8.0, out_tasks: 3 });
        assert_eq!(c[1].declared, Declared { in_load: 5.0, in_tasks: 2, out_load: 0.0, out_tasks: 0 });
        assert_eq!(c[2].declared, Declared { in_load: 3.0, in_tasks: 1, out_load: 4.0, out_tasks: 1 });
        // Expected loads: RSU 0 keeps 10 − 8 and gets 4; the decider gets 5; RSU 2 8 − 4 + 3.
        assert_eq!(c[0].declared.expected_load(10.0, false), 6.0);
        assert_eq!(c[1].declared.expected_load(6.0, true), 5.0);
        assert_eq!(c[2].declared.expected_load(8.0, false), 7.0);
    }
}
