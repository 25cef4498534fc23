//! `vecsim compare`: every policy on one scenario over several seeds, with mean and standard
//! deviation of the paper's metrics (the error bars of its Fig. 4 and 6).

use super::bad;
use super::engine_args::EngineArgs;
use super::fault_args::FaultArgs;
use super::output::{self, detail, heading, note, outln};
use clap::Args;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;
use vecsim::pipeline;
use vecsim_core::observer::NoObserver;
use vecsim_core::overrides::Overrides;
use vecsim_core::policy::PolicyName;

#[derive(Args, Debug, Clone)]
pub(crate) struct CompareArgs {
    /// Scenario file, or a preset name from `scenarios/`.
    pub scenario: String,
    /// Policies to compare, comma-separated. Learners need `--checkpoint NAME=DIR`.
    #[arg(long, value_delimiter = ',', default_value = "orl,orm,random,br-ne")]
    pub policies: Vec<PolicyName>,
    /// Number of seeds: the scenario's seed and the ones after it.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u64).range(1..=10_000))]
    pub seeds: u64,
    /// Slots per run (default: the scenario's).
    #[arg(long)]
    pub slots: Option<u32>,
    /// Trained learner checkpoints, `NAME=DIR` (e.g. `fed-maddpg=runs/fed`), repeatable; each
    /// adds a row. `NAME#TAG=DIR` (e.g. `fed-maddpg#2=runs/fed-2`) compares several checkpoints of
    /// one learner side by side.
    #[arg(long)]
    pub checkpoint: Vec<String>,
    /// Also write the per-run rows as CSV (an existing file is refused unless `--force`).
    #[arg(long)]
    pub csv: Option<PathBuf>,
    /// Overwrite the `--csv` file (without it, compare refuses to).
    #[arg(long)]
    pub force: bool,
    /// Print the results as JSON on stdout instead of the table: every run, the mean and
    /// standard deviation per policy, and the provenance (version, command line, engine,
    /// threads, scenario hash, faults).
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub engine: EngineArgs,
    #[command(flatten)]
    pub faults: FaultArgs,
}

/// The CSV's header: one row per run.
pub(crate) const CSV_HEADER: &str =
    "scenario,policy,seed,slots,completion_rate,cumulative_reward,average_realized_potential,migrations";

/// Where `--csv FILE`'s provenance goes: `FILE` with the extension `provenance.json`.
fn provenance_path(csv: &std::path::Path) -> PathBuf {
    csv.with_extension("provenance.json")
}

fn mean_sd(v: &[f64]) -> (f64, f64) {
    let n = v.len() as f64;
    let m = v.iter().sum::<f64>() / n;
    let var = if v.len() > 1 { v.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / (n - 1.0) } else { 0.0 };
    (m, var.sqrt())
}

