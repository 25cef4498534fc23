//! Scenario presets compiled into the binary, so that `vecsim run paper-noon` works from any
//! directory and from an installed binary, not only inside the source tree.
//!
//! Every `scenarios/*.toml` file is embedded with `include_str!` (a test keeps [`PRESETS`] in
//! step with the directory), and so is every trace a preset names that is small enough to ship
//! ([`BUNDLED`]). A trace that is not shipped (`didi-chengdu`'s) is looked up relative to the
//! `scenarios/` directory of the source tree the binary was built from, as the file itself
//! would; when it is not there the error says to pass `--trace FILE`.

use std::path::{Path, PathBuf};
use vecsim_core::scenario::{BundledFile, MobilityConfig};
use vecsim_core::{Scenario, ScenarioError};

/// One embedded scenario file.
#[derive(Clone, Copy, Debug)]
pub struct Preset {
    /// The name the command line accepts: the file name without `.toml`.
    pub name: &'static str,
    /// The file's text, as in `scenarios/`.
    pub text: &'static str,
}

macro_rules! presets {
    ($($name:literal),* $(,)?) => {
        &[$(Preset { name: $name, text: include_str!(concat!("../scenarios/", $name, ".toml")) }),*]
    };
}

/// Every file in `scenarios/`, sorted by name (the order `vecsim scenario list` prints).
pub const PRESETS: &[Preset] = presets![
    "didi-chengdu",
    "didi-sample",
    "faults-dropout",
    "faults-latency",
    "large-100k",
    "large-10k",
    "paper-evening",
    "paper-morning",
    "paper-noon",
];

/// Trace files shipped inside the binary, keyed by the path the presets write for them.
pub const BUNDLED: &[(&str, &str)] = &[("../traces/didi-sample.csv", include_str!("../traces/didi-sample.csv"))];

/// The preset called `name` (with or without a `.toml` suffix).
pub fn find(name: &str) -> Option<&'static Preset> {
    let name = name.strip_suffix(".toml").unwrap_or(name);
    PRESETS.iter().find(|p| p.name == name)
}

/// The names of all presets, comma-separated, for error messages.
pub fn names() -> String {
    PRESETS.iter().map(|p| p.name).collect::<Vec<_>>().join(", ")
}

impl Preset {
    /// The label errors use for this preset, e.g. `preset paper-noon`.
    pub fn origin(&self) -> String {
        format!("preset {}", self.name)
    }

    /// The one-line description: the file's first comment line (each preset starts with a
    /// one-line summary, checked by a test).
    pub fn description(&self) -> &'static str {
        self.text.lines().next().and_then(|l| l.strip_prefix('#')).map(str::trim).unwrap_or("")
    }

    /// Parses and validates the preset, attaching the traces it names that ship in the binary.
    /// Relative paths of traces that do not ship resolve against the source tree's `scenarios/`.
    pub fn load(&self) -> Result<Scenario, ScenarioError> {
        self.load_text(self.text)
    }

    /// [`Preset::load`] of an edited copy of the preset's text (`vecsim sweep --set`): errors
    /// name the preset, traces resolve and ship as the preset's own do.
    pub fn load_text(&self, text: &str) -> Result<Scenario, ScenarioError> {
        let mut s = Scenario::from_toml_str(text, &self.origin(), &source_scenarios_dir())?;
        if let MobilityConfig::Didi { trace } | MobilityConfig::Fcd { trace } = &s.mobility {
            if let Some((path, text)) = BUNDLED.iter().find(|(p, _)| Path::new(p) == trace) {
                s.bundled.push(BundledFile { path: PathBuf::from(path), text });
            }
        }
        Ok(s)
    }
}

