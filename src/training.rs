//! One training entry: a scenario and a [`TrainSpec`] (budget, `[learning]` keys, slots,
//! networks, reward, backend) → the resolved scenario and learner options ([`Resolved`]) → a
//! training directory with its `run.toml` and the trainer's checkpoint and curve.
//!
//! `vecsim train`, `vecsim experiment` and `vecsim sweep` all set a training up here, so that
//! "what does `--budget quick` mean" and "what wins over what" have one answer: the budget
//! first ([`vecsim_learn::Budget`], the one list of budgets), then each `[learning]` key given
//! (`--learn KEY=VALUE`, in order), then `--update-every`, then `--slots`, then the network
//! widths given explicitly.
//!
//! Every training directory gets a `run.toml` ([`RUN_FILE`]): the resolved hyper-parameters
//! (every `[learning]` key, the networks, episodes, slots, seed, reward, backend) and, where the
//! scenario is a file or a preset, the one `vecsim train` command line that trains the same
//! run from scratch. It is written before the first episode, so an interrupted training has
//! one too.

use std::fmt::Write as _;
use std::path::PathBuf;
use vecsim_core::engine::Engine;
use vecsim_core::overrides::{OverrideError, Overrides};
use vecsim_core::policy::PolicyName;
use vecsim_core::{Scenario, ScenarioError};
use vecsim_learn::train::{self as trainer, TrainConfig, TrainError, TrainObserver, TrainOutcome};
use vecsim_learn::RewardSignal;
use vecsim_learn::{Backend, Budget, LearnerOptions, PretrainSpec};

/// The resolved hyper-parameters of a training, beside its checkpoint.
pub const RUN_FILE: &str = "run.toml";

/// Why a training could not be set up.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TrainingError {
    /// A `--learn` argument that is not `KEY=VALUE`.
    #[error("--learn `{0}`: expected KEY=VALUE")]
    LearnSyntax(String),
    /// A `[learning]` key or value that does not apply (names the key).
    #[error("--{flag} {arg}")]
    Learn {
        /// `learn` or `update-every`.
        flag: &'static str,
        /// The argument as given.
        arg: String,
        /// Why (boxed, to keep the error small).
        #[source]
        source: Box<ScenarioError>,
    },
    /// `--slots` does not apply to the scenario.
    #[error("{origin}")]
    Slots {
        /// The scenario as named by the user.
        origin: String,
        /// Why.
        #[source]
        source: Box<OverrideError>,
    },
    /// No episode to train and nothing to clone.
    #[error("--episodes must be at least 1 (0 only with --pretrain: the cloned actors alone)")]
    NoEpisodes,
    /// The training directory or its `run.toml` could not be written.
    #[error("{}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The directory holds a checkpoint, and neither `--resume` nor `--force` was given.
    #[error(
        "{} already holds a checkpoint: --resume to continue it, --force to overwrite it, or another --checkpoint DIR",
        .0.display()
    )]
    Exists(PathBuf),
    /// `--resume` without a checkpoint to continue.
    #[error("--resume: no checkpoint in {} (give the run's --checkpoint DIR)", .0.display())]
    NothingToResume(PathBuf),
    /// The directory cannot be created (a file in the way, no permission: bad input).
    #[error("cannot create checkpoint directory {}", path.display())]
    CreateDir {
        /// The directory.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The trainer failed.
    #[error(transparent)]
    Train(#[from] TrainError),
}

/// `vecsim train`'s directory when `--checkpoint` is not given:
/// `runs/POLICY-SCENARIO-seedSEED` (the scenario's name with anything but `[A-Za-z0-9_-]` as `_`).
pub fn default_dir(policy: PolicyName, scenario: &str, seed: u64) -> PathBuf {
    let name: String =
        scenario.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '_' }).collect();
    PathBuf::from("runs").join(format!("{policy}-{name}-seed{seed}"))
}

/// The overwrite rule of a training directory: a checkpoint there is refused unless `resume`
/// (continue it) or `force` (start over); `resume` needs one. Creates the directory.
pub fn prepare_dir(dir: &std::path::Path, resume: bool, force: bool) -> Result<(), TrainingError> {
    let exists = dir.join(trainer::CHECKPOINT_FILE).exists();
    if !resume && exists && !force {
        return Err(TrainingError::Exists(dir.to_path_buf()));
    }
    if resume && !exists {
        return Err(TrainingError::NothingToResume(dir.to_path_buf()));
    }
    std::fs::create_dir_all(dir).map_err(|source| TrainingError::CreateDir { path: dir.to_path_buf(), source })
}

