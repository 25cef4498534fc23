//! Tests of the learners on a tiny scenario: two RSUs, one far faster; vehicles upload only to
//! the slow one, whose CPU can finish one or two of a slot's tasks before their deadlines, while
//! the fast one finishes all of them even after the wired migration.

use crate::build_learner_with;
use crate::learner::{Kind, LearnerOptions, RewardSignal};
use crate::maddpg::Minibatch;
use crate::nets::NetShape;
use crate::rsu::RsuLearner;
use crate::set::LearnerSet;
use crate::train::{self, TrainConfig, CHECKPOINT_FILE};
use std::sync::Arc;
use vecsim_core::codec;
use vecsim_core::engine::SequentialRun;
use vecsim_core::observer::NoObserver;
use vecsim_core::policy::{Baseline, PolicySet};
use vecsim_core::{Scenario, Sequential};

#[path = "../../tests/fixtures/fixture.rs"]
pub(crate) mod fixture;

pub(crate) fn tiny_scenario(slots: u32) -> Scenario {
    let slots = slots.to_string();
    let text = fixture::fixture_with("two-rsu-fast-slow.toml", &[("time.slots", &slots)]);
    Scenario::parse(&text).expect("tiny scenario parses")
}

pub(crate) fn small_options() -> LearnerOptions {
    LearnerOptions {
        shape: NetShape { actor_hidden: vec![32, 32], critic_embed: vec![32, 32], critic_head: vec![32] },
        ..LearnerOptions::default()
    }
}

/// The learners after `episodes` episodes of data collection (no updates yet).
pub(crate) fn collected_set(kind: Kind, episodes: u32) -> LearnerSet {
    let sc = tiny_scenario(20);
    let mut opts = small_options();
    opts.updates_per_slot = 0;
    let mut set = build_learner_with(kind.name(), &sc, 2, 1, opts).unwrap();
    for ep in 0..episodes {
        let mut s = sc.clone();
        s.seed = 100 + ep as u64;
        train::run_episode(&s, &mut set).unwrap();
    }
    set
}

/// RSU 0's learner after `episodes` episodes of data collection (no updates yet).
fn collected(kind: Kind, episodes: u32) -> RsuLearner {
    collected_set(kind, episodes).learners()[0].clone()
}

fn fixed_minibatch(st: &mut RsuLearner) -> Minibatch {
    st.test_minibatch().expect("enough data for a minibatch")
}

#[test]
fn one_critic_step_lowers_the_critic_loss_on_a_fixed_batch() {
    for kind in Kind::ALL {
        let mut st = collected(kind, 3);
        let mb = fixed_minibatch(&mut st);
        let y = st.targets(&mb, None);
        let before = st.critic_step(&mb, &y);
        let after = st.critic_step(&mb, &y);
        assert!(after < before, "{}: critic loss {before} -> {after}", kind.name());
    }
}

#[test]
fn the_actor_step_moves_the_actor_and_not_the_critic() {
    for kind in Kind::ALL {
        let mut st = collected(kind, 3);
        let mb = fixed_minibatch(&mut st);
        let (a0, c0, ct0) = (st.agent.actor().to_vec(), st.agent.critic(), st.agent.critic_target());
        let alpha = (kind == Kind::Masac).then_some(0.05);
        st.actor_step(&mb, alpha);
        assert_ne!(st.agent.actor(), a0, "{}: actor did not move", kind.name());
        assert_eq!(st.agent.critic(), c0, "{}: critic moved in the actor step", kind.name());
        assert_eq!(st.agent.critic_target(), ct0);
    }
}

#[test]
fn the_actor_gradient_flows_through_the_critic() {
    // A critic that ignores actions gives the actor no gradient: zero φ's weights on the
    // action-feature columns and the actor must not move.
    let mut st = collected(Kind::FedMaddpg, 3);
    let mb = fixed_minibatch(&mut st);
    let phi = &mut st.agent.nets.critic.phi;
    let out = phi.shape.dims[1];
    for row in crate::features::TASK_F..crate::features::TASK_F + crate::features::PAIR_F {
        for o in 0..out {
            phi.params[row * out + o] = 0.0;
        }
    }
    let a0 = st.agent.actor().to_vec();
    st.actor_step(&mb, None);
    assert_eq!(st.agent.actor(), a0);
}

fn state_bytes(set: &LearnerSet) -> Vec<u8> {
    codec::encode(set).unwrap()
}

