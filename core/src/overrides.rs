//! Command-line overrides of a scenario: seed, slots, policy and `--fault KEY=VALUE`.
//!
//! Every front end (run, train, compare, bench, experiments) applies the same [`Overrides`]
//! and validates the result again, so a bad value is reported with its key whichever command
//! was used. Each `--fault` sets one key of the scenario's `[faults]` section (scalars are
//! replaced, the `rsu_outage` and `crash_rsu` lists are appended to), in the order given;
//! `none` clears the scenario's plan first. See `docs/faults.md`.

use crate::fault::{Crash, FaultPlan, Latency, Outage};
use crate::policy::PolicyName;
use crate::{Scenario, ScenarioError};

/// Changes to a scenario asked for on the command line.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Overrides {
    /// Master seed.
    pub seed: Option<u64>,
    /// Number of slots.
    pub slots: Option<u32>,
    /// Policy.
    pub policy: Option<PolicyName>,
    /// `KEY=VALUE` fault-plan changes, in order.
    pub faults: Vec<String>,
}

/// An override that cannot be applied.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OverrideError {
    /// A `--fault KEY=VALUE` that does not parse; the message names the key.
    #[error("--fault {arg}: {message}")]
    Fault {
        /// The argument as given.
        arg: String,
        /// What is wrong with it.
        message: String,
    },
    /// The scenario with the overrides applied is not valid.
    #[error(transparent)]
    Invalid(#[from] ScenarioError),
}

impl Overrides {
    /// Applies the overrides to `s` and validates the result.
    pub fn apply(&self, s: &mut Scenario) -> Result<(), OverrideError> {
        if let Some(seed) = self.seed {
            s.seed = seed;
        }
        if let Some(slots) = self.slots {
            s.time.slots = slots;
        }
        if let Some(p) = self.policy {
            s.policy = p;
        }
        for f in &self.faults {
            apply_fault(&mut s.faults, f).map_err(|message| OverrideError::Fault { arg: f.clone(), message })?;
        }
        s.validate()?;
        Ok(())
    }
}

/// Every key `--fault` accepts (for the error message of an unknown one).
const KEYS: &str = "vehicle_dropout, round_dropout, loss.upload, loss.wired, loss.pool, \
latency.upload, latency.wired, latency.pool, rsu_outage, crash_rsu, none";

/// Applies one `KEY=VALUE` to `plan`; the error names the key.
pub fn apply_fault(plan: &mut FaultPlan, arg: &str) -> Result<(), String> {
    let arg = arg.trim();
    if matches!(arg, "none" | "clear") {
        *plan = FaultPlan::default();
        return Ok(());
    }
    let Some((key, value)) = arg.split_once('=') else {
        return Err(format!("expected KEY=VALUE (keys: {KEYS})"));
    };
    let key = key.trim();
    let key = key.strip_prefix("faults.").unwrap_or(key);
    let value = value.trim();
    match key {
        "vehicle_dropout" => plan.vehicle_dropout = probability(key, value)?,
        "round_dropout" => plan.round_dropout = probability(key, value)?,
        "loss.upload" => plan.loss.upload = probability(key, value)?,
        "loss.wired" => plan.loss.wired = probability(key, value)?,
        "loss.pool" => plan.loss.pool = probability(key, value)?,
        "latency.upload" => plan.latency.upload = latency(key, value)?,
        "latency.wired" => plan.latency.wired = latency(key, value)?,
        "latency.pool" => plan.latency.pool = latency(key, value)?,
        "rsu_outage" => {
            let [rsu, from_slot, to_slot] = numbers::<3>(key, value, "RSU:FROM:TO")?;
            plan.rsu_outage.push(Outage { rsu, from_slot, to_slot });
        }
        "crash_rsu" => {
            let [rsu, slot] = numbers::<2>(key, value, "RSU:SLOT")?;
            plan.crash_rsu.push(Crash { rsu, slot });
        }
        _ => return Err(format!("unknown fault key `{key}` (expected one of: {KEYS})")),
    }
    Ok(())
}

/// A probability in [0, 1].
fn probability(key: &str, value: &str) -> Result<f64, String> {
    match value.parse::<f64>() {
        Ok(p) if (0.0..=1.0).contains(&p) => Ok(p),
        Ok(p) => Err(format!("`{key}` must be a probability in [0, 1], got {p}")),
        Err(_) => Err(format!("`{key}` must be a probability in [0, 1], got `{value}`")),
    }
}

