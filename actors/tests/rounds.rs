//! VEC POOL rounds driven by the clock through the RSU actors, with seeded round dropouts.

use std::sync::Arc;
use vecsim_actors::{run_actors, ActorOptions};
use vecsim_core::fault::{Delivery, FaultPlan};
use vecsim_core::observer::NoObserver;
use vecsim_core::policy::Baseline;
use vecsim_core::policy::PolicySet;
use vecsim_core::rng::{self, Domain};
use vecsim_core::Scenario;

fn scenario() -> Scenario {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/paper-noon.toml");
    let mut s = Scenario::load(&path).unwrap();
    s.time.slots = 12;
    s.faults = FaultPlan { round_dropout: 0.3, ..Default::default() };
    s
}

fn run(threads: usize) -> vecsim_actors::ActorRun {
    let s = Arc::new(scenario());
    let fleet = vecsim_core::mobility::load(&s, None).unwrap();
    let n = s.rsu_count();
    let policies = PolicySet::baseline(Baseline::Orl, n, s.seed);
    let params = (0..n).map(|e| (vec![e as f32, 10.0 * e as f32, 1.0], 1 + e as u64)).collect();
    let opts = ActorOptions {
        threads,
        pool_every: Some(3),
        params: Some(params),
        weighted_fedavg: true,
        ..Default::default()
    };
    run_actors(s, fleet, policies, &opts, &mut NoObserver).unwrap()
}

#[test]
fn rounds_average_what_arrives_and_skip_by_seeded_draws() {
    let r = run(2);
    let s = scenario();
    let n = s.rsu_count();
    assert_eq!(r.rounds.len(), 4, "12 slots, a round every 3");
    // Each RSU draws its fate from its own (seed, FaultPool, rsu) stream, one draw per round.
    let mut rngs: Vec<_> = (0..n).map(|e| rng::stream(s.seed, Domain::FaultPool, e as u64)).collect();
    let mut params: Vec<(Vec<f32>, u64)> =
        (0..n).map(|e| (vec![e as f32, 10.0 * e as f32, 1.0], 1 + e as u64)).collect();
    for (k, o) in r.rounds.iter().enumerate() {
        assert_eq!(o.round, k as u64);
        let fates: Vec<bool> =
            rngs.iter_mut().map(|g| matches!(s.faults.pool(g), Delivery::Delivered { .. })).collect();
        let contributed: Vec<u32> = (0..n as u32).filter(|&e| fates[e as usize]).collect();
        assert_eq!(o.contributed, contributed, "round {k}");
        assert_eq!(o.contributed.len() + o.skipped.len(), n);
        // Expected FedAvg, weighted by samples, in id order.
        let items: Vec<(f64, &[f32])> =
            contributed.iter().map(|&e| (params[e as usize].1 as f64, &params[e as usize].0[..])).collect();
        let avg = vecsim_core::fedavg::average(&items).unwrap();
        let got = o.global.as_ref().map(|g| vecsim_core::codec::decode_params(g).unwrap());
        assert_eq!(got, avg, "round {k}");
        if let Some(avg) = avg {
            for p in &mut params {
                p.0 = avg.clone();
            }
        }
    }
    assert!(r.rounds.iter().any(|o| !o.skipped.is_empty()), "with p = 0.3 some RSU skipped some round");
    let dropouts: u64 = r.rounds.iter().map(|o| o.skipped.len() as u64).sum();
    assert_eq!(r.stats.fault_counts().round_dropouts, dropouts);
    // Every RSU holds the last global model (the broadcast goes to all members).
    let last = params[0].0.clone();
    for p in &r.params {
        assert_eq!(p.as_ref().unwrap(), &last);
    }
    // And the whole thing is independent of the thread count.
    let r1 = run(1);
    assert_eq!(r1.rounds, r.rounds);
    assert_eq!(r1.params, r.params);
}
