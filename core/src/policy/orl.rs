//! ORL, Offloading-Request Local: every task runs where it was uploaded.

use super::{Observation, Policy};
use crate::ids::RsuId;

/// Keeps every task at its uploading RSU.
#[derive(Clone, Copy, Debug, Default)]
pub struct Orl;

impl Policy for Orl {
    fn name(&self) -> &'static str {
        "orl"
    }

    fn decide(&mut self, obs: &Observation<'_>) -> Vec<RsuId> {
        vec![obs.rsu; obs.tasks.len()]
    }
}
