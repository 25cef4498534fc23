//! Scenario files: every parameter of a run, read from TOML and validated strictly.
//!
//! Parsing rejects unknown keys (serde `deny_unknown_fields`, the message names the key and the
//! line) and [`Scenario::validate`] rejects impossible values with the dotted key path
//! (`rsus.cpu_ghz`, `tasks.deadline_s`, ...). A scenario that loads is one the model can run.

use crate::allocation::AllocatorKind;
use crate::channel::ChannelConfig;
use crate::error::ScenarioError;
use crate::fault::FaultPlan;
use crate::geometry::Point;
use crate::ids::RsuId;
use crate::learning::LearningConfig;
use crate::rng::{self, Domain};
use crate::wired::WiredLink;
use rand::Rng;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// A closed interval `[min, max]`, written `[min, max]` in TOML. Values are drawn uniformly.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(from = "[f64; 2]", into = "[f64; 2]")]
pub struct Range {
    /// Lower bound, in the unit of the key it is used for.
    pub min: f64,
    /// Upper bound, in the unit of the key it is used for.
    pub max: f64,
}

impl From<[f64; 2]> for Range {
    fn from(v: [f64; 2]) -> Self {
        Range { min: v[0], max: v[1] }
    }
}

impl From<Range> for [f64; 2] {
    fn from(r: Range) -> Self {
        [r.min, r.max]
    }
}

impl Range {
    /// The interval `[min, max]`.
    pub const fn new(min: f64, max: f64) -> Self {
        Range { min, max }
    }

    /// Uniform draw in `[min, max]` (exactly `min` when the range is a point).
    pub fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> f64 {
        let u: f64 = rng.gen();
        self.min + (self.max - self.min) * u
    }

    /// Checks `0 <= min <= max` (or `0 < min` when `strictly_positive`), all finite.
    fn check(&self, key: &str, strictly_positive: bool) -> Result<(), ScenarioError> {
        if !self.min.is_finite() || !self.max.is_finite() {
            return Err(ScenarioError::invalid(key, "range bounds must be finite numbers"));
        }
        if self.min > self.max {
            return Err(ScenarioError::invalid(key, format!("min {} is greater than max {}", self.min, self.max)));
        }
        if strictly_positive && self.min <= 0.0 {
            return Err(ScenarioError::invalid(key, format!("must be > 0, got min {}", self.min)));
        }
        if self.min < 0.0 {
            return Err(ScenarioError::invalid(key, format!("must be >= 0, got min {}", self.min)));
        }
        Ok(())
    }
}

/// The whole scenario, as written in a `scenarios/*.toml` file.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// Human-readable name, used in reports.
    pub name: String,
    /// Master seed: every random stream derives from it (see [`crate::rng`]).
    #[serde(default = "default_seed")]
    pub seed: u64,
    /// Default policy for `vecsim run` (`orl`, `orm`, `random`, `br-ne`, learners).
    #[serde(default = "default_policy")]
    pub policy: crate::policy::PolicyName,
    /// `[time]`: slot count `T` and slot length `Δ`.
    pub time: TimeConfig,
    /// `[rsus]`: RSU placement, CPU, bandwidth and range.
    pub rsus: RsuConfig,
    /// `[channel]`: how the V2I uplink rate is found (eq. 1).
    #[serde(default)]
    pub channel: ChannelConfig,
    /// `[wired]`: RSU-to-RSU migration link parameters (eq. 4).
    #[serde(default)]
    pub wired: WiredLink,
    /// `[tasks]`: task generation rate and ranges of `d_k`, `c_k`, `t_k`.
    pub tasks: TaskConfig,
    /// `[allocation]`: CPU allocator at executing RSUs and carry-over.
    #[serde(default)]
    pub allocation: AllocationConfig,
    /// `[mobility]`: where vehicle positions come from (trace or generator).
    pub mobility: MobilityConfig,
    /// `[faults]`: the fault plan (empty by default).
    #[serde(default)]
    pub faults: FaultPlan,
    /// `[learning]`: hyper-parameters of the learning policies.
    #[serde(default)]
    pub learning: LearningConfig,
    /// Directory the file was read from; relative trace paths resolve against it.
    #[serde(skip)]
    pub base_dir: PathBuf,
    /// Where the text came from (the file's path, or a label such as `preset paper-noon`), so
    /// that errors found after parsing (a missing trace) can still name it. Empty for
    /// [`Scenario::parse`].
    #[serde(skip)]
    pub origin: String,
    /// Files compiled into the program alongside the scenario text (an embedded preset's trace),
    /// read instead of the file system so that the scenario runs from any directory.
    #[serde(skip)]
    pub bundled: Vec<BundledFile>,
}

