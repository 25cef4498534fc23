//! `--pace` is kept by the engines themselves (issue 22, item 6): the sequential loop and the
//! actor engine's clock wait before opening a slot, so a slot's policies run no sooner than the
//! pace allows whatever the observer does, every slot's wall time comes from the engine, and
//! pacing changes no number.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use vecsim_actors::Actors;
use vecsim_core::engine::{Engine, Episode};
use vecsim_core::ids::RsuId;
use vecsim_core::observer::{Observer, Pacer};
use vecsim_core::policy::{Baseline, Feedback, Observation, Policy, PolicySet};
use vecsim_core::report::{RunStats, SlotReport};
use vecsim_core::{Scenario, Sequential};

const SLOTS: u32 = 8;
const PERIOD: Duration = Duration::from_millis(25);

fn scenario() -> Arc<Scenario> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/paper-noon.toml");
    let mut s = Scenario::load(&path).unwrap();
    s.time.slots = SLOTS;
    Arc::new(s)
}

/// ORL that notes when it is fed back each slot: the engine's own progress, not the observer's.
struct Noting {
    inner: Box<dyn Policy>,
    fed: Arc<Mutex<Vec<(u32, Instant)>>>,
}

impl Policy for Noting {
    fn name(&self) -> &'static str {
        self.inner.name()
    }
    fn decide(&mut self, obs: &Observation<'_>) -> Vec<RsuId> {
        self.inner.decide(obs)
    }
    fn feedback(&mut self, fb: &Feedback) {
        self.fed.lock().unwrap().push((fb.slot, Instant::now()));
        self.inner.feedback(fb)
    }
}

/// Asks for a pace and records what it is told, in order: `C t` for a closed slot, `T t` for
/// its wall time.
#[derive(Default)]
struct Watch {
    pace: Option<Pacer>,
    events: Vec<String>,
    walls: Vec<f64>,
}

impl Observer for Watch {
    fn slot_closed(&mut self, r: &SlotReport, _stats: &RunStats) {
        self.events.push(format!("C{}", r.slot));
    }
    fn slot_timed(&mut self, slot: u32, wall_s: f64) {
        self.events.push(format!("T{slot}"));
        self.walls.push(wall_s);
    }
    fn pace(&self) -> Option<Pacer> {
        self.pace.clone()
    }
}

/// Runs the scenario on `engine` (RSU 0 noting its feedback); returns the stats, what the
/// observer saw, RSU 0's feedback instants and when the run was asked for.
fn run(engine: &mut dyn Engine, pace: Option<Pacer>) -> (RunStats, Watch, Vec<(u32, Instant)>, Instant) {
    let s = scenario();
    let fleet = vecsim_core::mobility::load(&s, None).unwrap();
    let n = s.rsu_count();
    let fed = Arc::new(Mutex::new(Vec::new()));
    let mut per_rsu = PolicySet::baseline(Baseline::Orl, n, s.seed).per_rsu;
    let first = per_rsu.remove(0);
    per_rsu.insert(0, Box::new(Noting { inner: first, fed: fed.clone() }));
    let mut watch = Watch { pace, ..Default::default() };
    let asked = Instant::now();
    let out = engine
        .run(Episode { scenario: s, fleet, policies: PolicySet::new(per_rsu), round: None, observer: &mut watch })
        .unwrap();
    let fed = fed.lock().unwrap().clone();
    (out.stats, watch, fed, asked)
}

fn engines() -> Vec<(&'static str, Box<dyn Engine>)> {
    vec![
        ("sequential", Box::new(Sequential)),
        ("actors x1", Box::new(Actors::new(1))),
        ("actors x3", Box::new(Actors::new(3))),
    ]
}

#[test]
fn the_engine_opens_slot_t_no_sooner_than_t_periods_after_it_was_asked_to_run() {
    for (name, mut engine) in engines() {
        let (_, watch, fed, asked) = run(&mut *engine, Some(Pacer::new(PERIOD)));
        let slots: Vec<u32> = fed.iter().map(|(t, _)| *t).collect();
        assert_eq!(slots, (0..SLOTS).collect::<Vec<_>>(), "{name}: RSU 0 fed once per slot, in order");
        // The observer here never sleeps: only the engine can hold slot t back this long (a
        // lower bound, which load can only lengthen).
        for (t, at) in &fed {
            let least = PERIOD * *t;
            assert!(at.duration_since(asked) >= least, "{name}: slot {t} fed {:?} after the start", *at - asked);
        }
        // Every slot closed, then its wall time came, in slot order.
        let want: Vec<String> = (0..SLOTS).flat_map(|t| [format!("C{t}"), format!("T{t}")]).collect();
        assert_eq!(watch.events, want, "{name}");
        assert!(watch.walls.iter().all(|w| w.is_finite() && *w >= 0.0), "{name}: {:?}", watch.walls);
    }
}

#[test]
fn pace_changes_no_number_on_either_engine() {
    let (reference, unpaced, _, _) = run(&mut Sequential, None);
    assert_eq!(unpaced.events.len(), 2 * SLOTS as usize, "unpaced runs still time every slot");
    for (name, mut engine) in engines() {
        for pace in [None, Some(Pacer::new(PERIOD))] {
            let (stats, _, _, _) = run(&mut *engine, pace.clone());
            assert_eq!(stats.summary().to_json(), reference.summary().to_json(), "{name}, pace {pace:?}");
            assert_eq!(stats.slots_csv(), reference.slots_csv(), "{name}, pace {pace:?}");
        }
    }
}

#[test]
fn episodes_of_one_run_keep_one_schedule() {
    // A trainer runs episode after episode with one observer: its pace holds across them (the
    // first slot of the second episode is not opened at once).
    for (name, mut engine) in engines() {
        let pacer = Pacer::new(PERIOD);
        let (_, _, _, asked) = run(&mut *engine, Some(pacer.clone()));
        let (_, _, fed, _) = run(&mut *engine, Some(pacer));
        for (t, at) in &fed {
            let least = PERIOD * (SLOTS + *t);
            assert!(at.duration_since(asked) >= least, "{name}: slot {t} of episode 2 fed {:?} in", *at - asked);
        }
    }
}
