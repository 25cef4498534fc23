//! Vehicle positions over time: trace readers and the seeded road generator.
//!
//! Every source produces a [`Fleet`]: one [`VehiclePath`] per vehicle, indexed by dense
//! [`VehicleId`] in sorted order of the source's own ids. A vehicle exists in the scenario
//! while its path yields a position; engines spawn it when it appears and stop it when it leaves.

pub mod didi;
pub mod fcd;
pub mod generator;

use crate::error::{ScenarioError, TraceError};
use crate::geometry::Point;
use crate::ids::VehicleId;
use crate::scenario::{MobilityConfig, RsuSpec, Scenario};
use std::path::Path;

/// Where one vehicle is, as a function of simulated time (seconds from the episode start).
/// Serialisable: a cluster ships each vehicle's path to the node that hosts it.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum VehiclePath {
    /// Timestamped samples (seconds, sorted, strictly increasing), linearly interpolated.
    /// The vehicle exists from the first to the last sample, inclusive.
    Samples {
        /// Sample instants, seconds from the episode start.
        times_s: Vec<f64>,
        /// Position at each instant, metres (same length as `times_s`).
        points: Vec<Point>,
    },
    /// Constant velocity from `start` at `enter_s` until `exit_s` (exclusive).
    Linear {
        /// Instant the vehicle enters, seconds from the episode start.
        enter_s: f64,
        /// Instant it leaves (exclusive), seconds from the episode start.
        exit_s: f64,
        /// Position at `enter_s`, metres.
        start: Point,
        /// Velocity `(vx, vy)`, m/s.
        velocity_mps: (f64, f64),
    },
}

impl VehiclePath {
    /// Position at `t_s`, or `None` when the vehicle is not in the scenario then.
    pub fn position_at(&self, t_s: f64) -> Option<Point> {
        match self {
            VehiclePath::Samples { times_s, points } => {
                let first = *times_s.first()?;
                let last = *times_s.last()?;
                if t_s < first || t_s > last {
                    return None;
                }
                // First sample strictly after t; interpolate from the one before it.
                let i = times_s.partition_point(|&s| s <= t_s);
                if i == times_s.len() {
                    return Some(points[i - 1]);
                }
                let (t0, t1) = (times_s[i - 1], times_s[i]);
                let (p0, p1) = (points[i - 1], points[i]);
                let f = (t_s - t0) / (t1 - t0);
                Some(Point::new(p0.x + (p1.x - p0.x) * f, p0.y + (p1.y - p0.y) * f))
            }
            VehiclePath::Linear { enter_s, exit_s, start, velocity_mps } => {
                if t_s < *enter_s || t_s >= *exit_s {
                    return None;
                }
                let dt = t_s - enter_s;
                Some(Point::new(start.x + velocity_mps.0 * dt, start.y + velocity_mps.1 * dt))
            }
        }
    }

    /// First and last instant (seconds) the vehicle exists; used to schedule spawns.
    pub fn lifetime_s(&self) -> (f64, f64) {
        match self {
            VehiclePath::Samples { times_s, .. } => (
                times_s.first().copied().unwrap_or(f64::INFINITY),
                times_s.last().copied().unwrap_or(f64::NEG_INFINITY),
            ),
            VehiclePath::Linear { enter_s, exit_s, .. } => (*enter_s, *exit_s),
        }
    }
}

/// All vehicles of a scenario.
#[derive(Clone, Debug, Default)]
pub struct Fleet {
    /// Index = `VehicleId`.
    pub paths: Vec<VehiclePath>,
    /// The source's own id of each vehicle (trace id, or the generator's counter).
    pub names: Vec<String>,
}

impl Fleet {
    /// Number of vehicles `V`.
    pub fn len(&self) -> usize {
        self.paths.len()
    }

    /// True when the fleet has no vehicle.
    pub fn is_empty(&self) -> bool {
        self.paths.is_empty()
    }

    /// Every dense vehicle id, `0..V`, in order.
    pub fn ids(&self) -> impl Iterator<Item = VehicleId> {
        (0..self.paths.len() as u32).map(VehicleId)
    }

    /// Builds a fleet from `(source id, path)` pairs: sorts by id (numerically when every id is
    /// a number, else lexicographically) so that dense ids do not depend on file order.
    pub fn from_named(mut v: Vec<(String, VehiclePath)>) -> Fleet {
        let numeric = v.iter().all(|(n, _)| n.parse::<f64>().is_ok());
        if numeric {
            v.sort_by(|a, b| a.0.parse::<f64>().unwrap().total_cmp(&b.0.parse::<f64>().unwrap()).then(a.0.cmp(&b.0)));
        } else {
            v.sort_by(|a, b| a.0.cmp(&b.0));
        }
        let (names, paths) = v.into_iter().unzip();
        Fleet { paths, names }
    }
}

