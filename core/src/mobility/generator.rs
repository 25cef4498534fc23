//! The seeded road generator (SPEC §5): vehicles at constant speed on a straight multi-lane road.
//!
//! Geometry: the road runs along x from 0 to `road_length_m`, centred on y = 0. Lane `k`
//! (0-based, counted outward from the centre line) of the +x direction lies at
//! y = (k + 0.5)·`lane_width_m`, of the -x direction at y = -(k + 0.5)·`lane_width_m`.
//! Vehicles keep their lane and speed (no car-following: the simulator needs positions for
//! coverage and distances, not traffic dynamics), so each is a [`VehiclePath::Linear`] that
//! ends when it drives off the road.
//!
//! Population: `initial_vehicles` placed uniformly along the road at t = 0, then a Poisson
//! stream of arrivals at `arrival_rate_per_s` (whole road, both ends together) over the horizon,
//! each entering at the end of its direction.
//!
//! Determinism: all draws come from the single stream `rng::stream(seed, Domain::Mobility, 0)`,
//! in a fixed order per vehicle (direction, lane, speed, then the position of an initial vehicle),
//! and the direction is drawn even on a one-way road so that the lane and speed draws do not
//! depend on that flag's position in the sequence. Vehicle ids are creation order.

use super::{Fleet, VehiclePath};
use crate::geometry::Point;
use crate::rng::{self, Domain};
use crate::scenario::GeneratorConfig;
use rand::Rng;

/// Digits of the zero-padded vehicle names: `g000000000`, `g000000001`, ... sort
/// lexicographically in creation order up to 10^9 vehicles.
const NAME_DIGITS: usize = 9;

