//! The command line of issue 2: `run`, `slot`, `scenario validate`, bad inputs, determinism,
//! conservation.

use crate::common::*;
use serde_json::Value;
use std::path::Path;

fn summary(dir: &Path) -> Value {
    serde_json::from_slice(&read(&dir.join("summary.json"))).expect("summary.json is JSON")
}

/// Every task ends in exactly one outcome, in the summary and in every `slots.csv` row.
fn assert_conserved(dir: &Path) {
    let s = summary(dir);
    let n = |k: &str| s[k].as_u64().unwrap_or_else(|| panic!("summary lacks {k}"));
    assert_eq!(
        n("tasks_completed") + n("tasks_missed_deadline") + n("tasks_uncovered") + n("tasks_dropped"),
        n("tasks_total")
    );
    let by_cause: u64 = s["dropped_by_cause"].as_object().unwrap().values().map(|v| v.as_u64().unwrap()).sum();
    assert_eq!(by_cause, n("tasks_dropped"));
    let csv = String::from_utf8(read(&dir.join("slots.csv"))).unwrap();
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let col = |name: &str| header.iter().position(|h| *h == name).unwrap_or_else(|| panic!("no column {name}"));
    let mut total = 0;
    let mut rows = 0;
    for line in lines {
        let f: Vec<&str> = line.split(',').collect();
        let g = |name: &str| f[col(name)].parse::<u64>().unwrap();
        let dropped = g("dropped_vehicle_dropout") + g("dropped_rsu_down") + g("dropped_message_lost");
        assert_eq!(g("completed") + g("missed_deadline") + g("uncovered") + dropped, g("tasks"), "row {line}");
        total += g("tasks");
        rows += 1;
    }
    assert_eq!(total, n("tasks_total"));
    assert_eq!(rows, n("slots"));
}

#[test]
fn run_writes_summary_with_the_documented_keys_and_conserves_tasks() {
    let dir = tempfile::tempdir().unwrap();
    for policy in ["orl", "orm", "random", "br-ne"] {
        let out = dir.path().join(policy);
        ok(vecsim(&["run", "paper-evening", "--slots", "20", "--policy", policy, "--out", out.to_str().unwrap()]));
        let s = summary(&out);
        for k in [
            "tasks_total",
            "tasks_completed",
            "tasks_missed_deadline",
            "tasks_uncovered",
            "tasks_dropped",
            "completion_rate",
            "cumulative_reward",
            "average_realized_potential",
            "migrations",
        ] {
            assert!(s.get(k).is_some(), "summary.json lacks {k}");
        }
        assert_eq!(s["policy"], policy);
        assert_eq!(s["slots"], 20);
        assert!(s["tasks_total"].as_u64().unwrap() > 0);
        let c = s["completion_rate"].as_f64().unwrap();
        assert!(c > 0.0 && c < 1.0, "{policy}: completion {c}");
        if policy == "orl" {
            assert_eq!(s["migrations"], 0, "orl never migrates");
        }
        assert_conserved(&out);
    }
    // The readable summary names the paper's metrics.
    let text = ok(vecsim(&["run", "paper-evening", "--slots", "5"]));
    for k in ["task completion rate", "cumulative reward", "avg realized potential", "p99", "migrations", "uncovered"] {
        assert!(text.contains(k), "summary text lacks {k}:\n{text}");
    }
}

#[test]
fn same_scenario_and_seed_give_byte_identical_outputs() {
    let dir = tempfile::tempdir().unwrap();
    let run = |name: &str, seed: &str| {
        let out = dir.path().join(name);
        ok(vecsim(&[
            "run",
            "paper-noon",
            "--slots",
            "30",
            "--policy",
            "random",
            "--seed",
            seed,
            "--engine",
            "sequential",
            "--out",
            out.to_str().unwrap(),
        ]));
        (read(&out.join("summary.json")), read(&out.join("slots.csv")))
    };
    let a = run("a", "7");
    let b = run("b", "7");
    let c = run("c", "8");
    assert_eq!(a, b);
    assert_ne!(a.0, c.0, "another seed gives other numbers");
}

#[test]
fn json_flag_prints_the_summary() {
    let out = ok(vecsim(&["run", "paper-evening", "--slots", "3", "--json"]));
    let v: Value = serde_json::from_str(&out).expect("stdout is the summary JSON");
    assert_eq!(v["slots"], 3);
}

