//! `vecsim slot FILE|-`: evaluate one explicit slot, to cross-check the model against
//! independent implementations. Paper channel mode; input and output documented in docs/usage.md.

use super::bad;
use super::output::outln;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::Path;
use std::process::ExitCode;
use vecsim_core::allocation::AllocatorKind;
use vecsim_core::geometry::Point;
use vecsim_core::ids::{RsuId, TaskId};
use vecsim_core::scenario::RsuSpec;
use vecsim_core::slot::{score, SlotProblem};
use vecsim_core::task::{Task, UploadedTask};
use vecsim_core::wired::WiredLink;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SlotIn {
    rsus: Vec<RsuIn>,
    wired: Option<WiredLink>,
    #[serde(default)]
    allocator: Option<String>,
    tasks: Vec<TaskIn>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RsuIn {
    id: u64,
    x: f64,
    y: f64,
    cpu_hz: f64,
    bandwidth_bps: f64,
    #[serde(default = "default_range")]
    range_m: f64,
}

fn default_range() -> f64 {
    500.0
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TaskIn {
    id: u64,
    rsu: u64,
    target: u64,
    data_bits: f64,
    cycles_per_bit: f64,
    deadline_s: f64,
}

#[derive(Serialize)]
struct TaskOut {
    id: u64,
    upload_s: f64,
    wired_s: f64,
    cpu_hz: f64,
    exec_s: f64,
    service_s: f64,
    completed: bool,
}

#[derive(Serialize)]
struct RsuOut {
    id: u64,
    completion_rate: Option<f64>,
    reward: f64,
}

#[derive(Serialize)]
struct SlotOut {
    tasks: Vec<TaskOut>,
    rsus: Vec<RsuOut>,
    potential: f64,
}

fn positive(what: &str, v: f64) -> anyhow::Result<()> {
    if v.is_finite() && v > 0.0 {
        Ok(())
    } else {
        Err(bad(format!("{what} must be a finite number > 0, got {v}")))
    }
}

pub(super) fn slot(file: &Path) -> anyhow::Result<ExitCode> {
    let (name, text) = if file == Path::new("-") {
        let cap = vecsim_core::bounded::SLOT_JSON_CAP;
        let s =
            vecsim_core::bounded::read_reader_to_string(std::io::stdin(), cap, Path::new("<stdin>"), "slot JSON", "")
                .map_err(bad)?;
        ("<stdin>".to_string(), s)
    } else {
        let s = vecsim_core::bounded::read_to_string(file, vecsim_core::bounded::SLOT_JSON_CAP, "slot JSON", "")
            .map_err(bad)?;
        (file.display().to_string(), s)
    };
    let input: SlotIn = serde_json::from_str(&text).map_err(|e| bad(format!("{name}: {e}")))?;
    let out = evaluate(input).map_err(|e| bad(format!("{name}: {e:#}")))?;
    outln!("{}", serde_json::to_string_pretty(&out)?)?;
    Ok(ExitCode::SUCCESS)
}

fn evaluate(input: SlotIn) -> anyhow::Result<SlotOut> {
    if input.rsus.is_empty() {
        anyhow::bail!("`rsus` is empty: a slot needs at least one RSU");
    }
    let allocator: AllocatorKind = match input.allocator.as_deref() {
        None => AllocatorKind::Kkt,
        Some(a) => a.parse().map_err(|e: String| anyhow::anyhow!("`allocator`: {e}"))?,
    };
    let wired = input.wired.unwrap_or_default();
    positive("wired.rate_bps", wired.rate_bps)?;
    if !(wired.discount_per_m.is_finite() && wired.discount_per_m >= 0.0) {
        anyhow::bail!("wired.discount_per_m must be >= 0, got {}", wired.discount_per_m);
    }
    let mut index: HashMap<u64, usize> = HashMap::new();
    let mut rsus = Vec::new();
    for (i, r) in input.rsus.iter().enumerate() {
        if index.insert(r.id, i).is_some() {
            anyhow::bail!("rsus[{i}]: duplicate RSU id {}", r.id);
        }
        if !(r.x.is_finite() && r.y.is_finite()) {
            anyhow::bail!("rsus[{i}] (id {}): x and y must be finite metres", r.id);
        }
        positive(&format!("rsus[{i}] (id {}).cpu_hz", r.id), r.cpu_hz)?;
        positive(&format!("rsus[{i}] (id {}).bandwidth_bps", r.id), r.bandwidth_bps)?;
        positive(&format!("rsus[{i}] (id {}).range_m", r.id), r.range_m)?;
        rsus.push(RsuSpec {
            id: RsuId(i as u32),
            pos: Point::new(r.x, r.y),
            cpu_hz: r.cpu_hz,
            bandwidth_bps: r.bandwidth_bps,
            range_m: r.range_m,
        });
    }
    // Tasks are ordered by their given id (the model's tie-break order).
    let mut order: Vec<usize> = (0..input.tasks.len()).collect();
    order.sort_by_key(|&i| input.tasks[i].id);
    for w in order.windows(2) {
        if input.tasks[w[0]].id == input.tasks[w[1]].id {
            anyhow::bail!("duplicate task id {}", input.tasks[w[0]].id);
        }
    }
    let mut uploads: Vec<Vec<UploadedTask>> = vec![Vec::new(); rsus.len()];
    let mut decisions: Vec<Vec<RsuId>> = vec![Vec::new(); rsus.len()];
    for (rank, &i) in order.iter().enumerate() {
        let t = &input.tasks[i];
        let what = |f: &str| format!("tasks[{i}] (id {}).{f}", t.id);
        let up = *index.get(&t.rsu).ok_or_else(|| anyhow::anyhow!("{}: unknown RSU id {}", what("rsu"), t.rsu))?;
        let ex =
            *index.get(&t.target).ok_or_else(|| anyhow::anyhow!("{}: unknown RSU id {}", what("target"), t.target))?;
        positive(&what("data_bits"), t.data_bits)?;
        positive(&what("cycles_per_bit"), t.cycles_per_bit)?;
        positive(&what("deadline_s"), t.deadline_s)?;
        if !(t.data_bits * t.cycles_per_bit).is_finite() {
            anyhow::bail!(
                "{}: the task's work data_bits × cycles_per_bit = {} × {} is not a finite number of cycles",
                what("cycles_per_bit"),
                t.data_bits,
                t.cycles_per_bit
            );
        }
        let upload_s = t.data_bits / rsus[up].bandwidth_bps;
        let wired_s = wired.delay_s(t.data_bits, rsus[up].pos.distance(rsus[ex].pos));
        if !(upload_s + wired_s).is_finite() {
            anyhow::bail!(
                "{}: upload time {upload_s} s plus wired time {wired_s} s is not a finite number of seconds",
                what("data_bits")
            );
        }
        let task = Task {
            id: TaskId { slot: 0, vehicle: rank as u32 },
            data_bits: t.data_bits,
            cycles_per_bit: t.cycles_per_bit,
            deadline_s: t.deadline_s,
        };
        uploads[up].push(UploadedTask {
            task,
            uploader: RsuId(up as u32),
            distance_m: 0.0,
            upload_s,
            upload_extra_s: 0.0,
        });
        decisions[up].push(RsuId(ex as u32));
    }
    let free: Vec<f64> = rsus.iter().map(|r| r.cpu_hz).collect();
    let avail = vec![true; rsus.len()];
    let problem =
        SlotProblem { rsus: &rsus, free_cpu_hz: &free, available: &avail, wired, allocator, uploads: &uploads };
    let results = problem.evaluate(&decisions);
    let sc = score(&results, rsus.len());
    let tasks = results
        .iter()
        .map(|r| TaskOut {
            id: input.tasks[order[r.id.vehicle as usize]].id,
            upload_s: r.upload_s,
            wired_s: r.wired_s,
            cpu_hz: r.cpu_hz,
            exec_s: r.exec_s,
            service_s: r.service_s,
            completed: r.completed(),
        })
        .collect();
    let rsus_out = input
        .rsus
        .iter()
        .enumerate()
        .map(|(i, r)| RsuOut { id: r.id, completion_rate: sc.rates[i], reward: sc.rewards[i] })
        .collect();
    Ok(SlotOut { tasks, rsus: rsus_out, potential: sc.potential })
}
