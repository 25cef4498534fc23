//! `vecsim experiment` and `vecsim plot` (issue 12): every experiment with `--budget smoke` writes one
//! CSV row per (setting, policy, seed) with the documented columns and a valid PNG and SVG;
//! interrupted experiments resume; `vecsim plot` draws the files vecsim writes.

use crate::common::*;
use std::collections::HashSet;
use std::path::Path;

const HEADER: &str = "experiment,budget,setting,window,x,policy,learner_seed,traffic_seed,slots,\
completion_rate,cumulative_reward,average_realized_potential,migrations,train_episodes,train_s,wall_s";

fn assert_png(p: &Path) {
    let b = read(p);
    assert!(b.len() > 1000 && b.starts_with(b"\x89PNG\r\n\x1a\n"), "{} is not a PNG", p.display());
    // IHDR first, IEND last: a whole file.
    assert_eq!(&b[12..16], b"IHDR", "{}", p.display());
    assert_eq!(&b[b.len() - 8..b.len() - 4], b"IEND", "{}", p.display());
}

/// Width and height of a PNG, from its IHDR chunk.
fn png_size(p: &Path) -> (u32, u32) {
    let b = read(p);
    let be = |i: usize| u32::from_be_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
    (be(16), be(20))
}

fn assert_svg(p: &Path, needles: &[&str]) -> String {
    let s = String::from_utf8(read(p)).unwrap();
    assert!(s.starts_with("<svg") && s.trim_end().ends_with("</svg>"), "{} is not an SVG", p.display());
    assert_eq!(s.matches("<svg").count(), s.matches("</svg>").count());
    for n in needles {
        assert!(s.contains(n), "{} does not mention {n:?}", p.display());
    }
    s
}

/// (header, rows) of a CSV.
fn csv(p: &Path) -> (String, Vec<Vec<String>>) {
    let text = String::from_utf8(read(p)).unwrap();
    let mut lines = text.lines();
    let header = lines.next().unwrap().to_string();
    (header, lines.map(|l| l.split(',').map(str::to_string).collect()).collect())
}

/// Settings × policies for each experiment at `--budget smoke` (one traffic seed, one learner seed).
const EXPECTED: [(&str, usize, &[&str]); 4] = [
    ("traffic", 3, &["orm", "orl", "br-ne", "random", "fed-maddpg", "maddpg", "masac"]),
    ("aggregation", 18, &["fed-maddpg"]),
    ("capacity", 5, &["orm", "orl", "br-ne", "random", "fed-maddpg", "maddpg", "masac"]),
    ("convergence", 3, &["orm", "orl", "fed-maddpg", "maddpg", "masac"]),
];

#[test]
fn every_experiment_quick_writes_one_row_per_run_and_a_png_and_an_svg() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().to_str().unwrap();
    for (name, settings, policies) in EXPECTED {
        // The files written are chatter: on stderr (issue 24).
        let o = vecsim(&["experiment", name, "--budget", "smoke", "--out", out]);
        let err = stderr(&o);
        ok(o);
        assert!(err.contains(&format!("wrote {out}/{name}.png")), "{err}");
        let (header, rows) = csv(&dir.path().join(format!("{name}.csv")));
        assert_eq!(header, HEADER);
        assert_eq!(rows.len(), settings * policies.len(), "{name}: one row per (setting, policy, seed)");
        let keys: HashSet<(String, String, String, String)> =
            rows.iter().map(|r| (r[2].clone(), r[5].clone(), r[6].clone(), r[7].clone())).collect();
        assert_eq!(keys.len(), rows.len(), "{name}: no run twice");
        let settings_seen: HashSet<&str> = rows.iter().map(|r| r[2].as_str()).collect();
        assert_eq!(settings_seen.len(), settings, "{name}");
        for r in &rows {
            assert_eq!((r[0].as_str(), r[1].as_str()), (name, "smoke"));
            assert!(policies.contains(&r[5].as_str()), "{name}: policy {}", r[5]);
            let learner = ["fed-maddpg", "maddpg", "masac"].contains(&r[5].as_str());
            assert_eq!(r[6].is_empty(), !learner, "{name}: learner seed only for learners: {r:?}");
            assert_eq!(r[7], "101", "held-out traffic seed");
            assert_eq!(r[8], "5", "the smoke budget's slots");
            let rate: f64 = r[9].parse().unwrap();
            assert!((0.0..=1.0).contains(&rate), "{r:?}");
            let (reward, arp): (f64, f64) = (r[10].parse().unwrap(), r[11].parse().unwrap());
            // Eq. 19 telescopes: Σ_e r_e = F each slot, so ARP = cumulative reward / E (8 RSUs).
            assert!((arp - reward / 8.0).abs() < 1e-9, "{r:?}");
            assert_eq!(r[13], if learner { "2" } else { "0" });
            assert!(r[15].parse::<f64>().unwrap() >= 0.0);
        }
        assert_png(&dir.path().join(format!("{name}.png")));
        let needles: &[&str] = match name {
            // α_tg 500 and its scaled value, on two lines under its bar.
            "aggregation" => &["fed-maddpg", "noon: Fed-MADDPG", "\n500\n</text>", "\n(→1)\n</text>"],
            "convergence" => &["masac", "orl (reference)", "noon"],
            _ => &["fed-maddpg", "br-ne (reference)", "Task completion rate", "Average realized potential"],
        };
        assert_svg(&dir.path().join(format!("{name}.svg")), needles);
    }
    // The convergence experiment's curves: one per (window, learner), two episodes each.
    let curves: Vec<_> = std::fs::read_dir(dir.path().join("train"))
        .unwrap()
        .map(|e| e.unwrap().path().join("curve.csv"))
        .filter(|p| p.exists())
        .collect();
    assert!(curves.len() >= 9, "{curves:?}");
    for c in curves {
        assert_eq!(csv(&c).1.len(), 2, "{}", c.display());
    }
}

