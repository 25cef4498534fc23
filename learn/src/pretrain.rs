//! `--pretrain br-ne[:EPISODES]`: behaviour cloning of every RSU's actor from the best-response
//! oracle's decisions, before the usual RL training. **Beyond the paper** (Fed-MADDPG trains from
//! scratch); reported apart from the paper's algorithms everywhere.
//!
//! Centralised training may use what execution may not: the oracle `br-ne` sees the whole slot
//! (every RSU's uploads) and plays best-response dynamics to an equilibrium. Cloning it asks
//! each RSU's actor — the same network, fed the same observation it decides from in execution
//! (its own uploads and the public candidate summaries) — to reproduce the oracle's choice for
//! each of its tasks. Execution stays decentralised: each RSU still decides alone from its own
//! observation.
//!
//! Two uses:
//! - a warm start for the learners (`vecsim train --pretrain br-ne:E`, then the usual episodes);
//! - a diagnosis (`--episodes 0`): the greedy completion of the cloned actors on held-out
//!   traffic is what this observation and network can express of the oracle (the *imitation
//!   ceiling*). Close to `br-ne`: the learners' gap is optimisation; far: the observation or the
//!   decentralisation limits them.
//!
//! The data: `EPISODES` episodes of the training traffic (`train::episode_seed(seed, 0..E)`, the
//! first traffic the RL episodes see too; never the held-out evaluation seeds), run by `br-ne` on
//! the sequential engine in this process, recording each RSU's observation (as the learners
//! encode it; with two rounds of turns twice, as each round shows it) and, for each task, the
//! oracle's final executor and every executor the oracle's slot accepts as well
//! ([`SlotProblem::no_worse_moves`]: the oracle's pick among equally good executors is an
//! accident of its pass order). The loss: `-ln` of the probability the actor's masked softmax
//! over the candidates gives the accepted set, averaged over the minibatch's tasks. Each RSU's
//! actor trains on its own RSU's examples only, with its own Adam (the actor's RL optimiser
//! starts fresh afterwards). Fed-MADDPG's actors are averaged after every cloning epoch (FedAvg
//! weighted by examples, as McMahan et al.'s `n_k`, so an RSU without uploads does not pull the
//! average back to the initial network): the data stay at their RSU, and the RSUs end with one
//! common actor, as Fed-MADDPG's model is. The target actors are set to the cloned actors. Deterministic: the same scenario, seed and episodes give the same bytes.

use crate::features::{add_local_prior, encode, Enc, RawObs};
use crate::gumbel::{masked_argmax, masked_softmax};
use crate::set::LearnerSet;
use crate::train::{episode_seed, TrainError};
use crate::{adam::Adam, mlp::Acts};
use rand::Rng;
use serde::{Deserialize, Serialize};
use std::sync::{Arc, Mutex};
use vecsim_core::engine::SequentialRun;
use vecsim_core::ids::RsuId;
use vecsim_core::policy::intent::{self, Intent};
use vecsim_core::policy::{BestResponse, JointRefiner, Observation, Orm, Policy, PolicySet};
use vecsim_core::rng::{self, Domain};
use vecsim_core::slot::SlotProblem;
use vecsim_core::Scenario;

/// Episodes of oracle traffic when `--pretrain br-ne` gives none: 30 (10 until session 9;
/// three times the data lifted the clone on six-ring by 1.6 points and fine-tuning on
/// paper-noon by 1.3, docs/learning.md).
pub(crate) const DEFAULT_EPISODES: u32 = 30;
/// Rounds of turns of a run that clones the oracle, unless `[learning] turn_rounds` says
/// otherwise: 2. Cloning records the oracle's plans of every other RSU, and the second round
/// shows them to every RSU; one round leaves an RSU blind to the RSUs after it (on
/// paper-morning fine-tuned fed-maddpg 66.7 % with one round, 69.9 with two; `br-ne` 74.4;
/// docs/learning.md).
pub const TURN_ROUNDS: u32 = 2;
/// Passes over the cloning data.
pub(crate) const EPOCHS: u32 = 30;
/// Slot records per cloning minibatch (each holds all of one RSU's tasks of one slot).
pub(crate) const BATCH: usize = 32;
/// Adam learning rate of the cloning steps: a supervised loss tolerates a larger step than the
/// RL updates (Table III's actor rate, 1e-5, would barely move the actor in a few hundred steps).
pub(crate) const LR: f64 = 1e-3;