/// What a user asks of a training; `None` fields take the budget's value, else the scenario's.
#[derive(Clone, Debug)]
pub struct TrainSpec {
    /// The learner (`fed-maddpg`, `maddpg`, `masac`).
    pub policy: PolicyName,
    /// The budget, applied first (`None`: the scenario's `[learning]` and the reference
    /// networks).
    pub budget: Option<Budget>,
    /// `[learning]` keys, `KEY=VALUE`, applied in order after the budget.
    pub learn: Vec<String>,
    /// An update round every N slots, after `learn`.
    pub update_every: Option<u32>,
    /// Slots per training episode (default: the budget's, else the scenario's).
    pub slots: Option<u32>,
    /// Episodes (default: `learning.max_iterations` once the above are applied).
    pub episodes: Option<u32>,
    /// Actor hidden widths.
    pub actor_hidden: Option<Vec<usize>>,
    /// Critic embedding and head widths.
    pub critic_hidden: Option<(Vec<usize>, Vec<usize>)>,
    /// What each RSU learns from.
    pub reward: RewardSignal,
    /// The network backend.
    pub backend: Backend,
    /// Behaviour cloning before the first episode (beyond the paper).
    pub pretrain: Option<PretrainSpec>,
    /// End with the actors of the best validation evaluation ([`TrainConfig::keep_best`]);
    /// `None`: yes (since session 11). With `pretrain`, fine-tuning then never ends below the
    /// clone it started from, and from scratch never below the untrained actor, which the
    /// local prior makes `orl` ([`vecsim_core::learning::LearningConfig::local_prior`]), as
    /// validation measures it. The trainer keeps nothing without evaluations (`eval_every` 0).
    pub keep_best: Option<bool>,
    /// A `--resume` of a run that cloned the oracle: the `pretrain` its `run.toml` records
    /// ([`run_cloned`]). An unset `[learning] turn_rounds` then resolves as with `pretrain`, so
    /// the run goes on as it started, and the new `run.toml` still names the cloning.
    pub resumes_cloned: Option<PretrainSpec>,
}

impl TrainSpec {
    /// `policy` at `budget` with every other choice the default (`vecsim train`'s defaults:
    /// difference reward, gemm backend).
    pub fn new(policy: PolicyName, budget: Option<Budget>) -> TrainSpec {
        TrainSpec {
            policy,
            budget,
            learn: Vec::new(),
            update_every: None,
            slots: None,
            episodes: None,
            actor_hidden: None,
            critic_hidden: None,
            reward: RewardSignal::Difference,
            backend: Backend::Gemm,
            pretrain: None,
            keep_best: None,
            resumes_cloned: None,
        }
    }

    /// Applies the spec to `scenario` (named `origin` by the user, for messages).
    pub fn resolve(&self, mut scenario: Scenario, origin: &str) -> Result<Resolved, TrainingError> {
        scenario.policy = self.policy;
        let mut options = LearnerOptions::default();
        let budget_slots =
            self.budget.and_then(|b| b.apply(&mut scenario.learning, &mut options, scenario.time.slots).slots);
        for kv in &self.learn {
            let (k, v) = kv.split_once('=').ok_or_else(|| TrainingError::LearnSyntax(kv.clone()))?;
            scenario.learning.set(k.trim(), v).map_err(|e| TrainingError::Learn {
                flag: "learn",
                arg: kv.clone(),
                source: Box::new(e),
            })?;
        }
        // Unset, the rounds of turns and the local prior follow the recipe: two rounds and no
        // prior when cloning the oracle (the clone starts from the oracle's decisions).
        let cloned = self.pretrain.is_some() || self.resumes_cloned.is_some();
        if scenario.learning.turn_rounds.is_none() {
            scenario.learning.turn_rounds = Some(if cloned { vecsim_learn::PRETRAIN_TURN_ROUNDS } else { 1 });
        }
        if scenario.learning.local_prior.is_none() {
            scenario.learning.local_prior =
                Some(if cloned { 0.0 } else { vecsim_core::learning::LearningConfig::DEFAULT_LOCAL_PRIOR });
        }
        if let Some(n) = self.update_every {
            scenario.learning.set("update_every", &n.to_string()).map_err(|e| TrainingError::Learn {
                flag: "update-every",
                arg: n.to_string(),
                source: Box::new(e),
            })?;
        }
        if let Some(slots) = self.slots.or(budget_slots) {
            Overrides { slots: Some(slots), ..Overrides::default() }
                .apply(&mut scenario)
                .map_err(|e| TrainingError::Slots { origin: origin.to_string(), source: Box::new(e) })?;
        }
        let episodes = self.episodes.unwrap_or(scenario.learning.max_iterations);
        if episodes == 0 && self.pretrain.is_none() {
            return Err(TrainingError::NoEpisodes);
        }
        if let Some(h) = &self.actor_hidden {
            options.shape.actor_hidden = h.clone();
        }
        if let Some((embed, head)) = &self.critic_hidden {
            options.shape.critic_embed = embed.clone();
            options.shape.critic_head = head.clone();
        }
        options.reward = self.reward;
        options.backend = self.backend;
        Ok(Resolved { scenario, options, episodes, spec: self.clone(), origin: origin.to_string() })
    }
}