fn cfg(episodes: u32, dir: Option<&std::path::Path>, resume: bool) -> TrainConfig {
    let mut c = TrainConfig::new("fed-maddpg", episodes, 3);
    c.options = small_options();
    c.checkpoint = dir.map(|d| d.to_path_buf());
    c.checkpoint_every = 1;
    c.resume = resume;
    c.threads = 1;
    c
}

#[test]
fn checkpoints_round_trip_and_refuse_bad_files() {
    let sc = tiny_scenario(20);
    let dir = tempfile::tempdir().unwrap();
    let out = train::train(&sc, &cfg(2, Some(dir.path()), false), &mut Sequential, &mut NoObserver).unwrap();
    let (loaded, progress) = train::load_checkpoint(dir.path(), &sc).unwrap();
    assert_eq!(state_bytes(&loaded), state_bytes(&out.set));
    assert_eq!(progress.episodes_done, 2);
    assert_eq!(progress.curve, out.curve);
    // Another scenario.
    let mut other = sc.clone();
    other.tasks.request_rate = 0.5;
    assert!(matches!(
        train::load_checkpoint(dir.path(), &other),
        Err(train::TrainError::Checkpoint(crate::checkpoint::CheckpointError::OtherScenario { .. }))
    ));
    // Truncated and corrupt files.
    let path = dir.path().join(CHECKPOINT_FILE);
    let bytes = std::fs::read(&path).unwrap();
    std::fs::write(&path, &bytes[..bytes.len() / 2]).unwrap();
    assert!(matches!(
        train::load_checkpoint(dir.path(), &sc),
        Err(train::TrainError::Checkpoint(crate::checkpoint::CheckpointError::Truncated { .. }))
    ));
    let mut bad = bytes.clone();
    let mid = bad.len() / 2;
    bad[mid] ^= 0x40;
    std::fs::write(&path, &bad).unwrap();
    assert!(matches!(
        train::load_checkpoint(dir.path(), &sc),
        Err(train::TrainError::Checkpoint(crate::checkpoint::CheckpointError::Corrupt { .. }))
    ));
    // Evaluation policies from a checkpoint, and the wrong learner is refused.
    std::fs::write(&path, &bytes).unwrap();
    let eval = train::load_policies(dir.path(), &sc, "fed-maddpg").unwrap();
    assert_eq!(eval.into_policies().len(), 2);
    assert!(train::load_policies(dir.path(), &sc, "maddpg").is_err());
}

#[test]
fn resume_is_exact() {
    let sc = tiny_scenario(20);
    let straight = train::train(&sc, &cfg(4, None, false), &mut Sequential, &mut NoObserver).unwrap();
    let dir = tempfile::tempdir().unwrap();
    train::train(&sc, &cfg(2, Some(dir.path()), false), &mut Sequential, &mut NoObserver).unwrap();
    let resumed = train::train(&sc, &cfg(4, Some(dir.path()), true), &mut Sequential, &mut NoObserver).unwrap();
    assert!(straight.curve.iter().any(|r| r.critic_loss != 0.0), "updates ran");
    assert_eq!(straight.curve, resumed.curve);
    assert_eq!(state_bytes(&straight.set), state_bytes(&resumed.set));
}

/// Two fed-maddpg RSUs with `fed_mix = mix` whose actors are all 1.0 and all 3.0.
fn two_actors(mix: f64) -> LearnerSet {
    let mut sc = tiny_scenario(5);
    sc.learning.fed_mix = mix;
    let mut set = build_learner_with("fed-maddpg", &sc, 2, 1, small_options()).unwrap();
    let n = set.learners()[0].agent.actor().len();
    set.learners_mut()[0].set_actor_params(&vec![1.0; n]);
    set.learners_mut()[1].set_actor_params(&vec![3.0; n]);
    set
}

#[test]
fn federated_round_averages_participants_only() {
    // The paper's round (eq. 28): the average replaces each participant's actor.
    let mut set = two_actors(1.0);
    assert!(set.federated_round(&[true, false]).unwrap());
    assert!(set.learners()[0].agent.actor().iter().all(|&x| x == 1.0));
    assert!(set.learners()[1].agent.actor().iter().all(|&x| x == 3.0), "a missing RSU keeps its actor");
    assert!(set.federated_round(&[true, true]).unwrap());
    assert!(set.learners().iter().all(|l| l.agent.actor().iter().all(|&x| x == 2.0)));
    assert!(!set.federated_round(&[false, false]).unwrap());
    assert_eq!(set.fed_rounds(), 2, "a round nobody took part in is not counted");
    // Through the Policy trait, as the VEC POOL actor does it.
    let mut pols = set.into_policies();
    let (w, p) = pols[0].export_params().unwrap();
    assert_eq!(w, 0);
    pols[1].import_params(&vec![5.0; p.len()]);
    let set = LearnerSet::from_policies(pols).unwrap();
    assert!(set.learners()[1].agent.actor().iter().all(|&x| x == 5.0));
}

