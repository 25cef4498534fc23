//! Tests of the learners on a tiny scenario: two RSUs, one far faster; vehicles upload only to
//! the slow one, whose CPU can finish one or two of a slot's tasks before their deadlines, while
//! the fast one finishes all of them even after the wired migration.

use crate::learner::{Kind, LearnerOptions, RewardSignal, State};
use crate::nets::NetShape;
use crate::train::{self, TrainConfig, CHECKPOINT_FILE};
use crate::{build_learner_with, maddpg};
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

/// A learner state after `episodes` episodes of data collection (no updates yet).
fn collected(kind: Kind, episodes: u32) -> State {
    let sc = tiny_scenario(20);
    let mut opts = small_options();
    opts.updates_per_slot = 0;
    let set = build_learner_with(kind.name(), &sc, 2, 1, opts).unwrap();
    for ep in 0..episodes {
        let mut s = sc.clone();
        s.seed = 100 + ep as u64;
        train::run_episode(&s, &set).unwrap();
    }
    set.with_state(|s| s.clone())
}

fn fixed_minibatch(st: &mut State, e: usize) -> crate::learner::Minibatch {
    st.test_minibatch(e).expect("enough data for a minibatch")
}

#[test]
fn one_critic_step_lowers_the_critic_loss_on_a_fixed_batch() {
    for kind in Kind::ALL {
        let mut st = collected(kind, 3);
        let mb = fixed_minibatch(&mut st, 0);
        let y = maddpg::targets(&mut st, 0, &mb, None);
        let before = maddpg::critic_step(&mut st, 0, &mb, &y);
        let after = maddpg::critic_step(&mut st, 0, &mb, &y);
        assert!(after < before, "{}: critic loss {before} -> {after}", kind.name());
    }
}

#[test]
fn the_actor_step_moves_the_actor_and_not_the_critic() {
    for kind in Kind::ALL {
        let mut st = collected(kind, 3);
        let mb = fixed_minibatch(&mut st, 0);
        let (a0, c0, ct0) =
            (st.agents[0].actor.clone(), st.agents[0].critic.clone(), st.agents[0].critic_target.clone());
        let alpha = (kind == Kind::Masac).then_some(0.05);
        maddpg::actor_step(&mut st, 0, &mb, alpha);
        assert_ne!(st.agents[0].actor, a0, "{}: actor did not move", kind.name());
        assert_eq!(st.agents[0].critic, c0, "{}: critic moved in the actor step", kind.name());
        assert_eq!(st.agents[0].critic_target, ct0);
    }
}

#[test]
fn the_actor_gradient_flows_through_the_critic() {
    // A critic that ignores actions gives the actor no gradient: zero φ's weights on the
    // action-feature columns and the actor must not move.
    let mut st = collected(Kind::FedMaddpg, 3);
    let mb = fixed_minibatch(&mut st, 0);
    let phi = st.critic_net().phi;
    let out = phi.dims[1];
    for row in crate::features::TASK_F..crate::features::TASK_F + crate::features::PAIR_F {
        for o in 0..out {
            st.agents[0].critic[row * out + o] = 0.0;
        }
    }
    let a0 = st.agents[0].actor.clone();
    maddpg::actor_step(&mut st, 0, &mb, None);
    assert_eq!(st.agents[0].actor, a0);
}