#[test]
fn an_interrupted_experiment_resumes_and_recomputes_the_same_numbers() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().to_str().unwrap();
    let args = ["experiment", "traffic", "--budget", "smoke", "--out", out];
    ok(vecsim(&args));
    let path = dir.path().join("traffic.csv");
    let full = String::from_utf8(read(&path)).unwrap();
    let lines: Vec<&str> = full.lines().collect();
    assert_eq!(lines.len(), 22);
    // Drop a baseline run and a learner run, and cut the last line in half (an interruption).
    let baseline = lines.iter().position(|l| l.contains(",br-ne,")).unwrap();
    let learner = lines.iter().position(|l| l.contains(",masac,")).unwrap();
    let mut kept: Vec<&str> =
        lines.iter().enumerate().filter(|(i, _)| *i != baseline && *i != learner).map(|(_, l)| *l).collect();
    let last = kept.pop().unwrap();
    let cut = format!("{}\n{}", kept.join("\n"), &last[..last.len() / 2]);
    std::fs::write(&path, cut).unwrap();
    let o = vecsim(&args);
    let err = stderr(&o);
    ok(o);
    assert!(err.contains("21 run(s): 3 computed, 18 reused"), "{err}");
    // The same numbers (all but the wall times), whatever order the rows were written in.
    let strip = |text: &str| -> Vec<String> {
        let mut v: Vec<String> =
            text.lines().map(|l| l.rsplitn(3, ',').nth(2).unwrap().to_string()).collect::<Vec<_>>();
        v.sort();
        v
    };
    assert_eq!(strip(&String::from_utf8(read(&path)).unwrap()), strip(&full));
    // Nothing left to do: everything reused.
    let o = vecsim(&args);
    assert!(stderr(&o).contains("0 computed, 21 reused"), "{}", stderr(&o));
    ok(o);
    // Another budget into the same directory is refused, naming the file and the way out.
    let err =
        bad_input(vecsim(&["experiment", "traffic", "--budget", "small", "--out", out]), &["traffic.csv", "--out"]);
    assert!(err.contains("smoke"), "{err}");
}

#[test]
fn experiment_flags_are_checked() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().to_str().unwrap();
    bad_input(vecsim(&["experiment", "traffic", "--budget", "smoke", "--seeds", "0", "--out", out]), &["--seeds"]);
    bad_input(
        vecsim(&["experiment", "traffic", "--budget", "smoke", "--learner-seeds", "0", "--out", out]),
        &["--learner-seeds"],
    );
    bad_input(
        vecsim(&["experiment", "speed", "--budget", "smoke"]),
        &["speed", "traffic, aggregation, capacity or convergence"],
    );
    bad_input(
        vecsim(&["experiment", "traffic", "--budget", "huge"]),
        &["huge", "smoke, small, quick, medium, standard, paper"],
    );
}

