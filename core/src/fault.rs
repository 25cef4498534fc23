//! Fault plans (SPEC §6): what to inject, and the seeded draws that inject it.
//!
//! Every injected fault draws from its own stream ([`crate::rng::Domain`]`::Fault*`, one per
//! entity), so a fault plan is reproducible and turning one on never shifts the random numbers
//! of tasks or mobility. An empty plan (the default) injects nothing and draws nothing.

use crate::error::ScenarioError;
use crate::ids::RsuId;
use rand::Rng;
use rand_distr::{Distribution, Exp};
use serde::{Deserialize, Serialize};

/// Extra delay on a message, seconds of simulated time.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Latency {
    /// Always `s` seconds.
    Fixed {
        /// The delay, seconds.
        s: f64,
    },
    /// Uniform in `[min_s, max_s]`.
    Uniform {
        /// Smallest delay, seconds.
        min_s: f64,
        /// Largest delay, seconds.
        max_s: f64,
    },
    /// Exponential with mean `mean_s`.
    Exponential {
        /// Mean delay, seconds.
        mean_s: f64,
    },
}

impl Latency {
    /// The largest latency value (fixed, a uniform bound, an exponential mean) a plan may hold.
    pub const MAX_S: f64 = 1e9;

    /// One draw, seconds. A fixed latency draws nothing.
    pub fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> f64 {
        match *self {
            Latency::Fixed { s } => s,
            Latency::Uniform { min_s, max_s } => min_s + (max_s - min_s) * rng.gen::<f64>(),
            Latency::Exponential { mean_s } => {
                if mean_s > 0.0 {
                    Exp::new(1.0 / mean_s).map(|d| d.sample(rng)).unwrap_or(0.0)
                } else {
                    0.0
                }
            }
        }
    }

    fn validate(&self, key: &str) -> Result<(), ScenarioError> {
        // Bounded so that sums of latencies, times and draws (an exponential draw is a few
        // dozen means at most) stay finite: 1e9 s is about 32 years of simulated time.
        let ok = |v: f64| v.is_finite() && (0.0..=Latency::MAX_S).contains(&v);
        let range = format!("must be >= 0 and <= {:e} seconds", Latency::MAX_S);
        match *self {
            Latency::Fixed { s } if !ok(s) => {
                Err(ScenarioError::invalid(&format!("{key}.s"), format!("{range}, got {s}")))
            }
            Latency::Uniform { min_s, max_s } if !(ok(min_s) && ok(max_s)) => {
                Err(ScenarioError::invalid(key, format!("uniform bounds {range}, got [{min_s}, {max_s}]")))
            }
            Latency::Uniform { min_s, max_s } if min_s > max_s => Err(ScenarioError::invalid(
                &format!("{key}.min_s"),
                format!("min_s {min_s} is greater than max_s {max_s}"),
            )),
            Latency::Exponential { mean_s } if !ok(mean_s) => {
                Err(ScenarioError::invalid(&format!("{key}.mean_s"), format!("{range}, got {mean_s}")))
            }
            _ => Ok(()),
        }
    }
}

/// Latency per link kind.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LinkLatency {
    /// Vehicle → RSU uploads.
    pub upload: Option<Latency>,
    /// RSU → RSU wired migrations.
    pub wired: Option<Latency>,
    /// RSU ↔ VEC POOL parameter messages.
    pub pool: Option<Latency>,
}

/// Message-loss probability per link kind.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LinkLoss {
    /// Probability in `[0, 1]` that a vehicle → RSU upload is lost.
    #[serde(default)]
    pub upload: f64,
    /// Probability in `[0, 1]` that an RSU → RSU wired migration is lost.
    #[serde(default)]
    pub wired: f64,
    /// Probability in `[0, 1]` that an RSU ↔ VEC POOL parameter message is lost.
    #[serde(default)]
    pub pool: f64,
}

/// An RSU down over the slots `from_slot..=to_slot`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Outage {
    /// Id of the RSU that goes down.
    pub rsu: u32,
    /// First slot of the outage (inclusive).
    pub from_slot: u32,
    /// Last slot of the outage (inclusive).
    pub to_slot: u32,
}

/// An RSU actor that panics at the start of `slot` (actor engine only; the supervisor restarts
/// it from its last slot-boundary state and the slot is redone).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Crash {
    /// Id of the RSU whose actor panics.
    pub rsu: u32,
    /// Slot at whose start it panics.
    pub slot: u32,
}

/// The `[faults]` section of a scenario.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultPlan {
    /// Probability that a present vehicle is disconnected for a slot.
    #[serde(default)]
    pub vehicle_dropout: f64,
    /// Extra delay per link kind (none by default).
    #[serde(default)]
    pub latency: LinkLatency,
    /// Message-loss probability per link kind (0 by default).
    #[serde(default)]
    pub loss: LinkLoss,
    /// RSU outage windows; tasks a down RSU executes fail with cause `rsu_down`.
    #[serde(default)]
    pub rsu_outage: Vec<Outage>,
    /// Probability that an RSU misses a federated round.
    #[serde(default)]
    pub round_dropout: f64,
    /// Scheduled RSU actor crashes (actor engine only).
    #[serde(default)]
    pub crash_rsu: Vec<Crash>,
}