/// A training set up: the scenario with every hyper-parameter in its `[learning]` section, the
/// learner's options and the episode count.
#[derive(Clone, Debug)]
pub struct Resolved {
    /// The training scenario (policy, slots and `[learning]` resolved).
    pub scenario: Scenario,
    /// Networks, reward, backend.
    pub options: LearnerOptions,
    /// Episodes to train (in all, counting a resumed checkpoint's).
    pub episodes: u32,
    /// What was asked.
    pub spec: TrainSpec,
    /// The scenario as the user named it (a file or a preset), or a description.
    pub origin: String,
}

impl Resolved {
    /// The trainer's configuration for learner seed `seed`: the episodes, options and
    /// pretraining resolved here, the trainer's defaults otherwise (callers set the directory,
    /// the checkpoint cadence, threads and evaluation).
    pub fn train_config(&self, seed: u64) -> TrainConfig {
        let mut tc = TrainConfig::new(self.spec.policy.as_str(), self.episodes, seed);
        tc.options = self.options.clone();
        tc.pretrain = self.spec.pretrain;
        tc.keep_best = self.spec.keep_best.unwrap_or(true);
        tc
    }

    /// `run.toml`: every resolved hyper-parameter, readable, and (when the scenario is a file
    /// or a preset, `reproducible`) the `vecsim train` command line that trains the same run
    /// from scratch; `cfg` supplies the seed and the trainer's settings.
    pub fn run_toml(&self, cfg: &TrainConfig, reproducible: bool) -> String {
        let s = &self.scenario;
        let l = &s.learning;
        let o = &self.options;
        let list = |v: &[usize]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>().join(",");
        let q = |v: &str| toml::Value::String(v.to_string()).to_string();
        let mut t = String::new();
        let _ = writeln!(
            t,
            "# The resolved hyper-parameters of this training (written by vecsim {}).",
            env!("CARGO_PKG_VERSION")
        );
        let _ = writeln!(t, "# Every [learning] key is here, whatever set it (the scenario, --budget, --learn).");
        let mut cmd = None;
        if reproducible {
            let mut c = format!(
                "vecsim train {} --policy {} --seed {} --episodes {} --slots {}",
                shell_word(&self.origin),
                self.spec.policy,
                cfg.seed,
                self.episodes,
                s.time.slots
            );
            for (k, v) in learning_pairs(l) {
                let _ = write!(c, " --learn {k}={v}");
            }
            let _ = write!(
                c,
                " --actor-hidden {} --critic-hidden {}/{} --reward {} --backend {} --eval-every {} --eval-seeds {}",
                list(&o.shape.actor_hidden),
                list(&o.shape.critic_embed),
                list(&o.shape.critic_head),
                o.reward.name(),
                o.backend.name(),
                cfg.eval_every,
                cfg.eval_seeds
            );
            if !cfg.vary_seed {
                c.push_str(" --fixed-traffic");
            }
            if let Some(p) = cfg.pretrain.as_ref().or(self.spec.resumes_cloned.as_ref()) {
                let _ = write!(c, " --pretrain {}:{}", p.teacher.name(), p.episodes);
            }
            c.push_str(if cfg.keep_best { " --keep-best" } else { " --keep-last" });
            if !s.faults.is_empty() {
                c.push_str(" (and the run's --fault flags)");
            }
            cmd = Some(c);
        }
        if let Some(c) = &cmd {
            let _ = writeln!(t, "# To train it again from scratch (into a new --checkpoint DIR):");
            let _ = writeln!(t, "reproduce = {}", q(c));
        }
        let _ = writeln!(t, "scenario = {}", q(&self.origin));
        let _ = writeln!(t, "scenario_name = {}", q(&s.name));
        let _ = writeln!(t, "scenario_hash = \"{:016x}\"", s.hash());
        let _ = writeln!(t, "policy = {}", q(self.spec.policy.as_str()));
        let _ = writeln!(t, "budget = {}", q(self.spec.budget.map_or("none", Budget::name)));
        let _ = writeln!(t, "seed = {}", cfg.seed);
        let _ = writeln!(t, "episodes = {}", self.episodes);
        let _ = writeln!(t, "slots = {}", s.time.slots);
        let _ = writeln!(t, "reward = {}", q(o.reward.name()));
        let _ = writeln!(t, "backend = {}", q(o.backend.name()));
        let _ = writeln!(t, "fresh_traffic_per_episode = {}", cfg.vary_seed);
        let _ = writeln!(t, "eval_every = {}", cfg.eval_every);
        let _ = writeln!(t, "eval_seeds = {}", cfg.eval_seeds);
        let _ = writeln!(t, "faults = {}", !s.faults.is_empty());
        if let Some(p) = cfg.pretrain.as_ref().or(self.spec.resumes_cloned.as_ref()) {
            let _ = writeln!(t, "pretrain = \"{}:{}\"", p.teacher.name(), p.episodes);
        }
        let _ = writeln!(t, "keep_best = {}", cfg.keep_best);
        let _ = writeln!(t, "\n[networks]");
        let _ = writeln!(
            t,
            "actor_hidden = [{}]",
            o.shape.actor_hidden.iter().map(|x| x.to_string()).collect::<Vec<_>>().join(", ")
        );
        let _ = writeln!(
            t,
            "critic_embed = [{}]",
            o.shape.critic_embed.iter().map(|x| x.to_string()).collect::<Vec<_>>().join(", ")
        );
        let _ = writeln!(
            t,
            "critic_head = [{}]",
            o.shape.critic_head.iter().map(|x| x.to_string()).collect::<Vec<_>>().join(", ")
        );
        let _ = writeln!(t, "\n[learning]");
        for (k, v) in learning_pairs(l) {
            let _ = writeln!(t, "{k} = {v}");
        }
        t
    }

