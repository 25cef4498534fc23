//! Where the dfdx backend runs: the CPU, or CUDA device `N` in a build with the `cuda` feature.
//!
//! The device is a property of the run, not of the learners: it is not saved in checkpoints
//! (a checkpoint trained on a GPU evaluates on a CPU and the other way round), and the gemm
//! backend always runs on the CPU. Asking for CUDA in a build without the `cuda` feature is an
//! error at start-up ([`Device::check`]), never a silent fallback to the CPU.

use std::fmt;

/// A compute device for the dfdx backend.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Device {
    /// dfdx's `Cpu` (and the gemm layers).
    #[default]
    Cpu,
    /// dfdx's `Cuda` device with this ordinal (`nvidia-smi` numbering).
    Cuda(usize),
}

/// A device that this build or this machine cannot provide.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DeviceError {
    /// The text is not `cpu`, `cuda` or `cuda:N`.
    #[error("unknown device `{0}` (expected cpu, cuda or cuda:N)")]
    Unknown(String),
    /// CUDA was asked for in a build without the `cuda` feature.
    #[error(
        "device {0}: this vecsim was built without CUDA support; rebuild with `cargo build --release --features cuda` on a machine with the CUDA toolkit (nvcc and nvidia-smi)"
    )]
    NotBuilt(Device),
    /// The CUDA device could not be opened (no GPU, wrong ordinal, driver error).
    #[error("device {device}: {message}")]
    Unavailable {
        /// The device asked for.
        device: Device,
        /// The driver's message.
        message: String,
    },
}

impl Device {
    /// `cpu`, `cuda` (= `cuda:0`) or `cuda:N`.
    pub fn parse(s: &str) -> Result<Device, DeviceError> {
        match s {
            "cpu" => Ok(Device::Cpu),
            "cuda" => Ok(Device::Cuda(0)),
            _ => s
                .strip_prefix("cuda:")
                .and_then(|n| n.parse().ok())
                .map(Device::Cuda)
                .ok_or_else(|| DeviceError::Unknown(s.to_string())),
        }
    }

    /// Whether this build can run on the device, and (for CUDA) whether the device opens.
    pub fn check(self) -> Result<(), DeviceError> {
        match self {
            Device::Cpu => Ok(()),
            #[cfg(feature = "cuda")]
            Device::Cuda(n) => crate::dfdx_backend::open_cuda(n)
                .map(|_| ())
                .map_err(|message| DeviceError::Unavailable { device: self, message }),
            #[cfg(not(feature = "cuda"))]
            Device::Cuda(_) => Err(DeviceError::NotBuilt(self)),
        }
    }
}

impl fmt::Display for Device {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Device::Cpu => write!(f, "cpu"),
            Device::Cuda(n) => write!(f, "cuda:{n}"),
        }
    }
}

impl std::str::FromStr for Device {
    type Err = DeviceError;
    fn from_str(s: &str) -> Result<Device, DeviceError> {
        Device::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn devices_parse_and_print() {
        assert_eq!(Device::parse("cpu").unwrap(), Device::Cpu);
        assert_eq!(Device::parse("cuda").unwrap(), Device::Cuda(0));
        assert_eq!(Device::parse("cuda:3").unwrap(), Device::Cuda(3));
        assert_eq!(Device::Cuda(3).to_string(), "cuda:3");
        for bad in ["gpu", "cuda:", "cuda:x", "cuda:-1", ""] {
            assert!(matches!(Device::parse(bad), Err(DeviceError::Unknown(_))), "{bad}");
        }
        assert!(Device::Cpu.check().is_ok());
    }

    /// Without the `cuda` feature, CUDA is refused with a message that says how to get it.
    #[cfg(not(feature = "cuda"))]
    #[test]
    fn cuda_is_refused_without_the_feature() {
        let e = Device::Cuda(1).check().unwrap_err().to_string();
        assert!(e.contains("cuda:1") && e.contains("--features cuda"), "{e}");
    }
}
