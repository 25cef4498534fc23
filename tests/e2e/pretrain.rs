//! `vecsim train --pretrain br-ne[:EPISODES]` (issue 19, beyond the paper): cloning the oracle
//! into the actors, the cloned actors alone (`--episodes 0`), exact resume after cloning, both
//! engines, and refused values.

use crate::common::*;
use std::fs::read_to_string;

const SCENARIO: &str = "tests/fixtures/train-small.toml";

fn train(dir: &std::path::Path, policy: &str, extra: &[&str]) -> String {
    let mut args = vec!["train", SCENARIO, "--policy", policy, "--checkpoint", dir.to_str().unwrap()];
    args.extend_from_slice(extra);
    ok(vecsim(&args))
}

#[test]
fn cloned_actors_alone_and_resume_after_cloning_are_exact() {
    let dir = tempfile::tempdir().unwrap();
    for policy in ["fed-maddpg", "maddpg", "masac"] {
        let straight = dir.path().join(format!("{policy}-straight"));
        let split = dir.path().join(format!("{policy}-split"));
        let out = train(&straight, policy, &["--pretrain", "br-ne:1", "--episodes", "2", "--eval-every", "1"]);
        assert!(out.contains("pretrained (beyond the paper) by cloning br-ne: 1 episodes"), "{out}");
        // Fine-tuning keeps the best of the clone and the evaluated episodes (validation).
        assert!(out.contains("kept the actors of episode ") && out.contains(" of 2 (validation completion"), "{out}");
        // The cloned actors alone: a checkpoint with no RL episode, evaluable like any other.
        let out = train(&split, policy, &["--pretrain", "br-ne:1", "--episodes", "0", "--engine", "sequential"]);
        assert!(out.contains("agreement with br-ne"), "{out}");
        assert!(!out.contains("nothing left to do"), "{out}");
        let eval = dir.path().join(format!("{policy}-eval"));
        ok(vecsim(&[
            "run",
            SCENARIO,
            "--policy",
            policy,
            "--checkpoint",
            split.to_str().unwrap(),
            "--out",
            eval.to_str().unwrap(),
        ]));
        // Resumed from the cloned checkpoint (on the other engine): the same curve and bytes as
        // the straight run.
        train(&split, policy, &["--episodes", "2", "--eval-every", "1", "--resume"]);
        assert_eq!(read(&straight.join("curve.csv")), read(&split.join("curve.csv")), "{policy}");
        assert_eq!(read(&straight.join("learner.ckpt")), read(&split.join("learner.ckpt")), "{policy}");
    }
}

#[test]
fn cloning_changes_the_actors_and_bad_values_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let plain = dir.path().join("plain");
    let cloned = dir.path().join("cloned");
    train(&plain, "fed-maddpg", &["--episodes", "1"]);
    train(&cloned, "fed-maddpg", &["--episodes", "1", "--pretrain", "br-ne:1"]);
    assert_ne!(read(&plain.join("learner.ckpt")), read(&cloned.join("learner.ckpt")));
    // Unset, the local prior is the default from scratch and none on a clone; run.toml says so.
    let prior = |d: &std::path::Path| {
        let doc: toml::Table = read_to_string(d.join("run.toml")).unwrap().parse().unwrap();
        doc["learning"]["local_prior"].as_float().unwrap()
    };
    assert_eq!((prior(&plain), prior(&cloned)), (2.0, 0.0));
    // Both keep the best validation evaluation by default.
    for d in [&plain, &cloned] {
        assert!(read_to_string(d.join("run.toml")).unwrap().contains("keep_best = true"), "{d:?}");
    }
    let ck = dir.path().join("x");
    let ck = ck.to_str().unwrap();
    for (v, needle) in [("orl", "only `br-ne`"), ("br-ne:0", "EPISODES"), ("br-ne:many", "EPISODES")] {
        bad_input(
            vecsim(&["train", SCENARIO, "--policy", "maddpg", "--pretrain", v, "--checkpoint", ck]),
            &["--pretrain", needle],
        );
    }
    // Keeping the best needs evaluations to choose from; --keep-last keeps none.
    bad_input(
        vecsim(&["train", SCENARIO, "--policy", "maddpg", "--keep-best", "--eval-every", "0", "--checkpoint", ck]),
        &["--keep-best", "--eval-every"],
    );
    let last = dir.path().join("last");
    let out = train(&last, "fed-maddpg", &["--episodes", "1", "--pretrain", "br-ne:1", "--keep-last"]);
    assert!(!out.contains("kept the actors"), "{out}");
    // Without evaluations nothing is kept, and run.toml's command line says --keep-last (it
    // would be refused with --keep-best and --eval-every 0).
    let none = dir.path().join("none");
    let out = train(&none, "fed-maddpg", &["--episodes", "1", "--pretrain", "br-ne:1", "--eval-every", "0"]);
    assert!(!out.contains("kept the actors"), "{out}");
    let run = read_to_string(none.join("run.toml")).unwrap();
    assert!(run.contains("keep_best = false") && run.contains("--keep-last"), "{run}");
    // --episodes 0 means something only with --pretrain.
    bad_input(
        vecsim(&["train", SCENARIO, "--policy", "maddpg", "--episodes", "0", "--checkpoint", ck]),
        &["--episodes"],
    );
}