/// A file a scenario refers to, shipped as text with it rather than read from disk.
#[derive(Clone, Debug)]
pub struct BundledFile {
    /// The path exactly as the scenario writes it (e.g. `../traces/didi-sample.csv`).
    pub path: PathBuf,
    /// The file's contents.
    pub text: &'static str,
}

fn default_seed() -> u64 {
    1
}
fn default_policy() -> crate::policy::PolicyName {
    crate::policy::PolicyName::Orl
}

/// Episode length.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TimeConfig {
    /// Number of slots `T` in an episode.
    pub slots: u32,
    /// Slot length `Δ`, seconds.
    #[serde(default = "default_slot_s")]
    pub slot_s: f64,
}

fn default_slot_s() -> f64 {
    1.0
}

/// RSU placement: an explicit list, or `count` RSUs evenly along a line.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RsuConfig {
    /// Number of RSUs placed evenly on the segment `from_m`..`to_m` (segment centres).
    #[serde(default)]
    pub count: Option<u32>,
    /// Start of the line, metres. Default `[0, 0]`.
    #[serde(default)]
    pub from_m: Option<[f64; 2]>,
    /// End of the line, metres.
    #[serde(default)]
    pub to_m: Option<[f64; 2]>,
    /// CPU frequency range, GHz; each RSU draws uniformly from it (layout stream).
    #[serde(default)]
    pub cpu_ghz: Option<Range>,
    /// Uplink bandwidths, Mbit/s, assigned to RSUs by id, cycling through the list.
    #[serde(default)]
    pub bandwidth_mbps: Option<Vec<f64>>,
    /// V2I range `u_e`, metres.
    #[serde(default = "default_range_m")]
    pub range_m: f64,
    /// Explicit RSUs; when present, the layout keys above must be absent.
    #[serde(default)]
    pub list: Vec<RsuEntry>,
}

fn default_range_m() -> f64 {
    500.0
}

/// One explicitly placed RSU.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RsuEntry {
    /// metres
    pub x: f64,
    /// metres
    pub y: f64,
    /// CPU frequency, GHz
    pub cpu_ghz: f64,
    /// Uplink bandwidth, Mbit/s
    pub bandwidth_mbps: f64,
    /// V2I range, metres (defaults to `rsus.range_m`)
    #[serde(default)]
    pub range_m: Option<f64>,
}

/// A placed RSU, as the model uses it (SI units).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RsuSpec {
    /// Dense RSU id (file or layout order).
    pub id: RsuId,
    /// Position `s_e`, metres.
    pub pos: Point,
    /// CPU frequency `c_e`, cycles/s.
    pub cpu_hz: f64,
    /// Uplink bandwidth `B_e`, bit/s.
    pub bandwidth_bps: f64,
    /// V2I range `u_e`, metres.
    pub range_m: f64,
}

/// Task generation parameters.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaskConfig {
    /// Probability that a present vehicle generates a task in a slot.
    pub request_rate: f64,
    /// Task size `d_k`, Mbit.
    pub data_mbit: Range,
    /// CPU cycles per bit `c_k`.
    pub cycles_per_bit: Range,
    /// Deadline `t_k`, seconds.
    pub deadline_s: Range,
}

/// Resource allocation at executing RSUs.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AllocationConfig {
    /// CPU allocator (`kkt` by default, eq. 12–15).
    #[serde(default)]
    pub allocator: AllocatorKind,
    /// Work running past the end of a slot keeps its CPU share busy in later slots.
    #[serde(default)]
    pub carry_over: bool,
}

