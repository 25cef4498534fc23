//! The Python package (`python/`, issue 23): its pytest suite, run with the interpreter of the
//! virtual environment `.ci/run` builds and installs it into, named by `VECSIM_PYTHON`. The
//! suite compares the environment with this build's `vecsim` binary (`VECSIM_BIN`).
//!
//! Without `VECSIM_PYTHON` the test is skipped with a message, except in CI (`CI` set), where
//! a missing package is a failure: CI must not pass without running the Python tests.

use super::common::root;
use std::process::Command;

#[test]
fn pytest_suite_of_the_python_package_passes() {
    let Some(python) = std::env::var_os("VECSIM_PYTHON") else {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI is set but VECSIM_PYTHON is not: .ci/run must build the Python package into a venv \
             and export VECSIM_PYTHON=<venv>/bin/python"
        );
        eprintln!(
            "SKIPPED python::pytest_suite_of_the_python_package_passes: VECSIM_PYTHON is not set \
             (python -m venv V && V/bin/pip install maturin pettingzoo gymnasium pytest numpy ./python, \
             then VECSIM_PYTHON=V/bin/python; .ci/run does this)"
        );
        return;
    };
    let out = Command::new(&python)
        .args(["-m", "pytest", "python/tests", "-q", "-p", "no:cacheprovider"])
        .current_dir(root())
        .env("VECSIM_BIN", env!("CARGO_BIN_EXE_vecsim"))
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", python.to_string_lossy()));
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "pytest failed ({}):\n{text}", out.status);
    // Every test ran: the binary was given, so nothing may be skipped.
    let last = text.lines().rev().find(|l| l.contains(" passed")).unwrap_or_default().to_string();
    assert!(last.contains(" passed") && !last.contains("skipped"), "pytest summary: {last}\n{text}");
    eprintln!("python: {last}");
}
