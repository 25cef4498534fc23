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
    /// CPU frequency range, GHz (default `[3, 10]`), spread over the RSUs by `cpu_layout`.
    #[serde(default)]
    pub cpu_ghz: Option<Range>,
    /// How the RSUs' CPU frequencies fill `cpu_ghz`: `uniform` (the default) draws each from
    /// the seed's layout stream; `even` spaces them evenly over the range by RSU id, as the
    /// paper does (the same layout for every seed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_layout: Option<CpuLayout>,
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

/// How `rsus.count` RSUs get their CPU frequencies from `rsus.cpu_ghz`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CpuLayout {
    /// Each RSU draws uniformly from the range (layout stream of the seed).
    #[default]
    Uniform,
    /// RSU `i` of `n` gets `min + (max − min) · i / (n − 1)` (the midpoint when `n = 1`): the
    /// paper's capacities evenly over the range, independent of the seed.
    Even,
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
        let text = crate::bounded::read_to_string(path, crate::bounded::SCENARIO_CAP, "scenario files", "")
            .map_err(|e| ScenarioError::Io { path: path.to_path_buf(), source: e.into_io() })?;
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
        let s: Scenario = toml::from_str(text).map_err(|e| ScenarioError::Parse { file: None, source: Box::new(e) })?;
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
    /// allocation, mobility and slot length, and deliberately leaves out what may change between
    /// training and evaluation of the same scenario: its name, the seed, the policy, the number
    /// of slots, the fault plan and the learning hyper-parameters (a checkpoint keeps the ones
    /// it was trained with; `--budget` and `--learn` change them on the command line).
    ///
    /// The fault plan and `[learning]` are removed from what is hashed, not set to their
    /// defaults: a default that changes between versions (a learner option beyond the paper
    /// becoming the default) must not change the hash of every scenario.
    pub fn hash(&self) -> u64 {
        let mut env = self.clone();
        env.name = String::new();
        env.seed = 0;
        env.policy = crate::policy::PolicyName::Orl;
        env.time.slots = 0;
        let mut value = serde_json::to_value(&env).expect("scenario serialises");
        if let Some(map) = value.as_object_mut() {
            map.remove("faults");
            map.remove("learning");
        }
        let json = value.to_string();
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
        if !(self.time.slot_s * self.time.slots as f64).is_finite() {
            return Err(ScenarioError::invalid("time.slot_s", "the episode (slots × slot_s) is not a finite time"));
        }
        self.rsus.validate()?;
        self.channel.validate()?;
        self.wired.validate()?;
        // The name is printed in tables, file names and metrics labels: plain text only.
        if self.name.chars().count() > 200 || self.name.chars().any(char::is_control) {
            let shown: String = self.name.chars().take(40).flat_map(char::escape_default).collect();
            return Err(ScenarioError::invalid(
                "name",
                format!("`{shown}`: at most 200 characters, with no control characters (escape codes, NUL, newlines)"),
            ));
        }
        let t = &self.tasks;
        if !(0.0..=1.0).contains(&t.request_rate) {
            return Err(ScenarioError::invalid(
                "tasks.request_rate",
                format!("must be a probability in [0, 1], got {}", t.request_rate),
            ));
        }
        t.data_mbit.check("tasks.data_mbit", true)?;
        si_finite("tasks.data_mbit", t.data_mbit.max, 1e6, "Mbit", "bits")?;
        t.cycles_per_bit.check("tasks.cycles_per_bit", true)?;
        let work = t.data_mbit.max * 1e6 * t.cycles_per_bit.max;
        if !work.is_finite() {
            return Err(ScenarioError::invalid(
                "tasks.cycles_per_bit",
                format!(
                    "the largest task's work d·c = {:e} Mbit × 1e6 × {:e} cycles/bit is not a finite number of cycles",
                    t.data_mbit.max, t.cycles_per_bit.max
                ),
            ));
        }
        let min_mbps = if self.rsus.list.is_empty() {
            self.rsus.bandwidth_mbps.as_deref().unwrap_or(&[54.0]).iter().copied().fold(f64::INFINITY, f64::min)
        } else {
            self.rsus.list.iter().map(|e| e.bandwidth_mbps).fold(f64::INFINITY, f64::min)
        };
        if !(t.data_mbit.max / min_mbps).is_finite() {
            return Err(ScenarioError::invalid(
                "tasks.data_mbit",
                format!(
                    "uploading {:e} Mbit at {min_mbps:e} Mbit/s takes longer than any finite number of seconds",
                    t.data_mbit.max
                ),
            ));
        }
        t.deadline_s.check("tasks.deadline_s", true)?;
        if !self.allocation.carry_over && t.deadline_s.max > self.time.slot_s {
            return Err(ScenarioError::invalid(
                "tasks.deadline_s",
                format!(
                    "deadlines up to {} s are longer than a slot (time.slot_s = {} s); without \
                     allocation.carry_over = true every slot hands the whole CPU out again, so work still \
                     running would be booked twice: set carry_over = true or keep deadlines <= slot_s",
                    t.deadline_s.max, self.time.slot_s
                ),
            ));
        }
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
            cpu_layout: None,
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
        let layout = r.cpu_layout.unwrap_or_default();
        let mut rng = rng::stream(self.seed, Domain::Layout, 0);
        (0..n)
            .map(|i| {
                let f = (i as f64 + 0.5) / n as f64;
                let ghz = match layout {
                    CpuLayout::Uniform => cpu.sample(&mut rng),
                    CpuLayout::Even if n == 1 => (cpu.min + cpu.max) / 2.0,
                    CpuLayout::Even => cpu.min + (cpu.max - cpu.min) * i as f64 / (n - 1) as f64,
                };
                RsuSpec {
                    id: RsuId(i as u32),
                    pos: Point::new(from[0] + (to[0] - from[0]) * f, from[1] + (to[1] - from[1]) * f),
                    cpu_hz: ghz * 1e9,
                    bandwidth_bps: bw[i % bw.len()] * 1e6,
                    range_m: r.range_m,
                }
            })
            .collect()
    }
}