/// `learning.fed_mix = β < 1` (beyond the paper): a participant takes `β` of the average and
/// keeps `1 − β` of its own actor, `θ ← (1 − β)·θ + β·θ̄`, in both round paths (the in-process
/// round and the VEC POOL's import). Numbers worked by hand, exact in f32: actors 1 and 3,
/// average 2; β = 0.25 gives 0.75 + 0.5 = 1.25 and 2.25 + 0.5 = 2.75.
#[test]
fn a_federated_round_with_fed_mix_keeps_part_of_each_actor() {
    let mut set = two_actors(0.25);
    let n = set.learners()[0].agent.actor().len();
    assert!(set.federated_round(&[true, true]).unwrap());
    assert!(set.learners()[0].agent.actor().iter().all(|&x| x == 1.25));
    assert!(set.learners()[1].agent.actor().iter().all(|&x| x == 2.75));
    // The VEC POOL's average arrives through the Policy trait: the same rule.
    let mut pols = set.into_policies();
    pols[1].import_params(&vec![4.75; n]);
    let set = LearnerSet::from_policies(pols).unwrap();
    // 0.75 · 2.75 + 0.25 · 4.75 = 2.0625 + 1.1875 = 3.25
    assert!(set.learners()[1].agent.actor().iter().all(|&x| x == 3.25));
}

/// A policy that forwards to another and records every feedback it is given.
struct Recording {
    inner: Box<dyn vecsim_core::policy::Policy>,
    log: std::sync::Arc<std::sync::Mutex<Vec<vecsim_core::policy::Feedback>>>,
}

impl vecsim_core::policy::Policy for Recording {
    fn name(&self) -> &'static str {
        self.inner.name()
    }
    fn decide(&mut self, obs: &vecsim_core::policy::Observation<'_>) -> Vec<vecsim_core::ids::RsuId> {
        self.inner.decide(obs)
    }
    fn feedback(&mut self, fb: &vecsim_core::policy::Feedback) {
        self.log.lock().unwrap().push(fb.clone());
        self.inner.feedback(fb)
    }
    fn shares(&self) -> bool {
        self.inner.shares()
    }
    fn share(&mut self) -> Option<vecsim_core::policy::Share> {
        self.inner.share()
    }
    fn receive(&mut self, shares: &[Option<vecsim_core::policy::Share>]) {
        self.inner.receive(shares)
    }
}

/// Each reward signal stores exactly its own field of the engine's feedback in the replay: eq.
/// 19's `reward`, the system `potential` or the `difference` reward — and the three differ on
/// this scenario, so the test tells them apart.
#[test]
fn reward_signal_option_is_used() {
    let mut sc = Scenario::parse(&fixture::fixture("three-rsu-uneven.toml")).unwrap();
    sc.time.slots = 15;
    let mut differ = [false; 3];
    for signal in RewardSignal::ALL {
        let mut o = small_options();
        o.reward = signal;
        o.updates_per_slot = 0;
        let set = build_learner_with("fed-maddpg", &sc, 3, 1, o).unwrap();
        let log = Arc::new(std::sync::Mutex::new(Vec::new()));
        let policies: Vec<Box<dyn vecsim_core::policy::Policy>> = set
            .into_policies()
            .into_iter()
            .map(|inner| Box::new(Recording { inner, log: log.clone() }) as Box<dyn vecsim_core::policy::Policy>)
            .collect();
        let fleet = vecsim_core::mobility::load(&sc, None).unwrap();
        let (_, back) =
            SequentialRun::new(Arc::new(sc.clone()), fleet, PolicySet::new(policies)).unwrap().run().unwrap();
        let inner = back.into_iter().map(|p| p.into_any().downcast::<Recording>().unwrap().inner).collect();
        let set = LearnerSet::from_policies(inner).unwrap();
        let log = log.lock().unwrap();
        assert_eq!(log.len(), 15 * 3);
        {
            let st = &set;
            for fb in log.iter() {
                let want = match signal {
                    RewardSignal::Marginal => fb.reward,
                    RewardSignal::System => fb.potential,
                    RewardSignal::Difference => fb.difference,
                } as f32;
                let e = fb.rsu.index();
                let got = st.learners()[e].replay.get(fb.slot as u64).reward[0];
                assert_eq!(got, want, "{signal:?}, RSU {e}, slot {}", fb.slot);
                differ[0] |= fb.reward != fb.potential;
                differ[1] |= fb.reward != fb.difference;
                differ[2] |= fb.potential != fb.difference;
            }
        }
    }
    assert_eq!(differ, [true; 3], "the three signals differ somewhere");
}