impl Fleet {
    /// The bounding box `(min, max)` of every sample of a trace fleet (paths read from a file),
    /// or `None` when the fleet has no samples (e.g. the generator's).
    pub fn trace_bounds(&self) -> Option<(Point, Point)> {
        let mut b: Option<(Point, Point)> = None;
        for p in self.sample_points() {
            b = Some(match b {
                None => (p, p),
                Some((lo, hi)) => (Point::new(lo.x.min(p.x), lo.y.min(p.y)), Point::new(hi.x.max(p.x), hi.y.max(p.y))),
            });
        }
        b
    }

    fn sample_points(&self) -> impl Iterator<Item = Point> + '_ {
        self.paths
            .iter()
            .flat_map(|p| match p {
                VehiclePath::Samples { points, .. } => points.as_slice(),
                VehiclePath::Linear { .. } => &[],
            })
            .copied()
    }
}

/// Warnings about a trace against the RSUs it is to be used with (SPEC §5: positions are
/// metres on the RSUs' map): coordinates that look like degrees, and a trace no position of
/// which is in any RSU's range. Each names the trace's bounding box. Empty for the generator.
pub fn trace_warnings(fleet: &Fleet, rsus: &[RsuSpec]) -> Vec<String> {
    let Some((lo, hi)) = fleet.trace_bounds() else { return Vec::new() };
    let bbox = format!("x in [{}, {}], y in [{}, {}]", lo.x, hi.x, lo.y, hi.y);
    let mut out = Vec::new();
    let in_degrees = lo.x >= -180.0 && hi.x <= 180.0 && lo.y >= -90.0 && hi.y <= 90.0;
    if in_degrees && hi.x - lo.x <= 2.0 && hi.y - lo.y <= 2.0 {
        out.push(format!(
            "the trace's coordinates look like degrees (longitude/latitude), not metres: its bounding box is {bbox}; \
             vecsim needs positions in metres (SUMO: --fcd-output without --fcd-output.geo)"
        ));
    }
    let covered = fleet.sample_points().any(|p| rsus.iter().any(|r| p.distance(r.pos) <= r.range_m));
    if !covered && !rsus.is_empty() {
        let (rlo, rhi) = rsus.iter().fold(
            (Point::new(f64::INFINITY, f64::INFINITY), Point::new(f64::NEG_INFINITY, f64::NEG_INFINITY)),
            |(lo, hi), r| {
                (Point::new(lo.x.min(r.pos.x), lo.y.min(r.pos.y)), Point::new(hi.x.max(r.pos.x), hi.y.max(r.pos.y)))
            },
        );
        out.push(format!(
            "the trace covers no RSU: no vehicle position is within range of any RSU, so every task would be \
             uncovered; the trace's bounding box is {bbox} (metres), the RSUs lie in x in [{}, {}], y in [{}, {}]",
            rlo.x, rhi.x, rlo.y, rhi.y
        ));
    }
    out
}

/// Loads the fleet a scenario describes. `trace_override` replaces the scenario's trace path
/// (the `--trace` flag); it is an error for the generator.
///
/// A trace bundled with the scenario ([`Scenario::bundled`]) is read from memory; a missing
/// trace file the scenario names is [`ScenarioError::TraceNotFound`], whose message points at
/// `--trace`.
pub fn load(scenario: &Scenario, trace_override: Option<&Path>) -> Result<Fleet, ScenarioError> {
    load_within(scenario, trace_override, DEFAULT_TRACE_CAP)
}

/// The trace cap of [`load`]: 8 GiB of (decompressed) trace text, half the default
/// `--max-memory` (a read trace takes about twice its size).
pub const DEFAULT_TRACE_CAP: u64 = 8 << 30;

/// [`load`], refusing a trace of more than `cap` bytes of text (decompressed for gzip).
pub fn load_within(scenario: &Scenario, trace_override: Option<&Path>, cap: u64) -> Result<Fleet, ScenarioError> {
    match &scenario.mobility {
        MobilityConfig::Didi { trace } => {
            read_trace(scenario, trace, trace_override, |p| didi::read(p, cap), |t, p| didi::read_from(t.as_bytes(), p))
        }
        MobilityConfig::Fcd { trace } => {
            read_trace(scenario, trace, trace_override, |p| fcd::read(p, cap), |t, p| fcd::read_from(t.as_bytes(), p))
        }
        MobilityConfig::Generator(g) => {
            if trace_override.is_some() {
                return Err(ScenarioError::invalid(
                    "mobility.source",
                    "--trace needs a trace-based scenario (source = \"didi\" or \"fcd\"), this one uses the generator",
                ));
            }
            Ok(generator::generate(g, scenario.seed, scenario.time.slots as f64 * scenario.time.slot_s))
        }
    }
}