/// Whose decisions are cloned.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Teacher {
    /// The best-response oracle (`br-ne`): sees the whole slot.
    BrNe,
    /// `orm`, a diagnostic teacher: its decisions are a function of the deciding RSU's own
    /// observation, so how well it is cloned measures what the actor network can express of
    /// its observation, apart from what the oracle knows and the observation does not show.
    Orm,
}

impl Teacher {
    /// The policy name (`br-ne`, `orm`).
    pub fn name(self) -> &'static str {
        match self {
            Teacher::BrNe => "br-ne",
            Teacher::Orm => "orm",
        }
    }
}

/// What `--pretrain` asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PretrainSpec {
    /// Whose decisions are cloned.
    pub teacher: Teacher,
    /// Episodes of training traffic run by the teacher for the cloning data.
    pub episodes: u32,
}

/// Why a `--pretrain` value was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum PretrainSpecError {
    /// Only `br-ne` (and `orm`, for diagnosis) can be cloned.
    #[error("`{0}`: only `br-ne` (or `orm`, for diagnosis) can be cloned (expected br-ne or br-ne:EPISODES)")]
    Teacher(String),
    /// The episode count is not a whole number ≥ 1.
    #[error("`{0}`: EPISODES must be a whole number >= 1 (e.g. br-ne:10)")]
    Episodes(String),
}

impl PretrainSpec {
    /// Parses `br-ne` or `br-ne:EPISODES` (or `orm[:EPISODES]`).
    pub fn parse(s: &str) -> Result<PretrainSpec, PretrainSpecError> {
        let (teacher, eps) = match s.split_once(':') {
            Some((t, e)) => (t, Some(e)),
            None => (s, None),
        };
        let teacher = match teacher.trim() {
            "br-ne" => Teacher::BrNe,
            "orm" => Teacher::Orm,
            _ => return Err(PretrainSpecError::Teacher(s.to_string())),
        };
        let episodes = match eps {
            None => DEFAULT_EPISODES,
            Some(e) => e
                .trim()
                .parse::<u32>()
                .ok()
                .filter(|&n| n >= 1)
                .ok_or_else(|| PretrainSpecError::Episodes(s.to_string()))?,
        };
        Ok(PretrainSpec { teacher, episodes })
    }
}

/// What the cloning did (saved in the checkpoint with the trainer's progress).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PretrainReport {
    /// The spec it ran.
    pub spec: PretrainSpec,
    /// Slots of oracle traffic recorded (all episodes).
    pub slots: u64,
    /// Task decisions recorded, all RSUs (with two rounds of turns each is cloned from two
    /// views, one per round, and counted once).
    pub tasks: u64,
    /// Cloning gradient steps, all RSUs.
    pub steps: u64,
    /// Mean cross-entropy per task over all RSUs' examples after cloning.
    pub loss: f64,
    /// Share of the recorded tasks whose greedy actor choice is in the accepted set (for `orm`,
    /// equals its choice), after cloning (agreement on the cloning data itself: an upper bound
    /// on held-out agreement).
    pub agreement: f64,
    /// The teacher's completion rate over the recorded episodes.
    pub oracle_completion: f64,
}

/// One RSU's examples: its observation of a slot, the oracle's executing RSU of each task, and
/// for each task the executors the oracle's slot accepts as well (the label; see [`Example`]).
pub(crate) type Examples = Vec<Example>;

/// One RSU's observation of one slot and what the teacher did with its tasks.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Example {
    /// The observation, as the learners encode it.
    pub raw: RawObs,
    /// The teacher's executor of each task (candidate index = RSU id): what the RSUs after this
    /// one see declared, and what the tasks after each one see decided in turn.
    pub chosen: Vec<u16>,
    /// Per task, every executor the label accepts, the chosen one included. For `br-ne`, those
    /// that lose no completed task of the slot when the task alone moves there
    /// ([`SlotProblem::no_worse_moves`]); for `orm`, its choice alone.
    pub accepted: Vec<Vec<u16>>,
}

#[derive(Default)]
struct Log {
    /// Observations of the slot being decided, by RSU.
    pending: Vec<(usize, RawObs)>,
    /// Examples by RSU.
    per_rsu: Vec<Examples>,
    /// A refine call found an observation whose task count differs from its decisions.
    mismatch: bool,
}

