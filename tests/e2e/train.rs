//! `vecsim train` and `vecsim run --checkpoint` through the command line (issue 4).

use crate::common::*;

const SCENARIO: &str = "tests/fixtures/train-small.toml";

fn curve(dir: &std::path::Path) -> String {
    String::from_utf8(read(&dir.join("curve.csv"))).unwrap()
}

#[test]
fn train_writes_curve_and_checkpoint_and_run_evaluates_it() {
    let dir = tempfile::tempdir().unwrap();
    let ck = dir.path().join("ck");
    let ck_s = ck.to_str().unwrap();
    ok(vecsim(&["train", SCENARIO, "--policy", "fed-maddpg", "--episodes", "3", "--checkpoint", ck_s]));
    let c = curve(&ck);
    let mut lines = c.lines();
    assert_eq!(
        lines.next().unwrap(),
        "episode,cumulative_reward,completion_rate,average_realized_potential,critic_loss,actor_loss,federated_round,\
         epsilon,eval_completion_rate,eval_cumulative_reward"
    );
    // Empty evaluation cells (no evaluation due) read as NaN.
    let rows: Vec<Vec<f64>> = lines
        .map(|l| l.split(',').map(|x| if x.is_empty() { f64::NAN } else { x.parse().unwrap() }).collect())
        .collect();
    assert_eq!(rows.len(), 3);
    for (i, r) in rows.iter().enumerate() {
        assert_eq!(r[0] as usize, i + 1);
        assert!((0.0..=1.0).contains(&r[2]), "completion rate {}", r[2]);
        // aggregation_period = 1: one federated round per episode.
        assert_eq!(r[6] as usize, i + 1);
    }
    assert!(rows[2][4] > 0.0, "the critic trained (batch 16 fills in the first episode)");
    // ε: Table III's 0.5, decaying linearly to 0.05 over half of max_iterations (6100):
    // episode k (0-based) runs with 0.5 − 0.45·k/3050.
    for (k, r) in rows.iter().enumerate() {
        assert!((r[7] - (0.5 - 0.45 * k as f64 / 3050.0)).abs() < 1e-12, "ε of episode {k}: {}", r[7]);
    }
    // No evaluation was due (every 5 episodes by default).
    assert!(rows.iter().all(|r| r[8].is_nan() && r[9].is_nan()));
    assert!(ck.join("learner.ckpt").exists());

    // Evaluate the trained policy like any other.
    let out = dir.path().join("eval");
    ok(vecsim(&["run", SCENARIO, "--policy", "fed-maddpg", "--checkpoint", ck_s, "--out", out.to_str().unwrap()]));
    let s: serde_json::Value = serde_json::from_slice(&read(&out.join("summary.json"))).unwrap();
    assert_eq!(s["policy"], "fed-maddpg");
    // Evaluation is deterministic, and the same through both engines.
    let seq = dir.path().join("eval-seq");
    ok(vecsim(&[
        "run",
        SCENARIO,
        "--policy",
        "fed-maddpg",
        "--checkpoint",
        ck_s,
        "--engine",
        "sequential",
        "--out",
        seq.to_str().unwrap(),
    ]));
    assert_eq!(read(&out.join("summary.json")), read(&seq.join("summary.json")));
}

#[test]
fn resume_continues_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let straight = dir.path().join("straight");
    let split = dir.path().join("split");
    ok(vecsim(&[
        "train",
        SCENARIO,
        "--policy",
        "maddpg",
        "--episodes",
        "4",
        "--checkpoint",
        straight.to_str().unwrap(),
    ]));
    ok(vecsim(&["train", SCENARIO, "--policy", "maddpg", "--episodes", "2", "--checkpoint", split.to_str().unwrap()]));
    ok(vecsim(&[
        "train",
        SCENARIO,
        "--policy",
        "maddpg",
        "--episodes",
        "4",
        "--checkpoint",
        split.to_str().unwrap(),
        "--resume",
    ]));
    assert_eq!(curve(&straight), curve(&split));
    assert_eq!(read(&straight.join("learner.ckpt")), read(&split.join("learner.ckpt")));
}