    /// Trains into `cfg.checkpoint` (created if missing), writing `run.toml` there first.
    pub fn train(
        &self,
        cfg: &TrainConfig,
        reproducible: bool,
        engine: &mut dyn Engine,
        observer: &mut dyn TrainObserver,
    ) -> Result<TrainOutcome, TrainingError> {
        if let Some(dir) = &cfg.checkpoint {
            std::fs::create_dir_all(dir).map_err(|source| TrainingError::Io { path: dir.clone(), source })?;
            let path = dir.join(RUN_FILE);
            vecsim_core::atomic::write(&path, self.run_toml(cfg, reproducible).as_bytes())
                .map_err(|source| TrainingError::Io { path, source })?;
        }
        Ok(trainer::train(&self.scenario, cfg, engine, observer)?)
    }
}

/// Every `[learning]` key with its value as `--learn KEY=VALUE` reads it back exactly (Rust's
/// shortest round-trip float formatting), in [`vecsim_core::learning::LEARNING_KEYS`] order.
fn learning_pairs(l: &vecsim_core::learning::LearningConfig) -> Vec<(&'static str, String)> {
    let table = toml::Table::try_from(l).expect("the learning section serialises");
    vecsim_core::learning::LEARNING_KEYS
        .iter()
        .map(|&k| {
            let v = match table.get(k) {
                Some(toml::Value::Float(f)) => format!("{f:?}"),
                Some(v) => v.to_string(),
                None => String::new(),
            };
            (k, v)
        })
        .collect()
}

/// The cloning the run recorded in `dir` did (its `run.toml`'s `pretrain`), if any: what
/// `--resume` needs to resolve the defaults `--pretrain` sets ([`TrainSpec::resumes_cloned`]).
/// A missing or unreadable file gives none: the resume's own checks then report what differs.
pub fn run_cloned(dir: &std::path::Path) -> Option<PretrainSpec> {
    let text = vecsim_core::bounded::read_to_string(&dir.join(RUN_FILE), 1 << 20, "run.toml", "").ok()?;
    let table = text.parse::<toml::Table>().ok()?;
    PretrainSpec::parse(table.get("pretrain")?.as_str()?).ok()
}

