//! Plug in your own scheduling policy: implement `Policy` (one instance per RSU), hand a
//! `PolicySet` to any engine, and compare it with a built-in baseline on the same traffic.
//!
//! The policy here is deliberately naive: every RSU sends all its tasks to the candidate with
//! the most free CPU per uploaded task ("least loaded"). Every RSU sees the same public view,
//! so they all pick the same RSU and overload it — the herding that ORM (which accounts for
//! what it already assigned) and the learners avoid. Run it to see by how much.
//!
//! `cargo run --release --example custom_policy`

use vecsim::pipeline::{self, EngineKind, Limits};
use vecsim_core::ids::RsuId;
use vecsim_core::observer::NoObserver;
use vecsim_core::overrides::Overrides;
use vecsim_core::policy::{Observation, Policy, PolicyName, PolicySet};

/// Least loaded available RSU, by free CPU (cycles/s) per task uploaded to it this slot.
struct LeastLoaded;

impl Policy for LeastLoaded {
    fn name(&self) -> &'static str {
        "least-loaded"
    }

    fn decide(&mut self, obs: &Observation<'_>) -> Vec<RsuId> {
        let score = |e: usize| {
            let c = &obs.candidates[e];
            c.free_cpu_hz / (1.0 + c.uploaded_tasks as f64)
        };
        let mut best = obs.rsu.index();
        for (e, c) in obs.candidates.iter().enumerate() {
            if c.available && score(e) > score(best) {
                best = e;
            }
        }
        vec![RsuId(best as u32); obs.tasks.len()]
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let limits = Limits::default();
    let overrides = Overrides { slots: Some(100), policy: Some(PolicyName::Orl), ..Default::default() };
    let scenario = pipeline::load_scenario("paper-evening", &overrides)?;
    let mut engine = EngineKind::Sequential.build(1)?;

    let ours = PolicySet::new((0..scenario.rsu_count()).map(|_| Box::new(LeastLoaded) as Box<dyn Policy>).collect());
    let fleet = pipeline::load_fleet(&scenario, None, &limits)?;
    let mine = pipeline::run_episode(scenario.clone(), fleet, ours, &mut *engine, &mut NoObserver)?.stats.summary();
    let orl = pipeline::build_policies(&scenario, None)?;
    let fleet = pipeline::load_fleet(&scenario, None, &limits)?;
    let base = pipeline::run_episode(scenario, fleet, orl, &mut *engine, &mut NoObserver)?.stats.summary();

    // Same traffic for both: the same tasks were generated.
    assert_eq!(mine.tasks_total, base.tasks_total);
    assert!(mine.migrations > 0 && base.migrations == 0, "ORL never migrates; least-loaded does");
    println!(
        "least-loaded {:.1} %  vs  orl {:.1} %",
        100.0 * mine.completion_rate.unwrap_or(f64::NAN),
        100.0 * base.completion_rate.unwrap_or(f64::NAN)
    );
    Ok(())
}