#[test]
fn plot_draws_slots_curves_compare_and_experiment_files() {
    let dir = tempfile::tempdir().unwrap();
    let d = |p: &str| dir.path().join(p).to_str().unwrap().to_string();
    ok(vecsim(&["run", "tests/fixtures/minimal.toml", "--engine", "sequential", "--out", &d("run")]));
    for seed in ["1", "2"] {
        ok(vecsim(&[
            "train",
            "tests/fixtures/train-small.toml",
            "--policy",
            "maddpg",
            "--episodes",
            "3",
            "--seed",
            seed,
            "--engine",
            "sequential",
            "--actor-hidden",
            "8",
            "--critic-hidden",
            "8/8",
            "--checkpoint",
            &d(&format!("ck{seed}")),
        ]));
    }
    ok(vecsim(&[
        "compare",
        "tests/fixtures/minimal.toml",
        "--policies",
        "orl,orm,br-ne",
        "--seeds",
        "3",
        "--engine",
        "sequential",
        "--csv",
        &d("cmp.csv"),
    ]));
    let figs = d("figs");
    // The figures written are chatter: on stderr (issue 24).
    let o = vecsim(&[
        "plot",
        &d("run/slots.csv"),
        &d("ck1/curve.csv"),
        &d("ck2/curve.csv"),
        &d("cmp.csv"),
        "--sigma",
        "1",
        "--out",
        &figs,
    ]);
    let err = stderr(&o);
    ok(o);
    for stem in ["slots", "curves", "cmp"] {
        let png = dir.path().join(format!("figs/{stem}.png"));
        assert!(err.contains(&png.display().to_string()), "{err}");
        assert_png(&png);
    }
    // The title says what ran (from summary.json), rates are percentages, the legend names
    // the training directories, and the compare file's baselines are reference lines.
    assert_svg(
        &dir.path().join("figs/slots.svg"),
        &["Task completion rate", "missed deadline", "uncovered", "policy orl, seed", "(%)"],
    );
    assert_svg(&dir.path().join("figs/curves.svg"), &["ck1", "ck2", "σ = 1", "raw data faint", "orm (reference)"]);
    assert_svg(&dir.path().join("figs/cmp.svg"), &["orl", "orm", "br-ne", "3 traffic seed(s)"]);
    // Paper style: the same figure at 300 dpi, three times the pixels of its 100-dpi layout.
    ok(vecsim(&["plot", &d("cmp.csv"), "--style", "paper", "--dpi", "100", "--out", &d("paper100")]));
    ok(vecsim(&["plot", &d("cmp.csv"), "--style", "paper", "--out", &d("paper300")]));
    let (w1, h1) = png_size(&dir.path().join("paper100/cmp.png"));
    let (w3, h3) = png_size(&dir.path().join("paper300/cmp.png"));
    assert!(w3.abs_diff(3 * w1) <= 3 && h3.abs_diff(3 * h1) <= 3, "{w1}x{h1} at 100 dpi, {w3}x{h3} at 300 dpi");

    // An experiment's CSV redraws its figure.
    let exp = d("exp");
    ok(vecsim(&["experiment", "capacity", "--budget", "smoke", "--out", &exp]));
    ok(vecsim(&["plot", &d("exp/capacity.csv"), "--out", &figs]));
    assert_png(&dir.path().join("figs/capacity.png"));
    assert_svg(&dir.path().join("figs/capacity.svg"), &["Fig. 6", "3-10 GHz"]);
}

#[test]
fn plot_refuses_files_it_does_not_know() {
    let dir = tempfile::tempdir().unwrap();
    let other = dir.path().join("other.csv");
    std::fs::write(&other, "a,b\n1,2\n").unwrap();
    bad_input(vecsim(&["plot", other.to_str().unwrap()]), &["other.csv", "not a file vecsim plots"]);
    let ragged = dir.path().join("ragged.csv");
    std::fs::write(
        &ragged,
        "policy,seed,completion_rate,cumulative_reward,average_realized_potential,migrations\norl,1\n",
    )
    .unwrap();
    bad_input(vecsim(&["plot", ragged.to_str().unwrap()]), &["ragged.csv:2"]);
    bad_input(vecsim(&["plot", "no/such/file.csv"]), &["no/such/file.csv"]);
    bad_input(vecsim(&["plot", "tests/fixtures/minimal.toml", "--sigma=-1"]), &["--sigma"]);
    bad_input(vecsim(&["plot", "tests/fixtures/minimal.toml", "--dpi", "1e9"]), &["--dpi", "pixels"]);
    bad_input(vecsim(&["plot", "tests/fixtures/minimal.toml", "--size", "3x"]), &["--size"]);
}