impl Default for AllocationConfig {
    fn default() -> Self {
        AllocationConfig { allocator: AllocatorKind::Kkt, carry_over: false }
    }
}

/// Where vehicle positions come from.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, tag = "source", rename_all = "kebab-case")]
pub enum MobilityConfig {
    /// Didi GAIA trajectory CSV (`,vehicle_id,time,longitude,latitude`, metres, 1 s).
    Didi {
        /// Path of the CSV trace (relative paths resolve against the scenario's directory).
        trace: PathBuf,
    },
    /// SUMO FCD XML (`sumo --fcd-output`).
    Fcd {
        /// Path of the FCD XML trace (relative paths resolve against the scenario's directory).
        trace: PathBuf,
    },
    /// Seeded road generator.
    Generator(GeneratorConfig),
}

/// The seeded road generator: vehicles on a straight multi-lane road along x.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GeneratorConfig {
    /// Road length, metres (the road runs from x = 0 to x = road_length_m at y = 0).
    pub road_length_m: f64,
    /// Lanes per direction.
    #[serde(default = "default_lanes")]
    pub lanes: u32,
    /// Lane width, metres.
    #[serde(default = "default_lane_width")]
    pub lane_width_m: f64,
    /// Traffic in both directions (lanes mirrored at negative y).
    #[serde(default = "default_true")]
    pub bidirectional: bool,
    /// Vehicles already on the road at t = 0, uniformly placed.
    #[serde(default)]
    pub initial_vehicles: u32,
    /// Poisson arrival rate of new vehicles, vehicles/s over the whole road (all entries).
    pub arrival_rate_per_s: f64,
    /// Per-vehicle constant speed, m/s, drawn uniformly.
    pub speed_mps: Range,
}

fn default_lanes() -> u32 {
    2
}
fn default_lane_width() -> f64 {
    3.5
}
fn default_true() -> bool {
    true
}

impl Scenario {
    /// Reads and validates a scenario file.
    pub fn load(path: &Path) -> Result<Scenario, ScenarioError> {
        let text =
            std::fs::read_to_string(path).map_err(|e| ScenarioError::Io { path: path.to_path_buf(), source: e })?;
        let mut s = Scenario::parse(&text).map_err(|e| e.in_file(path))?;
        s.base_dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
        s.origin = path.display().to_string();
        Ok(s)
    }

    /// Parses and validates scenario text that did not come from a file of its own (a preset
    /// compiled into the program). Errors name `origin` where [`Scenario::load`] names the file,
    /// and relative trace paths resolve against `base_dir`.
    pub fn from_toml_str(text: &str, origin: &str, base_dir: &Path) -> Result<Scenario, ScenarioError> {
        let mut s = Scenario::parse(text).map_err(|e| e.in_file(Path::new(origin)))?;
        s.base_dir = base_dir.to_path_buf();
        s.origin = origin.to_string();
        Ok(s)
    }

