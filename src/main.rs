//! `vecsim`: simulate, train and compare scheduling policies for Vehicular Edge Computing.
//!
//! The command line is the outermost layer: it reads scenarios and flags, picks an engine
//! (`vecsim-actors` or the sequential `vecsim-core` engine) and a policy, and writes reports.
//! Errors are `anyhow` here only; input errors exit with code 2, other failures with 1.

mod cli;

use std::process::ExitCode;

fn main() -> ExitCode {
    match cli::main() {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            if err.downcast_ref::<cli::BadInput>().is_some() {
                ExitCode::from(2)
            } else {
                ExitCode::from(1)
            }
        }
    }
}