/// The oracle's proposer (ORM, as `br-ne` runs it) recording each observation as it decides.
struct Recorder {
    inner: Orm,
    log: Arc<Mutex<Log>>,
}

impl Policy for Recorder {
    fn name(&self) -> &'static str {
        "br-ne"
    }
    fn decide(&mut self, obs: &Observation<'_>) -> Vec<RsuId> {
        let raw = RawObs::from_observation(obs);
        self.log.lock().expect("cloning log").pending.push((obs.rsu.index(), raw));
        self.inner.decide(obs)
    }
}

/// The oracle's refiner (none for `orm`), recording the final decisions beside the observations.
struct RecordingRefiner {
    inner: Option<BestResponse>,
    log: Arc<Mutex<Log>>,
    /// `[learning] rsus_in_turn` (0 without): each observation is recorded with the oracle's
    /// final decisions of the RSUs before it declared, as the learner will see them in its first
    /// round of turns; with `turn_rounds` ≥ 2, once more with every other RSU's declared, as it
    /// sees them in the later rounds (the label is the same: the oracle's equilibrium).
    rounds: u32,
}

impl JointRefiner for RecordingRefiner {
    fn refine(&self, problem: &SlotProblem<'_>, decisions: &mut [Vec<RsuId>]) -> bool {
        let ok = self.inner.as_ref().is_none_or(|b| b.run(problem, decisions));
        let accepted = self.inner.is_some().then(|| problem.no_worse_moves(decisions));
        let mut log = self.log.lock().expect("cloning log");
        let pending = std::mem::take(&mut log.pending);
        let n = decisions.len();
        let finals: Vec<Intent> = if self.rounds > 0 {
            (0..n).map(|i| Intent::of(RsuId(i as u32), &problem.uploads[i], &decisions[i])).collect()
        } else {
            Vec::new()
        };
        for (e, raw) in pending {
            let mut views = Vec::with_capacity(2);
            if self.rounds > 0 {
                views.push(raw.clone().with_declared(intent::declared(n, RsuId(e as u32), &finals[..e])));
                if self.rounds > 1 {
                    views.push(raw.with_declared(intent::declared(n, RsuId(e as u32), &finals)));
                }
            } else {
                views.push(raw);
            }
            let acts: Vec<u16> = decisions[e].iter().map(|r| r.index() as u16).collect();
            let accepted: Vec<Vec<u16>> = match &accepted {
                Some(sets) => sets[e].iter().map(|s| s.iter().map(|r| r.index() as u16).collect()).collect(),
                None => acts.iter().map(|&a| vec![a]).collect(),
            };
            if acts.len() != views[0].tasks.len() {
                log.mismatch = true;
                continue;
            }
            if log.per_rsu.len() <= e {
                log.per_rsu.resize_with(e + 1, Vec::new);
            }
            for raw in views {
                log.per_rsu[e].push(Example { raw, chosen: acts.clone(), accepted: accepted.clone() });
            }
        }
        ok
    }
}

/// Rounds of turns the learners of `scenario` decide in (0: not in turn).
fn turn_rounds(scenario: &Scenario) -> u32 {
    if scenario.learning.rsus_in_turn {
        scenario.learning.rounds()
    } else {
        0
    }
}

