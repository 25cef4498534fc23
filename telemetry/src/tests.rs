//! Unit tests of the catalogue, the exporter and the observer against hand-worked values.

use crate::catalogue::*;
use crate::exporter::{builder, describe_all};
use crate::{latency_table, Telemetry, TelemetryConfig};
use metrics_exporter_prometheus::PrometheusHandle;
use std::collections::{BTreeMap, BTreeSet};
use vecsim_core::engine::RoundReport;
use vecsim_core::fault::FaultPlan;
use vecsim_core::ids::{RsuId, TaskId};
use vecsim_core::observer::{Observer, RunInfo};
use vecsim_core::outcome::Outcome;
use vecsim_core::outcome::{DropCause, TaskResult};
use vecsim_core::report::{LatencyHistogram, Percentiles, RunStats, SlotReport};

fn task(vehicle: u32, up: Option<u32>, ex: Option<u32>, service_s: f64, outcome: Outcome) -> TaskResult {
    let mut t = TaskResult::early(TaskId { slot: 4, vehicle }, up.map(RsuId), 0.01, outcome);
    t.executor = ex.map(RsuId);
    if matches!(outcome, Outcome::Completed | Outcome::MissedDeadline) {
        t.service_s = service_s;
    }
    t
}

/// Slot 4 of a 3-RSU scenario, worked out by hand:
/// rsu0 uploads 3 (2 completed, one of them migrated to rsu1; 1 missed),
/// rsu1 uploads 2 (1 completed; 1 migrated to rsu2 and lost on the wire),
/// rsu2 uploads 1 (dropped: rsu2 down), plus 1 uncovered and 1 vehicle dropout (no RSU), and
/// 1 upload lost on its way to rsu0 (it counts against rsu0). Task 0's upload was delayed by
/// an injected 0.05 s. The br-ne oracle did not converge in this slot.
fn synthetic_report() -> SlotReport {
    use Outcome::*;
    let mut delayed = task(0, Some(0), Some(0), 0.1, Completed);
    delayed.upload_extra_s = 0.05;
    let results = vec![
        delayed,
        task(1, Some(0), Some(1), 0.3, Completed),
        task(2, Some(0), Some(0), 1.5, MissedDeadline),
        task(3, Some(1), Some(1), 0.2, Completed),
        task(4, None, None, 0.0, Uncovered),
        task(5, Some(2), Some(2), 0.0, Dropped(DropCause::RsuDown)),
        task(6, None, None, 0.0, Dropped(DropCause::VehicleDropout)),
        task(7, Some(1), Some(2), 0.0, Dropped(DropCause::MessageLost)),
        task(8, Some(0), None, 0.0, Dropped(DropCause::MessageLost)),
    ];
    let score = vecsim_core::slot::score(&results, 3);
    SlotReport { slot: 4, vehicles: 11, results, score, unconverged: true }
}

/// A plan with rsu2 down over slots 3..=5 (so in slot 4).
fn outage_plan() -> FaultPlan {
    let mut plan = FaultPlan::default();
    plan.rsu_outage.push(vecsim_core::fault::Outage { rsu: 2, from_slot: 3, to_slot: 5 });
    plan
}

fn info() -> RunInfo {
    RunInfo { scenario: "synthetic".into(), policy: "orm".into(), seed: 7, engine: "sequential", rsus: 3 }
}