#[test]
fn shipped_didi_format_trace_runs_end_to_end() {
    let dir = tempfile::tempdir().unwrap();
    ok(vecsim(&["run", "didi-sample", "--policy", "orm", "--out", dir.path().to_str().unwrap()]));
    let s = summary(dir.path());
    assert_eq!(s["slots"], 60);
    // 12 vehicles in the sample, some enter late or leave early.
    assert!(s["peak_vehicles"].as_u64().unwrap() <= 12);
    assert_conserved(dir.path());
}

#[test]
fn real_didi_trace_runs_end_to_end() {
    let Some(trace) = shared_didi() else {
        eprintln!("skipping: ../shared/data/didi-chengdu-20161116-0800-0805.csv is not present");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    ok(vecsim(&["run", "didi-chengdu", "--trace", trace.to_str().unwrap(), "--out", dir.path().to_str().unwrap()]));
    let s = summary(dir.path());
    assert_eq!(s["slots"], 300);
    assert_eq!(s["peak_vehicles"], 360, "all 360 vehicles of the trace are on the map");
    assert_conserved(dir.path());
}

/// The slot of `core/src/slot.rs`'s hand-worked test, through the CLI.
#[test]
fn slot_command_matches_hand_worked_numbers() {
    let input = r#"{
      "rsus": [{"id": 10, "x": 0, "y": 0, "cpu_hz": 2e9, "bandwidth_bps": 1e8, "range_m": 500},
               {"id": 20, "x": 1000, "y": 0, "cpu_hz": 8e9, "bandwidth_bps": 1e8, "range_m": 500}],
      "wired": {"rate_bps": 52428800, "discount_per_m": 0.0006667},
      "allocator": "kkt",
      "tasks": [{"id": 1, "rsu": 10, "target": 10, "data_bits": 1e6, "cycles_per_bit": 1000, "deadline_s": 0.6},
                {"id": 2, "rsu": 10, "target": 20, "data_bits": 2e6, "cycles_per_bit": 1000, "deadline_s": 1.0},
                {"id": 3, "rsu": 20, "target": 20, "data_bits": 1e6, "cycles_per_bit": 2000, "deadline_s": 0.5}]
    }"#;
    let v: Value = serde_json::from_str(&ok(vecsim_stdin(&["slot", "-"], input))).unwrap();
    let t = v["tasks"].as_array().unwrap();
    let f = |x: &Value| x.as_f64().unwrap();
    // Task 1 alone on 2 GHz: u = 1e6/1e8 = 0.01 s, x = 1e9/2e9 = 0.5 s.
    assert_eq!(t[0]["id"], 1);
    assert!((f(&t[0]["upload_s"]) - 0.01).abs() < 1e-15);
    assert!((f(&t[0]["exec_s"]) - 0.5).abs() < 1e-12);
    assert!((f(&t[0]["service_s"]) - 0.51).abs() < 1e-12);
    assert_eq!(t[0]["completed"], true);
    // Task 2 migrates 1000 m: w = 0.0006667 * 2e6 * 1000 / 52428800 s; shares RSU 20 equally with
    // task 3 (equal work 2e9 cycles): 4 GHz each, x = 0.5 s.
    let w = 0.0006667 * 2e6 * 1000.0 / 52_428_800.0;
    assert!((f(&t[1]["wired_s"]) - w).abs() < 1e-15);
    assert!((f(&t[1]["cpu_hz"]) - 4e9).abs() < 1e-3);
    assert!((f(&t[1]["service_s"]) - (0.02 + w + 0.5)).abs() < 1e-12);
    // Task 3: 0.01 + 0.5 = 0.51 > 0.5.
    assert_eq!(t[2]["completed"], false);
    let r = v["rsus"].as_array().unwrap();
    assert_eq!(r[0]["id"], 10);
    assert_eq!(f(&r[0]["completion_rate"]), 1.0);
    assert_eq!(f(&r[1]["completion_rate"]), 0.0);
    assert_eq!(f(&r[0]["reward"]), 0.5);
    assert_eq!(f(&r[1]["reward"]), 0.5);
    assert_eq!(f(&v["potential"]), 1.0);
    // An RSU without tasks has a null rate.
    let lone = r#"{"rsus":[{"id":0,"x":0,"y":0,"cpu_hz":1e9,"bandwidth_bps":1e6},{"id":1,"x":9,"y":0,"cpu_hz":1e9,"bandwidth_bps":1e6}],
                   "tasks":[{"id":5,"rsu":0,"target":0,"data_bits":1e3,"cycles_per_bit":10,"deadline_s":1}]}"#;
    let v: Value = serde_json::from_str(&ok(vecsim_stdin(&["slot", "-"], lone))).unwrap();
    assert!(v["rsus"][1]["completion_rate"].is_null());
}