/// `fixed:S`, `uniform:MIN:MAX`, `exponential:MEAN` (seconds), a bare number (fixed), or
/// `none`.
fn latency(key: &str, value: &str) -> Result<Option<Latency>, String> {
    let form = "fixed:S, uniform:MIN:MAX, exponential:MEAN (seconds) or none";
    let secs = |v: &str| -> Result<f64, String> {
        match v.trim().parse::<f64>() {
            Ok(s) if s.is_finite() && s >= 0.0 => Ok(s),
            _ => Err(format!("`{key}`: `{v}` is not a latency in seconds >= 0 (expected {form})")),
        }
    };
    let parts: Vec<&str> = value.split(':').collect();
    let l = match parts.as_slice() {
        ["none"] => return Ok(None),
        [s] => Latency::Fixed { s: secs(s)? },
        ["fixed", s] => Latency::Fixed { s: secs(s)? },
        ["uniform", a, b] => {
            let (min_s, max_s) = (secs(a)?, secs(b)?);
            if min_s > max_s {
                return Err(format!("`{key}`: uniform minimum {min_s} is greater than maximum {max_s}"));
            }
            Latency::Uniform { min_s, max_s }
        }
        ["exponential" | "exp", m] => Latency::Exponential { mean_s: secs(m)? },
        _ => return Err(format!("`{key}`: cannot read `{value}` (expected {form})")),
    };
    Ok(Some(l))
}

/// `N` colon-separated non-negative integers.
fn numbers<const N: usize>(key: &str, value: &str, form: &str) -> Result<[u32; N], String> {
    let parts: Vec<&str> = value.split(':').collect();
    let mut out = [0u32; N];
    if parts.len() != N {
        return Err(format!("`{key}` expects {form}, got `{value}`"));
    }
    for (o, p) in out.iter_mut().zip(&parts) {
        *o = p.trim().parse().map_err(|_| format!("`{key}` expects {form} (non-negative integers), got `{value}`"))?;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(args: &[&str]) -> Result<FaultPlan, String> {
        let mut p = FaultPlan::default();
        for a in args {
            apply_fault(&mut p, a)?;
        }
        Ok(p)
    }

    #[test]
    fn every_key_parses() {
        let p = plan(&[
            "vehicle_dropout=0.1",
            "faults.round_dropout=0.2",
            "loss.upload=0.01",
            "loss.wired=0.05",
            "loss.pool=0.5",
            "latency.upload=fixed:0.02",
            "latency.wired=uniform:0.01:0.05",
            "latency.pool=exponential:0.3",
            "rsu_outage=3:10:20",
            "rsu_outage=1:0:0",
            "crash_rsu=2:50",
        ])
        .unwrap();
        assert_eq!(p.vehicle_dropout, 0.1);
        assert_eq!(p.round_dropout, 0.2);
        assert_eq!((p.loss.upload, p.loss.wired, p.loss.pool), (0.01, 0.05, 0.5));
        assert_eq!(p.latency.upload, Some(Latency::Fixed { s: 0.02 }));
        assert_eq!(p.latency.wired, Some(Latency::Uniform { min_s: 0.01, max_s: 0.05 }));
        assert_eq!(p.latency.pool, Some(Latency::Exponential { mean_s: 0.3 }));
        assert_eq!(
            p.rsu_outage,
            vec![Outage { rsu: 3, from_slot: 10, to_slot: 20 }, Outage { rsu: 1, from_slot: 0, to_slot: 0 }]
        );
        assert_eq!(p.crash_rsu, vec![Crash { rsu: 2, slot: 50 }]);
        let p = plan(&["latency.upload=0.03", "latency.wired=none", "none", "loss.wired=1"]).unwrap();
        assert_eq!(
            p,
            FaultPlan { loss: crate::fault::LinkLoss { wired: 1.0, ..Default::default() }, ..Default::default() }
        );
    }

    #[test]
    fn bad_values_name_the_key() {
        for (arg, key) in [
            ("vehicle_dropout=1.5", "vehicle_dropout"),
            ("round_dropout=-0.1", "round_dropout"),
            ("loss.wired=abc", "loss.wired"),
            ("loss.upload=NaN", "loss.upload"),
            ("latency.upload=fixed:-1", "latency.upload"),
            ("latency.wired=uniform:0.5:0.1", "latency.wired"),
            ("latency.pool=gamma:1", "latency.pool"),
            ("rsu_outage=1:2", "rsu_outage"),
            ("rsu_outage=a:1:2", "rsu_outage"),
            ("crash_rsu=-1:3", "crash_rsu"),
            ("bogus=1", "bogus"),
            ("loss=0.1", "loss"),
            ("vehicle_dropout", "KEY=VALUE"),
        ] {
            let e = plan(&[arg]).unwrap_err();
            assert!(e.contains(key), "{arg}: {e}");
        }
    }
}