/// `text` as one shell word (quoted when it holds anything but `[A-Za-z0-9_./:-]`).
fn shell_word(text: &str) -> String {
    if !text.is_empty() && text.chars().all(|c| c.is_ascii_alphanumeric() || "_./:-".contains(c)) {
        text.to_string()
    } else {
        format!("'{}'", text.replace('\'', "'\\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scenario() -> Scenario {
        crate::pipeline::load_scenario("paper-evening", &Overrides::default()).unwrap()
    }

    #[test]
    fn the_budget_first_then_learn_keys_then_slots_then_widths() {
        let mut spec = TrainSpec::new(PolicyName::FedMaddpg, Some(Budget::Quick));
        spec.learn = vec!["batch_size=32".into(), "tau=0.5".into()];
        spec.slots = Some(20);
        spec.actor_hidden = Some(vec![16]);
        let r = spec.resolve(scenario(), "paper-evening").unwrap();
        // Quick: 40 episodes, lr 1e-3, t_tg 1, α_tg 3; --learn wins over its batch 64 and τ.
        assert_eq!((r.episodes, r.scenario.time.slots), (40, 20));
        assert_eq!((r.scenario.learning.batch_size, r.scenario.learning.tau), (32, 0.5));
        assert_eq!((r.scenario.learning.actor_lr, r.scenario.learning.aggregation_period), (1e-3, 3));
        assert_eq!(r.options.shape.actor_hidden, [16]);
        assert_eq!(r.options.shape.critic_embed, [128, 64]);
        assert_eq!(r.scenario.policy, PolicyName::FedMaddpg);
    }

    #[test]
    fn a_checkpoint_is_refused_unless_resume_or_force() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("d");
        assert!(matches!(prepare_dir(&dir, true, false), Err(TrainingError::NothingToResume(_))));
        prepare_dir(&dir, false, false).unwrap();
        std::fs::write(dir.join(trainer::CHECKPOINT_FILE), b"x").unwrap();
        let e = prepare_dir(&dir, false, false).unwrap_err().to_string();
        assert!(e.contains("already holds a checkpoint") && e.contains("--force"), "{e}");
        prepare_dir(&dir, true, false).unwrap();
        prepare_dir(&dir, false, true).unwrap();
        assert_eq!(default_dir(PolicyName::Masac, "my scen/1", 4), PathBuf::from("runs/masac-my_scen_1-seed4"));
    }

    #[test]
    fn bad_keys_and_no_episodes_are_named() {
        let mut spec = TrainSpec::new(PolicyName::Maddpg, None);
        spec.learn = vec!["gamma".into()];
        assert_eq!(spec.resolve(scenario(), "x").unwrap_err().to_string(), "--learn `gamma`: expected KEY=VALUE");
        spec.learn = vec!["gamma=7".into()];
        let e = spec.resolve(scenario(), "x").unwrap_err();
        assert!(crate::message::error_message(&e).contains("gamma"), "{e}");
        spec.learn.clear();
        spec.episodes = Some(0);
        assert!(matches!(spec.resolve(scenario(), "x"), Err(TrainingError::NoEpisodes)));
    }

    #[test]
    fn run_toml_lists_every_key_and_a_command_that_resolves_to_the_same() {
        let spec = TrainSpec::new(PolicyName::Masac, Some(Budget::Smoke));
        let r = spec.resolve(scenario(), "paper-evening").unwrap();
        let cfg = r.train_config(7);
        let text = r.run_toml(&cfg, true);
        let doc: toml::Table = text.parse().unwrap();
        let learning: vecsim_core::learning::LearningConfig = doc["learning"].clone().try_into().unwrap();
        assert_eq!(learning, r.scenario.learning);
        assert_eq!(doc["seed"].as_integer(), Some(7));
        assert_eq!(doc["episodes"].as_integer(), Some(2));
        assert_eq!(doc["budget"].as_str(), Some("smoke"));
        // The command line, parsed back flag by flag, resolves to the same hyper-parameters
        // without the budget.
        let cmd = doc["reproduce"].as_str().unwrap();
        let words: Vec<&str> = cmd.split(' ').collect();
        let mut again = TrainSpec::new(PolicyName::Masac, None);
        let mut i = 0;
        while i < words.len() {
            match words[i] {
                "--learn" => again.learn.push(words[i + 1].to_string()),
                "--slots" => again.slots = Some(words[i + 1].parse().unwrap()),
                "--episodes" => again.episodes = Some(words[i + 1].parse().unwrap()),
                "--actor-hidden" => again.actor_hidden = Some(vec![words[i + 1].parse().unwrap()]),
                "--critic-hidden" => {
                    let (e, h) = words[i + 1].split_once('/').unwrap();
                    again.critic_hidden = Some((vec![e.parse().unwrap()], vec![h.parse().unwrap()]));
                }
                _ => {}
            }
            i += 1;
        }
        let b = again.resolve(scenario(), "paper-evening").unwrap();
        assert_eq!(b.scenario.learning, r.scenario.learning);
        assert_eq!((b.episodes, b.scenario.time.slots), (2, 5));
        assert_eq!(b.options, r.options);
        assert!(cmd.starts_with("vecsim train paper-evening --policy masac --seed 7 --episodes 2 --slots 5 "), "{cmd}");
    }
}
