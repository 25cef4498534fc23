//! `vecsim run`: one episode of a scenario with one policy.

use super::engine_args::EngineArgs;
use super::fault_args::FaultArgs;
use super::metrics_args::MetricsArgs;
use super::output::{self, detail, note, out, warning};
use super::{bad, start_telemetry, summary};
use clap::Args;
use std::path::PathBuf;
use std::process::ExitCode;
use vecsim::pipeline;
use vecsim_core::overrides::Overrides;
use vecsim_telemetry::latency_table;

#[derive(Args, Debug, Clone)]
pub(crate) struct RunArgs {
    /// Scenario file, or a preset name from `scenarios/` (e.g. `paper-noon`).
    pub scenario: String,
    /// Policy: orl, orm, random, br-ne, orm-in-turn, or a trained fed-maddpg, maddpg, masac
    /// (default: the scenario's `policy`).
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
    /// Where a trained learner's networks run: `cpu`, or `cuda` / `cuda:N` (the dfdx backend on
    /// that GPU; needs a build with `--features cuda`).
    #[arg(long, default_value = "cpu", value_parser = super::device_arg::parse_device)]
    pub device: vecsim_learn::Device,
    /// Directory to write `slots.csv`, `summary.json` and `provenance.json` into (created if
    /// missing; a directory holding a run is refused unless `--force`).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Overwrite the run in `--out DIR` (without it, run refuses to).
    #[arg(long)]
    pub force: bool,
    /// Print the summary as JSON on stdout instead of the readable table.
    #[arg(long)]
    pub json: bool,
    /// Run the RSUs on the worker nodes of this cluster file (`cookie_file = "PATH"` and one
    /// `[[nodes]]` table with `addr = "HOST:PORT"` per `vecsim node`), with the vehicles on the
    /// nodes of their nearest RSUs; this process runs the clock and the VEC POOL. Same numbers
    /// as one process, byte for byte.
    #[arg(long, value_name = "CLUSTER.toml")]
    pub cluster: Option<PathBuf>,
    /// Accept a weak cookie file (readable by other users, or a secret under 16 bytes) with a
    /// warning, instead of refusing it.
    #[arg(long, requires = "cluster")]
    pub insecure: bool,
    #[command(flatten)]
    pub engine: EngineArgs,
    #[command(flatten)]
    pub metrics: MetricsArgs,
    #[command(flatten)]
    pub faults: FaultArgs,
}

impl RunArgs {
    /// The overrides these flags ask for.
    pub(crate) fn overrides(&self) -> anyhow::Result<Overrides> {
        let policy = self.policy.as_deref().map(str::parse).transpose().map_err(bad)?;
        Ok(Overrides { seed: self.seed, slots: self.slots, policy, faults: self.faults.fault.clone() })
    }
}

/// The files of a run in `--out DIR`.
const RUN_FILES: [&str; 3] = ["summary.json", "slots.csv", "provenance.json"];

pub(super) fn run(a: RunArgs, limits: &pipeline::Limits) -> anyhow::Result<ExitCode> {
    // One writer per output directory, from the start: a second run into it is refused at once.
    let _lock = a.out.as_deref().map(vecsim_core::atomic::DirLock::acquire).transpose().map_err(bad)?;
    if let Some(dir) = &a.out {
        let files = RUN_FILES.map(|f| dir.join(f));
        output::refuse_existing(files.iter().map(PathBuf::as_path), a.force, "--out DIR")?;
    }
    let s = pipeline::load_scenario(&a.scenario, &a.overrides()?)?;
    let fleet = pipeline::load_fleet(&s, a.trace.as_deref(), limits)?;
    for w in vecsim_core::mobility::trace_warnings(&fleet, &s.rsu_specs()) {
        warning!("{w}");
    }
    let policies = pipeline::build_policies_within(&s, a.checkpoint.as_deref(), a.device, limits)?;
    let mut report = None;
    let mut engine: Box<dyn vecsim_core::Engine> = match &a.cluster {
        None => a.engine.build()?,
        Some(file) => {
            let cfg = vecsim_cluster::ClusterConfig::load(file, a.insecure)
                .map_err(|e| bad(vecsim::message::error_message(&e)))?;
            for w in &cfg.warnings {
                eprintln!("warning: {w}");
            }
            let mut c = vecsim_cluster::Cluster::new(cfg, a.engine.threads);
            if let Some(dir) = &a.checkpoint {
                c = c
                    .with_checkpoint(dir, limits.checkpoint_cap())
                    .map_err(|e| bad(format!("checkpoint {}: {e}", dir.display())))?;
            }
            report = Some(c.report());
            Box::new(c)
        }
    };
    detail!(
        "run: scenario {} ({} RSUs, {} slots of {} s), policy {}, seed {}, engine {}",
        s.name,
        s.rsu_count(),
        s.time.slots,
        s.time.slot_s,
        s.policy,
        s.seed,
        engine.name()
    );
    let mut telemetry = start_telemetry(&a.metrics, &s, engine.name())?;
    let provenance = a.out.as_ref().map(|_| {
        super::provenance::text(
            &s,
            engine.name(),
            a.engine.threads,
            serde_json::json!({
                "command": "run",
                "checkpoint": a.checkpoint,
                "trace": a.trace,
                "device": a.device.to_string(),
                "cluster": a.cluster,
            }),
        )
    });
    let started = std::time::Instant::now();
    let out = pipeline::run_episode(s, fleet, policies, &mut *engine, &mut telemetry)?;
    let wall = started.elapsed();
    if let Some(r) = report {
        let r = r.lock().unwrap_or_else(|p| p.into_inner());
        for l in &r.losses {
            note!(
                "cluster: node {} was lost in slot {}; RSUs {:?} were an outage from then on; {} tasks it held counted as node_lost; its {} vehicles were recovered on the other nodes",
                l.addr, l.slot, l.rsus, l.tasks, l.vehicles
            );
        }
        note!("cluster: {} vehicle handovers between nodes", r.handovers);
    }
    let stats = out.stats;
    let sum = stats.summary();
    if let Some(dir) = &a.out {
        std::fs::create_dir_all(dir).map_err(|e| output::path_error("cannot create", dir, e))?;
        // Each file replaced whole; summary.json goes first and comes back last, so a directory
        // with a summary.json holds one run's pair of files whatever instant a kill came at.
        let write = |name: &str, bytes: &[u8]| {
            let p = dir.join(name);
            vecsim_core::atomic::write(&p, bytes).map_err(|e| output::path_error("cannot write", &p, e))
        };
        let old = dir.join("summary.json");
        match std::fs::remove_file(&old) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                return Err(output::path_error("cannot replace", &old, e))
            }
            _ => {}
        }
        write("slots.csv", stats.slots_csv().as_bytes())?;
        write("summary.json", sum.to_json().as_bytes())?;
        if let Some(p) = &provenance {
            write("provenance.json", p.as_bytes())?;
        }
    }
    if a.json {
        out!("{}", sum.to_json())?;
    } else {
        summary::print(&sum, wall)?;
    }
    if let Some(dir) = &a.out {
        note!("wrote {d}/slots.csv, {d}/summary.json and {d}/provenance.json", d = dir.display());
    }
    output::flush_out()?;
    // Last, on stderr (so `--json` stays clean): latency percentiles; then, with
    // --serve-after, keep serving metrics.
    let latency = latency_table(&stats.service_histogram().percentiles(), &telemetry.slot_wall_time());
    note!("{}", latency.trim_end_matches('\n'));
    telemetry.linger();
    Ok(ExitCode::SUCCESS)
}
