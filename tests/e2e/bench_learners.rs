//! `vecsim bench learners`: slots/s and update-steps/s of each learner with a budget's networks
//! and schedule, and the projected wall time of the budget (issue 19, item 4). Only the output's
//! structure and its arithmetic are checked, never a speed.

use crate::common::*;

const SCENARIO: &str = "tests/fixtures/train-small.toml";

#[test]
fn bench_learners_prints_each_learners_rates_and_projection() {
    let out = ok(vecsim(&[
        "bench",
        "learners",
        SCENARIO,
        "--budget",
        "quick",
        "--episodes",
        "2",
        "--slots",
        "60",
        "--engine",
        "sequential",
        "--threads",
        "1",
    ]));
    let mut lines = out.lines();
    let head = lines.next().unwrap();
    assert!(head.starts_with("bench learners: train-small (3 RSUs), budget quick (40 episodes of 100 slots"), "{out}");
    assert!(head.contains("2 timed episode(s) of 60 slots"), "{out}");
    let cols: Vec<&str> = lines.next().unwrap().split_whitespace().collect();
    assert_eq!(cols[..4], ["learner", "updates", "slots/s", "update-steps/s"], "{out}");
    let rows: Vec<Vec<&str>> = lines.take(3).map(|l| l.split_whitespace().collect()).collect();
    let names: Vec<&str> = rows.iter().map(|r| r[0]).collect();
    assert_eq!(names, ["fed-maddpg", "maddpg", "masac"], "{out}");
    for r in &rows {
        assert_eq!(r.len(), 7, "{out}");
        let v: Vec<f64> = r[1..].iter().map(|x| x.parse().unwrap()).collect();
        let (updates, slots_s, steps_s, s_ep, first_s, projected) = (v[0], v[1], v[2], v[3], v[4], v[5]);
        // Episode 1 (60 slots) does not fill a minibatch of 64 decisions of any RSU; episode 2
        // starts full and runs an update round every 5 slots: 12 rounds x 3 RSUs.
        assert_eq!(updates, 36.0, "{out}");
        assert!(slots_s > 0.0 && s_ep > 0.0 && first_s > 0.0, "{out}");
        // The rates are episode 2's 60 slots and 36 updates over its wall time, up to print
        // rounding (rates printed to 0.05, s/episode to 0.00005).
        let tol = |rate: f64| s_ep * 0.05 + rate * 0.5e-4 + 1e-9;
        assert!((slots_s * s_ep - 60.0).abs() <= tol(slots_s), "{out}");
        assert!((steps_s * s_ep - 36.0).abs() <= tol(steps_s), "{out}");
        // The quick budget is 40 episodes of 100 slots: the projection is s/slot x 4,000.
        let want = s_ep / 60.0 * 4000.0;
        assert!((projected - want).abs() <= 0.5 + 4000.0 / 60.0 * 0.5e-4 + 1e-9, "{projected} vs {want}: {out}");
    }
    bad_input(vecsim(&["bench", "learners", SCENARIO, "--policies", "fed-maddpg,orl"]), &["orl"]);
    bad_input(vecsim(&["bench", "learners", SCENARIO, "--budget", "huge"]), &["--budget", "huge"]);
}
