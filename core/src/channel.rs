//! V2I upload time (eq. 1): `u = d_k / B_e^t`.

use crate::error::ScenarioError;
use serde::{Deserialize, Serialize};

/// How the uplink rate `B_e^t` of a vehicle is found.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ChannelMode {
    /// The paper: every uploader gets the RSU's full bandwidth `B_e`.
    #[default]
    Paper,
    /// Shannon capacity with the band split equally among the RSU's uploaders in the slot.
    Shannon,
}

/// Channel parameters. The Shannon values default to those of Xu et al. 2023.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChannelConfig {
    /// How the uplink rate is found: paper (full `B_e`) or Shannon.
    #[serde(default)]
    pub mode: ChannelMode,
    /// Total band `W`, Hz.
    #[serde(default = "d_w")]
    pub bandwidth_hz: f64,
    /// Transmit power `P`, mW.
    #[serde(default = "d_p")]
    pub tx_power_mw: f64,
    /// Noise power `N0`, dBm.
    #[serde(default = "d_n0")]
    pub noise_dbm: f64,
    /// Path-loss exponent `α`.
    #[serde(default = "d_alpha")]
    pub path_loss_exponent: f64,
    /// Channel gain `g` (linear).
    #[serde(default = "d_g")]
    pub gain: f64,
}

fn d_w() -> f64 {
    20e6
}
fn d_p() -> f64 {
    1000.0
}
fn d_n0() -> f64 {
    -90.0
}
fn d_alpha() -> f64 {
    3.0
}
fn d_g() -> f64 {
    1.0
}

impl Default for ChannelConfig {
    fn default() -> Self {
        ChannelConfig {
            mode: ChannelMode::Paper,
            bandwidth_hz: d_w(),
            tx_power_mw: d_p(),
            noise_dbm: d_n0(),
            path_loss_exponent: d_alpha(),
            gain: d_g(),
        }
    }
}

/// Distances below this are clamped so `dist^-α` stays finite (a vehicle under the mast), m.
const MIN_DISTANCE_M: f64 = 1.0;

impl ChannelConfig {
    pub(crate) fn validate(&self) -> Result<(), ScenarioError> {
        let pos = |v: f64| v.is_finite() && v > 0.0;
        if !pos(self.bandwidth_hz) {
            return Err(ScenarioError::invalid("channel.bandwidth_hz", "must be > 0 Hz"));
        }
        if !pos(self.tx_power_mw) {
            return Err(ScenarioError::invalid("channel.tx_power_mw", "must be > 0 mW"));
        }
        if !self.noise_dbm.is_finite() {
            return Err(ScenarioError::invalid("channel.noise_dbm", "must be finite dBm"));
        }
        if !pos(self.path_loss_exponent) {
            return Err(ScenarioError::invalid("channel.path_loss_exponent", "must be > 0"));
        }
        if !pos(self.gain) {
            return Err(ScenarioError::invalid("channel.gain", "must be > 0"));
        }
        Ok(())
    }

    /// Uplink rate, bit/s, of one vehicle at `distance_m` from an RSU of bandwidth
    /// `rsu_bandwidth_bps` that has `uploaders` vehicles uploading in the slot.
    pub fn rate_bps(&self, rsu_bandwidth_bps: f64, distance_m: f64, uploaders: usize) -> f64 {
        match self.mode {
            ChannelMode::Paper => rsu_bandwidth_bps,
            ChannelMode::Shannon => {
                let n0_mw = 10f64.powf(self.noise_dbm / 10.0);
                let d = distance_m.max(MIN_DISTANCE_M);
                let snr = self.tx_power_mw * self.gain * d.powf(-self.path_loss_exponent) / n0_mw;
                self.bandwidth_hz / uploaders.max(1) as f64 * (1.0 + snr).log2()
            }
        }
    }

    /// Upload time `u`, seconds, of `data_bits`.
    pub fn upload_s(&self, data_bits: f64, rsu_bandwidth_bps: f64, distance_m: f64, uploaders: usize) -> f64 {
        data_bits / self.rate_bps(rsu_bandwidth_bps, distance_m, uploaders)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paper_mode_is_size_over_bandwidth() {
        let c = ChannelConfig::default();
        // 2 Mbit over 54 Mbit/s = 0.037037... s, whatever the distance or crowding.
        assert!((c.upload_s(2e6, 54e6, 400.0, 9) - 2.0 / 54.0).abs() < 1e-15);
    }

    #[test]
    fn shannon_mode_by_hand() {
        let c = ChannelConfig { mode: ChannelMode::Shannon, ..Default::default() };
        // P/N0 = 1000 mW / 1e-9 mW = 1e12; at 100 m, d^-3 = 1e-6, SNR = 1e6.
        // rate = 20e6 / 4 * log2(1 + 1e6) = 5e6 * 19.931570... bit/s
        let expect = 5e6 * (1.0f64 + 1e6).log2();
        assert!((c.rate_bps(54e6, 100.0, 4) - expect).abs() / expect < 1e-12);
        assert!((expect - 99_657_855.0).abs() < 10.0);
    }
}
