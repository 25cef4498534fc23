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
