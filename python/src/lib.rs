//! `vecsim._native`: the PyO3 binding of `vecsim::env`. Only conversions live here: every
//! rule (what an observation holds, what an action must be, the rewards, the messages) is the
//! library's, tested there. The PettingZoo and Gymnasium layer is pure Python (`vecsim/`).
//!
//! Arrays cross as `bytearray`s of native-endian numbers, which the Python side views with
//! `numpy.frombuffer` (one copy, writable arrays, and no dependency on numpy's C API here).

use pyo3::create_exception;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyByteArray;
use std::path::PathBuf;
use vecsim::env::{self, Env, EnvConfig, Obs};
use vecsim::pipeline::Limits;

create_exception!(
    _native,
    VecsimError,
    PyValueError,
    "Bad input to vecsim (a scenario, an option, an action): the message is what `vecsim` prints."
);

fn to_py(e: env::EnvError) -> PyErr {
    VecsimError::new_err(env::error_message(&e))
}

/// The bytes of a slice of plain numbers (f32, i8, i64), in native byte order.
fn bytes<T: Copy>(v: &[T]) -> &[u8] {
    // SAFETY: only called with f32, i8 and i64 slices: no padding, every byte initialised, and
    // u8 has alignment 1; the length is the slice's size in bytes.
    unsafe { std::slice::from_raw_parts(v.as_ptr().cast::<u8>(), std::mem::size_of_val(v)) }
}

/// The environment of one scenario: `vecsim::env::Env`.
#[pyclass(unsendable, module = "vecsim._native")]
struct NativeEnv {
    env: Env,
    obs: Obs,
}

#[pymethods]
impl NativeEnv {
    #[new]
    #[pyo3(signature = (scenario, seed=None, slots=None, faults=Vec::new(), reward="difference", max_tasks=None, trace=None, max_memory_gib=Limits::DEFAULT_MAX_MEMORY_GIB))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        scenario: &str,
        seed: Option<u64>,
        slots: Option<u32>,
        faults: Vec<String>,
        reward: &str,
        max_tasks: Option<usize>,
        trace: Option<PathBuf>,
        max_memory_gib: f64,
    ) -> PyResult<Self> {
        let mut cfg = EnvConfig::new(scenario);
        cfg.seed = seed;
        cfg.slots = slots;
        cfg.faults = faults;
        cfg.reward = env::parse_reward(reward).map_err(to_py)?;
        cfg.max_tasks = max_tasks;
        cfg.trace = trace;
        cfg.limits = Limits { max_memory_gib };
        Ok(NativeEnv { env: Env::new(&cfg).map_err(to_py)?, obs: Obs::default() })
    }

    /// RSUs (agents).
    #[getter]
    fn rsus(&self) -> usize {
        self.env.rsus()
    }

    /// Task rows per RSU in the observation.
    #[getter]
    fn max_tasks(&self) -> usize {
        self.env.max_tasks()
    }

    /// Slots per episode.
    #[getter]
    fn slots(&self) -> u32 {
        self.env.slots()
    }

    /// Seed of the current (or next) episode.
    #[getter]
    fn seed(&self) -> u64 {
        self.env.seed()
    }

    /// The scenario's name.
    #[getter]
    fn scenario_name(&self) -> String {
        self.env.scenario_name().to_string()
    }

    /// The reward signal's name.
    #[getter]
    fn reward(&self) -> &'static str {
        self.env.reward().name()
    }

    /// The open slot, `None` before `reset` and after the last slot.
    #[getter]
    fn slot(&self) -> Option<u32> {
        self.env.slot()
    }

    #[pyo3(signature = (seed=None))]
    fn reset(&mut self, seed: Option<u64>) -> PyResult<()> {
        self.env.reset(seed).map_err(to_py)
    }

    /// `(tasks f32, task_mask i8, candidates f32, action_mask i8, task_counts)`.
    #[allow(clippy::type_complexity)]
    fn observe<'py>(
        &mut self,
        py: Python<'py>,
    ) -> (Bound<'py, PyByteArray>, Bound<'py, PyByteArray>, Bound<'py, PyByteArray>, Bound<'py, PyByteArray>, Vec<u32>)
    {
        self.env.observe(&mut self.obs);
        let o = &self.obs;
        (
            PyByteArray::new(py, bytes(&o.tasks)),
            PyByteArray::new(py, bytes(&o.task_mask)),
            PyByteArray::new(py, bytes(&o.candidates)),
            PyByteArray::new(py, bytes(&o.action_mask)),
            o.task_counts.clone(),
        )
    }

    /// Steps with `actions`, the native-endian int64 bytes of every RSU's action one after the
    /// other, `lengths[e]` entries for RSU e. Returns `(slot, rewards, all_rewards, counts,
    /// done)`.
    #[allow(clippy::type_complexity)]
    fn step(&mut self, actions: &[u8], lengths: Vec<usize>) -> PyResult<(u32, Vec<f64>, Vec<f64>, Vec<u64>, bool)> {
        let total: usize = lengths.iter().sum();
        if actions.len() != total * 8 {
            return Err(VecsimError::new_err(format!("{} bytes of actions for {total} int64 entries", actions.len())));
        }
        let flat: Vec<i64> =
            actions.chunks_exact(8).map(|c| i64::from_ne_bytes(c.try_into().expect("chunks of 8"))).collect();
        let mut rows: Vec<&[i64]> = Vec::with_capacity(lengths.len());
        let mut at = 0;
        for l in lengths {
            rows.push(&flat[at..at + l]);
            at += l;
        }
        let o = self.env.step(&rows).map_err(to_py)?;
        Ok((o.slot, o.rewards, o.all_rewards, o.counts, o.done))
    }

    /// The int64 bytes of `[rsus, max_tasks]` candidate indices baseline `name` would choose.
    fn baseline_actions<'py>(&mut self, py: Python<'py>, name: &str) -> PyResult<Bound<'py, PyByteArray>> {
        let b = env::parse_baseline(name).map_err(to_py)?;
        let a = self.env.baseline_actions(b).map_err(to_py)?;
        Ok(PyByteArray::new(py, bytes(&a)))
    }

    /// `summary.json` of the run so far, `None` before the first reset.
    fn summary_json(&self) -> Option<String> {
        self.env.summary().map(|s| s.to_json())
    }
}

