//! Issue 22: one overwrite rule for every output (an existing result is refused unless
//! `--force`, before any work; experiment and sweep resume instead), provenance beside the
//! results (`provenance.json`, compare `--json`), `run.toml` in every training directory, and
//! `experiment` with `train`'s learner options.

use crate::common::*;
use std::path::Path;

const SMALL: &str = "tests/fixtures/train-small.toml";

fn text(p: &Path) -> String {
    String::from_utf8(read(p)).unwrap()
}

fn json(p: &Path) -> serde_json::Value {
    serde_json::from_str(&text(p)).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

#[test]
fn run_out_refuses_an_existing_run_unless_force_and_writes_provenance_beside_it() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    let run = |out: &Path, engine: &str, extra: &[&str]| {
        let mut args = vec!["run", "paper-evening", "--slots", "6", "--engine", engine, "--threads", "2"];
        args.extend(["--out", out.to_str().unwrap()]);
        args.extend(extra);
        vecsim(&args)
    };
    ok(run(&a, "sequential", &[]));
    let summary = read(&a.join("summary.json"));
    // Again into the same directory: refused before any work, naming the file and --force;
    // the run there is untouched.
    let err = bad_input(run(&a, "actors", &[]), &["summary.json", "--force", "already exists"]);
    assert!(!err.contains("wrote"), "{err}");
    assert_eq!(read(&a.join("summary.json")), summary);
    // With --force: replaced (the same bytes: same scenario and seed, another engine).
    ok(run(&a, "actors", &["--force"]));
    assert_eq!(read(&a.join("summary.json")), summary, "summary.json depends on the engine");
    // What differs between engines is in provenance.json, not in the results.
    ok(run(&b, "sequential", &[]));
    assert_eq!(read(&b.join("summary.json")), summary);
    assert_eq!(read(&b.join("slots.csv")), read(&a.join("slots.csv")));
    let (pa, pb) = (json(&a.join("provenance.json")), json(&b.join("provenance.json")));
    assert_eq!((pa["engine"].as_str(), pb["engine"].as_str()), (Some("actors"), Some("sequential")));
    assert_eq!(pa["threads"], 2);
    assert_eq!(pa["vecsim_version"], env!("CARGO_PKG_VERSION"));
    assert!(pa["command_line"].as_array().unwrap().iter().any(|w| w == "--force"));
    // The inputs: the seed (paper-evening's own, 1), the 6 slots asked for, the scenario.
    assert_eq!((pa["seed"].as_u64(), pa["slots"].as_u64()), (Some(1), Some(6)));
    assert_eq!(pa["scenario_hash"], pb["scenario_hash"]);
    assert_eq!(pa["scenario"]["name"], "paper-evening");
    assert_eq!(pa["scenario"]["time"]["slots"], 6);
}