/// The typed policy names a scenario may give are exactly the baselines and this crate's
/// learners: a learner name is a learner here, a baseline name is a baseline in the core.
#[test]
fn policy_names_are_baselines_and_learners() {
    for p in vecsim_core::policy::PolicyName::ALL {
        assert!(p.baseline().is_some() ^ crate::is_learner(p.as_str()), "{p}");
        assert_eq!(p.is_learner(), crate::is_learner(p.as_str()), "{p}");
    }
    for b in Baseline::ALL {
        assert_eq!(vecsim_core::policy::PolicyName::from(b).as_str(), b.name());
    }
}

/// Checks `grad` against central finite differences of `f` at `p` on 200 coordinates drawn
/// from a fixed stream. The networks are piecewise linear (ReLU), so a step may cross a kink; a
/// coordinate passes when the central difference at one of the steps 1e-3, 5e-4, 2.5e-4
/// agrees with the analytic value within 4 % plus the f32 rounding of the loss
/// (`1e-7 · max(|L|, 0.1) / h`).
/// A wrong backward pass (a missing factor, a term routed to the wrong row) disagrees at every
/// step. At least 15 coordinates must carry a gradient clearly above zero, and at most 10 of
/// 200 may disagree (see the end).
pub(crate) fn fd_check(what: &str, p: &[f32], grad: &[f32], seed: u64, f: &mut dyn FnMut(&[f32]) -> f64) {
    use rand::{Rng, SeedableRng};
    let mut r = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let mut clear = 0;
    let mut bad = Vec::new();
    let mut q = p.to_vec();
    // The f32 rounding of the loss, relative to its size.
    let noise = 1e-7 * f(p).abs().max(0.1);
    for _ in 0..200 {
        let i = r.gen_range(0..p.len());
        let an = grad[i] as f64;
        let mut seen = Vec::new();
        let ok = [1e-3f32, 5e-4, 2.5e-4].iter().any(|&h| {
            q[i] = p[i] + h;
            let lp = f(&q);
            q[i] = p[i] - h;
            let lm = f(&q);
            q[i] = p[i];
            let fd = (lp - lm) / (2.0 * h as f64);
            seen.push(fd);
            (fd - an).abs() <= 0.04 * fd.abs().max(an.abs()) + noise / h as f64
        });
        if !ok {
            bad.push(format!("coordinate {i}: finite differences {seen:?} vs analytic {an:.4e}"));
        }
        if an.abs() > 20.0 * noise / 1e-3 {
            clear += 1;
        }
    }
    assert!(clear >= 15, "{what}: only {clear} coordinates with a clear gradient were checked");
    // Hundreds of rows share each weight, so some coordinates have ReLU kinks at every scale
    // down to the f32 noise floor; their differences drift towards the analytic value as the
    // step shrinks but stay outside 4 %. Allow 10 such coordinates of 200: a wrong backward
    // pass disagrees on most of them.
    assert!(bad.len() <= 10, "{what}: {} of 200 coordinates disagree: {bad:#?}", bad.len());
}

fn dot(a: &[f32], b: &[f32]) -> f64 {
    a.iter().zip(b).map(|(&x, &y)| x as f64 * y as f64).sum()
}