/// Runs `teacher` on `episodes` episodes of training traffic (`episode_seed(seed, 0..episodes)`
/// on the layout of `scenario`) and returns each RSU's examples (index = RSU id), the slots run
/// and the teacher's completion rate over them.
pub(crate) fn collect(
    scenario: &Scenario,
    seed: u64,
    teacher: Teacher,
    episodes: u32,
) -> Result<(Vec<Examples>, u64, f64), TrainError> {
    let layout = scenario.pinned_layout();
    let rsus = scenario.rsu_count();
    let rounds = turn_rounds(scenario);
    let log = Arc::new(Mutex::new(Log { per_rsu: vec![Vec::new(); rsus], ..Log::default() }));
    let (mut slots, mut done, mut covered) = (0u64, 0u64, 0u64);
    for ep in 0..episodes as u64 {
        let mut sc = layout.clone();
        sc.seed = episode_seed(seed, ep);
        let fleet = vecsim_core::mobility::load(&sc, None)?;
        let per_rsu: Vec<Box<dyn Policy>> =
            (0..rsus).map(|_| Box::new(Recorder { inner: Orm, log: log.clone() }) as Box<dyn Policy>).collect();
        let inner = (teacher == Teacher::BrNe).then(BestResponse::default);
        let refiner = Box::new(RecordingRefiner { inner, log: log.clone(), rounds });
        let policies = PolicySet { per_rsu, refiner: Some(refiner) };
        let slots_here = sc.time.slots as u64;
        let (stats, _) =
            SequentialRun::new(Arc::new(sc), fleet, policies).and_then(|r| r.run()).map_err(TrainError::Engine)?;
        let s = stats.summary();
        slots += slots_here;
        done += s.tasks_completed;
        covered += s.tasks_uploaded;
    }
    let log = Arc::try_unwrap(log)
        .map_err(|_| TrainError::Learn(crate::LearnError::Options("cloning log still shared".into())))?;
    let log = log.into_inner().expect("cloning log");
    if log.mismatch {
        return Err(TrainError::Learn(crate::LearnError::Options(
            "br-ne decided a different number of tasks than it observed".into(),
        )));
    }
    let rate = if covered > 0 { done as f64 / covered as f64 } else { f64::NAN };
    Ok((log.per_rsu, slots, rate))
}

/// One RSU's encoded examples.
struct Encoded {
    encs: Vec<Enc>,
    /// Per example, per task: the accepted candidates.
    labels: Vec<Vec<Vec<u16>>>,
    tasks: usize,
}

/// What scores a task's candidates: the actor's network, its parameters and the local prior
/// added to keeping (`[learning] local_prior`), so that cloning fits the scores RL will use.
#[derive(Clone, Copy)]
struct Scores<'a> {
    net: &'a crate::mlp::Mlp,
    params: &'a [f32],
    prior: f32,
}

/// Cross-entropy of the actor on examples `idx` against each task's accepted set (mean per task):
/// `-ln Σ_{j∈S} p_j`, which lets the actor put its mass on any accepted executor (for a set of one,
/// the usual cross-entropy); with `grad`, adds its gradient, `p_j - 1[j∈S] p_j / Σ_S p`. Returns
/// (loss sum, tasks, agreements: greedy choices inside the set).
fn pass(
    actor: Scores<'_>,
    data: &Encoded,
    idx: &[usize],
    acts: &mut Acts,
    rows: &mut Vec<f32>,
    grad: Option<&mut [f32]>,
) -> (f64, usize, usize) {
    rows.clear();
    let mut total = 0;
    let mut tasks = 0;
    for &i in idx {
        let enc = &data.encs[i];
        enc.actor_rows(rows);
        total += enc.n_tasks * enc.n_cands;
        tasks += enc.n_tasks;
    }
    if total == 0 {
        return (0.0, 0, 0);
    }
    let Scores { net, params, prior } = actor;
    net.forward(params, rows, total, acts);
    let mut logits = acts.output().to_vec();
    add_local_prior(&mut logits, rows, prior);
    let mut dlogits = vec![0.0f32; total];
    let (mut loss, mut agree) = (0.0f64, 0usize);
    let mut off = 0;
    let mut prob = Vec::new();
    for &i in idx {
        let enc = &data.encs[i];
        let nc = enc.n_cands;
        prob.resize(nc, 0.0);
        for set in &data.labels[i] {
            let z = &logits[off..off + nc];
            masked_softmax(z, &enc.mask, 1.0, &mut prob);
            let ps: f32 = set.iter().map(|&a| prob[a as usize]).sum::<f32>().max(1e-12);
            loss -= (ps as f64).ln();
            if masked_argmax(z, &enc.mask).is_some_and(|g| set.contains(&(g as u16))) {
                agree += 1;
            }
            for j in 0..nc {
                let target = if set.contains(&(j as u16)) { prob[j] / ps } else { 0.0 };
                dlogits[off + j] = (prob[j] - target) / tasks as f32;
            }
            off += nc;
        }
    }
    if let Some(g) = grad {
        net.backward(params, rows, acts, &dlogits, Some(g), None);
    }
    (loss, tasks, agree)
}

