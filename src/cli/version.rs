//! `vecsim --version` and `vecsim version`: what this binary is, so that a result or a bug report
//! can be traced to the code and the features that produced it. The facts come from `build.rs`.

use std::sync::OnceLock;

/// Where to report a bug: the package's repository when `Cargo.toml` names one.
pub(crate) const REPORT_TO: &str = match option_env!("CARGO_PKG_REPOSITORY") {
    Some(r) if !r.is_empty() => r,
    _ => "the vecsim project's issue tracker",
};

/// The commit, or `None` when the binary was not built from a git checkout (a source tarball)
/// and `VECSIM_BUILD_COMMIT` did not name one.
pub(crate) fn commit() -> Option<&'static str> {
    Some(env!("VECSIM_COMMIT")).filter(|c| !c.is_empty())
}

/// The cargo features compiled in that change what runs where.
pub(crate) fn features() -> &'static str {
    if cfg!(feature = "cuda") {
        "cuda"
    } else if cfg!(feature = "cuda-check") {
        "cuda-check (type-checked CUDA path; no GPU support)"
    } else {
        "cpu only (no cuda)"
    }
}

/// One line: version, commit, features and the dfdx/ractor versions.
pub(crate) fn short() -> &'static str {
    static SHORT: OnceLock<String> = OnceLock::new();
    SHORT.get_or_init(|| {
        let commit = match commit() {
            Some(c) => {
                let date = env!("VECSIM_COMMIT_DATE");
                if date.is_empty() {
                    format!("commit {c}")
                } else {
                    format!("commit {c} {date}")
                }
            }
            None => "no git commit".to_string(),
        };
        format!(
            "{} ({commit}; {}; dfdx {}, ractor {})",
            env!("CARGO_PKG_VERSION"),
            features(),
            env!("VECSIM_DFDX_VERSION"),
            env!("VECSIM_RACTOR_VERSION")
        )
    })
}

/// Every build fact, one `key: value` per line.
pub(crate) fn full() -> String {
    let commit = match commit() {
        Some(c) => {
            let date = env!("VECSIM_COMMIT_DATE");
            if date.is_empty() {
                c.to_string()
            } else {
                format!("{c} ({date})")
            }
        }
        None => "none (not built from a git checkout; set VECSIM_BUILD_COMMIT when packaging)".to_string(),
    };
    let rows = [
        ("version", env!("CARGO_PKG_VERSION").to_string()),
        ("commit", commit),
        ("features", features().to_string()),
        ("target", env!("VECSIM_TARGET").to_string()),
        ("profile", env!("VECSIM_PROFILE").to_string()),
        ("rustc", env!("VECSIM_RUSTC").to_string()),
        ("dfdx", env!("VECSIM_DFDX_VERSION").to_string()),
        ("ractor", env!("VECSIM_RACTOR_VERSION").to_string()),
        ("ractor_cluster", env!("VECSIM_RACTOR_CLUSTER_VERSION").to_string()),
        ("tokio", env!("VECSIM_TOKIO_VERSION").to_string()),
        ("clap", env!("VECSIM_CLAP_VERSION").to_string()),
    ];
    let mut s = format!("vecsim {}\n", env!("CARGO_PKG_VERSION"));
    for (k, v) in rows {
        s.push_str(&format!("{k:<15} {v}\n"));
    }
    s
}
