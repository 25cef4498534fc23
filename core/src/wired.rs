//! Wired migration delay between RSUs (eq. 4): `w = ζ · d_k · dist(e, e') / z`.

use crate::error::ScenarioError;
use serde::{Deserialize, Serialize};

/// The wired backhaul joining RSUs. Defaults from the reference code of Xu et al. 2023.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WiredLink {
    /// Transmission rate `z`, bit/s (default 50·2^20).
    #[serde(default = "d_rate")]
    pub rate_bps: f64,
    /// Discount factor `ζ`, per metre (default 0.0006667).
    #[serde(default = "d_zeta")]
    pub discount_per_m: f64,
}

fn d_rate() -> f64 {
    50.0 * 1048576.0
}
fn d_zeta() -> f64 {
    0.0006667
}

impl Default for WiredLink {
    fn default() -> Self {
        WiredLink { rate_bps: d_rate(), discount_per_m: d_zeta() }
    }
}

impl WiredLink {
    pub(crate) fn validate(&self) -> Result<(), ScenarioError> {
        if !(self.rate_bps.is_finite() && self.rate_bps > 0.0) {
            return Err(ScenarioError::invalid("wired.rate_bps", "must be > 0 bit/s"));
        }
        if !(self.discount_per_m.is_finite() && self.discount_per_m >= 0.0) {
            return Err(ScenarioError::invalid("wired.discount_per_m", "must be >= 0 per metre"));
        }
        Ok(())
    }

    /// Migration delay, seconds, of `data_bits` over `distance_m` of wire; 0 for local execution
    /// (`distance_m == 0`).
    pub fn delay_s(&self, data_bits: f64, distance_m: f64) -> f64 {
        self.discount_per_m * data_bits * distance_m / self.rate_bps
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delay_by_hand() {
        let w = WiredLink::default();
        // 2 Mbit over 375 m: 0.0006667 * 2e6 * 375 / 52428800 = 500025 / 52428800 s
        let expect = 500_025.0 / 52_428_800.0;
        assert!((w.delay_s(2e6, 375.0) - expect).abs() < 1e-15);
        assert_eq!(w.delay_s(2e6, 0.0), 0.0);
    }
}
