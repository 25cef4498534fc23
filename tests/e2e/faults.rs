//! Fault injection from the command line (issue 5): `--fault KEY=VALUE`, the `[faults]`
//! section, the presets, the fault counters in `summary.json` / `slots.csv`, determinism across
//! thread counts and engines, and crash recovery.

use crate::common::*;
use serde_json::Value;
use std::path::Path;

fn summary(dir: &Path) -> Value {
    serde_json::from_slice(&read(&dir.join("summary.json"))).expect("summary.json is JSON")
}

/// `vecsim run SCENARIO ARGS... --out DIR`; returns DIR's summary.
fn run_to(dir: &Path, scenario: &str, args: &[&str]) -> Value {
    let mut all = vec!["run", scenario];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--out", dir.to_str().unwrap()]);
    ok(vecsim(&all));
    summary(dir)
}

/// A plan with every kind of fault the sequential engine injects.
const PLAN: &[&str] = &[
    "--fault",
    "vehicle_dropout=0.05",
    "--fault",
    "loss.upload=0.03",
    "--fault",
    "loss.wired=0.1",
    "--fault",
    "latency.upload=uniform:0.01:0.05",
    "--fault",
    "latency.wired=exponential:0.02",
    "--fault",
    "rsu_outage=2:5:12",
    "--fault",
    "round_dropout=0.2",
];

/// Conservation and fault counters of a run directory.
fn assert_counted(dir: &Path) {
    let s = summary(dir);
    let n = |v: &Value, k: &str| v[k].as_u64().unwrap_or_else(|| panic!("summary lacks {k}"));
    let by = &s["dropped_by_cause"];
    let dropped = n(by, "vehicle_dropout") + n(by, "rsu_down") + n(by, "message_lost");
    assert_eq!(n(&s, "tasks_dropped"), dropped);
    assert_eq!(
        n(&s, "tasks_completed") + n(&s, "tasks_missed_deadline") + n(&s, "tasks_uncovered") + dropped,
        n(&s, "tasks_total")
    );
    let f = &s["faults"];
    assert_eq!(n(f, "vehicle_dropouts"), n(by, "vehicle_dropout"));
    assert_eq!(n(f, "tasks_rsu_down"), n(by, "rsu_down"));
    assert_eq!(n(f, "uploads_lost") + n(f, "migrations_lost"), n(by, "message_lost"));
    let csv = String::from_utf8(read(&dir.join("slots.csv"))).unwrap();
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    let total = |col: &str| -> u64 {
        let i = header.iter().position(|h| *h == col).unwrap_or_else(|| panic!("slots.csv lacks {col}"));
        rows.iter().map(|r| r[i].parse::<u64>().unwrap()).sum()
    };
    for (col, key) in [
        ("rsus_down", "rsu_outage_slots"),
        ("uploads_lost", "uploads_lost"),
        ("migrations_lost", "migrations_lost"),
        ("uploads_delayed", "uploads_delayed"),
        ("migrations_delayed", "migrations_delayed"),
        ("crashes", "crashes"),
    ] {
        assert_eq!(total(col), n(f, key), "slots.csv {col} vs summary faults.{key}");
    }
}

