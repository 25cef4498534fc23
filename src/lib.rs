//! Library side of the `vecsim` command: what the binary ships beyond the model crates, kept
//! here so that tests and other tools can use it without running the binary.

pub mod presets;