#[test]
fn bad_checkpoints_and_learner_flags_are_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let ck = dir.path().join("ck");
    let ck_s = ck.to_str().unwrap();
    ok(vecsim(&["train", SCENARIO, "--policy", "masac", "--episodes", "1", "--checkpoint", ck_s]));
    // Another scenario's checkpoint.
    bad_input(vecsim(&["run", "paper-evening", "--policy", "masac", "--checkpoint", ck_s]), &["another scenario"]);
    // Another learner's checkpoint.
    bad_input(vecsim(&["run", SCENARIO, "--policy", "maddpg", "--checkpoint", ck_s]), &["masac"]);
    // A learner without a checkpoint, a baseline with one.
    bad_input(vecsim(&["run", SCENARIO, "--policy", "fed-maddpg"]), &["--checkpoint"]);
    bad_input(vecsim(&["run", SCENARIO, "--policy", "orl", "--checkpoint", ck_s]), &["baseline"]);
    // Truncated and corrupt files.
    let file = ck.join("learner.ckpt");
    let bytes = read(&file);
    std::fs::write(&file, &bytes[..bytes.len() / 2]).unwrap();
    bad_input(vecsim(&["run", SCENARIO, "--policy", "masac", "--checkpoint", ck_s]), &["learner.ckpt"]);
    let mut corrupt = bytes.clone();
    let mid = corrupt.len() / 2;
    corrupt[mid] ^= 0xFF;
    std::fs::write(&file, &corrupt).unwrap();
    bad_input(vecsim(&["run", SCENARIO, "--policy", "masac", "--checkpoint", ck_s]), &["learner.ckpt"]);
    bad_input(vecsim(&["run", SCENARIO, "--policy", "masac", "--checkpoint", "/nonexistent/ck"]), &["/nonexistent/ck"]);
    // Training flags.
    bad_input(vecsim(&["train", SCENARIO, "--policy", "orl"]), &["orl"]);
    // A device this build cannot provide is refused before anything runs, saying how to get it
    // (CI builds without the `cuda` feature); an unknown device names the choices.
    if !cfg!(feature = "cuda") {
        for args in [
            &["train", SCENARIO, "--device", "cuda", "--episodes", "1"][..],
            &["run", SCENARIO, "--policy", "masac", "--checkpoint", ck_s, "--device", "cuda:1"][..],
            &["bench", "train-step", "--device", "cuda", "--steps", "1"][..],
            &["bench", "training", SCENARIO, "--device", "cuda:0"][..],
        ] {
            bad_input(vecsim(args), &["cuda", "--features cuda"]);
        }
    }
    bad_input(vecsim(&["train", SCENARIO, "--device", "gpu"]), &["gpu", "cpu, cuda or cuda:N"]);
    bad_input(vecsim(&["train", SCENARIO, "--resume"]), &["--checkpoint"]);
}

/// Each RSU's actor owns its learner and trains in its own handler (issue 11): the curve and the
/// checkpoint are byte-identical whatever the engine and the actor engine's thread count, for
/// every learner, with and without faults (an RSU crash restarted by its supervisor; round
/// dropouts for fed-maddpg's VEC POOL).
#[test]
fn training_on_the_actor_engine_equals_the_sequential_engine() {
    let dir = tempfile::tempdir().unwrap();
    // The dfdx cases run the learners' resident working form: networks on the device for the
    // episode, in pinned RSU actors, restarted after a crash, taking a FedAvg import in place.
    let cases: [(&str, &[&str]); 7] = [
        ("fed-maddpg", &[]),
        ("fed-maddpg", &["--fault", "round_dropout=0.5"]),
        ("maddpg", &[]),
        ("maddpg", &["--fault", "crash_rsu=1:5"]),
        ("masac", &[]),
        ("fed-maddpg", &["--backend", "dfdx", "--fault", "round_dropout=0.5"]),
        ("maddpg", &["--backend", "dfdx", "--fault", "crash_rsu=1:5"]),
    ];
    for (k, (policy, faults)) in cases.into_iter().enumerate() {
        let mut files = Vec::new();
        for (engine, threads) in [("actors", "2"), ("actors", "1"), ("sequential", "1")] {
            let ck = dir.path().join(format!("{k}-{engine}-{threads}"));
            let mut args = vec![
                "train",
                SCENARIO,
                "--policy",
                policy,
                "--episodes",
                "3",
                "--engine",
                engine,
                "--threads",
                threads,
                "--checkpoint",
            ];
            args.push(ck.to_str().unwrap());
            args.extend_from_slice(faults);
            let out = ok(vecsim(&args));
            files.push((curve(&ck), read(&ck.join("learner.ckpt")), out));
        }
        for other in &files[1..] {
            let (a, s) = (&files[0], other);
            assert_eq!(a.0, s.0, "curve.csv, {policy}, faults {faults:?}");
            assert!(a.1 == s.1, "learner.ckpt differs, {policy}, faults {faults:?}");
            let dropouts = |o: &str| o.lines().find(|l| l.contains("round dropout")).map(str::to_string);
            assert_eq!(dropouts(&a.2), dropouts(&s.2));
        }
        let a = &files[0];
        let losses: Vec<f64> = a.0.lines().skip(1).map(|l| l.split(',').nth(4).unwrap().parse().unwrap()).collect();
        assert!(losses.last().is_some_and(|&l| l != 0.0), "{policy}: the learners trained: critic losses {losses:?}");
        if policy == "fed-maddpg" {
            // A federated round every episode (aggregation_period = 1), counted on both paths.
            let rounds: Vec<&str> = a.0.lines().skip(1).map(|l| l.split(',').nth(6).unwrap()).collect();
            assert_eq!(rounds, ["1", "2", "3"], "faults {faults:?}");
            // Round dropouts are reported (only with the fault on).
            let dropouts = a.2.lines().any(|l| l.contains("round dropout"));
            assert_eq!(dropouts, !faults.is_empty());
        }
    }
}