fn state_bytes(set: &crate::LearnerSet) -> Vec<u8> {
    set.with_state(|s| codec::encode(&*s).unwrap())
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
    assert_eq!(eval.policies().len(), 2);
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

#[test]
fn federated_round_averages_participants_only() {
    let sc = tiny_scenario(5);
    let set = build_learner_with("fed-maddpg", &sc, 2, 1, small_options()).unwrap();
    set.with_state(|s| {
        let n = s.agents[0].actor.len();
        s.set_actor_params(0, &vec![1.0; n]);
        s.set_actor_params(1, &vec![3.0; n]);
    });
    assert!(set.federated_round(&[true, false]).unwrap());
    set.with_state(|s| {
        assert!(s.agents[0].actor.iter().all(|&x| x == 1.0));
        assert!(s.agents[1].actor.iter().all(|&x| x == 3.0), "a missing RSU keeps its actor");
    });
    assert!(set.federated_round(&[true, true]).unwrap());
    set.with_state(|s| assert!(s.agents[0].actor.iter().chain(&s.agents[1].actor).all(|&x| x == 2.0)));
    assert!(!set.federated_round(&[false, false]).unwrap());
    // Through the Policy trait, as the VEC POOL actor does it.
    let mut pols = set.policies();
    let (w, p) = pols[0].export_params().unwrap();
    assert_eq!(w, 0);
    pols[1].import_params(&vec![5.0; p.len()]);
    set.with_state(|s| assert!(s.agents[1].actor.iter().all(|&x| x == 5.0)));
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
            .policies()
            .into_iter()
            .map(|inner| Box::new(Recording { inner, log: log.clone() }) as Box<dyn vecsim_core::policy::Policy>)
            .collect();
        let fleet = vecsim_core::mobility::load(&sc, None).unwrap();
        SequentialRun::new(Arc::new(sc.clone()), fleet, PolicySet::new(policies)).unwrap().run().unwrap();
        let log = log.lock().unwrap();
        assert_eq!(log.len(), 15 * 3);
        set.with_state(|st| {
            for fb in log.iter() {
                let want = match signal {
                    RewardSignal::Marginal => fb.reward,
                    RewardSignal::System => fb.potential,
                    RewardSignal::Difference => fb.difference,
                } as f32;
                let e = fb.rsu.index();
                assert_eq!(st.replays[e].get(fb.slot as u64).reward[0], want, "{signal:?}, RSU {e}, slot {}", fb.slot);
                differ[0] |= fb.reward != fb.potential;
                differ[1] |= fb.reward != fb.difference;
                differ[2] |= fb.potential != fb.difference;
            }
        });
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
fn fd_check(what: &str, p: &[f32], grad: &[f32], seed: u64, f: &mut dyn FnMut(&[f32]) -> f64) {
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
        let mb = fixed_minibatch(&mut st, 0);
        let net = st.critic_net();
        let mut batch = crate::nets::SetBatch::default();
        for (encs, acts) in mb.cur.iter().zip(&mb.cur_act) {
            let obs: Vec<(&crate::features::Enc, &[u16])> =
                encs.iter().zip(acts).map(|(en, a)| (en, a.as_slice())).collect();
            batch.push(&obs, mb.own);
        }
        assert!(batch.own.iter().all(|&(a, b)| b > a), "every item has own tasks");
        let mut r = rand_chacha::ChaCha8Rng::seed_from_u64(9);
        let c: Vec<f32> = (0..batch.len()).map(|_| if r.gen::<bool>() { 1.0 } else { -1.0 }).collect();
        let p: Vec<f32> = st.agents[0].critic.iter().map(|&w| w + 0.01 * (r.gen::<f32>() - 0.5)).collect();
        let mut ws = crate::nets::CriticWs::default();
        net.forward(&p, &batch, &mut ws);
        let mut grad = vec![0.0; net.num_params()];
        let mut dx = Vec::new();
        net.backward(&p, &batch, &mut ws, &c, Some(&mut grad), Some(&mut dx));
        // φ's parameters and ρ's, separately so both are sampled.
        let split = net.phi.num_params();
        let what = format!("{} critic φ parameters", kind.name());
        fd_check(&what, &p[..split], &grad[..split], 1, &mut |q| {
            let full: Vec<f32> = q.iter().chain(&p[split..]).copied().collect();
            dot(net.forward(&full, &batch, &mut ws), &c)
        });
        let what = format!("{} critic ρ parameters", kind.name());
        fd_check(&what, &p[split..], &grad[split..], 2, &mut |q| {
            let full: Vec<f32> = p[..split].iter().chain(q).copied().collect();
            dot(net.forward(&full, &batch, &mut ws), &c)
        });
        let what = format!("{} critic inputs", kind.name());
        let x0 = batch.x.clone();
        let mut b2 = batch.clone();
        fd_check(&what, &x0, &dx, 3, &mut |x| {
            b2.x.copy_from_slice(x);
            dot(net.forward(&p, &b2, &mut ws), &c)
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
        let mb = fixed_minibatch(&mut st, 0);
        let alpha = (kind == Kind::Masac).then_some(0.3);
        // Make the critic clearly sensitive to the action: scale φ's first-layer weights on the
        // action (pair) features. Any critic will do for a gradient check.
        let out = st.critic_net().phi.dims[1];
        for row in crate::features::TASK_F..crate::features::TASK_F + crate::features::PAIR_F {
            for o in 0..out {
                st.agents[0].critic[row * out + o] *= 100.0;
            }
        }
        let rng0 = st.agents[0].train_rng.clone();
        let p = st.agents[0].actor.clone();
        let mut eval = |params: &[f32]| -> (f64, Vec<f32>) {
            st.agents[0].actor.copy_from_slice(params);
            st.agents[0].train_rng = rng0.clone();
            let (l, _) = maddpg::actor_grad(&mut st, 0, &mb, alpha, true);
            (l as f64, st.ws.grad.clone())
        };
        let (_, grad) = eval(&p);
        fd_check(&format!("{} actor chain", kind.name()), &p, &grad, 4, &mut |q| eval(q).0);
    }
}

/// What a federated round does to each RSU (issue 14, item 8), stated and tested: a participant's
/// actor becomes the FedAvg of the participants' actors (unweighted by default); its target
/// actor is *not* reset (it keeps following the actor by soft updates, so it drifts towards the
/// average at rate τ per target update), its actor's Adam moments and step count are kept (the
/// next steps on the averaged actor use the RSU's own gradient history), and its critic, target
/// critic and critic optimiser never leave the RSU.
#[test]
fn a_federated_round_replaces_the_actor_only() {
    // Three RSUs that all receive uploads.
    let sc = Scenario::parse(&fixture::fixture("three-rsu-uneven.toml")).unwrap();
    let mut opts = small_options();
    opts.updates_per_slot = 0;
    let set = build_learner_with("fed-maddpg", &sc, 3, 1, opts).unwrap();
    train::run_episode(&sc, &set).unwrap();
    let mut st = set.with_state(|s| s.clone());
    st.cfg.batch_size = 16;
    for _ in 0..3 {
        assert!((0..3).all(|e| st.update(e)), "enough data for updates");
    }
    let before = st.agents.clone();
    assert!(before.iter().all(|a| a.actor_opt.t == 3), "the actors took Adam steps");
    assert_ne!(before[0].actor, before[1].actor);
    assert_ne!(before[0].actor_target, before[0].actor);
    assert!(st.federated_round(&[true, true, true]).unwrap());
    let avg: Vec<f32> = (0..before[0].actor.len())
        .map(|i| ((before[0].actor[i] as f64 + before[1].actor[i] as f64 + before[2].actor[i] as f64) / 3.0) as f32)
        .collect();
    for (e, (now, was)) in st.agents.iter().zip(&before).enumerate() {
        for (x, y) in now.actor.iter().zip(&avg) {
            assert!((x - y).abs() <= 1e-6 * y.abs().max(1.0), "RSU {e}: actor is the average");
        }
        assert_eq!(now.actor_target, was.actor_target, "RSU {e}: target actor kept");
        assert_eq!(now.actor_opt, was.actor_opt, "RSU {e}: actor Adam moments kept");
        assert_eq!(now.critic, was.critic);
        assert_eq!(now.critic_target, was.critic_target);
        assert_eq!(now.critic_opt, was.critic_opt);
    }
    // The next target update moves the target actor towards the averaged actor by τ.
    let tau = st.cfg.tau as f32;
    st.cfg.target_update_every = 1;
    let (t0, a_before_step) = (st.agents[0].actor_target.clone(), st.agents[0].actor.clone());
    assert!(st.update(0));
    let a = &st.agents[0];
    let i = (0..t0.len()).find(|&i| (a.actor[i] - a_before_step[i]).abs() > 0.0).unwrap_or(0);
    let want = (1.0 - tau) * t0[i] + tau * a.actor[i];
    assert!((a.actor_target[i] - want).abs() <= 1e-6 * want.abs().max(1.0), "soft update after the round");
}
