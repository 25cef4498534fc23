//! `vecsim run`: one episode of a scenario with one policy.

use super::engine_args::{self, EngineArgs};
use super::fault_args::FaultArgs;
use super::telemetry::{MetricsArgs, Telemetry};
use super::{bad, load_scenario, summary};
use clap::Args;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use vecsim_core::policy::{Baseline, JointRefiner, Policy};
use vecsim_core::Scenario;

#[derive(Args, Debug, Clone)]
pub struct RunArgs {
    /// Scenario file, or a preset name from `scenarios/` (e.g. `paper-noon`).
    pub scenario: String,
    /// Policy: orl, orm, random, br-ne, or a trained fed-maddpg, maddpg, masac (default: the
    /// scenario's `policy`).
    #[arg(long)]
    pub policy: Option<String>,
    /// Master seed (default: the scenario's `seed`).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Number of slots (default: the scenario's `time.slots`).
    #[arg(long)]
    pub slots: Option<u32>,
    /// Trace file replacing the scenario's (trace-based scenarios only).
    #[arg(long)]
    pub trace: Option<PathBuf>,
    /// Checkpoint directory of a trained learner (`vecsim train --checkpoint DIR`), needed by
    /// `--policy fed-maddpg|maddpg|masac`; the learner runs greedily, without learning.
    #[arg(long)]
    pub checkpoint: Option<PathBuf>,
    /// Directory to write `slots.csv` and `summary.json` into (created if missing).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Print the summary as JSON on stdout instead of the readable table.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub engine: EngineArgs,
    #[command(flatten)]
    pub metrics: MetricsArgs,
    #[command(flatten)]
    pub faults: FaultArgs,
}

/// The scenario after command-line overrides, re-validated.
pub fn scenario_with_overrides(a: &RunArgs) -> anyhow::Result<Scenario> {
    let mut s = load_scenario(&a.scenario)?;
    if let Some(seed) = a.seed {
        s.seed = seed;
    }
    if let Some(slots) = a.slots {
        s.time.slots = slots;
    }
    if let Some(p) = &a.policy {
        s.policy = p.clone();
    }
    a.faults.apply(&mut s)?;
    s.validate().map_err(|e| bad(format!("{}: {e}", a.scenario)))?;
    Ok(s)
}

/// One policy per RSU, and the joint refiner of `br-ne` if any.
pub type PolicySet = (Vec<Box<dyn Policy>>, Option<Box<dyn JointRefiner>>);

/// One policy instance per RSU, plus the joint refiner of `br-ne`. Learners come from a
/// checkpoint.
pub fn build_policies(s: &Scenario, checkpoint: Option<&std::path::Path>) -> anyhow::Result<PolicySet> {
    let n = s.rsu_count();
    if vecsim_learn::is_learner(&s.policy) {
        let Some(dir) = checkpoint else {
            return Err(bad(format!(
                "--policy {} needs --checkpoint DIR (train one with `vecsim train {} --policy {} --checkpoint DIR`)",
                s.policy, s.name, s.policy
            )));
        };
        let set = vecsim_learn::load_policies(dir, s, &s.policy).map_err(bad)?;
        return Ok((set.policies(), None));
    }
    if checkpoint.is_some() {
        return Err(bad(format!("--checkpoint only applies to learners; `{}` is a baseline", s.policy)));
    }
    let Some(b) = Baseline::parse(&s.policy) else {
        return Err(bad(format!(
            "unknown policy `{}` (expected one of: orl, orm, random, br-ne, fed-maddpg, maddpg, masac)",
            s.policy
        )));
    };
    let policies = (0..n as u32).map(|e| b.build(vecsim_core::ids::RsuId(e), s.seed)).collect();
    Ok((policies, b.refiner()))
}

pub fn run(a: RunArgs) -> anyhow::Result<ExitCode> {
    let s = scenario_with_overrides(&a)?;
    let fleet = super::load_fleet(&s, a.trace.as_deref())?;
    for w in vecsim_core::mobility::trace_warnings(&fleet, &s.rsu_specs()) {
        eprintln!("warning: {w}");
    }
    let (policies, refiner) = build_policies(&s, a.checkpoint.as_deref())?;
    let mut telemetry = Telemetry::start(&a.metrics, &s)?;
    let started = std::time::Instant::now();
    let (stats, _policies) =
        engine_args::drive(&a.engine, Arc::new(s), fleet, policies, refiner, &mut |r| telemetry.on_slot(r))?;
    let wall = started.elapsed();
    let sum = stats.summary();
    if let Some(dir) = &a.out {
        std::fs::create_dir_all(dir).map_err(|e| anyhow::anyhow!("cannot create {}: {e}", dir.display()))?;
        std::fs::write(dir.join("slots.csv"), stats.slots_csv())?;
        std::fs::write(dir.join("summary.json"), sum.to_json())?;
    }
    if a.json {
        print!("{}", sum.to_json());
    } else {
        summary::print(&sum, wall);
        if let Some(dir) = &a.out {
            println!("wrote {}/slots.csv and {}/summary.json", dir.display(), dir.display());
        }
    }
    use std::io::Write as _;
    std::io::stdout().flush()?;
    // Last: prints the latency table and, with --serve-after, keeps serving metrics.
    telemetry.finish(&stats)?;
    Ok(ExitCode::SUCCESS)
}