    /// The bundled text of `path` (as written in the scenario), if it was shipped with it.
    pub fn bundled_file(&self, path: &Path) -> Option<&'static str> {
        self.bundled.iter().find(|f| f.path == path).map(|f| f.text)
    }

    /// Parses and validates scenario TOML text.
    pub fn parse(text: &str) -> Result<Scenario, ScenarioError> {
        let s: Scenario =
            toml::from_str(text).map_err(|e| ScenarioError::Parse { file: None, message: e.to_string() })?;
        s.validate()?;
        Ok(s)
    }

    /// Resolves a path written in the scenario relative to the scenario file's directory.
    pub fn resolve(&self, p: &Path) -> PathBuf {
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            self.base_dir.join(p)
        }
    }

    /// A stable hash of the environment a learner is trained for, used by checkpoints to refuse
    /// weights trained on another scenario. It covers the RSUs, channel, wired network, tasks,
    /// allocation, mobility, slot length and learning hyper-parameters, and deliberately leaves
    /// out what may change between training and evaluation of the same scenario: its name, the
    /// seed, the policy, the number of slots and the fault plan.
    pub fn hash(&self) -> u64 {
        let mut env = self.clone();
        env.name = String::new();
        env.seed = 0;
        env.policy = crate::policy::PolicyName::Orl;
        env.time.slots = 0;
        env.faults = FaultPlan::default();
        let json = serde_json::to_string(&env).expect("scenario serialises");
        // FNV-1a 64: stable across Rust versions, unlike `DefaultHasher`.
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in json.bytes() {
            h ^= b as u64;
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
        h
    }

    /// Checks every value; the error names the offending key.
    pub fn validate(&self) -> Result<(), ScenarioError> {
        if self.time.slots == 0 {
            return Err(ScenarioError::invalid("time.slots", "must be at least 1"));
        }
        if !(self.time.slot_s.is_finite() && self.time.slot_s > 0.0) {
            return Err(ScenarioError::invalid("time.slot_s", "must be > 0 seconds"));
        }
        self.rsus.validate()?;
        self.channel.validate()?;
        self.wired.validate()?;
        let t = &self.tasks;
        if !(0.0..=1.0).contains(&t.request_rate) {
            return Err(ScenarioError::invalid(
                "tasks.request_rate",
                format!("must be a probability in [0, 1], got {}", t.request_rate),
            ));
        }
        t.data_mbit.check("tasks.data_mbit", true)?;
        t.cycles_per_bit.check("tasks.cycles_per_bit", true)?;
        t.deadline_s.check("tasks.deadline_s", true)?;
        if let MobilityConfig::Generator(g) = &self.mobility {
            g.validate()?;
        }
        self.faults.validate(self.rsu_count(), self.time.slots)?;
        self.learning.validate()?;
        Ok(())
    }

    /// Number of RSUs this scenario places.
    pub fn rsu_count(&self) -> usize {
        if self.rsus.list.is_empty() {
            self.rsus.count.unwrap_or(0) as usize
        } else {
            self.rsus.list.len()
        }
    }

    /// The same scenario with its RSUs written out as an explicit list, so that changing the
    /// seed afterwards changes traffic but not the RSUs' CPU draws (training on fresh traffic
    /// per episode keeps one layout).
    pub fn pinned_layout(&self) -> Scenario {
        let mut s = self.clone();
        let specs = self.rsu_specs();
        s.rsus = RsuConfig {
            count: None,
            from_m: None,
            to_m: None,
            cpu_ghz: None,
            bandwidth_mbps: None,
            range_m: self.rsus.range_m,
            list: specs
                .iter()
                .map(|r| RsuEntry {
                    x: r.pos.x,
                    y: r.pos.y,
                    cpu_ghz: r.cpu_hz / 1e9,
                    bandwidth_mbps: r.bandwidth_bps / 1e6,
                    range_m: Some(r.range_m),
                })
                .collect(),
        };
        s
    }

    /// Places the RSUs (SI units). CPU draws come from the layout stream of the seed.
    pub fn rsu_specs(&self) -> Vec<RsuSpec> {
        let r = &self.rsus;
        if !r.list.is_empty() {
            return r
                .list
                .iter()
                .enumerate()
                .map(|(i, e)| RsuSpec {
                    id: RsuId(i as u32),
                    pos: Point::new(e.x, e.y),
                    cpu_hz: e.cpu_ghz * 1e9,
                    bandwidth_bps: e.bandwidth_mbps * 1e6,
                    range_m: e.range_m.unwrap_or(r.range_m),
                })
                .collect();
        }
        let n = r.count.unwrap_or(0) as usize;
        let from = r.from_m.unwrap_or([0.0, 0.0]);
        let to = r.to_m.unwrap_or([0.0, 0.0]);
        let cpu = r.cpu_ghz.unwrap_or(Range::new(3.0, 10.0));
        let bw = r.bandwidth_mbps.clone().unwrap_or_else(|| vec![54.0, 450.0, 866.7]);
        let mut rng = rng::stream(self.seed, Domain::Layout, 0);
        (0..n)
            .map(|i| {
                let f = (i as f64 + 0.5) / n as f64;
                RsuSpec {
                    id: RsuId(i as u32),
                    pos: Point::new(from[0] + (to[0] - from[0]) * f, from[1] + (to[1] - from[1]) * f),
                    cpu_hz: cpu.sample(&mut rng) * 1e9,
                    bandwidth_bps: bw[i % bw.len()] * 1e6,
                    range_m: r.range_m,
                }
            })
            .collect()
    }
}