/// Feeds one episode — two injected crashes, the synthetic slot, a VEC POOL round with a
/// dropout — and one training update through [`Telemetry`] into a local Prometheus
/// recorder; returns the rendered exposition text.
fn render_synthetic() -> String {
    let recorder = builder().build_recorder();
    let handle: PrometheusHandle = recorder.handle();
    metrics::with_local_recorder(&recorder, || {
        describe_all();
        let mut t = Telemetry::with_current_recorder(TelemetryConfig::default(), &info());
        let mut stats = RunStats::new("synthetic", "orm", 7, 3).with_faults(&outage_plan());
        t.episode_started(&info());
        stats.record_crash();
        stats.record_crash();
        t.rsu_restarted(RsuId(1), 4, &stats);
        let r = synthetic_report();
        stats.add(&r);
        t.live_vehicles(11);
        t.slot_closed(&r, &stats);
        // The engine's measure of the slot (telemetry keeps it; it measures nothing itself).
        t.slot_timed(r.slot, 0.375);
        stats.record_round_dropouts(1);
        t.round_closed(&RoundReport { contributed: vec![0, 1, 2], skipped: vec![3] });
        t.episode_finished(&stats);
        t.record_training(12, 0.5, -0.25, 150, 7);
    });
    handle.render()
}

/// One sample line of the text format: name, labels, value.
type Sample = (String, BTreeMap<String, String>, f64);

fn parse_samples(text: &str) -> Vec<Sample> {
    let mut out = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (series, value) = line.rsplit_once(' ').expect("sample line has a value");
        let value: f64 = value.parse().unwrap_or_else(|_| panic!("bad value in `{line}`"));
        let (name, labels) = match series.split_once('{') {
            Some((n, rest)) => {
                let body = rest.strip_suffix('}').expect("closing brace");
                let labels = body
                    .split(',')
                    .filter(|s| !s.is_empty())
                    .map(|kv| {
                        let (k, v) = kv.split_once('=').expect("label k=v");
                        (k.to_string(), v.trim_matches('"').to_string())
                    })
                    .collect();
                (n.to_string(), labels)
            }
            None => (series.to_string(), BTreeMap::new()),
        };
        out.push((name, labels, value));
    }
    out
}