/// What a run of a scenario will roughly hold in memory, estimated from its sizes alone
/// (before a fleet, an RSU table or a report is allocated), so that a typo like
/// `initial_vehicles = 4e9` is refused with a message instead of aborting on a failed
/// allocation. Deliberately generous: each count is charged what one entity costs at most in
/// either engine (a vehicle: its path, name, live state, actor and task results; an RSU: node,
/// policy, actor, per-slot buffers; a slot: its `slots.csv` row and per-slot bookkeeping).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MemoryEstimate {
    /// Vehicles expected over the episode (generator: initial + arrival rate × horizon).
    pub vehicles: f64,
    /// RSUs in the layout.
    pub rsus: f64,
    /// Slots in the episode.
    pub slots: f64,
    /// Bytes a trace file expands to once read (0 for the generator).
    pub trace_bytes: f64,
    /// Bytes of the learners (networks, optimisers, minibatch workspace, replay buffers) of a
    /// training run; 0 for a run ([`MemoryEstimate::with_learners`] adds them).
    pub learner_bytes: f64,
    /// The total, bytes.
    pub bytes: f64,
}

impl MemoryEstimate {
    /// Bytes per vehicle: its path, its actor, its task stream. Calibrated on the actor engine
    /// (the larger of the two): `vecsim bench engine` measures 14.7 KiB of resident memory per
    /// live vehicle actor (its mailbox, task and state), plus about 1.3 KiB of path and results.
    pub const BYTES_PER_VEHICLE: f64 = 16384.0;
    /// Bytes per RSU: its node, policy, actor and per-slot buffers.
    pub const BYTES_PER_RSU: f64 = 16384.0;
    /// Bytes per slot: its `slots.csv` row and per-slot bookkeeping.
    pub const BYTES_PER_SLOT: f64 = 256.0;
    /// A read trace takes about this many times its (uncompressed) file size.
    pub const TRACE_FACTOR: f64 = 2.0;
    /// A gzip-compressed trace is assumed to expand this much.
    pub const GZIP_FACTOR: f64 = 10.0;

    /// The estimate with a training run's learners added (`bytes`, from the network sizes,
    /// minibatch and replay capacity: `vecsim_learn::LearnerOptions::memory_bytes`).
    pub fn with_learners(mut self, bytes: f64) -> MemoryEstimate {
        self.bytes += bytes - self.learner_bytes;
        self.learner_bytes = bytes;
        self
    }

    /// The total in GiB.
    pub fn gib(&self) -> f64 {
        self.bytes / (1u64 << 30) as f64
    }

