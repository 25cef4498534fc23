//! Helpers shared by the end-to-end tests.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

#[path = "../fixtures/fixture.rs"]
mod fixture;
pub(crate) use fixture::{fixture, fixture_path, fixture_with};

/// The repository root.
pub(crate) fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `vecsim` with arguments, run from the repository root.
pub(crate) fn vecsim(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_vecsim")).args(args).current_dir(root()).output().expect("vecsim runs")
}

/// `vecsim` with a string on standard input.
pub(crate) fn vecsim_stdin(args: &[&str], input: &str) -> Output {
    use std::io::Write;
    use std::process::Stdio;
    let mut child = Command::new(env!("CARGO_BIN_EXE_vecsim"))
        .args(args)
        .current_dir(root())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("vecsim starts");
    child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
    child.wait_with_output().unwrap()
}

pub(crate) fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub(crate) fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Asserts success and returns stdout.
pub(crate) fn ok(o: Output) -> String {
    assert!(o.status.success(), "vecsim failed ({:?}):\n{}", o.status.code(), stderr(&o));
    stdout(&o)
}

/// Asserts exit code 2 and that stderr mentions every `needle`; returns stderr.
pub(crate) fn bad_input(o: Output, needles: &[&str]) -> String {
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "expected exit code 2, got {:?}; stderr:\n{err}", o.status.code());
    for n in needles {
        assert!(err.contains(n), "stderr does not mention {n:?}:\n{err}");
    }
    assert!(!err.contains("panicked"), "vecsim panicked:\n{err}");
    err
}

/// Path to the real Didi trace in `../shared/data`, if present.
pub(crate) fn shared_didi() -> Option<PathBuf> {
    let p = root().join("../shared/data/didi-chengdu-20161116-0800-0805.csv");
    p.exists().then_some(p)
}

pub(crate) fn read(p: &Path) -> Vec<u8> {
    std::fs::read(p).unwrap_or_else(|e| panic!("cannot read {}: {e}", p.display()))
}