#[test]
fn fault_flags_inject_and_count_every_kind() {
    let dir = tempfile::tempdir().unwrap();
    let mut args = vec!["--slots", "30", "--policy", "orm", "--engine", "sequential"];
    args.extend_from_slice(PLAN);
    let s = run_to(dir.path(), "paper-noon", &args);
    let f = &s["faults"];
    for k in ["vehicle_dropouts", "uploads_lost", "migrations_lost", "uploads_delayed", "migrations_delayed"] {
        assert!(f[k].as_u64().unwrap() > 0, "faults.{k} is 0: {f}");
    }
    assert_eq!(f["rsu_outage_slots"], 8);
    assert_eq!(f["crashes"], 0);
    assert_eq!(f["round_dropouts"], 0, "no federated rounds in a plain run");
    assert!(f["upload_latency_s"].as_f64().unwrap() > 0.0);
    assert_counted(dir.path());
    // The readable summary reports them too.
    let mut args = vec!["run", "paper-noon", "--slots", "30", "--policy", "orm", "--engine", "sequential"];
    args.extend_from_slice(PLAN);
    let text = ok(vecsim(&args));
    for k in ["faults", "vehicle dropouts", "RSU outage slots", "lost", "delayed", "message_lost"] {
        assert!(text.contains(k), "summary text lacks {k}:\n{text}");
    }
    // Without faults: all counters 0, and the text says so.
    let clean = tempfile::tempdir().unwrap();
    let s = run_to(clean.path(), "paper-noon", &["--slots", "10", "--engine", "sequential"]);
    for (k, v) in s["faults"].as_object().unwrap() {
        assert_eq!(v.as_f64(), Some(0.0), "faults.{k}");
    }
    let text = ok(vecsim(&["run", "paper-noon", "--slots", "10", "--engine", "sequential"]));
    assert!(text.contains("none injected"), "{text}");
}

#[test]
fn presets_run_and_count_their_faults() {
    let dir = tempfile::tempdir().unwrap();
    let lat = dir.path().join("latency");
    let s = run_to(&lat, "faults-latency", &["--slots", "30", "--policy", "orm", "--engine", "sequential"]);
    assert!(s["faults"]["uploads_delayed"].as_u64().unwrap() > 0);
    assert!(s["faults"]["migrations_delayed"].as_u64().unwrap() > 0);
    assert_eq!(s["tasks_dropped"], 0, "the latency preset loses nothing");
    assert_counted(&lat);
    // The dropout preset's outage window (slots 100..=159) needs the whole episode.
    let drop = dir.path().join("dropout");
    let s = run_to(&drop, "faults-dropout", &["--policy", "orm", "--engine", "sequential"]);
    assert_eq!(s["faults"]["rsu_outage_slots"], 60);
    assert!(s["faults"]["vehicle_dropouts"].as_u64().unwrap() > 0);
    assert!(s["dropped_by_cause"]["message_lost"].as_u64().unwrap() > 0);
    assert_counted(&drop);
    // `--fault none` clears a preset's plan: the same run as the preset's base scenario
    // (only the name differs).
    let none = dir.path().join("none");
    let noon = dir.path().join("noon");
    let a = run_to(&none, "faults-dropout", &["--slots", "20", "--fault", "none", "--engine", "sequential"]);
    let mut b = run_to(&noon, "paper-noon", &["--slots", "20", "--engine", "sequential"]);
    b["scenario"] = a["scenario"].clone();
    assert_eq!(a, b);
}