impl RsuConfig {
    fn validate(&self) -> Result<(), ScenarioError> {
        if !(self.range_m.is_finite() && self.range_m > 0.0) {
            return Err(ScenarioError::invalid("rsus.range_m", "must be > 0 metres"));
        }
        if !self.list.is_empty() {
            let layout_keys = [
                ("rsus.count", self.count.is_some()),
                ("rsus.from_m", self.from_m.is_some()),
                ("rsus.to_m", self.to_m.is_some()),
                ("rsus.cpu_ghz", self.cpu_ghz.is_some()),
                ("rsus.bandwidth_mbps", self.bandwidth_mbps.is_some()),
            ];
            if let Some((k, _)) = layout_keys.iter().find(|(_, set)| *set) {
                return Err(ScenarioError::invalid(k, "cannot be combined with an explicit rsus.list"));
            }
            for (i, e) in self.list.iter().enumerate() {
                let key = |f: &str| format!("rsus.list[{i}].{f}");
                if !(e.x.is_finite() && e.y.is_finite()) {
                    return Err(ScenarioError::invalid(&key("x"), "position must be finite metres"));
                }
                if !(e.cpu_ghz.is_finite() && e.cpu_ghz > 0.0) {
                    return Err(ScenarioError::invalid(&key("cpu_ghz"), format!("must be > 0 GHz, got {}", e.cpu_ghz)));
                }
                if !(e.bandwidth_mbps.is_finite() && e.bandwidth_mbps > 0.0) {
                    return Err(ScenarioError::invalid(
                        &key("bandwidth_mbps"),
                        format!("must be > 0 Mbit/s, got {}", e.bandwidth_mbps),
                    ));
                }
                if let Some(r) = e.range_m {
                    if !(r.is_finite() && r > 0.0) {
                        return Err(ScenarioError::invalid(&key("range_m"), "must be > 0 metres"));
                    }
                }
            }
            return Ok(());
        }
        match self.count {
            None | Some(0) => {
                return Err(ScenarioError::invalid(
                    "rsus.count",
                    "a scenario needs at least one RSU (set rsus.count >= 1 or give rsus.list)",
                ))
            }
            Some(_) => {}
        }
        if self.to_m.is_none() {
            return Err(ScenarioError::invalid("rsus.to_m", "required with rsus.count (end of the RSU line, metres)"));
        }
        if let Some(c) = &self.cpu_ghz {
            c.check("rsus.cpu_ghz", true)?;
        }
        if let Some(b) = &self.bandwidth_mbps {
            if b.is_empty() {
                return Err(ScenarioError::invalid("rsus.bandwidth_mbps", "must list at least one bandwidth"));
            }
            if let Some(bad) = b.iter().find(|v| !(v.is_finite() && **v > 0.0)) {
                return Err(ScenarioError::invalid("rsus.bandwidth_mbps", format!("must be > 0 Mbit/s, got {bad}")));
            }
        }
        Ok(())
    }
}

impl GeneratorConfig {
    fn validate(&self) -> Result<(), ScenarioError> {
        if !(self.road_length_m.is_finite() && self.road_length_m > 0.0) {
            return Err(ScenarioError::invalid("mobility.road_length_m", "must be > 0 metres"));
        }
        if self.lanes == 0 {
            return Err(ScenarioError::invalid("mobility.lanes", "must be at least 1"));
        }
        if !(self.lane_width_m.is_finite() && self.lane_width_m > 0.0) {
            return Err(ScenarioError::invalid("mobility.lane_width_m", "must be > 0 metres"));
        }
        if !(self.arrival_rate_per_s.is_finite() && self.arrival_rate_per_s >= 0.0) {
            return Err(ScenarioError::invalid("mobility.arrival_rate_per_s", "must be >= 0 vehicles/s"));
        }
        self.speed_mps.check("mobility.speed_mps", true)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) const MINIMAL: &str = r#"
name = "t"
[time]
slots = 10
[rsus]
count = 2
to_m = [1000.0, 0.0]
cpu_ghz = [3.0, 10.0]
[tasks]
request_rate = 0.5
data_mbit = [1.0, 2.0]
cycles_per_bit = [100.0, 200.0]
deadline_s = [0.5, 1.0]
[mobility]
source = "generator"
road_length_m = 1000.0
arrival_rate_per_s = 1.0
speed_mps = [10.0, 20.0]
"#;