/// What happened to one message.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Delivery {
    /// Arrived after this much extra latency, seconds.
    Delivered {
        /// Extra latency, seconds of simulated time.
        extra_s: f64,
    },
    /// Lost on the way (counted as a fault).
    Lost,
}

/// What happened to one RSU's part in a federated round ([`FaultPlan::pool_round`]).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum PoolFate {
    /// The RSU misses the round (`round_dropout`).
    MissedRound,
    /// Its parameter message was lost (`loss.pool`).
    Lost,
    /// Arrived after this much extra latency, seconds of simulated time.
    Delivered {
        /// Extra latency, seconds of simulated time.
        extra_s: f64,
    },
}

impl FaultPlan {
    /// True when the plan injects nothing at all.
    pub fn is_empty(&self) -> bool {
        *self == FaultPlan::default()
    }

    pub(crate) fn validate(&self, rsus: usize, slots: u32) -> Result<(), ScenarioError> {
        let prob = |k: &str, v: f64| {
            if (0.0..=1.0).contains(&v) {
                Ok(())
            } else {
                Err(ScenarioError::invalid(k, format!("must be a probability in [0, 1], got {v}")))
            }
        };
        prob("faults.vehicle_dropout", self.vehicle_dropout)?;
        prob("faults.round_dropout", self.round_dropout)?;
        prob("faults.loss.upload", self.loss.upload)?;
        prob("faults.loss.wired", self.loss.wired)?;
        prob("faults.loss.pool", self.loss.pool)?;
        for (k, l) in [
            ("faults.latency.upload", &self.latency.upload),
            ("faults.latency.wired", &self.latency.wired),
            ("faults.latency.pool", &self.latency.pool),
        ] {
            if let Some(l) = l {
                l.validate(k)?;
            }
        }
        for (i, o) in self.rsu_outage.iter().enumerate() {
            let k = |f: &str| format!("faults.rsu_outage[{i}].{f}");
            if o.rsu as usize >= rsus {
                return Err(ScenarioError::invalid(
                    &k("rsu"),
                    format!("unknown RSU {} (the scenario has {rsus})", o.rsu),
                ));
            }
            if o.from_slot > o.to_slot {
                return Err(ScenarioError::invalid(
                    &k("from_slot"),
                    format!("from_slot {} is after to_slot {}", o.from_slot, o.to_slot),
                ));
            }
            if o.to_slot >= slots {
                return Err(ScenarioError::invalid(
                    &k("to_slot"),
                    format!("slot {} is past the episode ({slots} slots)", o.to_slot),
                ));
            }
        }
        for (i, c) in self.crash_rsu.iter().enumerate() {
            let k = |f: &str| format!("faults.crash_rsu[{i}].{f}");
            if c.rsu as usize >= rsus {
                return Err(ScenarioError::invalid(
                    &k("rsu"),
                    format!("unknown RSU {} (the scenario has {rsus})", c.rsu),
                ));
            }
            if c.slot >= slots {
                return Err(ScenarioError::invalid(
                    &k("slot"),
                    format!("slot {} is past the episode ({slots} slots)", c.slot),
                ));
            }
            // A crash happens once: the same one twice would be counted once, silently.
            if let Some(j) = self.crash_rsu[..i].iter().position(|o| o == c) {
                return Err(ScenarioError::invalid(
                    &format!("faults.crash_rsu[{i}]"),
                    format!("RSU {} at slot {} is listed twice (also crash_rsu[{j}])", c.rsu, c.slot),
                ));
            }
        }
        Ok(())
    }

    /// Whether `rsu` is up in `slot`.
    pub fn rsu_up(&self, rsu: RsuId, slot: u32) -> bool {
        !self.rsu_outage.iter().any(|o| o.rsu == rsu.0 && (o.from_slot..=o.to_slot).contains(&slot))
    }

    /// Whether a present vehicle drops out this slot (draws only when the probability is > 0).
    pub fn vehicle_drops<R: Rng + ?Sized>(&self, rng: &mut R) -> bool {
        self.vehicle_dropout > 0.0 && rng.gen::<f64>() < self.vehicle_dropout
    }

    fn deliver<R: Rng + ?Sized>(loss: f64, latency: &Option<Latency>, rng: &mut R) -> Delivery {
        if loss > 0.0 && rng.gen::<f64>() < loss {
            return Delivery::Lost;
        }
        Delivery::Delivered { extra_s: latency.as_ref().map_or(0.0, |l| l.sample(rng)) }
    }

    /// Fate of one V2I upload.
    pub fn upload<R: Rng + ?Sized>(&self, rng: &mut R) -> Delivery {
        Self::deliver(self.loss.upload, &self.latency.upload, rng)
    }