pub(super) fn compare(a: CompareArgs, limits: &pipeline::Limits) -> anyhow::Result<ExitCode> {
    if a.seeds == 0 {
        return Err(bad("--seeds must be at least 1"));
    }
    let faults = Overrides { faults: a.faults.fault.clone(), ..Overrides::default() };
    let base = pipeline::load_scenario(&a.scenario, &faults)?;
    // Rows: (label, policy, checkpoint); each --checkpoint adds its row.
    let mut rows: Vec<(String, PolicyName, Option<PathBuf>)> = Vec::new();
    let mut checkpointed = Vec::new();
    for c in &a.checkpoint {
        let (label, policy, dir) = super::checkpoint_arg(c)?;
        if rows.iter().any(|(l, _, _)| *l == label) {
            return Err(bad(format!("--checkpoint `{c}`: `{label}` is given twice (tag them: NAME#TAG=DIR)")));
        }
        checkpointed.push((label.clone(), policy, Some(dir.clone())));
        rows.push((label, policy, Some(dir)));
    }
    rows.clear();
    for &p in &a.policies {
        let mine: Vec<_> = checkpointed.iter().filter(|(_, q, _)| *q == p).cloned().collect();
        if mine.is_empty() {
            rows.push((p.to_string(), p, None));
        }
    }
    rows.extend(checkpointed);
    // Every argument checked before any run: a learner needs its checkpoint.
    if let Some((_, p, _)) = rows.iter().find(|(_, p, dir)| p.is_learner() && dir.is_none()) {
        return Err(bad(format!(
            "--policies {p}: a learner needs a trained checkpoint: --checkpoint {p}=DIR (train one with `vecsim train {} --policy {p} --checkpoint DIR`)",
            a.scenario
        )));
    }
    if let Some(path) = &a.csv {
        let prov = provenance_path(path);
        output::refuse_existing([path.as_path(), prov.as_path()], a.force, "--csv FILE")?;
    }
    let mut csv = format!("{CSV_HEADER}\n");
    let mut json_rows = Vec::new();
    let table = !a.json;
    if table {
        outln!(
            "{} over {} seeds ({}..={}), {} slots",
            base.name,
            a.seeds,
            base.seed,
            base.seed + a.seeds - 1,
            a.slots.unwrap_or(base.time.slots)
        )?;
        outln!(
            "{}",
            heading(&format!(
                "  {:<12} {:>22} {:>24} {:>24} {:>12}",
                "policy", "completion rate", "cumulative reward", "avg realized potential", "migrations"
            ))
        )?;
    }
    let mut engine = a.engine.build()?;
    let provenance = super::provenance::of(
        &base,
        engine.name(),
        a.engine.threads,
        serde_json::json!({"command": "compare", "seeds": a.seeds, "slots": a.slots.unwrap_or(base.time.slots)}),
    );
    for (label, policy, dir) in &rows {
        let policy = *policy;
        let (mut rate, mut reward, mut arp, mut mig) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        let mut runs = Vec::new();
        for k in 0..a.seeds {
            let overrides =
                Overrides { seed: Some(base.seed + k), slots: a.slots, policy: Some(policy), faults: Vec::new() };
            // (The faults are in `base` already, applied once above.)
            let mut s = base.clone();
            overrides.apply(&mut s).map_err(|e| bad(format!("{}: {e}", a.scenario)))?;
            let policies = pipeline::build_policies(&s, dir.as_deref())?;
            let seed = s.seed;
            let fleet = pipeline::load_fleet(&s, None, limits)?;
            let out = pipeline::run_episode(s, fleet, policies, &mut *engine, &mut NoObserver)?;
            let sum = out.stats.summary();
            detail!("compare: {label} seed {seed}: completion rate {:?}", sum.completion_rate);
            let _ = writeln!(
                csv,
                "{},{label},{},{},{},{},{},{}",
                csv_field(&base.name),
                seed,
                sum.slots,
                sum.completion_rate.map_or(String::new(), |r| r.to_string()),
                sum.cumulative_reward,
                sum.average_realized_potential,
                sum.migrations
            );
            runs.push(serde_json::json!({
                "seed": seed,
                "slots": sum.slots,
                "completion_rate": sum.completion_rate,
                "cumulative_reward": sum.cumulative_reward,
                "average_realized_potential": sum.average_realized_potential,
                "migrations": sum.migrations,
            }));
            // A seed with no covered task has no rate; the mean is over the seeds that have one.
            rate.extend(sum.completion_rate);
            reward.push(sum.cumulative_reward);
            arp.push(sum.average_realized_potential);
            mig.push(sum.migrations as f64);
        }
        let ((cm, cs), (am, asd), (mm, _)) = (mean_sd(&reward), mean_sd(&arp), mean_sd(&mig));
        let rate_text = if rate.is_empty() {
            format!("{:>22}", "-")
        } else {
            let (rm, rs) = mean_sd(&rate);
            format!("{:>12.2} % ± {:>5.2}", 100.0 * rm, 100.0 * rs)
        };
        let rate_stats = (!rate.is_empty()).then(|| mean_sd(&rate));
        json_rows.push(serde_json::json!({
            "label": label,
            "policy": policy.as_str(),
            "checkpoint": dir,
            "completion_rate": rate_stats.map(|(m, s)| serde_json::json!({"mean": m, "sd": s})),
            "cumulative_reward": {"mean": cm, "sd": cs},
            "average_realized_potential": {"mean": am, "sd": asd},
            "migrations": {"mean": mm},
            "runs": runs,
        }));
        if table {
            outln!(
                "  {:<12} {} {:>14.2} ± {:>7.2} {:>14.3} ± {:>7.3} {:>12.0}",
                label,
                rate_text,
                cm,
                cs,
                am,
                asd,
                mm
            )?;
        }
    }
    if a.json {
        let doc = serde_json::json!({
            "scenario": base.name,
            "seeds": (base.seed..base.seed + a.seeds).collect::<Vec<_>>(),
            "slots": a.slots.unwrap_or(base.time.slots),
            "policies": json_rows,
            "provenance": provenance,
        });
        outln!("{}", serde_json::to_string_pretty(&doc).expect("the compare document serialises"))?;
    }
    if let Some(path) = &a.csv {
        std::fs::write(path, csv).map_err(|e| output::path_error("cannot write", path, e))?;
        let prov = provenance_path(path);
        let mut text = serde_json::to_string_pretty(&provenance).expect("provenance serialises");
        text.push('\n');
        std::fs::write(&prov, text).map_err(|e| output::path_error("cannot write", &prov, e))?;
        note!("wrote {} and {}", path.display(), prov.display());
    }
    Ok(ExitCode::SUCCESS)
}

/// A CSV field: quoted when it holds a comma, a quote or a line break.
fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::mean_sd;

    #[test]
    fn mean_and_sample_sd_by_hand() {
        // 2, 4, 4, 4, 5, 5, 7, 9: mean 5, sample variance 32/7.
        let (m, s) = mean_sd(&[2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0]);
        assert_eq!(m, 5.0);
        assert!((s - (32.0f64 / 7.0).sqrt()).abs() < 1e-12);
        assert_eq!(mean_sd(&[3.0]), (3.0, 0.0));
    }
}