/// The whole critic (per-task embedding φ, mean pooling over own and — centralised — all tasks,
/// head ρ) against finite differences, for each learner's critic: `L = Σ_i c_i Q_i` with fixed
/// random signs `c`, by parameter (φ's and ρ's) and by input (the path the actor's gradient
/// takes).
#[test]
fn critic_gradients_match_finite_differences() {
    use rand::{Rng, SeedableRng};
    for kind in Kind::ALL {
        let mut st = collected(kind, 3);
        let mb = fixed_minibatch(&mut st);
        let mut net = st.agent.nets.critic.clone();
        let mut batch = crate::nets::SetBatch::default();
        for (encs, acts) in mb.cur.iter().zip(&mb.cur_act) {
            let obs: Vec<(&crate::features::Enc, &[u16])> =
                encs.iter().zip(acts).map(|(en, a)| (en, a.as_slice())).collect();
            batch.push(&obs, mb.own);
        }
        assert!(batch.own.iter().all(|&(a, b)| b > a), "every item has own tasks");
        let mut r = rand_chacha::ChaCha8Rng::seed_from_u64(9);
        let c: Vec<f32> = (0..batch.len()).map(|_| if r.gen::<bool>() { 1.0 } else { -1.0 }).collect();
        for w in net.phi.params.iter_mut().chain(net.rho.params.iter_mut()) {
            *w += 0.01 * (r.gen::<f32>() - 0.5);
        }
        net.forward_traced(&batch);
        let mut dx = Vec::new();
        net.backward(&batch, &c, true, Some(&mut dx));
        // φ's parameters and ρ's, separately so both are sampled.
        let what = format!("{} critic φ parameters", kind.name());
        let mut probe = net.clone();
        fd_check(&what, &net.phi.params, &net.phi.grad, 1, &mut |q| {
            probe.phi.params.copy_from_slice(q);
            dot(&probe.q(false, &batch), &c)
        });
        let what = format!("{} critic ρ parameters", kind.name());
        let mut probe = net.clone();
        fd_check(&what, &net.rho.params, &net.rho.grad, 2, &mut |q| {
            probe.rho.params.copy_from_slice(q);
            dot(&probe.q(false, &batch), &c)
        });
        let what = format!("{} critic inputs", kind.name());
        let x0 = batch.x.clone();
        let mut b2 = batch.clone();
        let mut probe = net.clone();
        fd_check(&what, &x0, &dx, 3, &mut |x| {
            b2.x.copy_from_slice(x);
            dot(&probe.q(false, &b2), &c)
        });
    }
}

/// The whole actor chain — features → scores (actor MLP) → masked (Gumbel-)softmax → the
/// critic's action features → Q, plus MASAC's entropy term — against finite differences of the
/// relaxed actor loss, for every learner. Same Gumbel noise on both sides (the training stream
/// is restored before each evaluation).
#[test]
fn actor_chain_gradients_match_finite_differences() {
    for kind in Kind::ALL {
        let mut st = collected(kind, 3);
        let mb = fixed_minibatch(&mut st);
        let alpha = (kind == Kind::Masac).then_some(0.3);
        // Make the critic clearly sensitive to the action: scale φ's first-layer weights on the
        // action (pair) features. Any critic will do for a gradient check.
        let phi = &mut st.agent.nets.critic.phi;
        let out = phi.shape.dims[1];
        for row in crate::features::TASK_F..crate::features::TASK_F + crate::features::PAIR_F {
            for o in 0..out {
                phi.params[row * out + o] *= 100.0;
            }
        }
        let rng0 = st.agent.train_rng.clone();
        let p = st.agent.actor().to_vec();
        let mut eval = |params: &[f32]| -> (f64, Vec<f32>) {
            st.set_actor_params(params);
            st.agent.train_rng = rng0.clone();
            let (l, _) = st.actor_grad(&mb, alpha, true);
            (l as f64, st.agent.nets.actor.grad.clone())
        };
        let (_, grad) = eval(&p);
        fd_check(&format!("{} actor chain", kind.name()), &p, &grad, 4, &mut |q| eval(q).0);
    }
}

