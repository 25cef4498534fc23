//! Learning tests that can fail (issues 14 and 19, item 5): on a four-RSU scenario where every
//! RSU receives uploads, migration pays and the greedy heuristic `orm` is far from the oracle
//! (`four-rsu-herd.toml`: one 8 GHz RSU among three 1 GHz ones; Table III hyper-parameters),
//! each learner trained with the quick budget, unweighted FedAvg, learner seeds 1, 2 and 3 (all
//! of them, not picked), must beat `orl` and `random` in mean greedy completion rate on held-out
//! traffic by a stated margin; the actors cloned from `br-ne` (`--pretrain`) must come near
//! `orm`. What they do not yet do — beat `orm` there — is said where the margins are.

use crate::budget::Budget;
use crate::learner::LearnerOptions;
use crate::train::{self, eval_seed, evaluate_heldout, TrainConfig};
use std::sync::Arc;
use vecsim_core::engine::SequentialRun;

use vecsim_core::observer::NoObserver;
use vecsim_core::policy::{Baseline, PolicySet};
use vecsim_core::{Scenario, Sequential};

use crate::tests::fixture;

/// Training episodes of the tests (of the fixture's slots): the quick budget cut to fit CI.
const TEST_EPISODES: u32 = 20;

/// Held-out traffic seeds of the evaluation.
const EVAL_SEEDS: u32 = 3;

fn scenario() -> Scenario {
    Scenario::parse(&fixture::fixture("three-rsu-uneven.toml")).expect("fixture parses")
}

/// The issue-19 fixture: `orm` well below `br-ne` (it crowds the one fast RSU).
fn herd() -> Scenario {
    Scenario::parse(&fixture::fixture("four-rsu-herd.toml")).expect("fixture parses")
}

/// Mean completion rate of a baseline on the held-out seeds (layout of `sc`).
fn baseline_rate(sc: &Scenario, b: Baseline) -> f64 {
    let layout = sc.pinned_layout();
    let mut sum = 0.0;
    for i in 0..EVAL_SEEDS as u64 {
        let mut s = layout.clone();
        s.seed = eval_seed(i);
        let fleet = vecsim_core::mobility::load(&s, None).unwrap();
        let policies = PolicySet::baseline(b, s.rsu_count(), s.seed);
        let (stats, _) = SequentialRun::new(Arc::new(s), fleet, policies).unwrap().run().unwrap();
        sum += stats.summary().completion_rate.unwrap();
    }
    sum / EVAL_SEEDS as f64
}

/// The quick budget on `sc` (its own slots), learner `policy`, learner `seed`; returns the mean
/// greedy completion rate on the held-out seeds.
fn trained_rate(sc: &Scenario, policy: &str, seed: u64, episodes: Option<u32>) -> f64 {
    trained_rate_with(sc, policy, seed, episodes, None)
}

/// [`trained_rate`], optionally cloning `br-ne` first (`--pretrain`).
fn trained_rate_with(
    sc: &Scenario,
    policy: &str,
    seed: u64,
    episodes: Option<u32>,
    pretrain: Option<crate::PretrainSpec>,
) -> f64 {
    let mut sc = sc.clone();
    let mut opts = LearnerOptions::default();
    let plan = Budget::Quick.apply(&mut sc.learning, &mut opts, sc.time.slots);
    let episodes = episodes.unwrap_or(TEST_EPISODES);
    // The quick budget's schedule for this run's length (its ratios kept).
    let every = sc.learning.update_every;
    crate::budget::schedule(&mut sc.learning, episodes, sc.time.slots, every);
    let _ = plan;
    if let Ok(v) = std::env::var("VECSIM_LEARN") {
        for kv in v.split_whitespace() {
            let (k, v) = kv.split_once('=').unwrap();
            if k == "reward" {
                opts.reward = crate::RewardSignal::parse(v).unwrap();
            } else {
                sc.learning.set(k, v).unwrap();
            }
        }
    }
    let mut c = TrainConfig::new(policy, episodes, seed);
    c.options = opts;
    c.threads = 1;
    c.pretrain = pretrain;
    let mut out = train::train(&sc, &c, &mut Sequential, &mut NoObserver).unwrap();
    evaluate_heldout(&sc, &mut out.set, EVAL_SEEDS).unwrap().completion_rate
}