/// CPU time of the calling thread, seconds (what a benchmark on a busy machine compares:
/// wall time there measures the other processes too).
fn thread_cpu_s() -> f64 {
    let mut t = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: a valid pointer to a timespec; CLOCK_THREAD_CPUTIME_ID exists on Linux and macOS.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut t) };
    t.tv_sec as f64 + t.tv_nsec as f64 * 1e-9
}

/// One whole episode of baseline `policy` on the sequential engine, natively: `(summary.json,
/// wall seconds of its slots, thread CPU seconds of its slots)`.
#[pyfunction]
#[pyo3(signature = (scenario, policy, seed=None, slots=None, faults=Vec::new(), trace=None))]
fn run_native(
    scenario: &str,
    policy: &str,
    seed: Option<u64>,
    slots: Option<u32>,
    faults: Vec<String>,
    trace: Option<PathBuf>,
) -> PyResult<(String, f64, f64)> {
    let mut cfg = EnvConfig::new(scenario);
    cfg.seed = seed;
    cfg.slots = slots;
    cfg.faults = faults;
    cfg.trace = trace;
    let b = env::parse_baseline(policy).map_err(to_py)?;
    let run = env::prepare_native(&cfg, b).map_err(to_py)?;
    let (wall, cpu) = (std::time::Instant::now(), thread_cpu_s());
    let (stats, _) = run.run().map_err(|e| to_py(e.into()))?;
    let cpu = thread_cpu_s() - cpu;
    Ok((stats.summary().to_json(), wall.elapsed().as_secs_f64(), cpu))
}

/// The module `vecsim._native`.
#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<NativeEnv>()?;
    m.add_function(wrap_pyfunction!(run_native, m)?)?;
    m.add("VecsimError", m.py().get_type::<VecsimError>())?;
    m.add("TASK_FEATURES", env::TASK_FEATURES)?;
    m.add("CANDIDATE_FEATURES", env::CANDIDATE_FEATURES)?;
    m.add("COUNT_FIELDS", env::COUNT_FIELDS)?;
    Ok(())
}