/// What a federated round does to each RSU (issue 14, item 8), stated and tested with the paper's
/// round (`fed_mix = 1`): a participant's actor becomes the FedAvg of the participants' actors
/// (unweighted by default); its target
/// actor is *not* reset (it keeps following the actor by soft updates, so it drifts towards the
/// average at rate τ per target update), its actor's Adam moments and step count are kept (the
/// next steps on the averaged actor use the RSU's own gradient history), and its critic, target
/// critic and critic optimiser never leave the RSU.
#[test]
fn a_federated_round_replaces_the_actor_only() {
    // Three RSUs that all receive uploads.
    let mut sc = Scenario::parse(&fixture::fixture("three-rsu-uneven.toml")).unwrap();
    sc.learning.fed_mix = 1.0;
    let mut opts = small_options();
    opts.updates_per_slot = 0;
    let mut st = build_learner_with("fed-maddpg", &sc, 3, 1, opts).unwrap();
    train::run_episode(&sc, &mut st).unwrap();
    st.learners_mut().iter_mut().for_each(|l| l.cfg.batch_size = 16);
    for _ in 0..3 {
        assert!(st.learners_mut().iter_mut().all(|l| l.update()), "enough data for updates");
    }
    let before: Vec<crate::rsu::Agent> = st.learners().iter().map(|l| l.agent.clone()).collect();
    assert!(before.iter().all(|a| a.actor_opt().t == 3), "the actors took Adam steps");
    assert_ne!(before[0].actor(), before[1].actor());
    assert_ne!(before[0].actor_target(), before[0].actor());
    assert!(st.federated_round(&[true, true, true]).unwrap());
    let (a0, a1, a2) = (before[0].actor(), before[1].actor(), before[2].actor());
    let avg: Vec<f32> = (0..a0.len()).map(|i| ((a0[i] as f64 + a1[i] as f64 + a2[i] as f64) / 3.0) as f32).collect();
    for (e, (now, was)) in st.learners().iter().map(|l| &l.agent).zip(&before).enumerate() {
        for (x, y) in now.actor().iter().zip(&avg) {
            assert!((x - y).abs() <= 1e-6 * y.abs().max(1.0), "RSU {e}: actor is the average");
        }
        assert_eq!(now.actor_target(), was.actor_target(), "RSU {e}: target actor kept");
        assert_eq!(now.actor_opt(), was.actor_opt(), "RSU {e}: actor Adam moments kept");
        assert_eq!(now.critic(), was.critic());
        assert_eq!(now.critic_target(), was.critic_target());
        assert_eq!(now.critic_opt(), was.critic_opt());
    }
    // The next target update moves the target actor towards the averaged actor by τ.
    let l = &mut st.learners_mut()[0];
    let tau = l.cfg.tau as f32;
    l.cfg.target_update_every = 1;
    let (t0, a_before_step) = (l.agent.actor_target().to_vec(), l.agent.actor().to_vec());
    assert!(l.update());
    let (actor, target) = (l.agent.actor(), l.agent.actor_target());
    let i = (0..t0.len()).find(|&i| (actor[i] - a_before_step[i]).abs() > 0.0).unwrap_or(0);
    let want = (1.0 - tau) * t0[i] + tau * actor[i];
    assert!((target[i] - want).abs() <= 1e-6 * want.abs().max(1.0), "soft update after the round");
}

/// Each centralised learner keeps its own copy of the joint buffer, built from the RSUs' shares
/// (issue 11): the copies hold the same records, and in one process the same observations (the
/// `Arc`s of the shares), so owning a copy per RSU does not multiply the observations' memory.
/// A local learner (fed-maddpg) holds only its own RSU's records.
#[test]
fn each_rsu_owns_its_buffer_and_central_copies_share_observations() {
    let set = collected_set(Kind::Maddpg, 1);
    let (a, b) = (&set.learners()[0].replay, &set.learners()[1].replay);
    assert_eq!(a, b, "the joint copies agree");
    assert_eq!(a.len(), 20);
    for i in a.oldest()..a.total() {
        for (x, y) in a.get(i).obs.iter().zip(&b.get(i).obs) {
            assert!(Arc::ptr_eq(x, y), "record {i}: observations are shared, not copied");
        }
    }
    let fed = collected_set(Kind::FedMaddpg, 1);
    for (e, l) in fed.learners().iter().enumerate() {
        assert_eq!(l.replay.covered(), 1);
        assert!(l.replay.get(0).obs.iter().all(|o| o.self_idx == e as u32), "RSU {e} holds only its own records");
    }
}

/// Issue 21, item 10: a checkpoint edited at random, with its checksum recomputed, is refused
/// with an error or loads into learners that run and train: never a panic (main panicked in
/// `features.rs` on an action past its candidates).
mod checkpoint_fuzz {
    use super::*;
    use crate::checkpoint;
    use proptest::prelude::*;
    use std::path::Path;
    use std::sync::OnceLock;