/// Experiment mode (ignored): every learner, seeds 1–3, with `VECSIM_LEARN="key=value ..."`
/// overrides, `VECSIM_EPISODES`, `VECSIM_KINDS` and `VECSIM_PRETRAIN=br-ne:E`.
#[test]
#[ignore]
fn learning_experiment() {
    // `VECSIM_FIXTURE=three`: issue 14's three-RSU fixture (where `orm` is optimal).
    let sc = if std::env::var("VECSIM_FIXTURE").is_ok_and(|f| f == "three") { scenario() } else { herd() };
    let eps = std::env::var("VECSIM_EPISODES").ok().map(|e| e.parse().unwrap());
    let pre = std::env::var("VECSIM_PRETRAIN").ok().map(|p| crate::PretrainSpec::parse(&p).unwrap());
    let kinds = std::env::var("VECSIM_KINDS").unwrap_or("fed-maddpg,maddpg,masac".into());
    eprintln!(
        "orl {:.3} random {:.3} orm {:.3} br-ne {:.3}",
        baseline_rate(&sc, Baseline::Orl),
        baseline_rate(&sc, Baseline::Random),
        baseline_rate(&sc, Baseline::Orm),
        baseline_rate(&sc, Baseline::BrNe)
    );
    for k in kinds.split(',') {
        let t = std::time::Instant::now();
        let r: Vec<f64> = [1u64, 2, 3].iter().map(|&s| trained_rate_with(&sc, k, s, eps, pre)).collect();
        eprintln!(
            "{k}: {:.3} {:.3} {:.3} mean {:.3} ({:.1} s)",
            r[0],
            r[1],
            r[2],
            r.iter().sum::<f64>() / 3.0,
            t.elapsed().as_secs_f64()
        );
    }
}

/// The stated margin: on `four-rsu-herd.toml` the mean greedy completion rate over learner
/// seeds 1–3 must beat the better of `orl` and `random` by 30 points. On the held-out seeds
/// `orl` completes 23.9 %, `random` 32.8 %, `orm` 71.6 % and `br-ne` 87.2 %; an actor that has
/// not learnt (untrained, or trained on a broken gradient) sits near `orl` or `random`.
/// Measured when written (issue 19): fed-maddpg 69.9 % on each seed, maddpg 69.9 / 69.9 /
/// 75.8 %, masac 69.9 % on each seed — **below `orm`** (the target, every learner above
/// `orm` on this fixture, is not met; docs/learning.md, "Cloning the oracle").
const MARGIN: f64 = 0.30;

fn learns(policy: &str) {
    // The paper's algorithms (the four defaults beyond the paper off).
    let mut sc = herd();
    sc.learning.tasks_in_turn = false;
    sc.learning.fed_mix = 1.0;
    sc.learning.rsus_in_turn = false;
    sc.learning.local_prior = Some(0.0);
    let (orl, random) = (baseline_rate(&sc, Baseline::Orl), baseline_rate(&sc, Baseline::Random));
    let rates: Vec<f64> = [1u64, 2, 3].iter().map(|&s| trained_rate(&sc, policy, s, None)).collect();
    let mean = rates.iter().sum::<f64>() / 3.0;
    eprintln!("{policy}: seeds 1-3 {rates:.3?}, mean {mean:.3}; orl {orl:.3}, random {random:.3}");
    assert!(
        mean > orl.max(random) + MARGIN,
        "{policy} does not learn: mean greedy completion {mean:.3} (seeds 1-3: {rates:.3?}) vs orl {orl:.3}, random {random:.3}"
    );
}

#[test]
fn fed_maddpg_learns_on_the_herd_fixture() {
    learns("fed-maddpg");
}

#[test]
fn maddpg_learns_on_the_herd_fixture() {
    learns("maddpg");
}

#[test]
fn masac_learns_on_the_herd_fixture() {
    learns("masac");
}