#[test]
fn compare_csv_refuses_unless_force_has_scenario_and_slots_and_json_carries_provenance() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("c.csv");
    let c = csv.to_str().unwrap();
    let args = ["compare", SMALL, "--seeds", "2", "--slots", "4", "--policies", "orl,orm", "--engine", "sequential"];
    ok(vecsim(&[&args[..], &["--csv", c]].concat()));
    let first = text(&csv);
    let lines: Vec<&str> = first.lines().collect();
    assert_eq!(
        lines[0],
        "scenario,policy,seed,slots,completion_rate,cumulative_reward,average_realized_potential,migrations"
    );
    // 2 policies x 2 seeds; train-small's seed is 3: seeds 3 and 4, 4 slots each.
    assert_eq!(lines.len(), 5);
    let name = lines[1].split(',').next().unwrap();
    assert!(lines[1..].iter().all(|l| l.starts_with(&format!("{name},"))));
    let f: Vec<Vec<&str>> = lines[1..].iter().map(|l| l.split(',').collect()).collect();
    assert_eq!(
        f.iter().map(|r| (r[1], r[2], r[3])).collect::<Vec<_>>(),
        [("orl", "3", "4"), ("orl", "4", "4"), ("orm", "3", "4"), ("orm", "4", "4")]
    );
    // Refused before any run (nothing on stdout), naming the file and --force.
    let o = vecsim(&[&args[..], &["--csv", c]].concat());
    assert!(stdout(&o).is_empty(), "{}", stdout(&o));
    bad_input(o, &["c.csv", "--force"]);
    ok(vecsim(&[&args[..], &["--csv", c, "--force"]].concat()));
    assert_eq!(text(&csv), first, "the same compare wrote other bytes");
    let prov = json(&dir.path().join("c.provenance.json"));
    assert_eq!(prov["engine"], "sequential");
    // --json: the same numbers as the CSV, and the provenance.
    let doc: serde_json::Value = serde_json::from_str(&ok(vecsim(&[&args[..], &["--json"]].concat()))).unwrap();
    assert_eq!(doc["slots"], 4);
    assert_eq!(doc["seeds"], serde_json::json!([3, 4]));
    let orl = &doc["policies"][0];
    assert_eq!(orl["label"], "orl");
    assert_eq!(orl["runs"][1]["seed"], 4);
    let rate: f64 = f[1][4].parse().unwrap();
    assert_eq!(orl["runs"][1]["completion_rate"].as_f64(), Some(rate));
    assert_eq!(doc["provenance"]["engine"], "sequential");
    assert_eq!(doc["provenance"]["scenario_name"], name);
    // --fault: the same flags as `run`, applied to every run and recorded.
    let faulty = ok(vecsim(&[&args[..], &["--json", "--fault", "vehicle_dropout=0.5"]].concat()));
    let doc: serde_json::Value = serde_json::from_str(&faulty).unwrap();
    assert_eq!(doc["provenance"]["faults"]["vehicle_dropout"], 0.5);
    let run = ok(vecsim(&[
        "run",
        SMALL,
        "--seed",
        "4",
        "--slots",
        "4",
        "--policy",
        "orl",
        "--engine",
        "sequential",
        "--json",
        "--fault",
        "vehicle_dropout=0.5",
    ]));
    let run: serde_json::Value = serde_json::from_str(&run).unwrap();
    assert_eq!(doc["policies"][0]["runs"][1]["cumulative_reward"], run["cumulative_reward"]);
    assert_eq!(doc["policies"][0]["runs"][1]["completion_rate"], run["completion_rate"]);
    // A bad fault key: exit 2 naming it, before any output.
    let o = vecsim(&[&args[..], &["--fault", "vehicle_dropuot=0.5"]].concat());
    assert!(stdout(&o).is_empty());
    bad_input(o, &["vehicle_dropuot"]);
}

#[test]
fn plot_out_refuses_existing_figures_unless_force() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("c.csv");
    ok(vecsim(&[
        "compare",
        SMALL,
        "--seeds",
        "2",
        "--slots",
        "3",
        "--policies",
        "orl,orm",
        "--csv",
        csv.to_str().unwrap(),
    ]));
    let figs = dir.path().join("figs");
    let plot = |extra: &[&str]| {
        let mut a = vec!["plot", csv.to_str().unwrap(), "--out", figs.to_str().unwrap()];
        a.extend(extra);
        vecsim(&a)
    };
    ok(plot(&[]));
    let png = read(&figs.join("c.png"));
    bad_input(plot(&[]), &["c.png", "--force"]);
    assert_eq!(read(&figs.join("c.png")), png);
    ok(plot(&["--force"]));
}

