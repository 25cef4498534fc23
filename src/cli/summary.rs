//! The readable run summary.

use super::output::{heading, outln, OutputError};
use std::time::Duration;
use vecsim_core::report::Summary;

/// The summary on stdout; a failed write ends the run (see `output`).
pub(super) fn print(s: &Summary, wall: Duration) -> Result<(), OutputError> {
    let pct = |x: f64| format!("{:.2} %", 100.0 * x);
    outln!(
        "{}",
        heading(&format!("scenario {}  policy {}  seed {}  slots {}", s.scenario, s.policy, s.seed, s.slots))
    )?;
    outln!("  vehicles                 peak {}  vehicle-slots {}", s.peak_vehicles, s.vehicle_slots)?;
    // No covered task, no rate: "-", as in the per-RSU rows.
    outln!("  task completion rate     {}", s.completion_rate.map_or("-".to_string(), pct))?;
    outln!("  cumulative reward        {:.4}", s.cumulative_reward)?;
    outln!("  avg realized potential   {:.4}", s.average_realized_potential)?;
    outln!(
        "  service time             p50 {:.4} s  p90 {:.4} s  p99 {:.4} s  max {:.4} s",
        s.service_time_s.p50,
        s.service_time_s.p90,
        s.service_time_s.p99,
        s.service_time_s.max
    )?;
    if s.service_time_s.out_of_range > 0 {
        outln!(
            "                           {} executed task(s) took longer than {} s or never finished (no CPU): \
             counted, not in the percentiles",
            s.service_time_s.out_of_range,
            vecsim_core::report::LatencyHistogram::MAX_S
        )?;
    }
    if s.brne_unconverged_slots > 0 {
        outln!(
            "  br-ne                    {} slot(s) stopped at the pass limit without reaching an equilibrium",
            s.brne_unconverged_slots
        )?;
    }
    outln!(
        "  tasks                    {} total: {} completed, {} missed deadline, {} uncovered, {} dropped",
        s.tasks_total,
        s.tasks_completed,
        s.tasks_missed_deadline,
        s.tasks_uncovered,
        s.tasks_dropped
    )?;
    outln!(
        "  dropped by cause         vehicle_dropout {}  rsu_down {}  message_lost {}",
        s.dropped_by_cause.vehicle_dropout,
        s.dropped_by_cause.rsu_down,
        s.dropped_by_cause.message_lost
    )?;
    let f = &s.faults;
    if *f == Default::default() {
        outln!("  faults                   none injected")?;
    } else {
        outln!(
            "  faults                   vehicle dropouts {}  RSU outage slots {} (tasks failed {})  crashes {}  round dropouts {}",
            f.vehicle_dropouts, f.rsu_outage_slots, f.tasks_rsu_down, f.crashes, f.round_dropouts
        )?;
        outln!("    lost                   uploads {}  migrations {}", f.uploads_lost, f.migrations_lost)?;
        outln!(
            "    delayed                uploads {} (+{:.4} s in all)  migrations {} (+{:.4} s in all)",
            f.uploads_delayed,
            f.upload_latency_s,
            f.migrations_delayed,
            f.wired_latency_s
        )?;
    }
    outln!("  migrations               {}", s.migrations)?;
    outln!("  per RSU (uploaded / completion rate / reward):")?;
    for r in &s.per_rsu {
        let rate = r.completion_rate.map_or("-".to_string(), pct);
        outln!("    {:>6}  {:>8}  {:>9}  {:>10.4}", r.rsu.to_string(), r.uploaded, rate, r.reward)?;
    }
    outln!("  wall time                {:.3} s", wall.as_secs_f64())?;
    Ok(())
}
