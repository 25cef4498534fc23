//! `--device cpu|cuda[:N]`: where a learner's dfdx networks run.

use vecsim_learn::Device;

/// `--device`: `cpu`, `cuda` (device 0) or `cuda:N`. Whether this build and machine provide it
/// is checked when the command starts ([`Device::check`]).
pub(crate) fn parse_device(s: &str) -> Result<Device, String> {
    Device::parse(s).map_err(|e| e.to_string())
}