#[test]
fn train_refuses_a_checkpoint_unless_force_and_its_run_toml_reproduces_the_run() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    let train = |ck: &Path, extra: &[&str]| {
        let mut args = vec!["train", SMALL, "--policy", "maddpg", "--budget", "smoke", "--seed", "3"];
        args.extend(["--learn", "gamma=0.9", "--checkpoint", ck.to_str().unwrap()]);
        args.extend(extra);
        vecsim(&args)
    };
    ok(train(&a, &[]));
    bad_input(train(&a, &[]), &["already holds a checkpoint", "--force"]);
    ok(train(&a, &["--force"]));
    let run = text(&a.join("run.toml"));
    let doc: toml::Table = run.parse().unwrap();
    // smoke: 2 episodes of 5 slots, width-8 networks, batch 8; --learn gamma won over it.
    assert_eq!((doc["episodes"].as_integer(), doc["slots"].as_integer()), (Some(2), Some(5)));
    assert_eq!(doc["budget"].as_str(), Some("smoke"));
    assert_eq!(doc["learning"]["gamma"].as_float(), Some(0.9));
    assert_eq!(doc["learning"]["batch_size"].as_integer(), Some(8));
    assert_eq!(doc["networks"]["actor_hidden"].as_array().unwrap().len(), 1);
    // Its command line, without the budget, trains the same run byte for byte.
    let cmd = doc["reproduce"].as_str().unwrap();
    assert!(!cmd.contains("--budget"), "{cmd}");
    let words: Vec<&str> = cmd.split_whitespace().collect();
    assert_eq!(&words[..2], ["vecsim", "train"]);
    let mut again: Vec<&str> = words[1..].to_vec();
    again.extend(["--checkpoint", b.to_str().unwrap()]);
    ok(vecsim(&again));
    assert_eq!(read(&a.join("curve.csv")), read(&b.join("curve.csv")));
    assert_eq!(read(&a.join("learner.ckpt")), read(&b.join("learner.ckpt")));
}

#[test]
fn experiment_validates_before_its_plan_takes_trains_options_and_resumes() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("e");
    let o = out.to_str().unwrap();
    // Bad input: refused before the plan is printed, nothing written.
    for (args, needle) in [
        (vec!["--budget", "smoke", "--seeds", "0"], "--seeds"),
        (vec!["--budget", "smoke", "--learn", "gamma=2"], "gamma"),
        (vec!["--budget", "smoke", "--learn", "gamma"], "KEY=VALUE"),
        (vec!["--budget", "quik"], "did you mean `quick`"),
    ] {
        let mut a = vec!["experiment", "convergence", "--out", o];
        a.extend(args);
        let err = bad_input(vecsim(&a), &[needle]);
        assert!(!err.contains("budget smoke:"), "the plan was printed before the error:\n{err}");
        assert!(!out.exists());
    }
    let args = ["experiment", "convergence", "--budget", "smoke", "--out", o, "--reward", "marginal"];
    ok(vecsim(&[&args[..], &["--learn", "gamma=0.5"]].concat()));
    // Every training directory has its run.toml, with the experiment's learner options.
    let train = out.join("train");
    let dirs: Vec<_> = std::fs::read_dir(&train).unwrap().map(|e| e.unwrap().path()).collect();
    assert_eq!(dirs.len(), 9, "3 windows x 3 learners x 1 learner seed");
    for d in &dirs {
        let t: toml::Table = text(&d.join("run.toml")).parse().unwrap();
        assert_eq!(t["reward"].as_str(), Some("marginal"));
        assert_eq!(t["learning"]["gamma"].as_float(), Some(0.5));
        assert_eq!(t["episodes"].as_integer(), Some(2));
    }
    // The same command again: everything reused (resume), nothing recomputed.
    let again = vecsim(&[&args[..], &["--learn", "gamma=0.5"]].concat());
    assert!(stderr(&again).contains("0 computed"), "{}", stderr(&again));
    ok(again);
    // Other learner options into the same directory: refused, naming the record and --out.
    bad_input(vecsim(&args), &["convergence-learner.txt", "other learner options", "--out"]);
}

/// One list of budgets: `train`, `experiment` and `sweep` list the same six in their help and
/// refuse an unknown one the same way.
#[test]
fn train_experiment_and_sweep_take_the_same_budgets() {
    for cmd in ["train", "experiment", "sweep"] {
        let help = ok(vecsim(&[cmd, "--help"]));
        for b in ["smoke", "small", "quick", "medium", "standard", "paper"] {
            assert!(help.contains(b), "`vecsim {cmd} --help` does not list budget {b}:\n{help}");
        }
    }
    bad_input(
        vecsim(&["train", SMALL, "--policy", "maddpg", "--budget", "cpu"]),
        &["unknown budget `cpu`", "smoke, small, quick, medium, standard, paper"],
    );
    let sweep = ["sweep", SMALL, "--set", "seed=1", "--train", "maddpg", "--budget", "smal", "--out", "/nonexistent"];
    bad_input(vecsim(&sweep), &["did you mean `small`"]);
}
