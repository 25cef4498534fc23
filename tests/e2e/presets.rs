//! Presets compiled into the binary: `vecsim scenario list`, preset names from any directory
//! and from a copied (installed) binary, and a path winning over a preset of the same name.

use super::common::{bad_input, ok, root};
use std::path::Path;
use std::process::{Command, Output};
use vecsim::presets::PRESETS;
use vecsim_core::Scenario;

/// `vecsim` (the binary at `exe`) with arguments, run in `cwd`.
fn vecsim_in(exe: &Path, cwd: &Path, args: &[&str]) -> Output {
    Command::new(exe).args(args).current_dir(cwd).output().expect("vecsim runs")
}

#[test]
fn scenario_list_prints_every_preset_with_rsus_slots_and_description() {
    let out = ok(super::common::vecsim(&["scenario", "list"]));
    let mut lines = out.lines();
    let header: Vec<&str> = lines.next().unwrap().split_whitespace().collect();
    assert_eq!(header, ["preset", "RSUs", "slots", "description"]);
    let rows: Vec<&str> = lines.collect();
    assert_eq!(rows.len(), PRESETS.len(), "{out}");
    for (row, preset) in rows.iter().zip(PRESETS) {
        // Counted from the file on disk, independently of the embedded copy.
        let s = Scenario::load(&root().join("scenarios").join(format!("{}.toml", preset.name))).unwrap();
        let cols: Vec<&str> = row.split_whitespace().collect();
        assert_eq!(cols[0], preset.name, "{row}");
        assert_eq!(cols[1], s.rsu_count().to_string(), "{row}");
        assert_eq!(cols[2], s.time.slots.to_string(), "{row}");
        let first_comment = std::fs::read_to_string(root().join(format!("scenarios/{}.toml", preset.name))).unwrap();
        let first_comment = first_comment.lines().next().unwrap().trim_start_matches('#').trim();
        assert!(row.ends_with(first_comment), "{row:?} does not end with {first_comment:?}");
    }
    let names: Vec<&str> = rows.iter().map(|r| r.split_whitespace().next().unwrap()).collect();
    for expected in ["didi-sample", "paper-noon", "faults-dropout", "large-10k"] {
        assert!(names.contains(&expected), "{expected} missing from {names:?}");
    }
}

/// A copy of the binary outside the source tree, run in yet another directory, still has every
/// preset (and didi-sample's trace): what `cargo install --path .` gives.
#[test]
fn an_installed_binary_runs_presets_from_another_directory() {
    let bin_dir = tempfile::tempdir().unwrap();
    let cwd = tempfile::tempdir().unwrap();
    let exe = bin_dir.path().join("vecsim");
    std::fs::copy(env!("CARGO_BIN_EXE_vecsim"), &exe).unwrap();
    assert!(!cwd.path().join("scenarios").exists());

    let json = ok(vecsim_in(&exe, cwd.path(), &["run", "paper-noon", "--slots", "5", "--json"]));
    let v: serde_json::Value = serde_json::from_str(&json).unwrap_or_else(|e| panic!("{e}: {json}"));
    assert_eq!(v["scenario"], "paper-noon", "{json}");
    assert_eq!(v["slots"], 5, "{json}");

    let text = ok(vecsim_in(&exe, cwd.path(), &["run", "didi-sample", "--slots", "5"]));
    assert!(text.contains("didi-sample"), "{text}");
    let text = ok(vecsim_in(&exe, cwd.path(), &["scenario", "validate", "didi-sample"]));
    assert!(text.starts_with("preset didi-sample: ok (12 RSUs, 60 slots of 1 s, 12 vehicles)"), "{text}");
    assert_eq!(ok(vecsim_in(&exe, cwd.path(), &["scenario", "list"])).lines().count(), PRESETS.len() + 1);
    // Nothing was written where it ran.
    assert_eq!(std::fs::read_dir(cwd.path()).unwrap().count(), 0);
}

/// An existing path is read even where a preset has the same name.
#[test]
fn a_path_wins_over_a_preset_of_the_same_name() {
    let cwd = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(root().join("scenarios/paper-noon.toml")).unwrap();
    let shadow = text.replace("slots = 300", "slots = 7");
    assert_ne!(shadow, text);
    std::fs::write(cwd.path().join("paper-noon"), shadow).unwrap();
    let exe = Path::new(env!("CARGO_BIN_EXE_vecsim"));
    let out = ok(vecsim_in(exe, cwd.path(), &["scenario", "validate", "paper-noon"]));
    assert!(out.starts_with("paper-noon: ok (8 RSUs, 7 slots"), "{out}");
    let out = ok(vecsim_in(exe, cwd.path(), &["scenario", "validate", "paper-noon.toml"]));
    assert!(out.starts_with("preset paper-noon: ok (8 RSUs, 300 slots"), "{out}");
}

#[test]
fn an_unknown_scenario_is_bad_input_listing_the_presets() {
    let o = super::common::vecsim(&["run", "paper-midnight"]);
    bad_input(o, &["paper-midnight", "no preset", "paper-noon", "didi-sample"]);
    // A typo gets the closest name.
    bad_input(super::common::vecsim(&["run", "paper-non"]), &["paper-non", "did you mean `paper-noon`?"]);
    bad_input(
        super::common::vecsim(&["run", "paper-noon", "--policy", "fed_maddpg"]),
        &["fed_maddpg", "did you mean `fed-maddpg`?"],
    );
    // A bad value given on top of a preset names the preset and the key.
    bad_input(super::common::vecsim(&["run", "paper-noon", "--slots", "0"]), &["paper-noon", "time.slots"]);
}
