//! Decisions in turn (issue 19, beyond the paper): `[learning] tasks_in_turn` (on by default;
//! `--learn tasks_in_turn=false` gives the paper's per-pair scoring), an RSU's actor decides its
//! tasks in turn; `[learning] rsus_in_turn`, the RSUs decide one after another. Both engines
//! give the same bytes with either on, for every learner and with cloning; each changes what is
//! learned; a bad value is refused.

use crate::common::*;

const SCENARIO: &str = "tests/fixtures/train-small.toml";

#[test]
fn in_turn_training_is_the_same_on_both_engines_and_changes_the_learners() {
    let dir = tempfile::tempdir().unwrap();
    for policy in ["fed-maddpg", "maddpg", "masac"] {
        let mut files = Vec::new();
        for (engine, threads) in [("actors", "2"), ("sequential", "1")] {
            let ck = dir.path().join(format!("{policy}-{engine}"));
            let out = ok(vecsim(&[
                "train",
                SCENARIO,
                "--policy",
                policy,
                "--episodes",
                "2",
                "--pretrain",
                "br-ne:1",
                "--engine",
                engine,
                "--threads",
                threads,
                "--checkpoint",
                ck.to_str().unwrap(),
            ]));
            assert!(out.contains("agreement with br-ne"), "{out}");
            files.push((read(&ck.join("curve.csv")), read(&ck.join("learner.ckpt"))));
        }
        assert_eq!(files[0].0, files[1].0, "{policy}: curve.csv differs between engines");
        assert!(files[0].1 == files[1].1, "{policy}: learner.ckpt differs between engines");
        // The same run with the option off learns something else.
        let off = dir.path().join(format!("{policy}-off"));
        ok(vecsim(&[
            "train",
            SCENARIO,
            "--policy",
            policy,
            "--episodes",
            "2",
            "--pretrain",
            "br-ne:1",
            "--learn",
            "tasks_in_turn=false",
            "--engine",
            "sequential",
            "--checkpoint",
            off.to_str().unwrap(),
        ]));
        assert!(read(&off.join("learner.ckpt")) != files[1].1, "{policy}: tasks_in_turn changed nothing");
        // Greedy evaluation of the in-turn checkpoint runs, on either engine, to the same report.
        evaluates_alike_on_both_engines(policy, &dir.path().join(format!("{policy}-sequential")), dir.path());
    }
}

/// Greedy evaluation of the checkpoint in `ck` gives the same report on either engine.
fn evaluates_alike_on_both_engines(policy: &str, ck: &std::path::Path, dir: &std::path::Path) {
    let mut reports = Vec::new();
    for engine in ["actors", "sequential"] {
        let name = ck.file_name().unwrap().to_string_lossy();
        let out = dir.join(format!("{name}-eval-{engine}"));
        let (ck, o) = (ck.to_str().unwrap(), out.to_str().unwrap());
        ok(vecsim(&["run", SCENARIO, "--policy", policy, "--engine", engine, "--checkpoint", ck, "--out", o]));
        reports.push(read(&out.join("summary.json")));
    }
    assert_eq!(reports[0], reports[1], "{policy}: evaluation differs between engines");
}