/// Training never loses a model (issue 14, item 7): a default run directory, no silent overwrite,
/// `--resume` with nothing to do says so, lean checkpoints leave the replay out and still
/// evaluate, and the curve carries greedy evaluations on held-out traffic every K episodes.
#[test]
fn training_never_loses_a_model() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = root().join(SCENARIO);
    let sc = scenario.to_str().unwrap();
    // Small networks, so the replay buffer is a visible part of a checkpoint.
    let run = |args: &[&str]| {
        let small = if args[0] == "train" { &["--actor-hidden", "8", "--critic-hidden", "8/8"][..] } else { &[][..] };
        std::process::Command::new(env!("CARGO_BIN_EXE_vecsim"))
            .args(args)
            .args(small)
            .current_dir(dir.path())
            .output()
            .expect("vecsim runs")
    };
    // Without --checkpoint: a printed default directory under ./runs, not ./curve.csv.
    let o = run(&["train", sc, "--policy", "fed-maddpg", "--episodes", "2", "--eval-every", "1"]);
    let default = dir.path().join("runs/fed-maddpg-train-small-seed3");
    // Said at the start, as chatter on stderr (issue 24); the checkpoint's path is data at the end.
    assert!(stderr(&o).contains("run directory: runs/fed-maddpg-train-small-seed3"), "{}", stderr(&o));
    let out = ok(o);
    assert!(out.contains("checkpoint: runs/fed-maddpg-train-small-seed3/learner.ckpt"), "{out}");
    assert!(default.join("learner.ckpt").exists() && default.join("curve.csv").exists());
    assert!(!dir.path().join("curve.csv").exists());
    // Every row evaluated (K = 1): a held-out completion rate and reward.
    let c = curve(&default);
    for l in c.lines().skip(1) {
        let v: Vec<&str> = l.split(',').collect();
        let rate: f64 = v[8].parse().unwrap();
        assert!((0.0..=1.0).contains(&rate), "{l}");
        assert!(v[9].parse::<f64>().unwrap() >= 0.0, "{l}");
    }
    // The same again is refused, naming the way out; --force overwrites.
    let before = read(&default.join("learner.ckpt"));
    bad_input(
        run(&["train", sc, "--policy", "fed-maddpg", "--episodes", "2"]),
        &["already holds", "--resume", "--force"],
    );
    assert_eq!(read(&default.join("learner.ckpt")), before, "the refused run left the model alone");
    ok(run(&["train", sc, "--policy", "fed-maddpg", "--episodes", "2", "--eval-every", "1", "--force"]));
    assert_eq!(read(&default.join("learner.ckpt")), before, "same seed, same bytes");
    // --resume with nothing left to do says so (on stderr) and changes nothing.
    let o = run(&[
        "train",
        sc,
        "--policy",
        "fed-maddpg",
        "--episodes",
        "2",
        "--resume",
        "--checkpoint",
        "runs/fed-maddpg-train-small-seed3",
    ]);
    assert!(stderr(&o).contains("nothing left to do"), "{}", stderr(&o));
    ok(o);
    assert_eq!(read(&default.join("learner.ckpt")), before);
    // Lean checkpoints: no replay, smaller, still evaluate.
    let lean = dir.path().join("lean");
    ok(run(&[
        "train",
        sc,
        "--policy",
        "fed-maddpg",
        "--episodes",
        "2",
        "--eval-every",
        "1",
        "--lean-checkpoints",
        "--checkpoint",
        lean.to_str().unwrap(),
    ]));
    let lean_bytes = read(&lean.join("learner.ckpt"));
    // Two 12-slot episodes of 3 RSUs' observations are more than a third of the full file here.
    assert!(lean_bytes.len() * 3 < before.len() * 2, "lean {} vs full {} bytes", lean_bytes.len(), before.len());
    assert_eq!(curve(&lean), c, "the replay's absence changes nothing but the file");
    ok(run(&["run", sc, "--policy", "fed-maddpg", "--checkpoint", lean.to_str().unwrap()]));
    // Resuming a lean checkpoint works, and warns (on stderr) that it is not exact.
    let o = run(&[
        "train",
        sc,
        "--policy",
        "fed-maddpg",
        "--episodes",
        "3",
        "--resume",
        "--checkpoint",
        lean.to_str().unwrap(),
    ]);
    assert!(stderr(&o).contains("warning: the checkpoint held no replay buffers"), "{}", stderr(&o));
    ok(o);
}

