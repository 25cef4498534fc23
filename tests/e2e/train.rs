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
        "episode,cumulative_reward,completion_rate,average_realized_potential,critic_loss,actor_loss,federated_round"
    );
    let rows: Vec<Vec<f64>> = lines.map(|l| l.split(',').map(|x| x.parse().unwrap()).collect()).collect();
    assert_eq!(rows.len(), 3);
    for (i, r) in rows.iter().enumerate() {
        assert_eq!(r[0] as usize, i + 1);
        assert!((0.0..=1.0).contains(&r[2]), "completion rate {}", r[2]);
        // aggregation_period = 1: one federated round per episode.
        assert_eq!(r[6] as usize, i + 1);
    }
    assert!(rows[2][4] > 0.0, "the critic trained (batch 16 fills in the first episode)");
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
    bad_input(vecsim(&["train", SCENARIO, "--resume"]), &["--checkpoint"]);
}

#[test]
fn training_on_the_actor_engine_equals_the_sequential_engine() {
    let dir = tempfile::tempdir().unwrap();
    for faults in [&[][..], &["--fault", "round_dropout=0.5"][..]] {
        let mut files = Vec::new();
        for engine in ["actors", "sequential"] {
            let ck = dir.path().join(format!("{engine}-{}", faults.len()));
            let mut args = vec![
                "train",
                SCENARIO,
                "--policy",
                "fed-maddpg",
                "--episodes",
                "3",
                "--engine",
                engine,
                "--checkpoint",
            ];
            args.push(ck.to_str().unwrap());
            args.extend_from_slice(faults);
            let out = ok(vecsim(&args));
            files.push((curve(&ck), read(&ck.join("learner.ckpt")), out));
        }
        let (a, s) = (&files[0], &files[1]);
        assert_eq!(a.0, s.0, "curve.csv, faults {faults:?}");
        assert!(a.1 == s.1, "learner.ckpt differs, faults {faults:?}");
        // A federated round every episode (aggregation_period = 1), counted on both paths.
        let rounds: Vec<&str> = a.0.lines().skip(1).map(|l| l.rsplit(',').next().unwrap()).collect();
        assert_eq!(rounds, ["1", "2", "3"], "faults {faults:?}");
        // Round dropouts are reported alike (and only with the fault on).
        let dropouts = |o: &str| o.lines().find(|l| l.contains("round dropout")).map(str::to_string);
        assert_eq!(dropouts(&a.2), dropouts(&s.2));
        assert_eq!(dropouts(&a.2).is_some(), !faults.is_empty());
    }
}