#[test]
fn slot_command_rejects_bad_input_with_exit_code_2() {
    let rsu = r#"{"id":0,"x":0,"y":0,"cpu_hz":1e9,"bandwidth_bps":1e6}"#;
    let task = |target: &str, cpu: &str| {
        format!(
            r#"{{"rsus":[{rsu}],"tasks":[{{"id":1,"rsu":0,"target":{target},"data_bits":1e6,"cycles_per_bit":{cpu},"deadline_s":1}}]}}"#
        )
    };
    bad_input(vecsim_stdin(&["slot", "-"], &task("7", "10")), &["target", "unknown RSU id 7"]);
    bad_input(vecsim_stdin(&["slot", "-"], &task("0", "-10")), &["cycles_per_bit"]);
    bad_input(vecsim_stdin(&["slot", "-"], r#"{"rsus":[],"tasks":[]}"#), &["rsus", "empty"]);
    bad_input(vecsim_stdin(&["slot", "-"], "{not json"), &["<stdin>"]);
    bad_input(
        vecsim_stdin(&["slot", "-"], &task("0", "10").replace("\"deadline_s\"", "\"bogus\":1,\"deadline_s\"")),
        &["bogus"],
    );
    bad_input(
        vecsim_stdin(&["slot", "-"], &task("0", "10").replace("\"tasks\"", "\"allocator\":\"fastest\",\"tasks\"")),
        &["allocator", "fastest"],
    );
    bad_input(vecsim(&["slot", "/nonexistent/slot.json"]), &["/nonexistent/slot.json"]);
}

#[test]
fn bad_scenarios_are_rejected_naming_file_and_key() {
    let dir = tempfile::tempdir().unwrap();
    let case = |name: &str, text: String, needles: &[&str]| {
        let p = dir.path().join(format!("{name}.toml"));
        std::fs::write(&p, text).unwrap();
        let path = p.to_str().unwrap();
        let mut want = needles.to_vec();
        want.push(path);
        bad_input(vecsim(&["scenario", "validate", path]), &want);
        bad_input(vecsim(&["run", path]), &want);
    };
    ok(vecsim(&["scenario", "validate", fixture_path("minimal.toml").to_str().unwrap()]));
    let good = fixture("minimal.toml");
    // Adds a line after `after`, which must be in the fixture.
    let add = |after: &str, line: &str| {
        assert!(good.contains(after), "minimal.toml has no `{after}`");
        good.replace(after, &format!("{after}\n{line}"))
    };
    let set = |key: &str, value: &str| fixture_with("minimal.toml", &[(key, value)]);
    case("unknown-key", add("request_rate = 0.5", "size_mb = 3"), &["size_mb"]);
    case("negative-cpu", set("rsus.cpu_ghz", "[-1.0, 10.0]"), &["rsus.cpu_ghz"]);
    case("no-rsus", set("rsus.count", "0"), &["rsus.count"]);
    case("empty-bandwidths", add("cpu_ghz = [3.0, 10.0]", "bandwidth_mbps = []"), &["rsus.bandwidth_mbps"]);
    case("min-over-max", set("tasks.deadline_s", "[1.5, 1.0]"), &["tasks.deadline_s", "greater than"]);
    case("bad-speed", set("mobility.speed_mps", "[0.0, 20.0]"), &["mobility.speed_mps"]);
    case("not-toml", "name = ".to_string(), &["line 1"]);
    bad_input(vecsim(&["scenario", "validate", "/nonexistent/x.toml"]), &["/nonexistent/x.toml"]);
}

#[test]
fn bad_traces_and_flags_are_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let trace = dir.path().join("broken.csv");
    std::fs::write(&trace, ",vehicle_id,time,longitude,latitude\n0,1,0,10.0,20.0\n1,1,1,ten,20.0\n").unwrap();
    let t = trace.to_str().unwrap();
    bad_input(vecsim(&["run", "didi-sample", "--trace", t]), &[t, ":3", "longitude"]);
    bad_input(vecsim(&["run", "didi-sample", "--trace", "/nonexistent/trace.csv"]), &["/nonexistent/trace.csv"]);
    bad_input(vecsim(&["run", "paper-noon", "--trace", t]), &["--trace"]);
    bad_input(vecsim(&["run", "paper-noon", "--policy", "psychic"]), &["psychic"]);
    bad_input(vecsim(&["run", "paper-noon", "--slots", "0"]), &["time.slots"]);
    bad_input(vecsim(&["run", "paper-noon", "--slots", "many"]), &["--slots"]);
    bad_input(vecsim(&["run", "no-such-scenario"]), &["no-such-scenario"]);
}

#[test]
fn compare_reports_every_policy_and_seed_like_run_does() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("cmp.csv");
    let text = ok(vecsim(&[
        "compare",
        "paper-evening",
        "--policies",
        "orl,random",
        "--seeds",
        "2",
        "--slots",
        "10",
        "--csv",
        csv.to_str().unwrap(),
    ]));
    assert!(text.contains("orl") && text.contains("random") && text.contains("±"), "{text}");
    let rows = String::from_utf8(read(&csv)).unwrap();
    let rows: Vec<Vec<String>> = rows.lines().skip(1).map(|l| l.split(',').map(str::to_string).collect()).collect();
    assert_eq!(rows.len(), 4, "2 policies x 2 seeds");
    // Each row (scenario, policy, seed, slots, metrics) equals the summary of the same run made
    // with `vecsim run`.
    for r in &rows {
        assert_eq!((r[0].as_str(), r[3].as_str()), ("paper-evening", "10"), "{r:?}");
        let out = ok(vecsim(&["run", "paper-evening", "--policy", &r[1], "--seed", &r[2], "--slots", "10", "--json"]));
        let s: Value = serde_json::from_str(&out).unwrap();
        assert_eq!(r[4].parse::<f64>().unwrap(), s["completion_rate"].as_f64().unwrap(), "{r:?}");
        assert_eq!(r[5].parse::<f64>().unwrap(), s["cumulative_reward"].as_f64().unwrap(), "{r:?}");
    }
    bad_input(vecsim(&["compare", "paper-evening", "--seeds", "0"]), &["--seeds"]);
    bad_input(vecsim(&["compare", "paper-evening", "--policies", "orl,psychic", "--seeds", "1"]), &["psychic"]);
}

