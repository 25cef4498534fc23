//! Dense, ordered identifiers.
//!
//! Every entity carries a small integer id assigned deterministically when the scenario is
//! loaded (RSUs in file order, vehicles in sorted trace-id order). Sorting by these ids before
//! acting is what makes every engine, whatever the thread count, compute the same numbers.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Index of a road-side unit, `0..E`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct RsuId(pub u32);

/// Dense index of a vehicle, `0..V`, in sorted order of the mobility source's own ids.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct VehicleId(pub u32);

/// A task is identified by the slot it was generated in and the vehicle that generated it
/// (a vehicle generates at most one task per slot). Orders by slot, then vehicle.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct TaskId {
    /// Slot `t` the task was generated in.
    pub slot: u32,
    /// Dense id ([`VehicleId`]`.0`) of the vehicle that generated it.
    pub vehicle: u32,
}

impl RsuId {
    /// The id as a `usize`, for indexing per-RSU vectors.
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

impl VehicleId {
    /// The id as a `usize`, for indexing per-vehicle vectors.
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

impl fmt::Display for RsuId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "rsu{}", self.0)
    }
}

impl fmt::Display for VehicleId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "v{}", self.0)
    }
}

impl fmt::Display for TaskId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "t{}v{}", self.slot, self.vehicle)
    }
}
