//! What a training run was asked to do, kept beside its checkpoint (`run-options.txt`) so that
//! `--resume` continues exactly that run or refuses, naming the flag that changed. Only what
//! changes the learners or the training rows of the curve is recorded: the episode total may
//! grow, the greedy evaluations (`--eval-every`, `--eval-seeds`) leave the learners as they were,
//! and threads, engine, device and checkpoint cadence never change a number.

use crate::train::{TrainConfig, TrainError};
use std::path::Path;
use vecsim_core::Scenario;

/// The record's file name in the checkpoint directory.
pub(crate) const RUN_OPTIONS_FILE: &str = "run-options.txt";

/// Largest record file read back: a few hundred bytes per line.
const CAP: u64 = 1 << 20;

/// One recorded setting: its key, the flag(s) that set it, and its value as text.
fn entries(scenario: &Scenario, cfg: &TrainConfig) -> Vec<(&'static str, &'static str, String)> {
    let o = &cfg.options;
    vec![
        ("policy", "--policy", cfg.policy.clone()),
        ("seed", "--seed", cfg.seed.to_string()),
        ("slots", "--slots (or --budget)", scenario.time.slots.to_string()),
        ("fixed_traffic", "--fixed-traffic", (!cfg.vary_seed).to_string()),
        ("actor_hidden", "--actor-hidden (or --budget)", format!("{:?}", o.shape.actor_hidden)),
        (
            "critic_hidden",
            "--critic-hidden (or --budget)",
            format!("{:?}/{:?}", o.shape.critic_embed, o.shape.critic_head),
        ),
        ("reward", "--reward", format!("{:?}", o.reward)),
        ("backend", "--backend", format!("{:?}", o.backend)),
        (
            "learner",
            "--budget",
            format!(
                "updates_per_slot {}, weighted_fedavg {}, gumbel_tau {}, sac_init_alpha {}, sac_target_entropy {}",
                o.updates_per_slot, o.weighted_fedavg, o.gumbel_tau, o.sac_init_alpha, o.sac_target_entropy
            ),
        ),
        ("learning", "--learn (or --update-every, --budget)", format!("{:?}", scenario.learning)),
        ("faults", "--fault", format!("{:?}", scenario.faults)),
    ]
}

/// The record's text: `key<TAB>value` lines (values never hold a newline: they are `Debug`
/// strings and numbers).
pub(crate) fn render(scenario: &Scenario, cfg: &TrainConfig) -> String {
    entries(scenario, cfg).into_iter().map(|(k, _, v)| format!("{k}\t{}\n", v.replace('\n', " "))).collect()
}

/// Writes the record into `dir` (atomically).
pub(crate) fn write(dir: &Path, scenario: &Scenario, cfg: &TrainConfig) -> Result<(), TrainError> {
    let path = dir.join(RUN_OPTIONS_FILE);
    vecsim_core::atomic::write(&path, render(scenario, cfg).as_bytes())
        .map_err(|source| TrainError::Io { path: path.clone(), source })
}

/// Compares the record in `dir` with this run's settings: the first difference is
/// [`TrainError::ResumeChanged`], naming the flag. A checkpoint written before records existed
/// has none: it cannot be checked, and gets one now.
pub(crate) fn check(dir: &Path, scenario: &Scenario, cfg: &TrainConfig) -> Result<(), TrainError> {
    let path = dir.join(RUN_OPTIONS_FILE);
    let text = match vecsim_core::bounded::read_to_string(&path, CAP, "run records", "") {
        Ok(t) => t,
        Err(e) if e.io_kind() == Some(std::io::ErrorKind::NotFound) => return write(dir, scenario, cfg),
        Err(e) => return Err(TrainError::Io { path, source: e.into_io() }),
    };
    let saved: Vec<(&str, &str)> = text.lines().filter_map(|l| l.split_once('\t')).collect();
    for (key, flag, now) in entries(scenario, cfg) {
        let Some(&(_, was)) = saved.iter().find(|(k, _)| *k == key) else {
            return Err(TrainError::ResumeChanged { flag, key, was: "(not recorded)".into(), now: detail(&now, "") });
        };
        let now = now.replace('\n', " ");
        if was != now {
            let (w, n) = first_difference(was, &now);
            return Err(TrainError::ResumeChanged { flag, key, was: w, now: n });
        }
    }
    Ok(())
}

/// The first differing `name: value` piece of two `Debug` strings (whole values when short).
fn first_difference(was: &str, now: &str) -> (String, String) {
    if was.len() <= 80 && now.len() <= 80 {
        return (was.to_string(), now.to_string());
    }
    let a: Vec<&str> = was.split(", ").collect();
    let b: Vec<&str> = now.split(", ").collect();
    for (x, y) in a.iter().zip(&b) {
        if x != y {
            return (detail(x, ""), detail(y, ""));
        }
    }
    (detail(was, "…"), detail(now, "…"))
}

/// At most 120 characters of `s`.
fn detail(s: &str, more: &str) -> String {
    if s.chars().count() <= 120 {
        s.to_string()
    } else {
        format!("{}{more}", s.chars().take(120).collect::<String>())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_changed_setting_is_named_with_both_values() {
        let sc = crate::tests::tiny_scenario(5);
        let cfg = TrainConfig::new("fed-maddpg", 3, 7);
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), &sc, &cfg).unwrap();
        check(dir.path(), &sc, &cfg).unwrap();
        // More episodes, other threads: the same run.
        let mut more = cfg.clone();
        more.episodes = 10;
        more.threads = 1;
        check(dir.path(), &sc, &more).unwrap();
        let mut seed = cfg.clone();
        seed.seed = 8;
        let e = check(dir.path(), &sc, &seed).unwrap_err().to_string();
        assert!(e.contains("--seed") && e.contains("seed = 7") && e.contains("asks for seed = 8"), "{e}");
        let mut learn = sc.clone();
        learn.learning.batch_size = 3;
        let e = check(dir.path(), &learn, &cfg).unwrap_err().to_string();
        assert!(e.contains("--learn") && e.contains("batch_size: 3"), "{e}");
        let mut slots = sc.clone();
        slots.time.slots = 9;
        let e = check(dir.path(), &slots, &cfg).unwrap_err().to_string();
        assert!(e.contains("--slots") && e.contains("slots = 5") && e.contains("slots = 9"), "{e}");
    }
}