/// Episodes of the default-recipe tests: the quick budget's 40 (of the fixture's 40 slots).
const DEFAULT_EPISODES: u32 = 40;

/// Issue 19, item 5 — tests that bite: with the default recipe (tasks decided in turn,
/// `fed_mix` 0.25, the RSUs deciding in turn, the local prior 2; all beyond the paper,
/// docs/learning.md) every learner beats `orm` by the 2 points on the herd fixture, on
/// every learner seed 1–3, in greedy completion on the held-out traffic. Measured with the
/// local prior (session 11): fed-maddpg 86.6 / 79.6 / 85.5 %, maddpg 87.9 / 80.6 / 83.6 %, masac
/// 81.1 / 80.8 / 80.6 % against `orm` 71.6 % and `br-ne` 87.2 % (session 8, without it:
/// fed-maddpg 84.2 / 87.2 / 86.9 %, maddpg 78.5 / 84.2 / 80.4 %, masac 88.0 / 82.8 / 85.3 %;
/// session 7, without the RSUs in turn either: fed-maddpg 82.5 / 82.6 /
/// 86.8 %, maddpg 77.1 / 77.2 / 77.0 %, masac 76.2 / 74.7 / 76.8 %). With the paper's
/// algorithms (`tasks_in_turn = false`, `fed_mix = 1`, `rsus_in_turn = false`, `local_prior = 0`) the same
/// 40-episode training leaves two or three seeds of every learner below `orm` (fed-maddpg 69.9 /
/// 70.2 / 73.4 %, maddpg 69.9 / 69.9 / 71.8 %, masac 69.9 % on each), so these tests fail
/// without the defaults. The quick budget's 40 episodes, not the tests' 20: at 20 the learners
/// with tasks in turn still sat at 69.9–71.2 %.
fn beats_orm_by_default(policy: &str) {
    let sc = herd();
    assert!(
        sc.learning.tasks_in_turn && sc.learning.fed_mix < 1.0 && sc.learning.rsus_in_turn && sc.learning.prior() > 0.0,
        "the defaults beyond the paper"
    );
    let orm = baseline_rate(&sc, Baseline::Orm);
    let rates: Vec<f64> = [1u64, 2, 3].iter().map(|&s| trained_rate(&sc, policy, s, Some(DEFAULT_EPISODES))).collect();
    eprintln!("{policy} (defaults): seeds 1-3 {rates:.3?}; orm {orm:.3}");
    for r in &rates {
        assert!(*r >= orm + 0.02, "{policy}: {rates:.3?} does not beat orm {orm:.3} by 2 points on every learner seed");
    }
}

#[test]
fn fed_maddpg_beats_orm_on_the_herd_fixture() {
    beats_orm_by_default("fed-maddpg");
}

#[test]
fn maddpg_beats_orm_on_the_herd_fixture() {
    beats_orm_by_default("maddpg");
}

#[test]
fn masac_beats_orm_on_the_herd_fixture() {
    beats_orm_by_default("masac");
}

/// `[learning] local_prior`: an untrained actor of every learner, whose scores for keeping a
/// task carry the largest prior, decides exactly as `orl` (no migration, `orl`'s completion
/// rate on every held-out seed); without the prior the same untrained actor moves tasks (its
/// greedy pick is whatever candidate its random weights prefer).
#[test]
fn an_untrained_actor_with_the_local_prior_starts_as_orl() {
    for kind in ["fed-maddpg", "maddpg", "masac"] {
        let mut sc = herd();
        sc.learning.local_prior = Some(vecsim_core::learning::LearningConfig::MAX_LOCAL_PRIOR);
        let mut kept = crate::build_learner_with(kind, &sc, sc.rsu_count(), 1, LearnerOptions::default()).unwrap();
        sc.learning.local_prior = Some(0.0);
        let mut free = crate::build_learner_with(kind, &sc, sc.rsu_count(), 1, LearnerOptions::default()).unwrap();
        for i in 0..EVAL_SEEDS as u64 {
            let mut s = sc.pinned_layout();
            s.seed = eval_seed(i);
            let fleet = vecsim_core::mobility::load(&s, None).unwrap();
            let policies = PolicySet::baseline(Baseline::Orl, s.rsu_count(), s.seed);
            let (stats, _) = SequentialRun::new(Arc::new(s.clone()), fleet, policies).unwrap().run().unwrap();
            let orl = stats.summary();
            let with = train::evaluate(&s, &mut kept).unwrap();
            assert_eq!((with.migrations, with.completion_rate), (0, orl.completion_rate), "{kind}, seed {}", s.seed);
            let without = train::evaluate(&s, &mut free).unwrap();
            assert!(without.migrations > 0, "{kind}: an untrained actor without the prior kept every task");
        }
    }
}