/// Generates the fleet of a [`GeneratorConfig`] over `[0, horizon_s)` seconds.
///
/// Expects a validated configuration (positive length, lane width and speeds, at least one
/// lane). Nothing arrives when the rate is 0 or the horizon is not a positive finite number.
pub fn generate(cfg: &GeneratorConfig, seed: u64, horizon_s: f64) -> Fleet {
    let mut rng = rng::stream(seed, Domain::Mobility, 0);
    let road_m = cfg.road_length_m;
    let lanes = cfg.lanes.max(1);
    let expected = cfg.initial_vehicles as f64
        + if cfg.arrival_rate_per_s > 0.0 && horizon_s.is_finite() && horizon_s > 0.0 {
            cfg.arrival_rate_per_s * horizon_s
        } else {
            0.0
        };
    // Reserve for the mean plus a margin (the count is random); capped so a typo cannot
    // reserve absurd memory up front.
    let mut paths = Vec::with_capacity((expected * 1.05 + 16.0).min(1e7) as usize);

    // Draws the per-vehicle constants, in the documented order: (direction sign, lane y, speed).
    let draw_vehicle = |rng: &mut rng::SimRng| -> (f64, f64, f64) {
        let forward_draw: f64 = rng.gen();
        let forward = !cfg.bidirectional || forward_draw < 0.5;
        let lane = rng.gen_range(0..lanes);
        let speed_mps = cfg.speed_mps.sample(rng);
        let sign = if forward { 1.0 } else { -1.0 };
        let y_m = sign * (lane as f64 + 0.5) * cfg.lane_width_m;
        (sign, y_m, speed_mps)
    };

    for _ in 0..cfg.initial_vehicles {
        let (sign, y_m, speed_mps) = draw_vehicle(&mut rng);
        let u: f64 = rng.gen(); // [0, 1)
                                // Distance still to drive is road_m·(1 - u) ∈ (0, road_m]: every initial vehicle is on
                                // the road at t = 0 (a vehicle drawn exactly at its exit would never exist).
        let remaining_m = road_m * (1.0 - u);
        let x_m = if sign > 0.0 { road_m - remaining_m } else { remaining_m };
        paths.push(VehiclePath::Linear {
            enter_s: 0.0,
            exit_s: remaining_m / speed_mps,
            start: Point::new(x_m, y_m),
            velocity_mps: (sign * speed_mps, 0.0),
        });
    }

    if cfg.arrival_rate_per_s > 0.0 && horizon_s.is_finite() && horizon_s > 0.0 {
        let mut t_s = 0.0;
        loop {
            // Exponential gap by inversion; 1 - u ∈ (0, 1] keeps the logarithm finite.
            let u: f64 = rng.gen();
            t_s += -(1.0 - u).ln() / cfg.arrival_rate_per_s;
            if t_s >= horizon_s {
                break;
            }
            let (sign, y_m, speed_mps) = draw_vehicle(&mut rng);
            let x_m = if sign > 0.0 { 0.0 } else { road_m };
            paths.push(VehiclePath::Linear {
                enter_s: t_s,
                exit_s: t_s + road_m / speed_mps,
                start: Point::new(x_m, y_m),
                velocity_mps: (sign * speed_mps, 0.0),
            });
        }
    }

    let names = (0..paths.len()).map(|i| format!("g{i:0NAME_DIGITS$}")).collect();
    Fleet { paths, names }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::Range;

    fn cfg(initial: u32, rate: f64, bidirectional: bool) -> GeneratorConfig {
        GeneratorConfig {
            road_length_m: 3000.0,
            lanes: 2,
            lane_width_m: 3.5,
            bidirectional,
            initial_vehicles: initial,
            arrival_rate_per_s: rate,
            speed_mps: Range::new(10.0, 30.0),
        }
    }

    #[test]
    fn initial_vehicles_present_at_start() {
        let c = cfg(250, 0.0, true);
        let f = generate(&c, 1, 600.0);
        assert_eq!(f.len(), 250);
        assert_eq!(f.paths.iter().filter(|p| p.position_at(0.0).is_some()).count(), 250);
        // With arrivals too, exactly the initial vehicles exist at t = 0 (arrivals come later).
        let f = generate(&cfg(40, 2.0, true), 1, 600.0);
        assert_eq!(f.paths.iter().filter(|p| p.position_at(0.0).is_some()).count(), 40);
    }

    #[test]
    fn positions_on_road_and_lanes_with_drawn_speeds() {
        let c = cfg(100, 1.0, true);
        let f = generate(&c, 7, 300.0);
        let lanes_y = [1.75, 5.25, -1.75, -5.25];
        let (mut forward, mut backward) = (0, 0);
        for p in &f.paths {
            let VehiclePath::Linear { enter_s, exit_s, start, velocity_mps } = *p else { panic!("linear expected") };
            assert!(lanes_y.contains(&start.y), "{start:?}");
            assert_eq!(velocity_mps.1, 0.0);
            let speed = velocity_mps.0.abs();
            assert!((10.0..=30.0).contains(&speed), "{speed}");
            // Direction matches the side of the road.
            assert_eq!(velocity_mps.0 > 0.0, start.y > 0.0);
            if velocity_mps.0 > 0.0 {
                forward += 1
            } else {
                backward += 1
            }
            assert!((0.0..300.0).contains(&enter_s) && exit_s > enter_s);
            // Sample the whole life, including just before the exit.
            let n = 50;
            for i in 0..n {
                let t = enter_s + (exit_s - enter_s) * i as f64 / n as f64;
                let q = p.position_at(t).expect("alive during its lifetime");
                assert!((0.0..=3000.0).contains(&q.x), "{q:?} at {t}");
                assert_eq!(q.y, start.y);
            }
            let last = p.position_at(exit_s - 1e-9).expect("alive just before exit");
            assert!(last.x > 3000.0 - 1e-6 || last.x < 1e-6, "{last:?}");
            assert_eq!(p.position_at(exit_s), None);
        }
        assert!(forward > 50 && backward > 50, "{forward} / {backward}");
    }

    #[test]
    fn arrivals_enter_at_the_road_ends() {
        let f = generate(&cfg(0, 0.5, true), 3, 200.0);
        assert!(!f.is_empty());
        for p in &f.paths {
            let VehiclePath::Linear { start, velocity_mps, .. } = *p else { panic!("linear expected") };
            let expected_x = if velocity_mps.0 > 0.0 { 0.0 } else { 3000.0 };
            assert_eq!(start.x, expected_x);
        }
        // Arrivals are in creation (= time) order, and so are the names.
        let enters: Vec<f64> = f.paths.iter().map(|p| p.lifetime_s().0).collect();
        assert!(enters.windows(2).all(|w| w[0] <= w[1]));
        assert_eq!(f.names[0], "g000000000");
        assert!(f.names.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn one_way_road_uses_positive_lanes_only() {
        let f = generate(&cfg(30, 0.5, false), 5, 200.0);
        for p in &f.paths {
            let VehiclePath::Linear { start, velocity_mps, .. } = *p else { panic!("linear expected") };
            assert!(velocity_mps.0 > 0.0 && start.y > 0.0);
        }
    }

    #[test]
    fn arrival_count_matches_poisson_rate() {
        // 3 vehicles/s over 10,000 s: mean 30,000, sigma ≈ 173.
        let (rate, horizon) = (3.0, 10_000.0);
        let f = generate(&cfg(0, rate, true), 11, horizon);
        let mean = rate * horizon;
        let dev = (f.len() as f64 - mean).abs();
        assert!(dev < 5.0 * mean.sqrt(), "{} arrivals, expected {mean} ± {}", f.len(), 5.0 * mean.sqrt());
    }

    #[test]
    fn seeds_determine_the_fleet() {
        let c = cfg(20, 0.5, true);
        let a = generate(&c, 42, 120.0);
        let b = generate(&c, 42, 120.0);
        assert_eq!(a.paths, b.paths);
        assert_eq!(a.names, b.names);
        let d = generate(&c, 43, 120.0);
        assert_ne!(a.paths, d.paths);
    }

    #[test]
    fn no_arrivals_without_rate_or_horizon() {
        assert_eq!(generate(&cfg(5, 0.0, true), 1, 1e6).len(), 5);
        assert_eq!(generate(&cfg(5, 1.0, true), 1, 0.0).len(), 5);
        assert_eq!(generate(&cfg(5, 1.0, true), 1, f64::INFINITY).len(), 5);
        assert!(generate(&cfg(0, 0.0, true), 1, 100.0).is_empty());
    }

    #[test]
    fn hundred_thousand_vehicles() {
        let c = cfg(100_000, 0.0, true);
        let f = generate(&c, 9, 100.0);
        assert_eq!(f.len(), 100_000);
        assert_eq!(f.names[99_999], "g000099999");
    }
}
