//! The `examples/` are executable specs of the library: each asserts what it demonstrates and
//! must exit 0. `cargo test` builds them beside the test binaries (`target/<profile>/examples/`);
//! every `examples/*.rs` file is run, so a new example is covered without touching this file.

use std::path::PathBuf;
use std::process::Command;

use crate::common::root;

/// `target/<profile>/examples/`, found from this test binary (`target/<profile>/deps/e2e-…`).
fn examples_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    exe.parent().and_then(|deps| deps.parent()).expect("target/<profile>").join("examples")
}

/// The example names: every `examples/*.rs` (the Rust examples cargo discovers).
fn example_names() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(root().join("examples"))
        .expect("examples/")
        .filter_map(|e| {
            let p = e.ok()?.path();
            if p.extension()? != "rs" {
                return None;
            }
            p.file_stem()?.to_str().map(str::to_owned)
        })
        .collect();
    names.sort();
    names
}

#[test]
fn every_example_runs_and_its_assertions_hold() {
    let names = example_names();
    assert!(names.len() >= 3, "examples found: {names:?}");
    let dir = examples_dir();
    for name in &names {
        let bin = dir.join(name);
        assert!(
            bin.exists(),
            "example `{name}` is not built at {} (`cargo test --workspace` builds the examples; \
             with a narrower command run `cargo build --examples` first)",
            bin.display()
        );
        let out = Command::new(&bin).current_dir(root()).output().expect("example starts");
        assert!(
            out.status.success(),
            "example `{name}` failed ({:?}):\nstdout:\n{}\nstderr:\n{}",
            out.status.code(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(!out.stdout.is_empty(), "example `{name}` printed nothing");
    }
}