/// `--learn KEY=VALUE` and `--budget` set the schedule; bad input exits 2 naming the key.
#[test]
fn learn_overrides_and_budgets() {
    let dir = tempfile::tempdir().unwrap();
    let ck = dir.path().join("ck");
    let ck_s = ck.to_str().unwrap();
    bad_input(vecsim(&["train", SCENARIO, "--learn", "gama=0.5", "--checkpoint", ck_s]), &["learning.gama", "gamma"]);
    bad_input(vecsim(&["train", SCENARIO, "--learn", "gamma=1.5", "--checkpoint", ck_s]), &["learning.gamma"]);
    bad_input(
        vecsim(&["train", SCENARIO, "--learn", "aggregation_period=x", "--checkpoint", ck_s]),
        &["learning.aggregation_period"],
    );
    bad_input(vecsim(&["train", SCENARIO, "--learn", "tau", "--checkpoint", ck_s]), &["KEY=VALUE"]);
    bad_input(vecsim(&["train", SCENARIO, "--budget", "huge", "--checkpoint", ck_s]), &["huge"]);
    // aggregation_period=2 and ε constant at 0.2: rounds after episodes 2 and 4.
    ok(vecsim(&[
        "train",
        SCENARIO,
        "--policy",
        "fed-maddpg",
        "--episodes",
        "4",
        "--learn",
        "aggregation_period=2",
        "--learn",
        "epsilon=0.2",
        "--learn",
        "epsilon_decay=0",
        "--checkpoint",
        ck_s,
    ]));
    let c = curve(&ck);
    let cols: Vec<(String, String)> = c
        .lines()
        .skip(1)
        .map(|l| {
            let v: Vec<&str> = l.split(',').collect();
            (v[6].to_string(), v[7].to_string())
        })
        .collect();
    let want: Vec<(String, String)> = ["0", "1", "1", "2"].iter().map(|r| (r.to_string(), "0.2".to_string())).collect();
    assert_eq!(cols, want);
    // The quick budget: 100-slot episodes, 40 of them by default; --episodes wins.
    let q = dir.path().join("q");
    let out = ok(vecsim(&[
        "train",
        SCENARIO,
        "--policy",
        "fed-maddpg",
        "--budget",
        "quick",
        "--episodes",
        "1",
        "--checkpoint",
        q.to_str().unwrap(),
    ]));
    assert!(out.contains("1 episodes"), "{out}");
}

/// `compare --checkpoint NAME=DIR` adds NAME's row even when --policies does not list it, and
/// `NAME#TAG=DIR` compares several checkpoints of one learner.
#[test]
fn compare_adds_checkpointed_learners() {
    let dir = tempfile::tempdir().unwrap();
    let ck = dir.path().join("ck");
    let ck_s = ck.to_str().unwrap();
    ok(vecsim(&["train", SCENARIO, "--policy", "maddpg", "--episodes", "1", "--checkpoint", ck_s]));
    let a = format!("maddpg={ck_s}");
    let b = format!("maddpg#2={ck_s}");
    let out =
        ok(vecsim(&["compare", SCENARIO, "--seeds", "2", "--policies", "orl", "--checkpoint", &a, "--checkpoint", &b]));
    let rows: Vec<&str> = out.lines().skip(2).map(|l| l.split_whitespace().next().unwrap()).collect();
    assert_eq!(rows, ["orl", "maddpg", "maddpg#2"], "{out}");
    // The two rows of one checkpoint are the same numbers.
    let nums = |name: &str| {
        out.lines()
            .find(|l| l.split_whitespace().next() == Some(name))
            .unwrap()
            .split_whitespace()
            .skip(1)
            .collect::<Vec<_>>()
            .join(" ")
    };
    assert_eq!(nums("maddpg"), nums("maddpg#2"));
    bad_input(vecsim(&["compare", SCENARIO, "--checkpoint", &format!("orl={ck_s}")]), &["not a learner"]);
    // A learner without its checkpoint is refused before any run: no half table on stdout.
    let o = vecsim(&["compare", SCENARIO, "--policies", "orl,fed-maddpg", "--seeds", "1"]);
    assert!(o.stdout.is_empty(), "{}", stdout(&o));
    bad_input(o, &["--checkpoint fed-maddpg=DIR"]);
}

