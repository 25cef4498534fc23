//! `vecsim`: simulate, train and compare scheduling policies for Vehicular Edge Computing.
//!
//! The command line is the outermost layer: it parses flags, calls the `vecsim` library's run
//! pipeline and prints. Errors are `anyhow` here only; the exit code comes from the error's
//! type: bad input (a file, a key, a flag) exits with 2, a failure of the run itself with 1.

mod cli;

use std::process::ExitCode;

fn main() -> ExitCode {
    match cli::main() {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {}", message(&err));
            if bad_input(&err) {
                ExitCode::from(2)
            } else {
                ExitCode::from(1)
            }
        }
    }
}

/// The error and its sources, each once: a typed error often shows its source's text in its
/// own message already, so a source whose text is already there is not repeated.
fn message(err: &anyhow::Error) -> String {
    let mut msg = err.to_string();
    for cause in err.chain().skip(1) {
        let c = cause.to_string();
        if !msg.contains(&c) {
            msg.push_str(": ");
            msg.push_str(&c);
        }
    }
    msg
}

/// Whether anything in the error's chain says the user's input was at fault.
fn bad_input(err: &anyhow::Error) -> bool {
    err.chain().any(|e| {
        e.downcast_ref::<cli::BadInput>().is_some()
            || e.downcast_ref::<vecsim::pipeline::PipelineError>().is_some_and(|p| p.is_bad_input())
            || e.downcast_ref::<vecsim_telemetry::TelemetryError>().is_some()
    })
}