fn value(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> f64 {
    let want: BTreeMap<String, String> = labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    samples.iter().find(|(n, l, _)| n == name && *l == want).unwrap_or_else(|| panic!("no sample {name}{labels:?}")).2
}

#[test]
fn every_documented_metric_is_rendered_with_its_labels() {
    let text = render_synthetic();
    let samples = parse_samples(&text);
    for m in METRICS {
        let (series, extra): (Vec<&Sample>, &[&str]) = match m.kind {
            Kind::Histogram => {
                let b = format!("{}_bucket", m.name);
                for suffix in ["_sum", "_count"] {
                    let n = format!("{}{suffix}", m.name);
                    assert!(samples.iter().any(|s| s.0 == n), "{n} missing:\n{text}");
                }
                (samples.iter().filter(|s| s.0 == b).collect(), &["le"])
            }
            _ => (samples.iter().filter(|s| s.0 == m.name).collect(), &[]),
        };
        assert!(!series.is_empty(), "{} missing:\n{text}", m.name);
        let want: BTreeSet<&str> = m.labels.iter().chain(extra).copied().collect();
        for (name, labels, _) in &series {
            let got: BTreeSet<&str> = labels.keys().map(|k| k.as_str()).collect();
            assert_eq!(got, want, "labels of {name}");
        }
        let kind = format!("# TYPE {} {}", m.name, m.kind.name());
        assert!(text.contains(&kind), "`{kind}` missing:\n{text}");
        assert!(text.contains(&format!("# HELP {} ", m.name)), "help of {} missing", m.name);
    }
    // Nothing undocumented either.
    let documented: BTreeSet<&str> = METRICS.iter().map(|m| m.name).collect();
    for (name, _, _) in &samples {
        let base = name.trim_end_matches("_bucket").trim_end_matches("_sum").trim_end_matches("_count");
        assert!(documented.contains(name.as_str()) || documented.contains(base), "undocumented {name}");
    }
}

/// A task that never finishes (service time +∞) is not in the service-time histogram (its sum
/// would become +Inf) but is counted beside it, so that no executed task goes unseen.
#[test]
fn unbounded_service_times_are_counted_beside_the_histogram() {
    use Outcome::*;
    let recorder = builder().build_recorder();
    let handle: PrometheusHandle = recorder.handle();
    metrics::with_local_recorder(&recorder, || {
        describe_all();
        let mut t = Telemetry::with_current_recorder(TelemetryConfig::default(), &info());
        let mut stats = RunStats::new("synthetic", "orm", 7, 3);
        t.episode_started(&info());
        for slot in 0..2 {
            let results = vec![
                task(3 * slot, Some(0), Some(0), 0.25, Completed),
                task(3 * slot + 1, Some(0), Some(1), f64::INFINITY, MissedDeadline),
                task(3 * slot + 2, None, None, f64::INFINITY, Uncovered),
            ];
            let score = vecsim_core::slot::score(&results, 3);
            let r = SlotReport { slot, vehicles: 3, results, score, unconverged: false };
            stats.add(&r);
            t.slot_closed(&r, &stats);
        }
    });
    let s = parse_samples(&handle.render());
    assert_eq!(value(&s, &format!("{SERVICE_TIME}_count"), &[]), 2.0, "the two finite ones");
    assert!((value(&s, &format!("{SERVICE_TIME}_sum"), &[]) - 0.5).abs() < 1e-12);
    assert_eq!(value(&s, SERVICE_TIME_UNBOUNDED, &[]), 2.0, "one never-finishing executed task per slot");
}

#[test]
fn values_match_the_slot_worked_out_by_hand() {
    let s = parse_samples(&render_synthetic());
    let tasks = |rsu: &str, o: &str| value(&s, TASKS, &[("rsu", rsu), ("outcome", o)]);
    assert_eq!(tasks("rsu0", "completed"), 2.0);
    assert_eq!(tasks("rsu0", "missed_deadline"), 1.0);
    assert_eq!(tasks("rsu1", "completed"), 1.0);
    assert_eq!(tasks("rsu1", "dropped_message_lost"), 1.0);
    assert_eq!(tasks("rsu2", "dropped_rsu_down"), 1.0);
    assert_eq!(tasks("rsu2", "completed"), 0.0, "pre-registered at zero");
    assert_eq!(tasks("none", "uncovered"), 1.0);
    assert_eq!(tasks("none", "dropped_vehicle_dropout"), 1.0);
    assert_eq!(tasks("rsu0", "dropped_message_lost"), 1.0, "a lost upload counts against its RSU");
    // Impossible label pairs do not exist at all (not even at 0).
    let exists = |rsu: &str, o: &str| {
        s.iter().any(|(n, l, _)| {
            n == TASKS
                && l.get("rsu").map(String::as_str) == Some(rsu)
                && l.get("outcome").map(String::as_str) == Some(o)
        })
    };
    assert!(
        !exists("none", "dropped_message_lost") && !exists("none", "completed") && !exists("none", "dropped_rsu_down")
    );
    assert!(!exists("rsu2", "uncovered") && !exists("rsu2", "dropped_vehicle_dropout"));
    assert!(exists("rsu2", "dropped_node_lost"), "a lost cluster node's tasks count against their RSU");
    let total: f64 = s.iter().filter(|x| x.0 == TASKS).map(|x| x.2).sum();
    assert_eq!(total, 9.0, "conservation: every task counted once");
    assert_eq!(value(&s, MIGRATIONS, &[("rsu", "rsu0")]), 1.0);
    assert_eq!(value(&s, MIGRATIONS, &[("rsu", "rsu1")]), 1.0);
    assert_eq!(value(&s, MIGRATIONS, &[("rsu", "rsu2")]), 0.0);
    let fault = |k: &str| value(&s, FAULTS, &[("kind", k)]);
    assert_eq!(fault("vehicle_dropout"), 1.0);
    assert_eq!(fault("upload_lost"), 1.0);
    assert_eq!(fault("migration_lost"), 1.0);
    assert_eq!(fault("upload_delayed"), 1.0);
    assert_eq!(fault("migration_delayed"), 0.0, "pre-registered at zero");
    assert_eq!(fault("rsu_outage_slot"), 1.0, "rsu2 down in slot 4");
    assert_eq!(fault("task_rsu_down"), 1.0);
    assert_eq!(fault("crash"), 2.0);
    assert_eq!(fault("round_dropout"), 1.0);
    assert_eq!(s.iter().filter(|x| x.0 == FAULTS).count(), fault_kinds().len(), "bounded kinds");
    // Rates: rsu0 2/4 (its lost upload counts), rsu1 1/2, rsu2 0/1; overall 3/7.
    assert_eq!(value(&s, RSU_COMPLETION_RATE, &[("rsu", "rsu0")]), 0.5);
    assert_eq!(value(&s, RSU_COMPLETION_RATE, &[("rsu", "rsu1")]), 0.5);
    assert_eq!(value(&s, RSU_COMPLETION_RATE, &[("rsu", "rsu2")]), 0.0);
    assert!((value(&s, COMPLETION_RATE, &[]) - 3.0 / 7.0).abs() < 1e-12);
    // F = 2/4 + 1/2 + 0; r_e = Σ_u c_{u,e}/|K_u|: rsu0 runs 1 of rsu0's, rsu1 runs 1 of rsu0's
    // and 1 of rsu1's.
    let f = 0.5 + 0.5;
    assert!((value(&s, POTENTIAL, &[]) - f).abs() < 1e-12);
    assert!((value(&s, CUMULATIVE_REWARD, &[]) - f).abs() < 1e-12);
    assert!((value(&s, RSU_REWARD, &[("rsu", "rsu0")]) - 0.25).abs() < 1e-12);
    assert!((value(&s, RSU_REWARD, &[("rsu", "rsu1")]) - (0.25 + 0.5)).abs() < 1e-12);
    assert_eq!(value(&s, BRNE_UNCONVERGED, &[]), 1.0);
    assert_eq!(value(&s, RSU_REWARD, &[("rsu", "rsu2")]), 0.0);
    // Service time: the 4 executed tasks, 0.1 + 0.3 + 1.5 + 0.2 s.
    assert_eq!(value(&s, &format!("{SERVICE_TIME}_count"), &[]), 4.0);
    assert!((value(&s, &format!("{SERVICE_TIME}_sum"), &[]) - 2.1).abs() < 1e-12);
    assert_eq!(value(&s, &format!("{SERVICE_TIME}_bucket"), &[("le", "0.2")]), 2.0);
    assert_eq!(value(&s, &format!("{SERVICE_TIME}_bucket"), &[("le", "1")]), 3.0);
    assert_eq!(value(&s, &format!("{SERVICE_TIME}_bucket"), &[("le", "+Inf")]), 4.0);
    assert_eq!(value(&s, &format!("{SLOT_WALL_TIME}_count"), &[]), 1.0, "one slot closed");
    assert_eq!(value(&s, &format!("{SLOT_WALL_TIME}_sum"), &[]), 0.375, "the engine's own measure");
    assert_eq!(value(&s, SLOT, &[]), 4.0);
    assert_eq!(value(&s, SLOTS, &[]), 1.0);
    assert_eq!(value(&s, LIVE_VEHICLE_ACTORS, &[]), 11.0);
    assert_eq!(value(&s, EPISODE, &[]), 12.0);
    assert_eq!(value(&s, FEDERATED_ROUNDS, &[]), 1.0);
    assert_eq!(value(&s, FEDERATED_ROUND, &[]), 7.0);
    assert_eq!(value(&s, FEDERATED_PARTICIPANTS, &[]), 3.0);
    assert_eq!(value(&s, CRITIC_LOSS, &[]), 0.5);
    assert_eq!(value(&s, ACTOR_LOSS, &[]), -0.25);
    assert_eq!(value(&s, UPDATE_STEPS, &[]), 150.0);
    let info = [("scenario", "synthetic"), ("policy", "orm"), ("seed", "7"), ("engine", "sequential")];
    assert_eq!(value(&s, RUN_INFO, &info), 1.0);
    let build = [("version", env!("CARGO_PKG_VERSION")), ("engine", "sequential"), ("scenario", "synthetic")];
    assert_eq!(value(&s, BUILD_INFO, &build), 1.0);
}

#[test]
fn a_new_episode_restarts_episode_scoped_gauges_and_counters_keep_counting() {
    let recorder = builder().build_recorder();
    let handle = recorder.handle();
    metrics::with_local_recorder(&recorder, || {
        let mut t = Telemetry::with_current_recorder(TelemetryConfig::default(), &info());
        for episode in 1..=2 {
            let mut stats = RunStats::new("synthetic", "orm", 7, 3);
            t.episode_started(&info());
            let r = synthetic_report();
            stats.add(&r);
            t.slot_closed(&r, &stats);
            t.episode_finished(&stats);
            t.record_training(episode, 0.0, 0.0, 0, 0);
        }
    });
    let s = parse_samples(&handle.render());
    assert_eq!(value(&s, TASKS, &[("rsu", "rsu0"), ("outcome", "completed")]), 4.0, "counters keep counting");
    assert_eq!(value(&s, SLOTS, &[]), 2.0);
    assert!((value(&s, COMPLETION_RATE, &[]) - 3.0 / 7.0).abs() < 1e-12);
    assert!((value(&s, CUMULATIVE_REWARD, &[]) - 1.0).abs() < 1e-12, "episode-scoped");
    assert_eq!(value(&s, BRNE_UNCONVERGED, &[]), 2.0, "counters keep counting");
    assert_eq!(value(&s, EPISODE, &[]), 2.0);
}

/// A plain run (no training episode, no VEC POOL round) exports no training series, so no
/// loss sits at NaN; the only NaN values are rates of RSUs without uploads yet.
#[test]
fn a_plain_run_has_no_training_series_and_no_nan_losses() {
    let recorder = builder().build_recorder();
    let handle = recorder.handle();
    metrics::with_local_recorder(&recorder, || {
        describe_all();
        let mut t = Telemetry::with_current_recorder(TelemetryConfig::default(), &info());
        let mut stats = RunStats::new("synthetic", "orm", 7, 3);
        t.episode_started(&info());
        let r = synthetic_report();
        stats.add(&r);
        t.slot_closed(&r, &stats);
        t.episode_finished(&stats);
    });
    let s = parse_samples(&handle.render());
    for name in TRAINING_ONLY {
        assert!(!s.iter().any(|x| x.0 == *name), "{name} exported by a plain run");
    }
    for (name, labels, v) in &s {
        assert!(!v.is_nan() || name == RSU_COMPLETION_RATE || name == COMPLETION_RATE, "{name}{labels:?} is NaN");
    }
}

/// Counters carried over finished episodes keep every outcome, the last one included (a
/// training run on a cluster whose node was lost counts `dropped_node_lost` across episodes).
#[test]
fn every_outcome_is_carried_across_episodes() {
    use vecsim_core::outcome::DropCause;
    let recorder = builder().build_recorder();
    let handle = recorder.handle();
    let lost = Outcome::Dropped(DropCause::NodeLost);
    assert_eq!(lost.index(), Outcome::ALL.len() - 1, "the last outcome: the one a fixed loop bound dropped");
    metrics::with_local_recorder(&recorder, || {
        let mut t = Telemetry::with_current_recorder(TelemetryConfig::default(), &info());
        for slot in 0..2 {
            let mut stats = RunStats::new("synthetic", "orm", 7, 3);
            t.episode_started(&info());
            let results = vec![task(slot, Some(1), Some(1), f64::NAN, lost)];
            let score = vecsim_core::slot::score(&results, 3);
            let r = SlotReport { slot, vehicles: 1, results, score, unconverged: false };
            stats.add(&r);
            t.slot_closed(&r, &stats);
            t.episode_finished(&stats);
        }
    });
    let s = parse_samples(&handle.render());
    assert_eq!(value(&s, TASKS, &[("rsu", "rsu1"), ("outcome", "dropped_node_lost")]), 2.0, "one per episode");
}

#[test]
fn latency_table_has_both_rows() {
    let mut h = LatencyHistogram::default();
    h.record_s(0.5);
    let t = latency_table(&h.percentiles(), &Percentiles::default());
    for w in ["p50", "p90", "p99", "max", "service time", "slot wall time"] {
        assert!(t.contains(w), "{t}");
    }
    assert!(!t.contains("out of range"), "{t}");
    h.record_s(f64::INFINITY);
    h.record_s(5000.0);
    let t = latency_table(&h.percentiles(), &Percentiles::default());
    assert!(t.contains("2 service times out of range"), "{t}");
}

#[test]
fn docs_table_lists_every_metric_with_type_and_labels() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/monitoring.md");
    let text = std::fs::read_to_string(path).expect("docs/monitoring.md");
    let rows: BTreeMap<&str, Vec<&str>> = text
        .lines()
        .filter(|l| l.starts_with("| `vecsim_"))
        .map(|l| {
            let cells: Vec<&str> = l.trim_matches('|').split('|').map(str::trim).collect();
            (cells[0].trim_matches('`'), cells)
        })
        .collect();
    assert_eq!(rows.len(), METRICS.len(), "documented rows: {:?}", rows.keys());
    for m in METRICS {
        let cells = rows.get(m.name).unwrap_or_else(|| panic!("{} not in docs/monitoring.md's metric table", m.name));
        assert_eq!(cells[1], m.kind.name(), "type of {}", m.name);
        for l in m.labels {
            assert!(cells[2].contains(&format!("`{l}`")), "label {l} of {} not documented", m.name);
        }
    }
}

