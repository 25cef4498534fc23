//! The learners' real networks through the VEC POOL: fed-maddpg policies run one episode on the
//! actor engine, trained online inside their RSU actors, and the round after the last slot
//! federated-averages their actor parameters exactly as the in-process round does.

use crate::common::fixture_with;
use std::sync::Arc;
use vecsim_actors::{run_actors, ActorOptions, ActorRun};
use vecsim_core::fedavg::fed_avg;
use vecsim_core::observer::NoObserver;
use vecsim_core::policy::PolicySet;
use vecsim_core::Scenario;
use vecsim_learn::LearnerOptions;
use vecsim_learn::NetShape;
use vecsim_learn::{build_learner_with, LearnerSet};

const SLOTS: u32 = 10;

/// `train-small` with fewer vehicles and tasks and a smaller replay batch, for short episodes.
fn scenario() -> Scenario {
    let slots = SLOTS.to_string();
    Scenario::parse(&fixture_with(
        "train-small.toml",
        &[
            ("name", "\"pool-learners\""),
            ("seed", "5"),
            ("time.slots", &slots),
            ("tasks.request_rate", "0.25"),
            ("mobility.initial_vehicles", "12"),
            ("learning.batch_size", "4"),
            ("learning.replay_capacity", "1000"),
            ("learning.aggregation_period", "500"),
            ("learning.target_update_every", "2"),
        ],
    ))
    .unwrap()
}

fn learner(s: &Scenario, weighted: bool) -> LearnerSet {
    let opts = LearnerOptions {
        shape: NetShape { actor_hidden: vec![16, 16], critic_embed: vec![16], critic_head: vec![16] },
        weighted_fedavg: weighted,
        ..Default::default()
    };
    build_learner_with("fed-maddpg", s, s.rsu_count(), 11, opts).unwrap()
}

/// One episode on the actor engine; the learners come back into `set`.
fn episode(s: &Scenario, set: &mut LearnerSet, round: Option<(&[bool], bool)>) -> ActorRun {
    let fleet = vecsim_core::mobility::load(s, None).unwrap();
    let opts = ActorOptions {
        threads: 2,
        pool_every: round.map(|_| SLOTS),
        pool_participants: round.map(|(p, _)| p.to_vec()),
        weighted_fedavg: round.is_some_and(|(_, w)| w),
        ..Default::default()
    };
    let mut run = run_actors(Arc::new(s.clone()), fleet, PolicySet::new(set.lend()), &opts, &mut NoObserver).unwrap();
    set.take_back(std::mem::take(&mut run.policies)).unwrap();
    run
}

fn actors(set: &LearnerSet) -> Vec<Vec<f32>> {
    set.learners().iter().map(|l| l.agent.actor().to_vec()).collect()
}

fn samples(set: &LearnerSet) -> Vec<u64> {
    set.learners().iter().map(|l| l.agent.samples).collect()
}

#[test]
fn the_pool_averages_the_learners_actor_networks() {
    let s = scenario();
    for weighted in [false, true] {
        let participants = [true, false, true];
        // The same learners twice: one episode with the round after its last slot, one without.
        let (mut with, mut without) = (learner(&s, weighted), learner(&s, weighted));
        let r = episode(&s, &mut with, Some((&participants, weighted)));
        let plain = episode(&s, &mut without, None);
        assert!(plain.rounds.is_empty());
        assert_eq!(r.stats.summary().cumulative_reward, plain.stats.summary().cumulative_reward);

        let before = actors(&without);
        assert_ne!(before[0], before[2], "the actors trained apart during the episode");
        let n = samples(&without);
        assert_ne!(n[0], n[2], "the RSUs took different numbers of decisions");
        // FedAvg of the participants' actors, in RSU-id order, with the learners' weights.
        let w = |e: usize| if weighted { n[e] as f64 } else { 1.0 };
        let avg = fed_avg(&[(w(0), &before[0][..]), (w(2), &before[2][..])]).unwrap();
        // Each participant takes `fed_mix` (β, default 0.25) of the way to the average:
        // θ ← (1 − β)·θ + β·θ̄, element by element in f32 (β = 1 would be eq. 28).
        let mix = s.learning.fed_mix as f32;
        assert!(mix < 1.0, "the default mixes");
        let mixed =
            |own: &[f32]| -> Vec<f32> { own.iter().zip(&avg).map(|(p, a)| (1.0 - mix) * p + mix * a).collect() };
        let after = actors(&with);
        assert_eq!(after[0], mixed(&before[0]), "weighted {weighted}");
        assert_eq!(after[2], mixed(&before[2]), "weighted {weighted}");
        assert_eq!(after[1], before[1], "the RSU that missed the round keeps its own actor");

        assert_eq!(r.rounds.len(), 1);
        assert_eq!((r.rounds[0].contributed.clone(), r.rounds[0].skipped.clone()), (vec![0, 2], vec![1]));
        assert_eq!(r.stats.fault_counts().round_dropouts, 1);
        let global = vecsim_core::codec::decode_params(r.rounds[0].global.as_ref().unwrap()).unwrap();
        assert_eq!(global, avg);
        // Learners keep their parameters in their networks, not as plain vectors.
        assert!(r.params.iter().all(Option::is_none));

        // Bit for bit the in-process round, and nothing else differs (critics, optimisers...).
        assert!(without.federated_round(&participants).unwrap());
        let agents = |set: &LearnerSet| set.learners().iter().map(|l| l.agent.clone()).collect::<Vec<_>>();
        assert_eq!(agents(&with), agents(&without));
    }
}

#[test]
fn a_round_nobody_takes_part_in_changes_nothing() {
    let s = scenario();
    let (mut with, mut without) = (learner(&s, false), learner(&s, false));
    let r = episode(&s, &mut with, Some((&[false, false, false], false)));
    episode(&s, &mut without, None);
    assert_eq!((r.rounds[0].contributed.len(), r.rounds[0].skipped.len()), (0, 3));
    assert!(r.rounds[0].global.is_none());
    assert_eq!(actors(&with), actors(&without));
}