    /// What the estimate is made of, for messages, e.g.
    /// `4000000000 vehicles × 2 KiB + 8 RSUs × 16 KiB + 300 slots × 256 B`.
    pub fn breakdown(&self) -> String {
        let mut s = format!(
            "{} vehicles × {} KiB + {} RSUs × {} KiB + {} slots × {} B",
            self.vehicles.round(),
            Self::BYTES_PER_VEHICLE / 1024.0,
            self.rsus,
            Self::BYTES_PER_RSU / 1024.0,
            self.slots,
            Self::BYTES_PER_SLOT
        );
        if self.trace_bytes > 0.0 {
            let _ = std::fmt::Write::write_fmt(
                &mut s,
                format_args!(" + trace {:.1} MiB", self.trace_bytes / (1u64 << 20) as f64),
            );
        }
        if self.learner_bytes > 0.0 {
            let _ = std::fmt::Write::write_fmt(
                &mut s,
                format_args!(" + learners {:.1} MiB", self.learner_bytes / (1u64 << 20) as f64),
            );
        }
        s
    }
}

impl Scenario {
    /// Estimates the memory a run needs from the scenario's sizes (see [`MemoryEstimate`]);
    /// `trace` replaces the scenario's trace path (`--trace`). Allocates nothing and reads no
    /// file (a trace is sized from its metadata).
    pub fn memory_estimate(&self, trace: Option<&Path>) -> MemoryEstimate {
        let horizon_s = self.time.slots as f64 * self.time.slot_s;
        let (vehicles, trace_bytes) = match &self.mobility {
            MobilityConfig::Generator(g) => {
                let arrivals = if g.arrival_rate_per_s > 0.0 { g.arrival_rate_per_s * horizon_s } else { 0.0 };
                (g.initial_vehicles as f64 + arrivals, 0.0)
            }
            MobilityConfig::Didi { trace: t } | MobilityConfig::Fcd { trace: t } => {
                let p = trace.map(Path::to_path_buf).unwrap_or_else(|| self.resolve(t));
                let size = std::fs::metadata(&p).map(|m| m.len() as f64).unwrap_or(0.0);
                let gz = std::fs::File::open(&p)
                    .and_then(|mut f| {
                        let mut b = [0u8; 2];
                        std::io::Read::read_exact(&mut f, &mut b).map(|_| b == [0x1f, 0x8b])
                    })
                    .unwrap_or(false);
                (0.0, size * MemoryEstimate::TRACE_FACTOR * if gz { MemoryEstimate::GZIP_FACTOR } else { 1.0 })
            }
        };
        let rsus = self.rsu_count() as f64;
        let slots = self.time.slots as f64;
        let bytes = vehicles * MemoryEstimate::BYTES_PER_VEHICLE
            + rsus * MemoryEstimate::BYTES_PER_RSU
            + slots * MemoryEstimate::BYTES_PER_SLOT
            + trace_bytes;
        MemoryEstimate { vehicles, rsus, slots, trace_bytes, learner_bytes: 0.0, bytes }
    }
}