// --- the Grafana dashboard ---------------------------------------------------------------

fn dashboard() -> serde_json::Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../grafana/dashboards/vecsim.json");
    let text = std::fs::read_to_string(path).expect("dashboard file");
    serde_json::from_str(&text).expect("dashboard is JSON")
}

/// Every panel, rows included, flattening collapsed rows' nested panels.
fn panels(d: &serde_json::Value) -> Vec<&serde_json::Value> {
    fn walk<'a>(ps: &'a serde_json::Value, out: &mut Vec<&'a serde_json::Value>) {
        for p in ps.as_array().into_iter().flatten() {
            out.push(p);
            if let Some(inner) = p.get("panels") {
                walk(inner, out);
            }
        }
    }
    let mut out = Vec::new();
    walk(&d["panels"], &mut out);
    out
}

/// Metric names in a PromQL expression: identifiers outside string literals and label
/// matchers that start with `vecsim_` (no other identifier does).
fn promql_metric_names(expr: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut chars = expr.chars().peekable();
    let mut ident = String::new();
    let flush = |ident: &mut String, names: &mut Vec<String>| {
        if ident.starts_with("vecsim_") {
            names.push(ident.clone());
        }
        ident.clear();
    };
    while let Some(c) = chars.next() {
        if c == '"' || c == '\'' || c == '`' {
            flush(&mut ident, &mut names);
            while let Some(d) = chars.next() {
                if d == '\\' {
                    chars.next();
                } else if d == c {
                    break;
                }
            }
        } else if c.is_ascii_alphanumeric() || c == '_' || c == ':' {
            ident.push(c);
        } else {
            flush(&mut ident, &mut names);
        }
    }
    flush(&mut ident, &mut names);
    names
}