/// Clones every RSU's actor from `data` (index = RSU id) for [`EPOCHS`] epochs; returns
/// (steps, mean loss per task, agreement) measured after the last epoch on all examples.
pub(crate) fn clone_actors(set: &mut LearnerSet, data: &[Examples], seed: u64) -> (u64, f64, f64) {
    let federated = set.kind().federated();
    let learners = set.learners_mut();
    // The gemm layers whatever the backend: the same function, so the same cloned parameters on
    // either backend and device.
    let net = learners.first().map(|l| l.agent.nets.actor.shape.clone());
    let Some(net) = net else { return (0, f64::NAN, f64::NAN) };
    // Cloning fits the actor's scores with the prior added, as the RL that follows uses them.
    let prior = learners.first().map_or(0.0, |l| l.cfg.prior() as f32);
    let encoded: Vec<Encoded> = learners
        .iter()
        .map(|l| {
            let ex: &[Example] = data.get(l.rsu).map_or(&[], |v| v.as_slice());
            let mut enc = Encoded { encs: Vec::new(), labels: Vec::new(), tasks: 0 };
            let scales = std::sync::Arc::new(l.scales.clone());
            for Example { raw, chosen, accepted } in ex {
                if raw.tasks.is_empty() {
                    continue;
                }
                // In turn: each task sees the oracle's decisions of the tasks before it, as the
                // actor will see its own (teacher forcing).
                enc.encs.push(if l.cfg.tasks_in_turn {
                    crate::features::encode_in_turn(&std::sync::Arc::new(raw.clone()), &scales, chosen)
                } else {
                    encode(raw, &l.scales)
                });
                enc.labels.push(accepted.clone());
                enc.tasks += chosen.len();
            }
            enc
        })
        .collect();
    let mut opts: Vec<Adam> = learners.iter().map(|l| Adam::new(l.agent.nets.actor.params.len(), LR)).collect();
    let mut rngs: Vec<_> =
        learners.iter().map(|l| rng::stream(seed, Domain::Learner, (5 << 32) | l.rsu as u64)).collect();
    let (mut acts, mut rows) = (Acts::default(), Vec::new());
    let mut steps = 0u64;
    for _ in 0..EPOCHS {
        for (e, l) in learners.iter_mut().enumerate() {
            let d = &encoded[e];
            let n = d.encs.len();
            if n == 0 {
                continue;
            }
            // Fisher-Yates shuffle from the RSU's own cloning stream.
            let mut order: Vec<usize> = (0..n).collect();
            for i in (1..n).rev() {
                let j = rngs[e].gen_range(0..=i);
                order.swap(i, j);
            }
            let mut grad = vec![0.0f32; l.agent.nets.actor.params.len()];
            for chunk in order.chunks(BATCH) {
                grad.iter_mut().for_each(|g| *g = 0.0);
                let (_, tasks, _) = pass(
                    Scores { net: &net, params: &l.agent.nets.actor.params, prior },
                    d,
                    chunk,
                    &mut acts,
                    &mut rows,
                    Some(&mut grad),
                );
                if tasks == 0 {
                    continue;
                }
                opts[e].step(&mut l.agent.nets.actor.params, &grad);
                steps += 1;
            }
        }
        if federated {
            let ups: Vec<(f64, &[f32])> = learners
                .iter()
                .zip(&encoded)
                .filter(|(_, d)| d.tasks > 0)
                .map(|(l, d)| (d.tasks as f64, l.agent.actor()))
                .collect();
            if let Ok(Some(avg)) = vecsim_core::fedavg::average(&ups) {
                for l in learners.iter_mut() {
                    l.set_actor_params(&avg);
                }
            }
        }
    }
    let (mut loss, mut tasks, mut agree) = (0.0, 0usize, 0usize);
    for (e, l) in learners.iter_mut().enumerate() {
        let d = &encoded[e];
        let all: Vec<usize> = (0..d.encs.len()).collect();
        for chunk in all.chunks(256) {
            let (ls, t, a) = pass(
                Scores { net: &net, params: &l.agent.nets.actor.params, prior },
                d,
                chunk,
                &mut acts,
                &mut rows,
                None,
            );
            loss += ls;
            tasks += t;
            agree += a;
        }
        l.agent.nets.actor.target = l.agent.nets.actor.params.clone();
    }
    let t = tasks.max(1) as f64;
    (steps, loss / t, agree as f64 / t)
}