    #[test]
    fn minimal_parses_and_places_rsus_on_segment_centres() {
        let s = Scenario::parse(MINIMAL).unwrap();
        let r = s.rsu_specs();
        assert_eq!(r.len(), 2);
        assert_eq!(r[0].pos, Point::new(250.0, 0.0));
        assert_eq!(r[1].pos, Point::new(750.0, 0.0));
        for x in &r {
            assert!(x.cpu_hz >= 3e9 && x.cpu_hz <= 10e9);
        }
        assert_eq!(r[0].bandwidth_bps, 54e6);
        assert_eq!(r[1].bandwidth_bps, 450e6);
    }

    fn err(text: &str) -> String {
        Scenario::parse(text).unwrap_err().to_string()
    }

    #[test]
    fn unknown_key_is_named() {
        let e = err(&MINIMAL.replace("request_rate = 0.5", "request_rate = 0.5\nbogus_key = 1"));
        assert!(e.contains("bogus_key"), "{e}");
    }

    #[test]
    fn impossible_values_are_named() {
        let e = err(&MINIMAL.replace("cpu_ghz = [3.0, 10.0]", "cpu_ghz = [-3.0, 10.0]"));
        assert!(e.contains("rsus.cpu_ghz"), "{e}");
        let e = err(&MINIMAL.replace("count = 2", "count = 0"));
        assert!(e.contains("rsus.count"), "{e}");
        let e = err(&MINIMAL.replace("deadline_s = [0.5, 1.0]", "deadline_s = [2.0, 1.0]"));
        assert!(e.contains("tasks.deadline_s") && e.contains("greater than"), "{e}");
        let e = err(&MINIMAL.replace("request_rate = 0.5", "request_rate = 1.5"));
        assert!(e.contains("tasks.request_rate"), "{e}");
        let e = err(&MINIMAL.replace("slots = 10", "slots = 0"));
        assert!(e.contains("time.slots"), "{e}");
    }

    #[test]
    fn pinned_layout_keeps_rsus_when_the_seed_changes() {
        let s = Scenario::parse(MINIMAL).unwrap();
        let mut pinned = s.pinned_layout();
        pinned.validate().unwrap();
        pinned.seed = 12345;
        let (a, b) = (s.rsu_specs(), pinned.rsu_specs());
        assert_eq!(a.len(), b.len());
        for (x, y) in a.iter().zip(&b) {
            assert_eq!(x.pos, y.pos);
            assert!((x.cpu_hz - y.cpu_hz).abs() <= x.cpu_hz * 1e-12);
            assert_eq!(x.bandwidth_bps, y.bandwidth_bps);
        }
        let mut reseeded = s.clone();
        reseeded.seed = 12345;
        assert_ne!(reseeded.rsu_specs()[0].cpu_hz, a[0].cpu_hz, "an unpinned layout follows the seed");
    }

    #[test]
    fn hash_covers_the_environment_not_the_run() {
        let a = Scenario::parse(MINIMAL).unwrap().hash();
        assert_eq!(a, Scenario::parse(MINIMAL).unwrap().hash());
        let env_change = Scenario::parse(&MINIMAL.replace("request_rate = 0.5", "request_rate = 0.6")).unwrap().hash();
        assert_ne!(a, env_change);
        let layout_change = Scenario::parse(&MINIMAL.replace("count = 2", "count = 3")).unwrap().hash();
        assert_ne!(a, layout_change);
        // Same environment, other run settings: the same hash.
        let run_change = Scenario::parse(
            &MINIMAL.replace("slots = 10", "slots = 11").replace("name = \"t\"", "name = \"u\"\nseed = 9"),
        )
        .unwrap()
        .hash();
        assert_eq!(a, run_change);
    }
}