/// The PyTorch anchor ships in the repository and is `bench train-step`'s default; a missing one
/// is bad input before any timing starts.
#[test]
fn the_bench_anchor_defaults_to_the_repository_copy() {
    let anchor = root().join("benches/maddpg_step_torch.py");
    assert!(read(&anchor).starts_with(b"#!/usr/bin/env python3\n\"\"\"Anchor: time one MADDPG update step"));
    let help = ok(vecsim(&["bench", "train-step", "--help"]));
    assert!(help.contains(&format!("[default: {}]", anchor.display())), "{help}");
    bad_input(
        vecsim(&["bench", "train-step", "--torch", "python3", "--anchor", "/nonexistent/anchor.py"]),
        &["/nonexistent/anchor.py", "--anchor FILE"],
    );
}

#[test]
fn compare_runs_on_either_engine_with_the_same_numbers() {
    let args = ["compare", "paper-noon", "--slots", "8", "--seeds", "2", "--policies", "orl,orm,br-ne"];
    let dir = tempfile::tempdir().unwrap();
    let mut csv = Vec::new();
    for engine in ["actors", "sequential"] {
        let path = dir.path().join(format!("{engine}.csv"));
        let out = ok(vecsim(&[&args[..], &["--engine", engine, "--csv", path.to_str().unwrap()]].concat()));
        assert!(out.contains("br-ne"), "{out}");
        csv.push(std::fs::read_to_string(&path).unwrap());
    }
    assert_eq!(csv[0], csv[1], "the engines disagree");
    assert_eq!(csv[0].lines().count(), 1 + 3 * 2, "one row per (policy, seed):\n{}", csv[0]);
    bad_input(vecsim(&[&args[..], &["--engine", "threads"]].concat()), &["--engine"]);
    bad_input(vecsim(&["compare", "paper-noon", "--policies", "orl,bogus"]), &["bogus", "fed-maddpg"]);
}