/// Checks that `v` (in `unit`) is still a finite number once converted to SI (`× factor`).
fn si_finite(key: &str, v: f64, factor: f64, unit: &str, si: &str) -> Result<(), ScenarioError> {
    if (v * factor).is_finite() {
        Ok(())
    } else {
        Err(ScenarioError::invalid(
            key,
            format!("{v:e} {unit} is not a finite number of {si} ({v:e} × {factor:e} overflows)"),
        ))
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
                ("rsus.cpu_layout", self.cpu_layout.is_some()),
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
                si_finite(&key("cpu_ghz"), e.cpu_ghz, 1e9, "GHz", "Hz")?;
                if !(e.bandwidth_mbps.is_finite() && e.bandwidth_mbps > 0.0) {
                    return Err(ScenarioError::invalid(
                        &key("bandwidth_mbps"),
                        format!("must be > 0 Mbit/s, got {}", e.bandwidth_mbps),
                    ));
                }
                si_finite(&key("bandwidth_mbps"), e.bandwidth_mbps, 1e6, "Mbit/s", "bit/s")?;
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
        for (k, p) in [("rsus.from_m", self.from_m), ("rsus.to_m", self.to_m)] {
            if let Some(p) = p {
                if !(p[0].is_finite() && p[1].is_finite()) {
                    return Err(ScenarioError::invalid(k, format!("must be finite metres, got [{}, {}]", p[0], p[1])));
                }
            }
        }
        if let Some(c) = &self.cpu_ghz {
            c.check("rsus.cpu_ghz", true)?;
            si_finite("rsus.cpu_ghz", c.max, 1e9, "GHz", "Hz")?;
        }
        if let Some(b) = &self.bandwidth_mbps {
            if b.is_empty() {
                return Err(ScenarioError::invalid("rsus.bandwidth_mbps", "must list at least one bandwidth"));
            }
            if let Some(bad) = b.iter().find(|v| !(v.is_finite() && **v > 0.0)) {
                return Err(ScenarioError::invalid("rsus.bandwidth_mbps", format!("must be > 0 Mbit/s, got {bad}")));
            }
            for v in b {
                si_finite("rsus.bandwidth_mbps", *v, 1e6, "Mbit/s", "bit/s")?;
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
pub(crate) mod tests {
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
        // Nor do the learning hyper-parameters or their defaults, nor the faults.
        let mut other = Scenario::parse(MINIMAL).unwrap();
        other.learning = LearningConfig { rsus_in_turn: !other.learning.rsus_in_turn, gamma: 0.5, ..other.learning };
        other.faults.vehicle_dropout = 0.5;
        assert_eq!(a, other.hash());
    }

    /// Issue 10, item 3: deadlines longer than a slot need carry-over.
    #[test]
    fn deadlines_longer_than_a_slot_need_carry_over() {
        let long = MINIMAL.replace("deadline_s = [0.5, 1.0]", "deadline_s = [0.5, 60.0]");
        let e = err(&long);
        assert!(e.contains("tasks.deadline_s") && e.contains("carry_over"), "{e}");
        // With carry-over they are modelled (the CPU stays booked until the work ends).
        Scenario::parse(&format!("{long}\n[allocation]\ncarry_over = true\n")).unwrap();
        // A deadline of exactly one slot is fine without it.
        Scenario::parse(&MINIMAL.replace("deadline_s = [0.5, 1.0]", "deadline_s = [0.5, 1.0]\n")).unwrap();
        let e = err(&MINIMAL.replace("slots = 10", "slots = 10\nslot_s = 0.5"));
        assert!(e.contains("tasks.deadline_s"), "{e}");
    }

    /// Issue 10, item 6: values finite in the file but not in SI units, and NaN positions.
    #[test]
    fn values_that_overflow_in_si_units_are_named() {
        for (from, to, key) in [
            ("cpu_ghz = [3.0, 10.0]", "cpu_ghz = [1e300, 1e300]", "rsus.cpu_ghz"),
            ("data_mbit = [1.0, 2.0]", "data_mbit = [1.0, 1e303]", "tasks.data_mbit"),
            ("cycles_per_bit = [100.0, 200.0]", "cycles_per_bit = [100.0, 1e303]", "tasks.cycles_per_bit"),
            ("to_m = [1000.0, 0.0]", "to_m = [1000.0, 0.0]\nfrom_m = [nan, 0.0]", "rsus.from_m"),
            ("to_m = [1000.0, 0.0]", "to_m = [nan, 0.0]", "rsus.to_m"),
            ("to_m = [1000.0, 0.0]", "to_m = [1000.0, 0.0]\nbandwidth_mbps = [1e303]", "rsus.bandwidth_mbps"),
            ("slots = 10", "slots = 10\nslot_s = 1e308", "time.slot_s"),
        ] {
            assert!(MINIMAL.contains(from));
            let e = err(&MINIMAL.replace(from, to));
            assert!(e.contains(key), "{to}: {e}");
        }
        // 1e10 Mbit at 1e-300 Mbit/s: an upload time of 1e310 s.
        let slow = MINIMAL
            .replace("to_m = [1000.0, 0.0]", "to_m = [1000.0, 0.0]\nbandwidth_mbps = [1e-300]")
            .replace("data_mbit = [1.0, 2.0]", "data_mbit = [1.0, 1e10]");
        let e = err(&slow);
        assert!(e.contains("tasks.data_mbit") && e.contains("1e-300 Mbit/s"), "{e}");
        assert!(e.len() < 300, "numbers are written compactly: {e}");
        let e = err(&format!("{MINIMAL}\n[faults]\nlatency.upload = {{ kind = \"fixed\", s = 1e308 }}\n"));
        assert!(e.contains("faults.latency.upload.s"), "{e}");
        let list = MINIMAL.replace(
            "count = 2\nto_m = [1000.0, 0.0]\ncpu_ghz = [3.0, 10.0]",
            "[[rsus.list]]\nx = 0.0\ny = 0.0\ncpu_ghz = 1e300\nbandwidth_mbps = 10.0",
        );
        let e = err(&list);
        assert!(e.contains("rsus.list[0].cpu_ghz"), "{e}");
    }

    /// Issue 10, item 9: reading a scenario rejects the policy `run` would reject (the name is
    /// typed, so a typo fails where the file is parsed, with its line).
    #[test]
    fn unknown_policy_is_named() {
        let e = err(&MINIMAL.replace("name = \"t\"", "name = \"t\"\npolicy = \"bogus\""));
        assert!(e.contains("line 3") && e.contains("`bogus`") && e.contains("fed-maddpg"), "{e}");
        for p in crate::policy::PolicyName::ALL {
            let text = MINIMAL.replace("name = \"t\"", &format!("name = \"t\"\npolicy = \"{p}\""));
            assert_eq!(Scenario::parse(&text).unwrap().policy, p);
        }
    }

    /// Issue 10, item 12: `even` spreads the capacities evenly by id, whatever the seed.
    #[test]
    fn even_cpu_layout() {
        let text = |layout: &str, seed: u64| {
            MINIMAL
                .replace("count = 2", "count = 8")
                .replace("cpu_ghz = [3.0, 10.0]", &format!("cpu_ghz = [3.0, 10.0]\ncpu_layout = \"{layout}\""))
                .replace("name = \"t\"", &format!("name = \"t\"\nseed = {seed}"))
        };
        for seed in [1, 2, 99] {
            let ghz: Vec<f64> =
                Scenario::parse(&text("even", seed)).unwrap().rsu_specs().iter().map(|r| r.cpu_hz / 1e9).collect();
            assert_eq!(ghz, vec![3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0]);
        }
        let a = Scenario::parse(&text("uniform", 1)).unwrap().rsu_specs();
        let b = Scenario::parse(&text("uniform", 2)).unwrap().rsu_specs();
        assert_ne!(a[0].cpu_hz, b[0].cpu_hz, "uniform follows the seed");
        // The default is uniform (the draws of a file without the key are unchanged).
        let default = Scenario::parse(&MINIMAL.replace("count = 2", "count = 8")).unwrap().rsu_specs();
        assert_eq!(default, a);
        // One RSU sits in the middle of the range.
        let one = Scenario::parse(&text("even", 1).replace("count = 8", "count = 1")).unwrap().rsu_specs();
        assert_eq!(one[0].cpu_hz, 6.5e9);
        let e = err(&text("diagonal", 1));
        assert!(e.contains("diagonal"), "{e}");
    }

    /// The paper presets use the paper's layout: 3, 4, ..., 10 GHz, whatever the seed.
    #[test]
    fn paper_presets_spread_capacities_evenly() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios");
        for name in ["paper-morning", "paper-noon", "paper-evening", "faults-latency", "faults-dropout"] {
            let mut s = Scenario::load(&dir.join(format!("{name}.toml"))).unwrap();
            for seed in [1, 7] {
                s.seed = seed;
                let ghz: Vec<f64> = s.rsu_specs().iter().map(|r| r.cpu_hz / 1e9).collect();
                assert_eq!(ghz, vec![3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0], "{name}");
            }
        }
    }

    /// Issue 10, item 7: the estimate is a function of the sizes alone.
    #[test]
    fn memory_estimate_by_hand() {
        // 10 slots of 1 s, generator with 0 initial vehicles and 1 vehicle/s: 10 vehicles.
        let s = Scenario::parse(MINIMAL).unwrap();
        let m = s.memory_estimate(None);
        assert_eq!((m.vehicles, m.rsus, m.slots, m.trace_bytes), (10.0, 2.0, 10.0, 0.0));
        assert_eq!(m.bytes, 10.0 * 16384.0 + 2.0 * 16384.0 + 10.0 * 256.0);
        // Four billion initial vehicles: about 7.45 TiB, estimated without allocating them.
        let big = Scenario::parse(
            &MINIMAL.replace("road_length_m = 1000.0", "road_length_m = 1000.0\ninitial_vehicles = 4000000000"),
        )
        .unwrap();
        let m = big.memory_estimate(None);
        assert_eq!(m.vehicles, 4e9 + 10.0);
        assert!(
            (m.gib() - (4e9 + 10.0) * 16384.0 / 1073741824.0 - (2.0 * 16384.0 + 2560.0) / 1073741824.0).abs() < 1e-6
        );
        assert!(
            m.breakdown().starts_with("4000000010 vehicles × 16 KiB + 2 RSUs × 16 KiB + 10 slots × 256 B"),
            "{}",
            m.breakdown()
        );
    }
}
