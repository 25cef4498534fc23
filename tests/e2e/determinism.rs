//! The actor engine against the sequential engine: byte-identical `slots.csv` and
//! `summary.json` for every baseline policy, on `paper-noon`, a generated scenario and the Didi
//! sample trace, with 1, 2 and 4 tokio worker threads. Also: injected RSU crashes are restarted
//! and change nothing but the crash counters.

use super::common::{ok, read, vecsim};
use std::path::Path;

const POLICIES: [&str; 4] = ["orl", "orm", "random", "br-ne"];
const THREADS: [&str; 3] = ["1", "2", "4"];

/// Runs `vecsim run` into `dir` and returns (slots.csv, summary.json).
fn run(dir: &Path, scenario: &str, extra: &[&str]) -> (Vec<u8>, Vec<u8>) {
    let out = dir.to_str().unwrap();
    let mut args = vec!["run", scenario, "--out", out];
    args.extend_from_slice(extra);
    ok(vecsim(&args));
    (read(&dir.join("slots.csv")), read(&dir.join("summary.json")))
}

/// Every policy, sequential once, actors at every thread count: all files equal.
fn engines_agree(scenario: &str, extra: &[&str]) {
    let tmp = tempfile::tempdir().unwrap();
    for policy in POLICIES {
        let mut base: Vec<&str> = vec!["--policy", policy];
        base.extend_from_slice(extra);
        let mut seq_args = base.clone();
        seq_args.extend_from_slice(&["--engine", "sequential"]);
        let (csv, sum) = run(&tmp.path().join(format!("{policy}-seq")), scenario, &seq_args);
        assert!(csv.len() > 200, "{scenario} {policy}: slots.csv looks empty");
        for threads in THREADS {
            let mut a = base.clone();
            a.extend_from_slice(&["--engine", "actors", "--threads", threads]);
            let (c, s) = run(&tmp.path().join(format!("{policy}-actors-{threads}")), scenario, &a);
            assert!(
                c == csv,
                "{scenario} {policy} --threads {threads}: slots.csv differs from the sequential engine's"
            );
            assert!(
                s == sum,
                "{scenario} {policy} --threads {threads}: summary.json differs from the sequential engine's"
            );
        }
    }
}

#[test]
fn actors_match_sequential_on_paper_noon() {
    engines_agree("paper-noon", &["--slots", "40"]);
}

#[test]
fn actors_match_sequential_on_a_generated_scenario() {
    engines_agree("tests/fixtures/generated-small.toml", &[]);
}

#[test]
fn actors_match_sequential_on_the_didi_sample_trace() {
    engines_agree("scenarios/didi-sample.toml", &[]);
}

#[test]
fn actors_match_sequential_with_faults() {
    engines_agree(
        "paper-noon",
        &[
            "--slots",
            "30",
            "--fault",
            "vehicle_dropout=0.05",
            "--fault",
            "loss.upload=0.05",
            "--fault",
            "loss.wired=0.1",
            "--fault",
            "latency.upload=uniform:0:0.05",
            "--fault",
            "latency.wired=exponential:0.02",
            "--fault",
            "rsu_outage=3:5:12",
        ],
    );
}

#[test]
fn actors_is_the_default_engine() {
    let tmp = tempfile::tempdir().unwrap();
    let (c1, s1) = run(&tmp.path().join("default"), "paper-noon", &["--slots", "10", "--fault", "crash_rsu=1:3"]);
    let (c2, s2) = run(
        &tmp.path().join("actors"),
        "paper-noon",
        &["--slots", "10", "--fault", "crash_rsu=1:3", "--engine", "actors"],
    );
    assert_eq!(c1, c2);
    assert_eq!(s1, s2);
    // Only the actor engine runs the crash hook: the default run counted it.
    let v: serde_json::Value = serde_json::from_slice(&s1).unwrap();
    assert_eq!(v["faults"]["crashes"], 1, "{v}");
}

/// Drops the `crashes` column (the last one) of `slots.csv`.
fn without_crash_column(csv: &[u8]) -> String {
    let text = String::from_utf8(csv.to_vec()).unwrap();
    let header = text.lines().next().unwrap();
    assert!(header.ends_with(",crashes"), "crashes is no longer the last column: {header}");
    text.lines().map(|l| l.rsplit_once(',').unwrap().0.to_string()).collect::<Vec<_>>().join("\n")
}

#[test]
fn crashed_rsus_are_restarted_and_change_nothing_else() {
    let tmp = tempfile::tempdir().unwrap();
    let crashes = [
        "--fault",
        "crash_rsu=2:0",
        "--fault",
        "crash_rsu=2:7",
        "--fault",
        "crash_rsu=5:7",
        "--fault",
        "crash_rsu=7:19",
    ];
    for policy in ["random", "br-ne"] {
        for threads in ["1", "4"] {
            let mut a = vec!["--slots", "20", "--policy", policy, "--engine", "actors", "--threads", threads];
            let (clean_csv, clean_sum) = run(&tmp.path().join(format!("{policy}-{threads}-clean")), "paper-noon", &a);
            a.extend_from_slice(&crashes);
            let (csv, sum) = run(&tmp.path().join(format!("{policy}-{threads}-crash")), "paper-noon", &a);
            let mut clean: serde_json::Value = serde_json::from_slice(&clean_sum).unwrap();
            let mut crashed: serde_json::Value = serde_json::from_slice(&sum).unwrap();
            assert_eq!(crashed["faults"]["crashes"], 4, "{policy} --threads {threads}: {crashed}");
            assert_eq!(clean["faults"]["crashes"], 0);
            crashed["faults"]["crashes"] = 0.into();
            // The plan itself is echoed nowhere else; everything else must be equal.
            clean["faults"]["crashes"] = 0.into();
            assert_eq!(crashed, clean, "{policy} --threads {threads}: a crash changed the summary");
            assert_eq!(without_crash_column(&csv), without_crash_column(&clean_csv));
            let text = String::from_utf8(csv).unwrap();
            let per_slot: Vec<&str> = text.lines().skip(1).map(|l| l.rsplit_once(',').unwrap().1).collect();
            assert_eq!(per_slot[0], "1");
            assert_eq!(per_slot[7], "2");
            assert_eq!(per_slot[19], "1");
            assert_eq!(per_slot.iter().filter(|c| **c != "0").count(), 3);
        }
    }
}