/// `vecsim bench training` times the same training at several thread counts in one run and
/// checks that the runs are identical (issue 11); bad arguments are refused.
#[test]
fn bench_training_compares_thread_counts() {
    for policy in ["fed-maddpg", "masac"] {
        let out = ok(vecsim(&[
            "bench",
            "training",
            SCENARIO,
            "--policy",
            policy,
            "--slots",
            "12",
            "--batch",
            "8",
            "--threads",
            "1,2",
        ]));
        let rows: Vec<&str> = out.lines().filter(|l| l.trim_start().starts_with("threads")).collect();
        assert_eq!(rows.len(), 2, "{out}");
        assert!(rows.iter().all(|r| r.ends_with("identical")), "{out}");
        assert!(rows[0].contains("speed-up 1.00x"), "{out}");
    }
    bad_input(vecsim(&["bench", "training", SCENARIO, "--policy", "orl"]), &["orl"]);
    bad_input(vecsim(&["bench", "training", SCENARIO, "--threads", "0"]), &["threads"]);
}

/// Ctrl-C (SIGINT) during training: the episode running finishes, the curve and a checkpoint
/// hold exactly the episodes done, the exit code is 130 and the message says how to resume; a
/// resume to the full length then writes the bytes of an uninterrupted run.
#[test]
fn sigint_finishes_the_episode_checkpoints_and_resumes_exactly() {
    use std::process::{Command, Stdio};
    use std::time::{Duration, Instant};
    let dir = tempfile::tempdir().unwrap();
    let (straight, split) = (dir.path().join("straight"), dir.path().join("split"));
    let args = |d: &std::path::Path| -> Vec<String> {
        [
            "train",
            SCENARIO,
            "--policy",
            "fed-maddpg",
            "--episodes",
            "6",
            "--actor-hidden",
            "8",
            "--critic-hidden",
            "8/8",
        ]
        .iter()
        .map(|s| s.to_string())
        .chain(["--checkpoint".to_string(), d.to_str().unwrap().to_string()])
        .collect()
    };
    let straight_args = args(&straight);
    ok(vecsim(&straight_args.iter().map(String::as_str).collect::<Vec<_>>()));
    // Paced (pacing changes no number) so that the signal lands mid-run.
    let child = Command::new(env!("CARGO_BIN_EXE_vecsim"))
        .args(args(&split))
        .args(["--pace", "24"])
        .current_dir(root())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("vecsim train starts");
    let deadline = Instant::now() + Duration::from_secs(120);
    while !split.join("curve.csv").exists() || curve(&split).lines().count() < 2 {
        assert!(Instant::now() < deadline, "no episode finished within 120 s");
        std::thread::sleep(Duration::from_millis(20));
    }
    let kill = Command::new("kill").args(["-INT", &child.id().to_string()]).status().expect("kill runs");
    assert!(kill.success());
    let out = child.wait_with_output().expect("vecsim train ends");
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(130), "stderr:\n{err}");
    assert!(err.contains("interrupted after episode") && err.contains("--resume"), "{err}");
    let done = curve(&split).lines().count() - 1;
    assert!((1..6).contains(&done), "{done} episodes in the curve");
    // The checkpoint holds those episodes: resuming to 6 gives the uninterrupted bytes.
    let mut resume = args(&split);
    resume.push("--resume".into());
    ok(vecsim(&resume.iter().map(String::as_str).collect::<Vec<_>>()));
    assert_eq!(curve(&straight), curve(&split));
    assert_eq!(read(&straight.join("learner.ckpt")), read(&split.join("learner.ckpt")));
}
