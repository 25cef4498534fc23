//! Build facts for `vecsim --version`: the git commit the binary was built from (when it was
//! built from a git checkout; a source tarball has none, and says so), the features compiled in
//! and the versions of the dependencies that decide what a run computes (dfdx, ractor), read
//! from `Cargo.lock`.
//!
//! Nothing here may fail the build: every fact that cannot be found is `unknown`.

use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    let dir = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    // A packager building from a tarball can name the commit.
    println!("cargo:rerun-if-env-changed=VECSIM_BUILD_COMMIT");
    let (commit, date) = match std::env::var("VECSIM_BUILD_COMMIT") {
        Ok(c) if !c.trim().is_empty() => (c.trim().to_string(), String::new()),
        _ => git_commit(&dir).unwrap_or_default(),
    };
    println!("cargo:rustc-env=VECSIM_COMMIT={commit}");
    println!("cargo:rustc-env=VECSIM_COMMIT_DATE={date}");

    let lock = dir.join("Cargo.lock");
    println!("cargo:rerun-if-changed={}", lock.display());
    let lock = std::fs::read_to_string(&lock).unwrap_or_default();
    for (krate, var) in [
        ("dfdx", "VECSIM_DFDX_VERSION"),
        ("ractor", "VECSIM_RACTOR_VERSION"),
        ("ractor_cluster", "VECSIM_RACTOR_CLUSTER_VERSION"),
        ("tokio", "VECSIM_TOKIO_VERSION"),
        ("clap", "VECSIM_CLAP_VERSION"),
    ] {
        println!("cargo:rustc-env={var}={}", locked_version(&lock, krate).unwrap_or("unknown"));
    }
    let target = std::env::var("TARGET").unwrap_or_default();
    let profile = std::env::var("PROFILE").unwrap_or_default();
    println!("cargo:rustc-env=VECSIM_TARGET={target}");
    println!("cargo:rustc-env=VECSIM_PROFILE={profile}");
    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let rustc_version = Command::new(rustc)
        .arg("--version")
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_else(|| "unknown".into());
    println!("cargo:rustc-env=VECSIM_RUSTC={rustc_version}");
}

/// `(short hash, commit date YYYY-MM-DD)` of `HEAD`, only when `dir` is the top of a git work
/// tree: a tarball unpacked inside some other repository must not report that repository's
/// commit.
fn git_commit(dir: &Path) -> Option<(String, String)> {
    let git = |args: &[&str]| -> Option<String> {
        let o = Command::new("git").args(args).current_dir(dir).output().ok()?;
        o.status.success().then(|| String::from_utf8_lossy(&o.stdout).trim().to_string())
    };
    let top = git(&["rev-parse", "--show-toplevel"])?;
    if std::fs::canonicalize(&top).ok()? != std::fs::canonicalize(dir).ok()? {
        return None;
    }
    // Rebuild when HEAD moves: HEAD itself (a checkout), the branch it points to (a commit) and
    // packed-refs (a gc). In a worktree HEAD lives in the worktree's git dir, the refs in the
    // common one.
    let git_dir = git(&["rev-parse", "--absolute-git-dir"])?;
    let common = git(&["rev-parse", "--git-common-dir"]).map(|c| dir.join(c)).unwrap_or_else(|| git_dir.clone().into());
    // Only files that exist: cargo reruns a build script for a missing one on every build.
    let mut watch = vec![PathBuf::from(&git_dir).join("HEAD"), common.join("packed-refs")];
    if let Some(r) = git(&["symbolic-ref", "-q", "HEAD"]) {
        let branch = common.join(&r);
        if !branch.is_file() {
            // Only in packed-refs: the next commit writes a loose ref somewhere under refs/heads
            // (cargo scans a watched directory for changes).
            watch.push(common.join("refs/heads"));
        }
        watch.push(branch);
    }
    for f in watch.iter().filter(|f| f.exists()) {
        println!("cargo:rerun-if-changed={}", f.display());
    }
    let line = git(&["log", "-1", "--format=%h %cs", "--abbrev=12"])?;
    let (hash, date) = line.split_once(' ')?;
    Some((hash.to_string(), date.to_string()))
}

/// The version of `krate` in a `Cargo.lock` (the first entry of that name).
fn locked_version<'a>(lock: &'a str, krate: &str) -> Option<&'a str> {
    let name = format!("name = \"{krate}\"");
    let mut lines = lock.lines();
    while let Some(l) = lines.next() {
        if l.trim() == name {
            let v = lines.next()?.trim();
            return v.strip_prefix("version = \"")?.strip_suffix('"');
        }
    }
    None
}
