//! `vecsim`: simulate, train and compare scheduling policies for Vehicular Edge Computing.
//!
//! The command line is the outermost layer: it parses flags, calls the `vecsim` library's run
//! pipeline and prints. Errors are `anyhow` here only; the exit code comes from the error's
//! type: bad input (a file, a key, a flag, a path) exits with 2, a failure of the run itself
//! with 1. A closed standard output ends the run quietly with 0 (see `cli::output`); a panic is
//! a bug and says so (101).

mod cli;

use std::process::ExitCode;

fn main() -> ExitCode {
    cli::output::install_panic_hook();
    // The last, unterminated line of `--json` is written by this flush: its errors count too.
    match cli::main().and_then(|code| Ok(cli::output::flush_out().map(|()| code)?)) {
        Ok(code) => code,
        // The reader went away (`| head`): it has what it wanted; nothing to say.
        Err(err) if cli::output::is_closed_stdout(&err) => ExitCode::SUCCESS,
        Err(err) => {
            cli::output::error_line(&message(&err));
            if bad_input(&err) {
                ExitCode::from(2)
            } else {
                ExitCode::from(1)
            }
        }
    }
}

/// The error and its sources, each once ([`vecsim::message::error_message`]).
fn message(err: &anyhow::Error) -> String {
    vecsim::message::error_message(err.as_ref())
}

/// Whether anything in the error's chain says the user's input was at fault; an I/O error that
/// means a path cannot be used (missing, not a directory, no permission) is one, wherever it
/// comes from, since the libraries name the path in their messages.
fn bad_input(err: &anyhow::Error) -> bool {
    err.chain().any(|e| {
        e.downcast_ref::<cli::BadInput>().is_some()
            || e.downcast_ref::<std::io::Error>().is_some_and(cli::output::is_bad_path)
            || e.downcast_ref::<vecsim::pipeline::PipelineError>().is_some_and(|p| p.is_bad_input())
            || e.downcast_ref::<vecsim_telemetry::TelemetryError>().is_some()
    })
}
