//! `vecsim bench learners`: how fast each learner trains on a scenario with a budget's networks
//! and schedule — slots/s and update-steps/s measured in one run, and the wall time that
//! projects to for the whole budget and for `standard` (the budget the issue 19 targets name).

use super::engine_args::EngineArgs;
use super::output::outln;
use std::process::ExitCode;
use vecsim::pipeline;
use vecsim_core::overrides::Overrides;
use vecsim_learn::{Budget, TrainConfig};

/// Times `episodes` episodes of each of `policies` on `scenario` with `budget`'s networks and
/// schedule (the schedule of the whole budget, so the update rate is the budget's).
pub(super) fn learners(
    scenario: &str,
    policies: &[String],
    budget: &str,
    (episodes, slots, seed): (u32, Option<u32>, u64),
    engine: &EngineArgs,
    limits: &pipeline::Limits,
) -> anyhow::Result<ExitCode> {
    let budget = Budget::parse(budget)
        .ok_or_else(|| super::bad(format!("--budget `{budget}`: expected quick, standard or paper")))?;
    if policies.is_empty() {
        return Err(super::bad("--policies: name at least one learner (fed-maddpg, maddpg, masac)"));
    }
    let mut names = Vec::with_capacity(policies.len());
    for p in policies {
        let name: vecsim_core::policy::PolicyName =
            p.parse().map_err(|e| super::bad(format!("--policies {p}: {e}")))?;
        if !name.is_learner() {
            return Err(super::bad(format!(
                "--policies: `{p}` is not a learner (expected fed-maddpg, maddpg or masac)"
            )));
        }
        names.push(name);
    }
    let mut header = false;
    for name in names {
        let policy = name.as_str();
        let overrides = Overrides { policy: Some(name), ..Overrides::default() };
        let mut s = pipeline::load_scenario(scenario, &overrides)?;
        let mut cfg = TrainConfig::new(policy, episodes, seed);
        let plan = budget.apply(&mut s.learning, &mut cfg.options, s.time.slots);
        if let Some(n) = slots.or(plan.slots) {
            Overrides { slots: Some(n), ..Overrides::default() }
                .apply(&mut s)
                .map_err(|e| super::bad(format!("{scenario}: {e}")))?;
        }
        pipeline::check_memory(&s, None, limits)?;
        cfg.threads = engine.threads;
        if !header {
            outln!(
                "bench learners: {} ({} RSUs), budget {} ({} episodes of {} slots, an update round every {} slots, batch {}), {episodes} timed episode(s) of {} slots per learner, engine {}, {} thread(s), seed {seed}",
                s.name,
                s.rsu_count(),
                budget.name(),
                plan.episodes,
                plan.slots.unwrap_or(s.time.slots),
                s.learning.update_every,
                s.learning.batch_size,
                s.time.slots,
                engine.engine.as_str(),
                engine.threads
            )?;
            outln!(
                "  {:<11} {:>8} {:>9} {:>15} {:>11} {:>13} {:>20}",
                "learner",
                "updates",
                "slots/s",
                "update-steps/s",
                "s/episode",
                "first ep. s",
                format!("projected {} s", budget.name())
            )?;
            header = true;
        }
        let budget_slots = plan.slots.unwrap_or(s.time.slots);
        let mut eng = engine.build()?;
        let speed = vecsim::training_bench::learner_speed(&s, &cfg, &mut *eng)?;
        outln!(
            "  {:<11} {:>8} {:>9.1} {:>15.1} {:>11.4} {:>13.4} {:>20.0}",
            policy,
            speed.episode_updates.iter().sum::<u64>(),
            speed.slots_per_s(),
            speed.update_steps_per_s(),
            speed.seconds_per_episode(),
            speed.episode_s.first().copied().unwrap_or(0.0),
            speed.projected_s(plan.episodes) * budget_slots as f64 / s.time.slots.max(1) as f64
        )?;
    }
    outln!("  (updates: update steps of all RSUs over all timed episodes; rates over the timed episodes after the first when there are two or more; projected = s/slot x the budget's episodes x slots)")?;
    Ok(ExitCode::SUCCESS)
}