#[test]
fn bad_fault_plans_are_rejected_naming_the_key() {
    for (flag, needles) in [
        ("vehicle_dropout=1.5", &["vehicle_dropout", "[0, 1]"][..]),
        ("round_dropout=-0.2", &["round_dropout"][..]),
        ("loss.wired=abc", &["loss.wired"][..]),
        ("latency.upload=fixed:-1", &["latency.upload"][..]),
        ("latency.pool=gamma:2", &["latency.pool"][..]),
        ("rsu_outage=99:1:2", &["faults.rsu_outage[0].rsu", "unknown RSU 99"][..]),
        ("rsu_outage=1:5:500", &["faults.rsu_outage[0].to_slot", "past the episode"][..]),
        ("rsu_outage=1:9:3", &["faults.rsu_outage[0].from_slot"][..]),
        ("crash_rsu=42:3", &["faults.crash_rsu[0].rsu"][..]),
        ("crash_rsu=1:20", &["faults.crash_rsu[0].slot", "past the episode"][..]),
        ("rsu_outage=1:2", &["rsu_outage", "RSU:FROM:TO"][..]),
        ("bogus=1", &["unknown fault key `bogus`"][..]),
        ("vehicle_dropout", &["vehicle_dropout", "KEY=VALUE"][..]),
    ] {
        let o = vecsim(&["run", "paper-noon", "--slots", "20", "--fault", flag]);
        bad_input(o, needles);
    }
    // The same checks in a scenario file's [faults] section (run and validate).
    let dir = tempfile::tempdir().unwrap();
    let base = std::fs::read_to_string(root().join("scenarios/paper-noon.toml")).unwrap();
    for (section, key) in [
        ("[faults]\nvehicle_dropout = 2.0\n", "faults.vehicle_dropout"),
        ("[faults]\nloss = { upload = -0.5 }\n", "faults.loss.upload"),
        ("[faults]\nrsu_outage = [{ rsu = 8, from_slot = 0, to_slot = 1 }]\n", "faults.rsu_outage[0].rsu"),
        ("[faults]\nrsu_outage = [{ rsu = 0, from_slot = 10, to_slot = 300 }]\n", "faults.rsu_outage[0].to_slot"),
        ("[faults]\ncable_cut = 0.1\n", "cable_cut"),
    ] {
        let p = dir.path().join("bad.toml");
        std::fs::write(&p, format!("{base}\n{section}")).unwrap();
        bad_input(vecsim(&["run", p.to_str().unwrap(), "--slots", "300"]), &[key]);
        bad_input(vecsim(&["scenario", "validate", p.to_str().unwrap()]), &[key]);
    }
}

/// Same seed and fault plan: byte-identical outputs with 1 and 4 threads, and (no crash in the
/// plan) with the sequential engine.
#[test]
fn same_fault_plan_is_identical_with_1_and_4_threads() {
    let dir = tempfile::tempdir().unwrap();
    let run = |name: &str, extra: &[&str]| {
        let out = dir.path().join(name);
        let mut args = vec!["--slots", "40", "--policy", "random", "--seed", "11"];
        args.extend_from_slice(PLAN);
        args.extend_from_slice(extra);
        run_to(&out, "paper-noon", &args);
        (read(&out.join("summary.json")), read(&out.join("slots.csv")))
    };
    let one = run("t1", &["--threads", "1"]);
    let four = run("t4", &["--threads", "4"]);
    assert!(one == four, "1 and 4 threads differ");
    let seq = run("seq", &["--engine", "sequential"]);
    assert!(one == seq, "default engine and sequential engine differ");
    assert_counted(&dir.path().join("t4"));
}

/// An injected RSU crash is recovered by the supervisor: the run's summary is the same as
/// without the crash except the crash counter.
#[test]
fn rsu_crash_changes_only_the_crash_counter() {
    let dir = tempfile::tempdir().unwrap();
    let run = |name: &str, extra: &[&str]| {
        let out = dir.path().join(name);
        let mut args = vec!["--slots", "30", "--policy", "orm", "--engine", "actors", "--threads", "4"];
        args.extend_from_slice(PLAN);
        args.extend_from_slice(extra);
        run_to(&out, "paper-noon", &args)
    };
    let clean = run("clean", &[]);
    let crashed = run("crashed", &["--fault", "crash_rsu=1:5"]);
    assert_eq!(clean["faults"]["crashes"], 0);
    assert_eq!(crashed["faults"]["crashes"], 1);
    let mut c = crashed.clone();
    c["faults"]["crashes"] = clean["faults"]["crashes"].clone();
    assert_eq!(c, clean, "a recovered crash changed the results");
    assert_counted(&dir.path().join("crashed"));
    // Two crashes, one of them in the first slot, the other on a down RSU.
    let twice = run("twice", &["--fault", "crash_rsu=0:0", "--fault", "crash_rsu=2:7"]);
    assert_eq!(twice["faults"]["crashes"], 2);
    let mut t = twice.clone();
    t["faults"]["crashes"] = 0.into();
    assert_eq!(t, clean);
}
