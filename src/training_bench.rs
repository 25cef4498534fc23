//! `vecsim bench training`: the wall time of the same training run on the actor engine with
//! different worker-thread counts, measured in one invocation, and whether the runs are
//! identical (they must be: every RSU's actor owns and trains its learner, and nothing depends
//! on which thread ran it).

use std::time::Instant;
use vecsim_actors::Actors;
use vecsim_core::observer::NoObserver;
use vecsim_core::Scenario;
use vecsim_learn::train::{EpisodeRow, TrainError};
use vecsim_learn::{train, TrainConfig};

/// One timed training run.
#[derive(Clone, Debug)]
pub struct ThreadRun {
    /// The actor engine's worker threads.
    pub threads: usize,
    /// Wall time of the whole run, seconds.
    pub wall_s: f64,
    /// Gradient updates done, all RSUs together.
    pub update_steps: u64,
    /// The learning curve.
    pub curve: Vec<EpisodeRow>,
    /// The trained learners, encoded with the project's codec (compared byte for byte).
    pub learners: Vec<u8>,
}

/// Why the bench could not run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TrainingBenchError {
    /// The training failed.
    #[error("training with {threads} threads")]
    Train {
        /// The thread count of the failed run.
        threads: usize,
        /// What failed.
        #[source]
        source: Box<TrainError>,
    },
    /// The learners could not be encoded for the comparison.
    #[error("encoding the trained learners")]
    Encode(#[source] vecsim_core::codec::CodecError),
}

/// Trains `cfg` on `scenario` once per entry of `threads` (actor engine, no checkpoint, no
/// curve file), in that order, timing each run.
pub fn train_with_threads(
    scenario: &Scenario,
    cfg: &TrainConfig,
    threads: &[usize],
) -> Result<Vec<ThreadRun>, TrainingBenchError> {
    let mut runs = Vec::with_capacity(threads.len());
    for &t in threads {
        let mut c = cfg.clone();
        c.threads = t;
        c.checkpoint = None;
        c.curve_csv = None;
        let mut engine = Actors::new(t);
        let t0 = Instant::now();
        let out = train(scenario, &c, &mut engine, &mut NoObserver)
            .map_err(|source| TrainingBenchError::Train { threads: t, source: Box::new(source) })?;
        let wall_s = t0.elapsed().as_secs_f64();
        let learners = vecsim_core::codec::encode(&out.set).map_err(TrainingBenchError::Encode)?;
        runs.push(ThreadRun { threads: t, wall_s, update_steps: out.set.update_steps(), curve: out.curve, learners });
    }
    Ok(runs)
}

/// How fast one learner trains: `vecsim bench learners`. The first episode is timed apart
/// because it pays one-off costs (building the networks, filling the replay buffers before the
/// first update), so the projection of a long budget uses the later episodes when there are any.
#[derive(Clone, Debug)]
pub struct LearnerSpeed {
    /// The learner (`fed-maddpg`, `maddpg`, `masac`).
    pub policy: String,
    /// Episodes run.
    pub episodes: u32,
    /// Slots per episode.
    pub slots_per_episode: u32,
    /// Wall time of each episode, seconds, in order.
    pub episode_s: Vec<f64>,
    /// Gradient updates done in each episode, all RSUs together.
    pub episode_updates: Vec<u64>,
}

impl LearnerSpeed {
    /// The episodes the rates are measured on: all but the first when there are at least two.
    fn steady(&self) -> std::ops::Range<usize> {
        if self.episode_s.len() >= 2 {
            1..self.episode_s.len()
        } else {
            0..self.episode_s.len()
        }
    }

    /// Wall seconds per episode over the steady episodes.
    pub fn seconds_per_episode(&self) -> f64 {
        let r = self.steady();
        let n = r.len().max(1) as f64;
        self.episode_s[r].iter().sum::<f64>() / n
    }

    /// Simulated slots per wall second (training included) over the steady episodes.
    pub fn slots_per_s(&self) -> f64 {
        self.slots_per_episode as f64 / self.seconds_per_episode().max(1e-9)
    }

    /// Update steps (all RSUs together) per wall second over the steady episodes.
    pub fn update_steps_per_s(&self) -> f64 {
        let r = self.steady();
        let s: f64 = self.episode_s[r.clone()].iter().sum();
        self.episode_updates[r].iter().sum::<u64>() as f64 / s.max(1e-9)
    }

    /// Projected wall time of `episodes` episodes of this run's shape, seconds.
    pub fn projected_s(&self, episodes: u32) -> f64 {
        self.seconds_per_episode() * episodes as f64
    }
}

/// Records the wall time and update steps of each episode.
struct EpisodeClock {
    last: Instant,
    last_steps: u64,
    episode_s: Vec<f64>,
    episode_updates: Vec<u64>,
}

impl vecsim_core::observer::Observer for EpisodeClock {}

impl vecsim_learn::TrainObserver for EpisodeClock {
    fn episode_closed(&mut self, p: &vecsim_learn::train::Progress<'_>) {
        let now = Instant::now();
        self.episode_s.push((now - self.last).as_secs_f64());
        self.episode_updates.push(p.row.update_steps.saturating_sub(self.last_steps));
        self.last = now;
        self.last_steps = p.row.update_steps;
    }
}

/// Trains `cfg` on `scenario` with `engine` (no checkpoint, no curve file, no evaluation),
/// timing each episode.
pub fn learner_speed(
    scenario: &Scenario,
    cfg: &TrainConfig,
    engine: &mut dyn vecsim_core::Engine,
) -> Result<LearnerSpeed, TrainingBenchError> {
    let mut c = cfg.clone();
    c.checkpoint = None;
    c.curve_csv = None;
    c.eval_every = 0;
    let mut clock =
        EpisodeClock { last: Instant::now(), last_steps: 0, episode_s: Vec::new(), episode_updates: Vec::new() };
    train(scenario, &c, engine, &mut clock)
        .map_err(|source| TrainingBenchError::Train { threads: c.threads, source: Box::new(source) })?;
    Ok(LearnerSpeed {
        policy: c.policy.clone(),
        episodes: clock.episode_s.len() as u32,
        slots_per_episode: scenario.time.slots,
        episode_s: clock.episode_s,
        episode_updates: clock.episode_updates,
    })
}