/// The learning fixture is one where the greedy heuristic is far from the oracle (issue 19,
/// item 5: `orm` at least 10 points below `br-ne`), on the tests' own held-out seeds, and where
/// migrating pays (`orm` well above `orl` and `random`).
#[test]
fn the_herd_fixture_separates_orm_from_the_oracle() {
    let sc = herd();
    let [orl, orm, random, brne] =
        [Baseline::Orl, Baseline::Orm, Baseline::Random, Baseline::BrNe].map(|b| baseline_rate(&sc, b));
    eprintln!("orl {orl:.3} orm {orm:.3} random {random:.3} br-ne {brne:.3}");
    assert!(orm <= brne - 0.10, "orm {orm:.3} is within 10 points of br-ne {brne:.3}");
    assert!(orm >= orl.max(random) + 0.20, "orm {orm:.3} vs orl {orl:.3}, random {random:.3}");
}

/// Cloning `br-ne` alone (`--pretrain br-ne:5`, no RL episode; beyond the paper) gives actors
/// that decide far better than untrained ones: every learner seed 1–3 within 5 points of `orm`
/// and 30 above `orl` and `random`. Measured when written: 69.9 % on every seed of every
/// learner (`orm` 71.6 %, `br-ne` 87.2 %): the clone does not reach the oracle — on this fixture
/// the observation lacks what the oracle uses (docs/learning.md).
#[test]
fn cloned_actors_decide_near_orm_on_the_herd_fixture() {
    let sc = herd();
    let [orl, orm, random] = [Baseline::Orl, Baseline::Orm, Baseline::Random].map(|b| baseline_rate(&sc, b));
    let spec = crate::PretrainSpec::parse("br-ne:5").unwrap();
    // As `vecsim train --pretrain` resolves an unset prior: none (the clone starts from br-ne).
    let mut sc = sc;
    sc.learning.local_prior = Some(0.0);
    for policy in ["fed-maddpg", "maddpg"] {
        let rates: Vec<f64> =
            [1u64, 2, 3].iter().map(|&s| trained_rate_with(&sc, policy, s, Some(0), Some(spec))).collect();
        eprintln!("cloned {policy}: seeds 1-3 {rates:.3?}; orm {orm:.3}");
        for r in &rates {
            assert!(*r >= orm - 0.05 && *r > orl.max(random) + MARGIN, "cloned {policy}: {rates:.3?} vs orm {orm:.3}");
        }
    }
}

/// The tests' training really holds federated rounds (unweighted FedAvg, at least 2) and target
/// updates: the quick schedule cut to the tests' 20 episodes of 40 slots.
#[test]
fn the_test_budget_holds_federated_rounds_and_target_updates() {
    let mut sc = herd();
    let mut opts = LearnerOptions::default();
    Budget::Quick.apply(&mut sc.learning, &mut opts, sc.time.slots);
    let every = sc.learning.update_every;
    crate::budget::schedule(&mut sc.learning, TEST_EPISODES, sc.time.slots, every);
    assert!(!opts.weighted_fedavg);
    // α_tg = round(20 / 12.2) = 2: 10 rounds. 20·40/5 = 160 update rounds; the time constant
    // is 0.82 % of them (1.3 steps): t_tg = 1, τ = 1/1.31 capped at 1.
    assert_eq!(sc.learning.aggregation_period, 2);
    assert_eq!(sc.learning.target_update_every, 1);
    assert!(TEST_EPISODES / sc.learning.aggregation_period >= 2);
}