    /// Fate of one wired migration.
    pub fn wired<R: Rng + ?Sized>(&self, rng: &mut R) -> Delivery {
        Self::deliver(self.loss.wired, &self.latency.wired, rng)
    }

    /// Fate of one RSU ↔ pool parameter message (round dropout counts as a loss).
    /// Same draws as [`FaultPlan::pool_round`], which tells the two apart.
    pub fn pool<R: Rng + ?Sized>(&self, rng: &mut R) -> Delivery {
        match self.pool_round(rng) {
            PoolFate::MissedRound | PoolFate::Lost => Delivery::Lost,
            PoolFate::Delivered { extra_s } => Delivery::Delivered { extra_s },
        }
    }

    /// Fate of one RSU's part in a federated round: the round-dropout draw first, then the
    /// pool message's loss and latency (each drawn only when its fault is configured).
    pub fn pool_round<R: Rng + ?Sized>(&self, rng: &mut R) -> PoolFate {
        if self.round_dropout > 0.0 && rng.gen::<f64>() < self.round_dropout {
            return PoolFate::MissedRound;
        }
        match Self::deliver(self.loss.pool, &self.latency.pool, rng) {
            Delivery::Lost => PoolFate::Lost,
            Delivery::Delivered { extra_s } => PoolFate::Delivered { extra_s },
        }
    }

    /// The first slot after `slot` in which `rsu` is down (the start of its next outage), if any.
    /// Meaningful when `rsu` is up in `slot`.
    pub fn next_down_slot(&self, rsu: RsuId, slot: u32) -> Option<u32> {
        self.rsu_outage.iter().filter(|o| o.rsu == rsu.0 && o.from_slot > slot).map(|o| o.from_slot).min()
    }

    /// How many of the first `rsus` RSUs are down in `slot`.
    pub fn rsus_down(&self, rsus: usize, slot: u32) -> u32 {
        (0..rsus as u32).filter(|&e| !self.rsu_up(RsuId(e), slot)).count() as u32
    }

    /// Whether `rsu` is scheduled to crash at the start of `slot`.
    pub fn crashes(&self, rsu: RsuId, slot: u32) -> bool {
        self.crash_rsu.iter().any(|c| c.rsu == rsu.0 && c.slot == slot)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::{self, Domain};

    #[test]
    fn pool_and_pool_round_draw_the_same_numbers() {
        let plan = FaultPlan {
            round_dropout: 0.3,
            loss: LinkLoss { pool: 0.2, ..Default::default() },
            latency: LinkLatency { pool: Some(Latency::Exponential { mean_s: 0.1 }), ..Default::default() },
            ..Default::default()
        };
        let (mut a, mut b) = (rng::stream(4, Domain::FaultPool, 1), rng::stream(4, Domain::FaultPool, 1));
        let (mut missed, mut lost) = (0, 0);
        for _ in 0..2000 {
            let fate = plan.pool_round(&mut a);
            let d = plan.pool(&mut b);
            match fate {
                PoolFate::MissedRound => {
                    missed += 1;
                    assert_eq!(d, Delivery::Lost);
                }
                PoolFate::Lost => {
                    lost += 1;
                    assert_eq!(d, Delivery::Lost);
                }
                PoolFate::Delivered { extra_s } => assert_eq!(d, Delivery::Delivered { extra_s }),
            }
        }
        // About 30 % miss the round, and 20 % of the rest lose the message.
        assert!((500..700).contains(&missed), "{missed}");
        assert!((200..370).contains(&lost), "{lost}");
    }

    #[test]
    fn outage_windows() {
        let plan = FaultPlan {
            rsu_outage: vec![
                Outage { rsu: 1, from_slot: 3, to_slot: 4 },
                Outage { rsu: 1, from_slot: 9, to_slot: 9 },
                Outage { rsu: 2, from_slot: 4, to_slot: 6 },
            ],
            ..Default::default()
        };
        let up: Vec<bool> = (0..11).map(|t| plan.rsu_up(RsuId(1), t)).collect();
        assert_eq!(up, [true, true, true, false, false, true, true, true, true, false, true]);
        assert_eq!(plan.next_down_slot(RsuId(1), 0), Some(3));
        assert_eq!(plan.next_down_slot(RsuId(1), 5), Some(9));
        assert_eq!(plan.next_down_slot(RsuId(1), 9), None);
        assert_eq!(plan.next_down_slot(RsuId(0), 0), None);
        let down: Vec<u32> = (0..8).map(|t| plan.rsus_down(3, t)).collect();
        assert_eq!(down, [0, 0, 0, 1, 2, 1, 1, 0]);
        // An empty plan draws nothing.
        let mut r = rng::stream(1, Domain::FaultVehicle, 0);
        let before = r.clone();
        assert!(!FaultPlan::default().vehicle_drops(&mut r));
        assert_eq!(FaultPlan::default().upload(&mut r), Delivery::Delivered { extra_s: 0.0 });
        assert_eq!(r, before);
    }
}