/// Reads the scenario's trace `trace`: the override if any, else the bundled copy, else the file.
fn read_trace(
    scenario: &Scenario,
    trace: &Path,
    trace_override: Option<&Path>,
    from_file: impl Fn(&Path) -> Result<Fleet, TraceError>,
    from_text: fn(&'static str, &Path) -> Result<Fleet, TraceError>,
) -> Result<Fleet, ScenarioError> {
    if let Some(p) = trace_override {
        return Ok(from_file(p)?);
    }
    let p = scenario.resolve(trace);
    if let Some(text) = scenario.bundled_file(trace) {
        return Ok(from_text(text, &p)?);
    }
    from_file(&p).map_err(|e| match e {
        TraceError::Io { path, source } if source.kind() == std::io::ErrorKind::NotFound => {
            ScenarioError::TraceNotFound { origin: scenario.origin.clone(), path, source }
        }
        other => other.into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_interpolate_and_bound() {
        let p = VehiclePath::Samples {
            times_s: vec![0.0, 1.0, 3.0],
            points: vec![Point::new(0.0, 0.0), Point::new(10.0, 0.0), Point::new(10.0, 20.0)],
        };
        assert_eq!(p.position_at(0.5), Some(Point::new(5.0, 0.0)));
        assert_eq!(p.position_at(2.0), Some(Point::new(10.0, 10.0)));
        assert_eq!(p.position_at(3.0), Some(Point::new(10.0, 20.0)));
        assert_eq!(p.position_at(3.1), None);
        assert_eq!(p.position_at(-0.1), None);
    }

    #[test]
    fn linear_path() {
        let p =
            VehiclePath::Linear { enter_s: 2.0, exit_s: 5.0, start: Point::new(0.0, 1.0), velocity_mps: (10.0, 0.0) };
        assert_eq!(p.position_at(1.9), None);
        assert_eq!(p.position_at(4.0), Some(Point::new(20.0, 1.0)));
        assert_eq!(p.position_at(5.0), None);
    }

    #[test]
    fn fleet_sorts_numeric_ids() {
        let path =
            VehiclePath::Linear { enter_s: 0.0, exit_s: 1.0, start: Point::new(0.0, 0.0), velocity_mps: (0.0, 0.0) };
        let f = Fleet::from_named(vec![("10".into(), path.clone()), ("9".into(), path.clone()), ("0.0".into(), path)]);
        assert_eq!(f.names, vec!["0.0", "9", "10"]);
    }

    fn trace(points: &[(f64, f64)]) -> Fleet {
        let path = VehiclePath::Samples {
            times_s: (0..points.len()).map(|i| i as f64).collect(),
            points: points.iter().map(|&(x, y)| Point::new(x, y)).collect(),
        };
        Fleet::from_named(vec![("a".into(), path)])
    }

    #[test]
    fn trace_warnings_name_the_bounding_box() {
        let rsu = |x: f64| RsuSpec {
            id: crate::ids::RsuId(0),
            pos: Point::new(x, 0.0),
            cpu_hz: 1e9,
            bandwidth_bps: 1e6,
            range_m: 500.0,
        };
        // Metres, passing 100 m from an RSU: nothing to say.
        assert!(trace_warnings(&trace(&[(0.0, 100.0), (1000.0, 100.0), (2000.0, 100.0)]), &[rsu(1000.0)]).is_empty());
        // Chengdu in degrees: looks like degrees, and (RSUs in metres) covers nothing.
        let w = trace_warnings(&trace(&[(104.04, 30.65), (104.08, 30.69)]), &[rsu(1500.0)]);
        assert_eq!(w.len(), 2, "{w:?}");
        assert!(w[0].contains("degrees") && w[0].contains("x in [104.04, 104.08], y in [30.65, 30.69]"), "{}", w[0]);
        assert!(w[1].contains("covers no RSU") && w[1].contains("RSUs lie in x in [1500, 1500]"), "{}", w[1]);
        // Metres, but 10 km away from the only RSU (range 500 m).
        let w = trace_warnings(&trace(&[(10000.0, 0.0), (12000.0, 5.0)]), &[rsu(0.0)]);
        assert_eq!(w.len(), 1, "{w:?}");
        assert!(w[0].contains("x in [10000, 12000], y in [0, 5]"), "{}", w[0]);
        // The generator's fleets have no samples: no warnings.
        let g = Fleet {
            paths: vec![VehiclePath::Linear {
                enter_s: 0.0,
                exit_s: 1.0,
                start: Point::new(1e6, 0.0),
                velocity_mps: (1.0, 0.0),
            }],
            names: vec!["g".into()],
        };
        assert!(trace_warnings(&g, &[rsu(0.0)]).is_empty());
    }
}
