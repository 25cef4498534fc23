//! Check determinism yourself: the same scenario and seed give byte-identical `slots.csv` and
//! `summary.json` on the sequential engine and on the actor engine with 1 and 4 worker
//! threads, with faults injected.
//!
//! `cargo run --release --example determinism`

use vecsim::pipeline::{self, EngineKind, Limits};
use vecsim_core::observer::NoObserver;
use vecsim_core::overrides::Overrides;
use vecsim_core::policy::PolicyName;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let limits = Limits::default();
    let overrides = Overrides {
        slots: Some(40),
        policy: Some(PolicyName::Orm),
        faults: vec!["loss.wired=0.1".into(), "latency.upload=uniform:0:0.02".into(), "rsu_outage=2:10:19".into()],
        ..Default::default()
    };
    let scenario = pipeline::load_scenario("paper-noon", &overrides)?;
    let mut outputs = Vec::new();
    for (kind, threads) in [(EngineKind::Sequential, 1), (EngineKind::Actors, 1), (EngineKind::Actors, 4)] {
        let policies = pipeline::build_policies(&scenario, None)?;
        let fleet = pipeline::load_fleet(&scenario, None, &limits)?;
        let out =
            pipeline::run_episode(scenario.clone(), fleet, policies, &mut *kind.build(threads)?, &mut NoObserver)?;
        let bytes = (out.stats.slots_csv().to_string(), out.stats.summary().to_json());
        println!("{kind} ({threads} threads): {} bytes of slots.csv", bytes.0.len());
        outputs.push((kind, bytes));
    }
    assert_eq!(outputs[0].1, outputs[1].1, "sequential vs actors, byte for byte");
    assert_eq!(outputs[1].1, outputs[2].1, "actors: 1 vs 4 threads, byte for byte");
    println!("identical");
    Ok(())
}