    /// A trained checkpoint of each kind (payload bytes), made once.
    fn payload(kind: Kind) -> &'static (Scenario, Vec<u8>) {
        static FED: OnceLock<(Scenario, Vec<u8>)> = OnceLock::new();
        static CENTRAL: OnceLock<(Scenario, Vec<u8>)> = OnceLock::new();
        let cell = if kind == Kind::FedMaddpg { &FED } else { &CENTRAL };
        cell.get_or_init(|| {
            let sc = tiny_scenario(8);
            let dir = tempfile::tempdir().unwrap();
            let mut c = cfg(2, Some(dir.path()), false);
            c.policy = kind.name().into();
            c.options.shape = NetShape { actor_hidden: vec![4], critic_embed: vec![4], critic_head: vec![4] };
            train::train(&sc, &c, &mut Sequential, &mut NoObserver).unwrap();
            let bytes = std::fs::read(dir.path().join(CHECKPOINT_FILE)).unwrap();
            let body = checkpoint::unframe(Path::new("x"), &bytes, sc.hash()).unwrap().to_vec();
            (sc, body)
        })
    }

    fn edited_loads_or_is_refused(kind: Kind, edits: &[(usize, u8)]) {
        let (sc, body) = payload(kind);
        let mut body = body.clone();
        for &(at, b) in edits {
            let i = at % body.len();
            body[i] = b;
        }
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(CHECKPOINT_FILE), checkpoint::frame(sc.hash(), &body)).unwrap();
        if let Ok((mut set, _)) = train::load_checkpoint(dir.path(), sc) {
            // Whatever loads must run: an episode in training mode (acting, storing, updating).
            set.set_training(true);
            train::run_episode(sc, &mut set).expect("a validated checkpoint runs");
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 48, failure_persistence: None, ..ProptestConfig::default() })]

        #[test]
        fn fed_maddpg(edits in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..4)) {
            edited_loads_or_is_refused(Kind::FedMaddpg, &edits);
        }

        #[test]
        fn maddpg(edits in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..4)) {
            edited_loads_or_is_refused(Kind::Maddpg, &edits);
        }
    }

    /// The edit that panicked on main: an action of a replayed record past its candidates, in
    /// a well-framed checkpoint. Refused on load, naming the field.
    #[test]
    fn an_action_past_its_candidates_is_refused_naming_the_field() {
        let sc = tiny_scenario(20);
        let mut set = collected_set(Kind::FedMaddpg, 1);
        let l = &mut set.learners_mut()[0];
        assert!(!l.replay.is_empty());
        let mut bad = None;
        for idx in l.replay.oldest()..l.replay.total() {
            if !l.replay.get(idx).act[0].is_empty() {
                bad = Some(idx);
                break;
            }
        }
        let idx = bad.expect("a record with a decision");
        let mut rec = l.replay.get(idx).clone();
        rec.act[0][0] = 60_000;
        l.replay.replace_for_test(idx, rec);
        let progress = train::TrainProgress {
            policy: "fed-maddpg".into(),
            seed: 1,
            episodes_done: 0,
            pool_rngs: (0..2).map(|e| vecsim_core::rng::stream(1, vecsim_core::rng::Domain::FaultPool, e)).collect(),
            curve: Vec::new(),
            replay_saved: true,
            pretrain: None,
            best: None,
        };
        let dir = tempfile::tempdir().unwrap();
        train::save_checkpoint(dir.path(), &sc, &mut set, &progress).unwrap();
        let e = train::load_checkpoint(dir.path(), &sc).unwrap_err().to_string();
        assert!(e.contains("invalid checkpoint: learners[0].replay.ring[") && e.contains("action 60000"), "{e}");
    }
}

/// Tasks decided in turn: what the acting actor saw is what the replay and the TD target's
/// rollout see. With ε = 0 and no updates, every recorded decision is the greedy in-turn
/// decision of the (fixed) actor; re-running that actor through the target's rollout
/// (`in_turn::next_actions`) on the recorded observation gives the same decisions, and the
/// rollout's features equal the replay's encoding with the recorded decisions.
#[test]
fn in_turn_decisions_replay_and_rollout_agree() {
    use crate::features::{encode_in_turn, RawObs};
    use crate::net::Params;
    // masac explores by sampling its policy whatever ε, so its decisions are not greedy.
    for kind in [Kind::FedMaddpg, Kind::Maddpg] {
        let mut sc = tiny_scenario(20);
        sc.learning.tasks_in_turn = true;
        sc.learning.epsilon = 0.0;
        sc.learning.epsilon_final = 0.0;
        let mut opts = small_options();
        opts.updates_per_slot = 0;
        let mut set = build_learner_with(kind.name(), &sc, 2, 1, opts).unwrap();
        for ep in 0..2 {
            let mut s = sc.clone();
            s.seed = 100 + ep;
            train::run_episode(&s, &mut set).unwrap();
        }
        let mut st = set.learners()[0].clone();
        // RSU 0's own observation: index 0 of a local record and of a joint one alike.
        let own = 0;
        let scales = Arc::new(st.scales.clone());
        let recs: Vec<(Arc<RawObs>, Vec<u16>)> = (st.replay.oldest()..st.replay.total())
            .map(|i| st.replay.get(i))
            .map(|r| (r.obs[own].clone(), r.act[own].clone()))
            .filter(|(o, _)| o.tasks.len() >= 2)
            .collect();
        assert!(recs.len() >= 5, "{}: {} records with two tasks or more", kind.name(), recs.len());
        let mut spread = 0;
        for (raw, acts) in &recs {
            let enc = encode_in_turn(raw, &scales, acts);
            let start = encode_in_turn(raw, &scales, &[]);
            let (got, _, re) = crate::in_turn::next_actions(
                &mut st.agent.nets.actor,
                &mut Vec::new(),
                Params::Online,
                st.cfg.prior() as f32,
                &[&start],
                None,
            );
            assert_eq!(&got[0], acts, "{}: rollout decisions differ from the recorded ones", kind.name());
            assert_eq!(re[0].pair, enc.pair, "{}: rollout features differ from the replay's", kind.name());
            spread += usize::from(acts.iter().any(|&a| a != acts[0]));
        }
        eprintln!("{}: {} records, {spread} with tasks sent to different RSUs", kind.name(), recs.len());
    }
}