#[test]
fn promql_tokenizer() {
    assert_eq!(
        promql_metric_names(r#"sum by (rsu) (rate(vecsim_tasks_total{outcome="vecsim_x"}[1m])) / vecsim_slot"#),
        vec!["vecsim_tasks_total", "vecsim_slot"]
    );
}

#[test]
fn dashboard_panels_have_datasources_targets_and_known_metrics() {
    let d = dashboard();
    assert!(d["title"].is_string());
    let all = panels(&d);
    let rows: Vec<&str> = all.iter().filter(|p| p["type"] == "row").filter_map(|p| p["title"].as_str()).collect();
    for want in ["Overview", "Per RSU", "Training", "Faults"] {
        assert!(rows.iter().any(|r| r.eq_ignore_ascii_case(want)), "row `{want}` missing: {rows:?}");
    }
    let emitted: BTreeSet<String> = parse_samples(&render_synthetic()).into_iter().map(|s| s.0).collect();
    let mut used = BTreeSet::new();
    let mut n = 0;
    for p in all.iter().filter(|p| p["type"] != "row") {
        let title = p["title"].as_str().unwrap_or("?");
        let ds = &p["datasource"];
        assert!(ds.is_object() && ds["uid"].is_string(), "panel `{title}` has no datasource");
        let targets = p["targets"].as_array().filter(|t| !t.is_empty());
        let targets = targets.unwrap_or_else(|| panic!("panel `{title}` has no targets"));
        for t in targets {
            let expr = t["expr"].as_str().unwrap_or_else(|| panic!("panel `{title}`: target without expr"));
            assert!(!expr.trim().is_empty(), "panel `{title}`: empty expr");
            let names = promql_metric_names(expr);
            assert!(!names.is_empty(), "panel `{title}`: `{expr}` uses no vecsim metric");
            for name in names {
                assert!(emitted.contains(&name), "panel `{title}` uses `{name}`, which the exporter does not emit");
                used.insert(name);
            }
        }
        n += 1;
    }
    assert!(n >= 10, "only {n} panels");
    // The dashboard shows every documented metric.
    for m in METRICS {
        let hit = used.iter().any(|u| match m.kind {
            Kind::Histogram => ["_bucket", "_sum", "_count"].iter().any(|s| *u == format!("{}{s}", m.name)),
            _ => u == m.name,
        });
        assert!(hit, "no panel shows {}", m.name);
    }
}

#[test]
fn a_pace_or_linger_no_duration_holds_is_refused_not_a_panic() {
    for (pace, serve) in [(Some(1e-300), None), (Some(0.0), None), (None, Some(1e30)), (None, Some(-1.0))] {
        let cfg = TelemetryConfig { addr: None, serve_after_s: serve, pace_slots_per_s: pace };
        match Telemetry::start(cfg, &info()) {
            Err(crate::TelemetryError::Range { flag, .. }) => {
                assert_eq!(flag, if pace.is_some() { "--pace" } else { "--serve-after" })
            }
            other => panic!("{pace:?} {serve:?}: {:?}", other.map(|_| ())),
        }
    }
    let ok = TelemetryConfig { addr: None, serve_after_s: Some(0.0), pace_slots_per_s: Some(1e-3) };
    assert!(Telemetry::start(ok, &info()).is_ok());
}

#[test]
fn telemetry_asks_the_engine_for_its_pace_and_keeps_the_engines_slot_times() {
    let paced = TelemetryConfig { addr: None, serve_after_s: None, pace_slots_per_s: Some(4.0) };
    let mut t = Telemetry::start(paced, &info()).unwrap();
    assert_eq!(t.pace().map(|p| p.period()), Some(std::time::Duration::from_millis(250)), "4 slots/s: one per 250 ms");
    assert!(Telemetry::start(TelemetryConfig::default(), &info()).unwrap().pace().is_none());
    // One schedule for the run: a slot opened under one episode's handle holds back the next
    // episode's first slot.
    let now = std::time::Instant::now();
    t.pace().unwrap().opened(now);
    assert!(t.pace().unwrap().wait(now) > std::time::Duration::ZERO);
    // Unexported telemetry still keeps the wall times for the end-of-run table.
    for w in [0.5, 0.25, 0.125] {
        t.slot_timed(0, w);
    }
    let p = t.slot_wall_time();
    assert_eq!(p.count, 3);
    assert!((p.max - 0.5).abs() < 0.5 * 0.01, "{p:?}");
}