/// `scenarios/` of the source tree this binary was built from: where the embedded files came
/// from, so relative paths in them mean what they mean there.
fn source_scenarios_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scenarios_dir() -> PathBuf {
        source_scenarios_dir()
    }

    /// A new or renamed `scenarios/*.toml` must be added to `PRESETS` (and a removed one
    /// removed), in sorted order, with the text of the file.
    #[test]
    fn presets_are_exactly_the_scenarios_directory() {
        let mut on_disk: Vec<String> = std::fs::read_dir(scenarios_dir())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .filter_map(|n| n.strip_suffix(".toml").map(str::to_string))
            .collect();
        on_disk.sort();
        let embedded: Vec<&str> = PRESETS.iter().map(|p| p.name).collect();
        assert_eq!(embedded, on_disk, "PRESETS in src/presets.rs is out of step with scenarios/");
        for p in PRESETS {
            let file = std::fs::read_to_string(scenarios_dir().join(format!("{}.toml", p.name))).unwrap();
            assert_eq!(p.text, file, "{}", p.name);
        }
    }

    /// Every preset loads, has a short one-line summary, and either has its trace bundled or
    /// names a trace outside the repository (only `didi-chengdu`, documented as not shipped).
    #[test]
    fn every_preset_loads_with_a_one_line_description() {
        for p in PRESETS {
            let s = p.load().unwrap_or_else(|e| panic!("{}: {e}", p.name));
            assert_eq!(s.origin, format!("preset {}", p.name));
            let d = p.description();
            assert!(!d.is_empty() && d.len() <= 90, "{}: first line must be a short summary: {d:?}", p.name);
            if let MobilityConfig::Didi { trace } | MobilityConfig::Fcd { trace } = &s.mobility {
                let bundled = s.bundled_file(trace).is_some();
                assert_eq!(bundled, p.name != "didi-chengdu", "{}: trace {}", p.name, trace.display());
            }
        }
    }

    /// The bundled trace is the shipped file, and a preset's fleet loads from it even where the
    /// file is not on disk (the base directory is made to point nowhere).
    #[test]
    fn didi_sample_reads_its_bundled_trace() {
        for (path, text) in BUNDLED {
            assert_eq!(*text, std::fs::read_to_string(scenarios_dir().join(path)).unwrap(), "{path}");
        }
        let mut s = find("didi-sample").unwrap().load().unwrap();
        s.base_dir = PathBuf::from("/nonexistent");
        let fleet = vecsim_core::mobility::load(&s, None).unwrap();
        assert_eq!(fleet.len(), 12);
    }

    /// A trace that does not ship and is not on disk: the error names the preset, the path and
    /// `--trace FILE`.
    #[test]
    fn missing_trace_of_a_preset_says_to_pass_trace() {
        let mut s = find("didi-chengdu").unwrap().load().unwrap();
        s.base_dir = PathBuf::from("/nonexistent/scenarios");
        let e = vecsim_core::mobility::load(&s, None).unwrap_err();
        assert!(matches!(e, ScenarioError::TraceNotFound { .. }), "{e:?}");
        let msg = e.to_string();
        for needle in ["preset didi-chengdu", "/nonexistent/scenarios/../../shared/data", "--trace FILE"] {
            assert!(msg.contains(needle), "{needle:?} not in {msg}");
        }
    }

    #[test]
    fn find_accepts_the_toml_suffix_and_rejects_unknown_names() {
        assert_eq!(find("paper-noon").unwrap().name, "paper-noon");
        assert_eq!(find("paper-noon.toml").unwrap().name, "paper-noon");
        assert!(find("paper-midnight").is_none());
        assert!(find("scenarios/paper-noon.toml").is_none());
    }

    /// Errors in a preset's text name the preset (as a file's errors name the file).
    #[test]
    fn errors_name_the_preset() {
        let broken = Preset { name: "broken", text: "name = \"b\"\n[time]\nslots = 0\n" };
        let e = broken.load().unwrap_err().to_string();
        assert!(e.starts_with("preset broken: "), "{e}");
        let bad_value = Preset {
            name: "bad-value",
            text: find("paper-noon").unwrap().text.replace("slots = 300", "slots = 0").leak(),
        };
        let e = bad_value.load().unwrap_err().to_string();
        assert!(e.contains("preset bad-value") && e.contains("time.slots"), "{e}");
    }
}
