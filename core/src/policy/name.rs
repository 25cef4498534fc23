//! The names of every policy vecsim knows, typed: baselines built into the core and learners
//! built by `vecsim-learn`. Parsing a name is where a typo is caught, once, with the list of
//! what would have been accepted.

use super::Baseline;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// A policy's name, as on the command line and in scenario files (`policy = "orm"`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum PolicyName {
    /// Every task runs where it was uploaded.
    Orl,
    /// Greedy lowest predicted service time.
    Orm,
    /// Uniform over available RSUs.
    Random,
    /// Best-response dynamics to a pure Nash equilibrium (an oracle).
    BrNe,
    /// Greedy lowest predicted service time, the RSUs deciding in turn (beyond the paper).
    OrmInTurn,
    /// Federated MADDPG (the paper's method).
    FedMaddpg,
    /// MADDPG with centralised critics.
    Maddpg,
    /// Multi-agent soft actor-critic.
    Masac,
}

impl PolicyName {
    /// Every policy, baselines first.
    pub const ALL: [PolicyName; 8] = [
        PolicyName::Orl,
        PolicyName::Orm,
        PolicyName::Random,
        PolicyName::BrNe,
        PolicyName::OrmInTurn,
        PolicyName::FedMaddpg,
        PolicyName::Maddpg,
        PolicyName::Masac,
    ];

    /// The name on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            PolicyName::Orl => "orl",
            PolicyName::Orm => "orm",
            PolicyName::Random => "random",
            PolicyName::BrNe => "br-ne",
            PolicyName::FedMaddpg => "fed-maddpg",
            PolicyName::Maddpg => "maddpg",
            PolicyName::Masac => "masac",
            PolicyName::OrmInTurn => "orm-in-turn",
        }
    }

    /// The baseline of this name, `None` for learners.
    pub fn baseline(self) -> Option<Baseline> {
        match self {
            PolicyName::Orl => Some(Baseline::Orl),
            PolicyName::Orm => Some(Baseline::Orm),
            PolicyName::Random => Some(Baseline::Random),
            PolicyName::BrNe => Some(Baseline::BrNe),
            PolicyName::OrmInTurn => Some(Baseline::OrmInTurn),
            _ => None,
        }
    }

    /// Whether this is a learner (it needs training, or a checkpoint to run).
    pub fn is_learner(self) -> bool {
        self.baseline().is_none()
    }
}

impl From<Baseline> for PolicyName {
    fn from(b: Baseline) -> PolicyName {
        match b {
            Baseline::Orl => PolicyName::Orl,
            Baseline::Orm => PolicyName::Orm,
            Baseline::Random => PolicyName::Random,
            Baseline::BrNe => PolicyName::BrNe,
            Baseline::OrmInTurn => PolicyName::OrmInTurn,
        }
    }
}

impl fmt::Display for PolicyName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A policy name that is not one of [`PolicyName::ALL`].
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown policy `{name}`{hint} (expected one of: orl, orm, random, br-ne, orm-in-turn, fed-maddpg, maddpg, masac)",
    name = .0,
    hint = crate::suggest::hint(.0, PolicyName::ALL.iter().map(|p| p.as_str()))
)]
pub struct UnknownPolicy(pub String);

impl FromStr for PolicyName {
    type Err = UnknownPolicy;

    fn from_str(s: &str) -> Result<PolicyName, UnknownPolicy> {
        PolicyName::ALL.into_iter().find(|p| p.as_str() == s).ok_or_else(|| UnknownPolicy(s.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_typos_list_the_choices() {
        for p in PolicyName::ALL {
            assert_eq!(p.as_str().parse::<PolicyName>(), Ok(p));
            let json = serde_json::to_string(&p).unwrap();
            assert_eq!(json, format!("\"{}\"", p.as_str()));
        }
        let err = "fed_maddpg".parse::<PolicyName>().unwrap_err().to_string();
        assert!(err.contains("unknown policy `fed_maddpg`") && err.contains("fed-maddpg"), "{err}");
        assert!(err.contains("did you mean `fed-maddpg`?"), "{err}");
        assert_eq!(PolicyName::BrNe.baseline(), Some(Baseline::BrNe));
        assert!(PolicyName::Masac.is_learner() && !PolicyName::Orm.is_learner());
    }
}