/// Collects the oracle's examples and clones them into `set` (fresh learners): what
/// `TrainConfig::pretrain` runs before the first RL episode.
pub(crate) fn pretrain(
    scenario: &Scenario,
    set: &mut LearnerSet,
    seed: u64,
    spec: PretrainSpec,
) -> Result<PretrainReport, TrainError> {
    let (data, slots, oracle_completion) = collect(scenario, seed, spec.teacher, spec.episodes)?;
    // Two rounds of turns record each decision twice (one view per round): count it once.
    let views = if turn_rounds(scenario) > 1 { 2 } else { 1 };
    let tasks = data.iter().flatten().map(|x| x.chosen.len() as u64).sum::<u64>() / views;
    let (steps, loss, agreement) = clone_actors(set, &data, seed);
    Ok(PretrainReport { spec, slots, tasks, steps, loss, agreement, oracle_completion })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::learner::LearnerOptions;
    use crate::tests::fixture;
    use vecsim_core::policy::Baseline;

    fn scenario() -> Scenario {
        let mut s = Scenario::parse(&fixture::fixture("three-rsu-uneven.toml")).unwrap();
        s.time.slots = 20;
        s
    }

    #[test]
    fn specs_parse_and_bad_ones_are_named() {
        assert_eq!(
            PretrainSpec::parse("br-ne"),
            Ok(PretrainSpec { teacher: Teacher::BrNe, episodes: DEFAULT_EPISODES })
        );
        assert_eq!(PretrainSpec::parse("br-ne:3"), Ok(PretrainSpec { teacher: Teacher::BrNe, episodes: 3 }));
        assert_eq!(PretrainSpec::parse("orm:3"), Ok(PretrainSpec { teacher: Teacher::Orm, episodes: 3 }));
        assert_eq!(PretrainSpec::parse("orl:3"), Err(PretrainSpecError::Teacher("orl:3".into())));
        assert_eq!(PretrainSpec::parse("br-ne:0"), Err(PretrainSpecError::Episodes("br-ne:0".into())));
        assert_eq!(PretrainSpec::parse("br-ne:x"), Err(PretrainSpecError::Episodes("br-ne:x".into())));
    }

    /// The recorded examples are the oracle's decisions: replaying them as a policy gives
    /// exactly `br-ne`'s run (completed and covered task counts), and every RSU's record holds
    /// one label per observed task.
    #[test]
    fn recorded_labels_replay_the_oracle() {
        for in_turn in [true, false] {
            let mut sc = scenario();
            sc.learning.rsus_in_turn = in_turn;
            replays_the_oracle(&sc);
        }
    }

    fn replays_the_oracle(sc: &Scenario) {
        let (data, slots, rate) = collect(sc, 7, Teacher::BrNe, 1).unwrap();
        assert_eq!(slots, 20);
        let mut s1 = sc.pinned_layout();
        s1.seed = episode_seed(7, 0);
        let fleet = vecsim_core::mobility::load(&s1, None).unwrap();
        let (oracle, _) = SequentialRun::new(
            Arc::new(s1.clone()),
            fleet.clone(),
            PolicySet::baseline(Baseline::BrNe, s1.rsu_count(), s1.seed),
        )
        .unwrap()
        .run()
        .unwrap();
        let o = oracle.summary();
        assert!((rate - o.tasks_completed as f64 / o.tasks_uploaded as f64).abs() < 1e-12);
        // Replay: a policy that plays back RSU e's recorded labels in order. With the RSUs in
        // turn it decides in turn too, so RSU e sees the replayed decisions of RSUs 0..e: the
        // recorded observation holds the oracle's final ones.
        struct Replay(std::vec::IntoIter<Example>, bool);
        impl Policy for Replay {
            fn name(&self) -> &'static str {
                "orl"
            }
            fn decide(&mut self, obs: &Observation<'_>) -> Vec<RsuId> {
                let Example { raw, chosen, accepted } = self.0.next().expect("a record per decision");
                assert_eq!(raw, RawObs::from_observation(obs));
                for (a, set) in chosen.iter().zip(&accepted) {
                    assert!(set.contains(a), "the oracle's choice is always accepted");
                }
                chosen.into_iter().map(|a| RsuId(a as u32)).collect()
            }
            fn decides_in_turn(&self) -> bool {
                self.1
            }
        }
        let mut migrations = 0;
        let per: Vec<Box<dyn Policy>> = data
            .iter()
            .map(|ex| {
                migrations +=
                    ex.iter().flat_map(|x| x.chosen.iter().filter(move |&&a| a as u32 != x.raw.self_idx)).count();
                Box::new(Replay(ex.clone().into_iter(), sc.learning.rsus_in_turn)) as Box<dyn Policy>
            })
            .collect();
        assert!(migrations > 0, "the oracle migrates on this scenario");
        let (replayed, _) = SequentialRun::new(Arc::new(s1), fleet, PolicySet::new(per)).unwrap().run().unwrap();
        let r = replayed.summary();
        assert_eq!((r.tasks_completed, r.tasks_uploaded), (o.tasks_completed, o.tasks_uploaded));
        assert_eq!(r.migrations, o.migrations);
    }

    /// Cloning fits the oracle: the cross-entropy falls well below that of the untrained actor,
    /// and the greedy actor agrees with most of the oracle's choices (on this scenario the
    /// oracle's choice is mostly "the fast RSU unless crowded", which the observation shows).
    #[test]
    fn cloning_fits_the_oracle() {
        let sc = scenario();
        let mut opts = LearnerOptions::default();
        crate::Budget::Quick.apply(&mut sc.learning.clone(), &mut opts, 20);
        let (data, _, _) = collect(&sc, 3, Teacher::BrNe, 2).unwrap();
        for kind in ["fed-maddpg", "maddpg"] {
            let mut set = crate::build_learner_with(kind, &sc, 3, 1, opts.clone()).unwrap();
            let before = {
                let mut s2 = set.clone();
                // Zero epochs' measure: loss of the initial actor.
                let net = s2.learners()[0].agent.nets.actor.shape.clone();
                let mut loss = 0.0;
                let mut n = 0;
                for l in s2.learners_mut() {
                    let d = Encoded {
                        encs: data[l.rsu]
                            .iter()
                            .filter(|x| !x.raw.tasks.is_empty())
                            .map(|x| encode(&x.raw, &l.scales))
                            .collect(),
                        labels: data[l.rsu]
                            .iter()
                            .filter(|x| !x.raw.tasks.is_empty())
                            .map(|x| x.accepted.clone())
                            .collect(),
                        tasks: 0,
                    };
                    let idx: Vec<usize> = (0..d.encs.len()).collect();
                    let (ls, t, _) = pass(
                        Scores { net: &net, params: &l.agent.nets.actor.params, prior: l.cfg.prior() as f32 },
                        &d,
                        &idx,
                        &mut Acts::default(),
                        &mut Vec::new(),
                        None,
                    );
                    loss += ls;
                    n += t;
                }
                loss / n as f64
            };
            let (steps, after, agree) = clone_actors(&mut set, &data, 1);
            eprintln!("{kind}: cross-entropy {before:.3} -> {after:.3}, agreement {agree:.3}, {steps} steps");
            assert!(steps > 0);
            assert!(after < 0.5 * before, "{kind}: cloning loss {after:.3} vs initial {before:.3}");
            assert!(agree > 0.8, "{kind}: agreement {agree:.3}");
            for l in set.learners() {
                assert_eq!(l.agent.actor(), l.agent.actor_target());
            }
            if kind == "fed-maddpg" {
                let a0 = set.learners()[0].agent.actor();
                assert!(set.learners().iter().all(|l| l.agent.actor() == a0), "one common actor");
            }
        }
    }

    /// The set-valued cross-entropy's gradient (`pass`) matches finite differences, on br-ne's
    /// labels of this scenario, where some tasks accept several executors; and a set of one is
    /// the usual cross-entropy of the scores with the local prior added to keeping.
    #[test]
    fn set_cross_entropy_gradient_is_right() {
        let sc = scenario();
        let (data, _, _) = collect(&sc, 3, Teacher::BrNe, 1).unwrap();
        let several = data.iter().flatten().flat_map(|x| &x.accepted).filter(|s| s.len() > 1).count();
        assert!(several > 10, "only {several} tasks accept more than one executor");
        let set = crate::build_learner_with("maddpg", &sc, 3, 1, LearnerOptions::default()).unwrap();
        let l = &set.learners()[0];
        let net = l.agent.nets.actor.shape.clone();
        let of = |x: &Example| if x.raw.tasks.is_empty() { None } else { Some(encode(&x.raw, &l.scales)) };
        let d = Encoded {
            encs: data[l.rsu].iter().filter_map(of).take(24).collect(),
            labels: data[l.rsu]
                .iter()
                .filter(|x| !x.raw.tasks.is_empty())
                .map(|x| x.accepted.clone())
                .take(24)
                .collect(),
            tasks: 0,
        };
        let idx: Vec<usize> = (0..d.encs.len()).collect();
        let p = l.agent.nets.actor.params.clone();
        let mut grad = vec![0.0f32; p.len()];
        let prior = 1.5;
        let (_, tasks, _) = pass(
            Scores { net: &net, params: &p, prior },
            &d,
            &idx,
            &mut Acts::default(),
            &mut Vec::new(),
            Some(&mut grad),
        );
        assert!(tasks > 0);
        let mut f = |q: &[f32]| {
            let (ls, t, _) =
                pass(Scores { net: &net, params: q, prior }, &d, &idx, &mut Acts::default(), &mut Vec::new(), None);
            ls / t as f64
        };
        crate::tests::fd_check("set cross-entropy", &p, &grad, 17, &mut f);
        // One member: -ln p_a of the softmax over the available candidates.
        let one = Encoded { encs: vec![d.encs[0].clone()], labels: vec![vec![vec![0]; d.encs[0].n_tasks]], tasks: 0 };
        let mut acts = Acts::default();
        let (ls, t, _) = pass(Scores { net: &net, params: &p, prior }, &one, &[0], &mut acts, &mut Vec::new(), None);
        let mut rows = Vec::new();
        one.encs[0].actor_rows(&mut rows);
        net.forward(&p, &rows, one.encs[0].n_tasks * one.encs[0].n_cands, &mut acts);
        let nc = one.encs[0].n_cands;
        // The deciding RSU's own index among the candidates, from the raw observation.
        let keep = data[l.rsu].iter().find(|x| !x.raw.tasks.is_empty()).unwrap().raw.self_idx as usize;
        let z: Vec<f32> =
            acts.output().iter().enumerate().map(|(r, &v)| if r % nc == keep { v + prior } else { v }).collect();
        let want: f64 = (0..t)
            .map(|k| {
                let zk = &z[k * nc..(k + 1) * nc];
                let m = zk.iter().zip(&one.encs[0].mask).filter(|(_, &ok)| ok).map(|(&v, _)| v as f64);
                let lse = m.clone().fold(f64::NEG_INFINITY, f64::max);
                let lse = lse + m.map(|v| (v - lse).exp()).sum::<f64>().ln();
                lse - zk[0] as f64
            })
            .sum();
        assert!((ls - want).abs() < 1e-3 * want.abs().max(1.0), "one-member loss {ls} vs {want}");
    }

    /// With two rounds of turns, every observation is recorded twice with the same label: as
    /// the first round shows it (the one-round record) and with every other RSU's declaration,
    /// so that RSU 0 too is shown the oracle's plans of the RSUs after it.
    #[test]
    fn two_rounds_record_both_views() {
        let one = scenario();
        let mut two = scenario();
        two.learning.turn_rounds = Some(2);
        let (a, _, _) = collect(&one, 7, Teacher::BrNe, 1).unwrap();
        let (b, _, _) = collect(&two, 7, Teacher::BrNe, 1).unwrap();
        let n = one.rsu_count();
        for e in 0..n {
            assert_eq!(b[e].len(), 2 * a[e].len(), "RSU {e}");
            for (x, pair) in a[e].iter().zip(b[e].chunks(2)) {
                assert_eq!(&pair[0], x, "RSU {e}: the first view is the one-round record");
                assert_eq!((&pair[1].chosen, &pair[1].accepted), (&x.chosen, &x.accepted));
                assert_eq!(pair[1].raw.tasks, x.raw.tasks);
            }
        }
        let later = b[0].chunks(2).filter(|p| !p[1].raw.declared.is_empty()).count();
        assert!(later > 0, "RSU 0 was never shown the later RSUs' plans");
        assert!(a[0].iter().all(|x| x.raw.declared.is_empty()), "RSU 0 sees nothing in the first round");
    }
}