/// `keep_best`: the run hands back the actors of its best validation evaluation (before the
/// first episode and at every curve evaluation). Evaluating them again gives exactly that
/// rate, which is the largest the run saw; `load_policies` evaluates the checkpoint with them
/// too; and the checkpoint holds the last state, so a run resumed half way ends in the same
/// bytes as a straight one.
#[test]
fn keep_best_hands_back_the_best_validation_actors() {
    let sc = tiny_scenario(20);
    let keep = |episodes: u32, dir: &std::path::Path, resume: bool| {
        let mut c = cfg(episodes, Some(dir), resume);
        c.eval_every = 2;
        c.eval_seeds = 2;
        c.keep_best = true;
        c
    };
    let dir = tempfile::tempdir().unwrap();
    let mut out = train::train(&sc, &keep(6, dir.path(), false), &mut Sequential, &mut NoObserver).unwrap();
    let k = out.kept.clone().expect("a kept evaluation");
    let evals: Vec<f64> = out.curve.iter().filter_map(|r| r.eval).map(|e| e.completion_rate).collect();
    assert_eq!(evals.len(), 3, "episodes 2, 4 and 6");
    assert!(evals.iter().all(|&e| e <= k.completion_rate), "{evals:?} vs kept {}", k.completion_rate);
    if k.episode > 0 {
        assert_eq!(out.curve[k.episode as usize - 1].eval.unwrap().completion_rate, k.completion_rate);
    }
    let again = train::evaluate_heldout(&sc, &mut out.set, 2).unwrap().completion_rate;
    assert_eq!(again, k.completion_rate, "the handed-back actors are the kept ones");
    let mut loaded = train::load_policies(dir.path(), &sc, "fed-maddpg").unwrap();
    assert_eq!(train::evaluate_heldout(&sc, &mut loaded, 2).unwrap().completion_rate, k.completion_rate);
    let (last, _) = train::load_checkpoint(dir.path(), &sc).unwrap();
    // Resumed half way: the same checkpoint.
    let half = tempfile::tempdir().unwrap();
    train::train(&sc, &keep(3, half.path(), false), &mut Sequential, &mut NoObserver).unwrap();
    let resumed = train::train(&sc, &keep(6, half.path(), true), &mut Sequential, &mut NoObserver).unwrap();
    assert_eq!(resumed.curve, out.curve);
    assert_eq!(resumed.kept, out.kept);
    let (last2, _) = train::load_checkpoint(half.path(), &sc).unwrap();
    assert_eq!(state_bytes(&last2), state_bytes(&last));
    // The kept actors are what evaluation loads and what a run hands back, whichever episode
    // they are from: a checkpoint whose kept evaluation is episode 2's actors with a rate no
    // run can beat.
    let two = tempfile::tempdir().unwrap();
    train::train(&sc, &keep(2, two.path(), false), &mut Sequential, &mut NoObserver).unwrap();
    let actors_of =
        |set: &LearnerSet| -> Vec<Vec<f32>> { set.learners().iter().map(|l| l.agent.actor().to_vec()).collect() };
    let (mut state, mut progress) = train::load_checkpoint(dir.path(), &sc).unwrap();
    let two_actors = actors_of(&train::load_checkpoint(two.path(), &sc).unwrap().0);
    assert_ne!(two_actors[0], state.learners()[0].agent.actor(), "episode 2's actors are not the last");
    progress.best = Some(train::Kept { episode: 2, completion_rate: 2.0, actors: two_actors.clone() });
    train::save_checkpoint(dir.path(), &sc, &mut state, &progress).unwrap();
    assert_eq!(actors_of(&train::load_policies(dir.path(), &sc, "fed-maddpg").unwrap()), two_actors);
    let more = train::train(&sc, &keep(8, dir.path(), true), &mut Sequential, &mut NoObserver).unwrap();
    assert_eq!(more.kept.as_ref().map(|k| k.episode), Some(2));
    assert_eq!(actors_of(&more.set), two_actors);
}