/// `[learning] rsus_in_turn` (beyond the paper): the RSUs decide one after another, each seeing
/// what the RSUs before it declared. Both engines give the same bytes with it, for every
/// learner and with cloning; it changes what is learned; evaluation is the same on either
/// engine; and the `orm-in-turn` baseline runs on both engines to the same report, another one
/// than `orm`'s.
#[test]
fn rsus_in_turn_training_is_the_same_on_both_engines_and_changes_the_learners() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let train = |policy: &str, engine: &str, threads: &str, learn: &str, ck: &std::path::Path| {
        let args = ["train", SCENARIO, "--policy", policy, "--episodes", "2", "--pretrain", "br-ne:1"];
        let more = ["--learn", learn, "--engine", engine, "--threads", threads, "--checkpoint", ck.to_str().unwrap()];
        ok(vecsim(&[&args[..], &more[..]].concat()));
        (read(&ck.join("curve.csv")), read(&ck.join("learner.ckpt")))
    };
    for policy in ["fed-maddpg", "maddpg", "masac"] {
        let on = d.join(format!("{policy}-seq"));
        let actors = train(policy, "actors", "2", "rsus_in_turn=true", &d.join(format!("{policy}-actors")));
        let seq = train(policy, "sequential", "1", "rsus_in_turn=true", &on);
        assert_eq!(actors.0, seq.0, "{policy}: curve.csv differs between engines");
        assert!(actors.1 == seq.1, "{policy}: learner.ckpt differs between engines");
        let off = train(policy, "sequential", "1", "rsus_in_turn=false", &d.join(format!("{policy}-off")));
        assert!(off.1 != seq.1, "{policy}: rsus_in_turn changed nothing");
        evaluates_alike_on_both_engines(policy, &on, d);
    }
    // Two rounds of turns (`turn_rounds`): the same bytes on both engines, another run than one
    // round's, and the greedy evaluation alike on both engines.
    let two = d.join("two-rounds-seq");
    let actors = train("fed-maddpg", "actors", "2", "turn_rounds=2", &d.join("two-rounds-actors"));
    let seq = train("fed-maddpg", "sequential", "1", "turn_rounds=2", &two);
    assert_eq!(actors.0, seq.0, "two rounds: curve.csv differs between engines");
    assert!(actors.1 == seq.1, "two rounds: learner.ckpt differs between engines");
    // (Cloning makes two rounds the default: one round is asked for here.)
    let one = train("fed-maddpg", "sequential", "1", "turn_rounds=1", &d.join("one-round"));
    assert!(one.1 != seq.1, "turn_rounds=2 changed nothing");
    assert!(read(&d.join("fed-maddpg-seq").join("learner.ckpt")) == seq.1, "--pretrain does not default to two rounds");
    evaluates_alike_on_both_engines("fed-maddpg", &two, d);
    let bad = vecsim(&["train", SCENARIO, "--policy", "fed-maddpg", "--learn", "turn_rounds=0"]);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("learning.turn_rounds"), "{bad:?}");
    let mut reports = Vec::new();
    for (policy, engine) in [("orm-in-turn", "actors"), ("orm-in-turn", "sequential"), ("orm", "sequential")] {
        let out = d.join(format!("{policy}-{engine}"));
        ok(vecsim(&[
            "run",
            "paper-evening",
            "--policy",
            policy,
            "--slots",
            "30",
            "--engine",
            engine,
            "--out",
            out.to_str().unwrap(),
        ]));
        reports.push(read(&out.join("slots.csv")));
    }
    assert_eq!(reports[0], reports[1], "orm-in-turn differs between engines");
    assert!(reports[1] != reports[2], "orm-in-turn decided as orm");
}

/// The keys beyond the paper refuse a bad value, naming the key (exit 2).
#[test]
fn a_bad_value_of_a_key_beyond_the_paper_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let ck = dir.path().join("x");
    let cases: [(&str, &[&str]); 9] = [
        ("tasks_in_turn=maybe", &["learning.tasks_in_turn", "true or false"]),
        ("rsus_in_turn=2", &["learning.rsus_in_turn", "true or false"]),
        ("fed_mix=0", &["learning.fed_mix", "(0, 1]"]),
        ("fed_mix=1.5", &["learning.fed_mix", "(0, 1]"]),
        ("fed_mix=nan", &["learning.fed_mix"]),
        ("fed_mix=half", &["learning.fed_mix"]),
        ("local_prior=-1", &["learning.local_prior", "0 to 20"]),
        ("local_prior=21", &["learning.local_prior", "0 to 20"]),
        ("local_prior=inf", &["learning.local_prior"]),
    ];
    for (kv, says) in cases {
        bad_input(
            vecsim(&["train", SCENARIO, "--policy", "fed-maddpg", "--learn", kv, "--checkpoint", ck.to_str().unwrap()]),
            says,
        );
    }
}
