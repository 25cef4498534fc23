//! Run a scenario from Rust: a preset, with overrides, on the actor engine, watched by a
//! closure — the same pipeline `vecsim run` uses.
//!
//! `cargo run --release --example run_scenario`

use vecsim::pipeline::{self, EngineKind, Limits};
use vecsim_core::observer::OnSlot;
use vecsim_core::overrides::Overrides;
use vecsim_core::policy::PolicyName;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let limits = Limits::default();
    // The paper's road at noon, 60 slots, greedy migration (ORM).
    let overrides = Overrides { slots: Some(60), policy: Some(PolicyName::Orm), ..Default::default() };
    let scenario = pipeline::load_scenario("paper-noon", &overrides)?;
    let policies = pipeline::build_policies(&scenario, None)?;
    let mut engine = EngineKind::Actors.build(2)?;
    let mut slots = 0u32;
    let mut watch = OnSlot(|_report: &vecsim_core::report::SlotReport| slots += 1);
    let fleet = pipeline::load_fleet(&scenario, None, &limits)?;
    let out = pipeline::run_episode(scenario, fleet, policies, &mut *engine, &mut watch)?;
    let summary = out.stats.summary();
    assert_eq!(slots, 60, "the observer saw every slot");
    assert_eq!(summary.slots, 60);
    // Every task ends in exactly one outcome.
    let ended =
        summary.tasks_completed + summary.tasks_missed_deadline + summary.tasks_uncovered + summary.tasks_dropped;
    assert_eq!(ended, summary.tasks_total);
    println!(
        "{} with {}: {} tasks, completion rate {:.1} %, {} migrations",
        summary.scenario,
        summary.policy,
        summary.tasks_total,
        100.0 * summary.completion_rate.unwrap_or(f64::NAN),
        summary.migrations
    );
    Ok(())
}
