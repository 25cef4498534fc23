//! Fault injection (SPEC §6, issue 5): conservation under random fault plans, exact latency
//! shifts, independence of the fault streams, and rejection of bad plans.

use proptest::prelude::*;
use std::sync::{Arc, Mutex};
use vecsim_core::clock::SlotClock;
use vecsim_core::engine::SequentialRun;
use vecsim_core::fault::{Crash, FaultPlan, Latency, LinkLatency, LinkLoss, Outage};
use vecsim_core::geometry::Point;
use vecsim_core::ids::{RsuId, TaskId};
use vecsim_core::mobility::{self, Fleet, VehiclePath};
use vecsim_core::outcome::{DropCause, Outcome, TaskResult};
use vecsim_core::policy::{Baseline, Observation, Policy, PolicyName, PolicySet};
use vecsim_core::report::{FaultCounts, RunStats, SlotReport, Summary};
use vecsim_core::rng::{self, Domain};
use vecsim_core::task::Task;
use vecsim_core::Scenario;

#[path = "../../tests/fixtures/fixture.rs"]
mod fixture;

/// A small generated scenario (`tests/fixtures/faults-small.toml`): `rsus` RSUs 1 km apart with
/// a 400 m range (so some vehicles are uncovered), `slots` slots, and the `[faults]` text
/// appended as is.
#[derive(Clone, Debug)]
struct Small {
    rsus: u32,
    slots: u32,
    seed: u64,
    policy: &'static str,
    allocator: &'static str,
    carry_over: bool,
    initial_vehicles: u32,
    request_rate: f64,
}

impl Small {
    fn toml(&self, faults: &str) -> String {
        let (len, rate) = (self.rsus * 1000, self.request_rate);
        let mut text = fixture::fixture_with(
            "faults-small.toml",
            &[
                ("seed", &self.seed.to_string()),
                ("policy", &format!("\"{}\"", self.policy)),
                ("time.slots", &self.slots.to_string()),
                ("rsus.count", &self.rsus.to_string()),
                ("rsus.to_m", &format!("[{len}.0, 0.0]")),
                ("tasks.request_rate", &format!("{rate}")),
                ("allocation.allocator", &format!("\"{}\"", self.allocator)),
                ("allocation.carry_over", &self.carry_over.to_string()),
                ("mobility.road_length_m", &format!("{len}.0")),
                ("mobility.initial_vehicles", &self.initial_vehicles.to_string()),
            ],
        );
        text.push_str(faults);
        text
    }

    fn scenario(&self, faults: &str) -> Scenario {
        let text = self.toml(faults);
        Scenario::parse(&text).unwrap_or_else(|e| panic!("{e}\n{text}"))
    }
}

fn default_small() -> Small {
    Small {
        rsus: 3,
        slots: 30,
        seed: 7,
        policy: "orm",
        allocator: "kkt",
        carry_over: false,
        initial_vehicles: 30,
        request_rate: 0.8,
    }
}

fn policies(s: &Scenario) -> PolicySet {
    let b = s.policy.baseline().expect("known baseline");
    PolicySet::baseline(b, s.rsu_count(), s.seed)
}

/// Runs a scenario with its own generated fleet; returns every slot report and the stats.
fn run(s: &Scenario) -> (Vec<SlotReport>, RunStats) {
    let fleet = mobility::load(s, None).expect("fleet");
    run_with(s, fleet)
}

fn run_with(s: &Scenario, fleet: Fleet) -> (Vec<SlotReport>, RunStats) {
    let mut engine = SequentialRun::new(Arc::new(s.clone()), fleet, policies(s)).expect("one policy per RSU");
    let mut reports = Vec::new();
    while !engine.finished() {
        reports.push(engine.step().expect("valid decisions"));
    }
    (reports, engine.stats().clone())
}

/// One vehicle parked at `x_m` metres on the road (y = 0) for the first 100 s.
fn parked_at(x_m: f64) -> Fleet {
    Fleet {
        paths: vec![VehiclePath::Linear {
            enter_s: 0.0,
            exit_s: 100.0,
            start: Point::new(x_m, 0.0),
            velocity_mps: (0.0, 0.0),
        }],
        names: vec!["parked".into()],
    }
}

/// Tasks generated per slot, replayed from the vehicles' task streams alone (no engine, no
/// faults): what "generated" means in the conservation law.
fn generated_per_slot(s: &Scenario) -> Vec<u64> {
    let fleet = mobility::load(s, None).expect("fleet");
    let clock = SlotClock::from_scenario(s);
    let mut out = vec![0u64; clock.slots as usize];
    for (i, path) in fleet.paths.iter().enumerate() {
        let (a, b) = path.lifetime_s();
        let Some((first, last)) = clock.slot_span(a, b) else { continue };
        let mut r = rng::stream(s.seed, Domain::VehicleTasks, i as u64);
        for t in first..=last {
            if path.position_at(clock.start_s(t)).is_none() {
                continue;
            }
            if s.tasks.draw(&mut r, TaskId { slot: t, vehicle: i as u32 }).is_some() {
                out[t as usize] += 1;
            }
        }
    }
    out
}

/// `(completed, missed, uncovered, vehicle_dropout, rsu_down, message_lost)` of some results.
fn tally(results: &[TaskResult]) -> [u64; 6] {
    let mut c = [0u64; 6];
    for r in results {
        c[r.outcome.index()] += 1;
    }
    c
}

/// Column `name` of every row of a `slots.csv` text.
fn csv_column(csv: &str, name: &str) -> Vec<f64> {
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let i = header.iter().position(|h| *h == name).unwrap_or_else(|| panic!("no column {name}"));
    lines.map(|l| l.split(',').nth(i).unwrap().parse::<f64>().unwrap_or(f64::NAN)).collect()
}

/// Checks every conservation law and fault counter of a finished run.
fn check_conservation(s: &Scenario, reports: &[SlotReport], stats: &RunStats) {
    let generated = generated_per_slot(s);
    assert_eq!(reports.len(), generated.len());
    let mut total = [0u64; 6];
    for (rep, &g) in reports.iter().zip(&generated) {
        let c = tally(&rep.results);
        assert_eq!(c.iter().sum::<u64>(), g, "slot {}: outcomes {c:?} do not add up to {g} generated", rep.slot);
        assert_eq!(rep.results.len() as u64, g, "slot {}", rep.slot);
        // One result per task, sorted by id, all of this slot.
        assert!(rep.results.windows(2).all(|w| w[0].id < w[1].id), "slot {}: ids not unique and sorted", rep.slot);
        assert!(rep.results.iter().all(|r| r.id.slot == rep.slot));
        // Nothing reaches an RSU while it is down, and a down RSU completes nothing.
        for r in &rep.results {
            if let Some(u) = r.uploader {
                assert!(s.faults.rsu_up(u, rep.slot), "slot {}: task {:?} uploaded to down {u}", rep.slot, r.id);
            }
            if let (Some(e), true) = (r.executor, r.executed()) {
                assert!(s.faults.rsu_up(e, rep.slot), "slot {}: task {:?} executed at down {e}", rep.slot, r.id);
            }
        }
        // The completion-rate denominator (SPEC §2): every covered task, including those lost
        // on their way up or on the wire, is credited to the RSU it was sent to; only
        // uncovered and disconnected vehicles' tasks have no RSU.
        let mut k = vec![0u32; s.rsu_count()];
        for r in &rep.results {
            let credited = !matches!(r.outcome, Outcome::Uncovered | Outcome::Dropped(DropCause::VehicleDropout));
            assert_eq!(r.uploader.is_some(), credited, "slot {}: {r:?}", rep.slot);
            if let Some(u) = r.uploader {
                k[u.index()] += 1;
            }
        }
        assert_eq!(rep.score.uploaded, k, "slot {}", rep.slot);
        for (e, rate) in rep.score.rates.iter().enumerate() {
            let want = (k[e] > 0).then(|| rep.score.completed[e] as f64 / k[e] as f64);
            assert_eq!(*rate, want, "slot {} rsu {e}", rep.slot);
        }
        for (t, x) in total.iter_mut().zip(c) {
            *t += x;
        }
    }
    let sum: Summary = stats.summary();
    assert_eq!(sum.tasks_total, generated.iter().sum::<u64>());
    assert_eq!(
        sum.tasks_completed
            + sum.tasks_missed_deadline
            + sum.tasks_uncovered
            + sum.dropped_by_cause.vehicle_dropout
            + sum.dropped_by_cause.rsu_down
            + sum.dropped_by_cause.message_lost,
        sum.tasks_total
    );
    assert_eq!(sum.tasks_dropped, total[3] + total[4] + total[5]);
    assert_eq!(
        [
            sum.tasks_completed,
            sum.tasks_missed_deadline,
            sum.tasks_uncovered,
            sum.dropped_by_cause.vehicle_dropout,
            sum.dropped_by_cause.rsu_down,
            sum.dropped_by_cause.message_lost
        ],
        total
    );
    assert!(stats.counts().conserved());
    // The run's rate: completed over every covered task (null with none).
    let covered = sum.tasks_total - sum.tasks_uncovered - sum.dropped_by_cause.vehicle_dropout;
    assert_eq!(sum.tasks_uploaded, covered);
    assert_eq!(sum.completion_rate, (covered > 0).then(|| sum.tasks_completed as f64 / covered as f64));
    assert_eq!(sum.per_rsu.iter().map(|r| r.uploaded).sum::<u64>(), covered);
    for r in &sum.per_rsu {
        assert_eq!(r.completion_rate, (r.uploaded > 0).then(|| r.completed as f64 / r.uploaded as f64));
    }
    if s.faults.loss.upload == 1.0 {
        // Every upload lost: every covered task failed.
        assert_eq!(sum.tasks_completed, 0);
        assert_eq!(sum.faults.uploads_lost, covered);
    }
    // Fault counters agree with the causes.
    let f = sum.faults;
    assert_eq!(f.vehicle_dropouts, sum.dropped_by_cause.vehicle_dropout);
    assert_eq!(f.tasks_rsu_down, sum.dropped_by_cause.rsu_down);
    assert_eq!(f.uploads_lost + f.migrations_lost, sum.dropped_by_cause.message_lost);
    assert_eq!(f.crashes, 0, "the sequential engine never crashes");
    assert_eq!(f.round_dropouts, 0, "no federated rounds in a plain run");
    let outage: u64 = (0..s.time.slots).map(|t| s.faults.rsus_down(s.rsu_count(), t) as u64).sum();
    assert_eq!(f.rsu_outage_slots, outage);
    if s.faults.is_empty() {
        assert_eq!(f, FaultCounts::default());
    }
    // slots.csv: every row conserves, and its fault columns add up to the summary.
    let csv = stats.slots_csv();
    let col = |n: &str| csv_column(csv, n);
    let tasks = col("tasks");
    let parts: Vec<Vec<f64>> = [
        "completed",
        "missed_deadline",
        "uncovered",
        "dropped_vehicle_dropout",
        "dropped_rsu_down",
        "dropped_message_lost",
    ]
    .iter()
    .map(|n| col(n))
    .collect();
    for (i, &t) in tasks.iter().enumerate() {
        let s: f64 = parts.iter().map(|p| p[i]).sum();
        assert_eq!(s, t, "slots.csv row {i}");
        assert_eq!(t as u64, generated[i]);
    }
    let total_of = |n: &str| col(n).iter().sum::<f64>() as u64;
    assert_eq!(total_of("rsus_down"), f.rsu_outage_slots);
    assert_eq!(total_of("uploads_lost"), f.uploads_lost);
    assert_eq!(total_of("migrations_lost"), f.migrations_lost);
    assert_eq!(total_of("uploads_delayed"), f.uploads_delayed);
    assert_eq!(total_of("migrations_delayed"), f.migrations_delayed);
    assert_eq!(total_of("crashes"), 0);
}

fn latency_strategy() -> impl Strategy<Value = Option<Latency>> {
    prop_oneof![
        Just(None),
        (0.0..0.3f64).prop_map(|s| Some(Latency::Fixed { s })),
        (0.0..0.2f64, 0.0..0.2f64).prop_map(|(a, b)| Some(Latency::Uniform { min_s: a.min(b), max_s: a.max(b) })),
        (0.0..0.2f64).prop_map(|m| Some(Latency::Exponential { mean_s: m })),
    ]
}

fn probability_strategy() -> impl Strategy<Value = f64> {
    prop_oneof![Just(0.0), Just(1.0), 0.0..=1.0f64]
}

/// A random fault plan for `rsus` RSUs and `slots` slots, and the run settings.
fn case_strategy() -> impl Strategy<Value = (Small, FaultPlan)> {
    (2u32..5, 20u32..41, 0..(1u64 << 62), 0usize..4, 0usize..4, any::<bool>(), 5u32..40, 0.2..1.0f64).prop_flat_map(
        |(rsus, slots, seed, pol, alloc, carry, veh, rate)| {
            let small = Small {
                rsus,
                slots,
                seed,
                policy: ["orl", "orm", "random", "br-ne"][pol],
                allocator: ["kkt", "equal", "proportional", "deadline"][alloc],
                carry_over: carry,
                initial_vehicles: veh,
                request_rate: rate,
            };
            let outage = (0..rsus, 0..slots, 0..slots).prop_map(|(rsu, a, b)| Outage {
                rsu,
                from_slot: a.min(b),
                to_slot: a.max(b),
            });
            let crash = (0..rsus, 0..slots).prop_map(|(rsu, slot)| Crash { rsu, slot });
            let plan = (
                probability_strategy(),
                probability_strategy(),
                (probability_strategy(), probability_strategy(), probability_strategy()),
                (latency_strategy(), latency_strategy(), latency_strategy()),
                prop::collection::vec(outage, 0..4),
                prop::collection::vec(crash, 0..2),
            )
                .prop_map(|(vd, rd, (lu, lw, lp), (tu, tw, tp), rsu_outage, crash_rsu)| FaultPlan {
                    vehicle_dropout: vd,
                    round_dropout: rd,
                    loss: LinkLoss { upload: lu, wired: lw, pool: lp },
                    latency: LinkLatency { upload: tu, wired: tw, pool: tp },
                    rsu_outage,
                    crash_rsu,
                });
            (Just(small), plan)
        },
    )
}

/// The plan as a `[faults]` TOML section (through serde, so the file format is exercised).
fn faults_toml(plan: &FaultPlan) -> String {
    #[derive(serde::Serialize)]
    struct W<'a> {
        faults: &'a FaultPlan,
    }
    toml::to_string(&W { faults: plan }).expect("plan serialises")
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// completed + missed + uncovered + dropped-by-cause = generated, in every slot and in
    /// total, under random fault plans; no panic escapes (a panic fails the case).
    #[test]
    fn conservation_under_random_fault_plans((small, plan) in case_strategy()) {
        let s = small.scenario(&faults_toml(&plan));
        prop_assert_eq!(&s.faults, &plan, "the plan survives the TOML round trip");
        let (reports, stats) = run(&s);
        check_conservation(&s, &reports, &stats);
        // Faults never shift task randomness: the same tasks exist as in the fault-free run.
        let clean = small.scenario("");
        let (clean_reports, _) = run(&clean);
        for (a, b) in reports.iter().zip(&clean_reports) {
            let ids = |r: &SlotReport| r.results.iter().map(|t| t.id).collect::<Vec<_>>();
            prop_assert_eq!(ids(a), ids(b), "slot {}", a.slot);
        }
    }
}

/// Random plans that always lose uploads (issue 10, item 1).
fn lossy_case_strategy() -> impl Strategy<Value = (Small, FaultPlan)> {
    (case_strategy(), prop_oneof![Just(1.0), 0.05..=1.0f64]).prop_map(|((small, mut plan), p)| {
        plan.loss.upload = p;
        (small, plan)
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]

    /// Lost uploads stay in the completion-rate denominator of the RSU they were sent to, under
    /// random fault plans with upload loss (checked slot by slot and in total by
    /// `check_conservation`); conservation still holds.
    #[test]
    fn lost_uploads_count_against_their_rsu((small, plan) in lossy_case_strategy()) {
        let s = small.scenario(&faults_toml(&plan));
        let (reports, stats) = run(&s);
        check_conservation(&s, &reports, &stats);
        let lost: Vec<&TaskResult> = reports
            .iter()
            .flat_map(|r| &r.results)
            .filter(|r| r.outcome == Outcome::Dropped(DropCause::MessageLost) && r.executor.is_none())
            .collect();
        prop_assert_eq!(stats.summary().faults.uploads_lost, lost.len() as u64);
        // Each lost upload is credited to an RSU that was up in its slot.
        for r in lost {
            let u = r.uploader.expect("a lost upload names its RSU");
            prop_assert!(s.faults.rsu_up(u, r.id.slot));
        }
    }
}

/// A hand-worked lost upload: one parked vehicle in range of RSU0, every upload lost.
#[test]
fn lost_uploads_hand_worked() {
    let text = r#"
name = "lost"
seed = 3
[time]
slots = 4
[rsus]
list = [{ x = 0.0, y = 0.0, cpu_ghz = 4.0, bandwidth_mbps = 1000.0 }]
[tasks]
request_rate = 1.0
data_mbit = [1.0, 1.0]
cycles_per_bit = [100.0, 100.0]
deadline_s = [1.0, 1.0]
[mobility]
source = "generator"
road_length_m = 1000.0
arrival_rate_per_s = 0.0
speed_mps = [10.0, 10.0]
[faults]
loss = { upload = 1.0 }
"#;
    let s = Scenario::parse(text).unwrap();
    let fleet = parked_at(100.0);
    let (reports, stats) = run_with(&s, fleet);
    // 4 tasks, all sent to RSU0 and lost: RSU0's rate is 0 / 1 in every slot, and the run's
    // 0 / 4 (it used to be "no rate" per slot and a run rate over the survivors only).
    for r in &reports {
        assert_eq!(r.score.uploaded, vec![1]);
        assert_eq!(r.score.rates, vec![Some(0.0)]);
        assert_eq!((r.results[0].uploader, r.results[0].executor), (Some(RsuId(0)), None));
    }
    let sum = stats.summary();
    assert_eq!((sum.tasks_total, sum.tasks_uploaded, sum.faults.uploads_lost), (4, 4, 4));
    assert_eq!(sum.completion_rate, Some(0.0));
    assert_eq!(sum.per_rsu[0].completion_rate, Some(0.0));
    assert_eq!(sum.faults.migrations_lost, 0);
}

#[test]
fn conservation_with_every_fault_at_once() {
    let small = Small { carry_over: true, ..default_small() };
    let s = small.scenario(
        r#"
[faults]
vehicle_dropout = 0.1
round_dropout = 0.3
latency.upload = { kind = "exponential", mean_s = 0.05 }
latency.wired = { kind = "uniform", min_s = 0.0, max_s = 0.1 }
loss = { upload = 0.1, wired = 0.2, pool = 0.1 }
rsu_outage = [{ rsu = 1, from_slot = 5, to_slot = 12 }, { rsu = 0, from_slot = 20, to_slot = 29 }]
crash_rsu = [{ rsu = 2, slot = 3 }]
"#,
    );
    let (reports, stats) = run(&s);
    check_conservation(&s, &reports, &stats);
    let f = stats.summary().faults;
    assert!(f.vehicle_dropouts > 0 && f.uploads_lost > 0 && f.migrations_lost > 0, "{f:?}");
    assert!(f.uploads_delayed > 0 && f.migrations_delayed > 0, "{f:?}");
    assert_eq!(f.rsu_outage_slots, 8 + 10);
    // Same seed and plan: the same bytes.
    let (_, again) = run(&s);
    assert_eq!(stats.summary().to_json(), again.summary().to_json());
    assert_eq!(stats.slots_csv(), again.slots_csv());
}

/// A policy that records every task it is shown, and decides like ORM.
struct Recorder {
    inner: Box<dyn Policy>,
    seen: Arc<Mutex<Vec<Task>>>,
}

impl Policy for Recorder {
    fn name(&self) -> &'static str {
        "recorder"
    }
    fn decide(&mut self, obs: &Observation<'_>) -> Vec<RsuId> {
        self.seen.lock().unwrap().extend(obs.tasks.iter().map(|t| t.task));
        self.inner.decide(obs)
    }
}

fn run_recording(s: &Scenario) -> (Vec<SlotReport>, Vec<Task>) {
    let fleet = mobility::load(s, None).expect("fleet");
    let seen = Arc::new(Mutex::new(Vec::new()));
    let p: Vec<Box<dyn Policy>> = (0..s.rsu_count())
        .map(|_| {
            Box::new(Recorder { inner: Baseline::Orm.build(RsuId(0), s.seed), seen: seen.clone() }) as Box<dyn Policy>
        })
        .collect();
    let mut engine = SequentialRun::new(Arc::new(s.clone()), fleet, PolicySet::new(p)).expect("one policy per RSU");
    let mut reports = Vec::new();
    while !engine.finished() {
        reports.push(engine.step().expect("valid decisions"));
    }
    let mut tasks = seen.lock().unwrap().clone();
    tasks.sort_by_key(|t| t.id);
    (reports, tasks)
}

/// With `loss.upload = 0` but upload (and wired) latency set, the same tasks are generated,
/// with the same sizes, cycles and deadlines, as in the fault-free run.
#[test]
fn fault_streams_do_not_shift_task_randomness() {
    let small = default_small();
    let clean = small.scenario("");
    let faulty = small.scenario(
        "[faults]\nloss.upload = 0.0\nlatency.upload = { kind = \"exponential\", mean_s = 0.04 }\nlatency.wired = { kind = \"uniform\", min_s = 0.0, max_s = 0.05 }\n",
    );
    let (a, ta) = run_recording(&clean);
    let (b, tb) = run_recording(&faulty);
    assert!(!ta.is_empty());
    assert_eq!(ta, tb, "tasks (ids, d, c, t) seen by the policies");
    for (x, y) in a.iter().zip(&b) {
        let key = |r: &TaskResult| (r.id, r.uploader, r.outcome == Outcome::Uncovered);
        assert_eq!(
            x.results.iter().map(key).collect::<Vec<_>>(),
            y.results.iter().map(key).collect::<Vec<_>>(),
            "slot {}",
            x.slot
        );
        assert_eq!(x.vehicles, y.vehicles);
    }
}

/// Fixed latency shifts every executed task's service time by exactly the injected amount:
/// +0.05 s per upload, +0.02 s more per migration. KKT shares depend only on work, so the
/// allocation and the execution times do not move.
#[test]
fn latency_shifts_service_times_exactly() {
    let small = default_small();
    let clean = small.scenario("");
    let faulty = small.scenario(
        "[faults]\nlatency.upload = { kind = \"fixed\", s = 0.05 }\nlatency.wired = { kind = \"fixed\", s = 0.02 }\n",
    );
    let (a, sa) = run(&clean);
    let (b, sb) = run(&faulty);
    let mut executed = 0;
    let mut migrated = 0;
    for (x, y) in a.iter().zip(&b) {
        assert_eq!(x.results.len(), y.results.len());
        for (p, q) in x.results.iter().zip(&y.results) {
            assert_eq!((p.id, p.uploader, p.executor), (q.id, q.uploader, q.executor));
            if !p.executed() {
                assert_eq!(p.outcome, q.outcome);
                continue;
            }
            assert!(q.executed());
            executed += 1;
            let shift = if p.executor != p.uploader {
                migrated += 1;
                0.07
            } else {
                0.05
            };
            assert_eq!(p.cpu_hz, q.cpu_hz, "{:?}", p.id);
            assert_eq!(p.exec_s, q.exec_s, "{:?}", p.id);
            assert!(
                (q.service_s - p.service_s - shift).abs() < 1e-12,
                "{:?}: {} vs {}",
                p.id,
                q.service_s,
                p.service_s
            );
            assert_eq!(q.upload_extra_s, 0.05);
            assert_eq!(q.wired_extra_s, if shift > 0.06 { 0.02 } else { 0.0 });
            // A late task still counts against its deadline: latency never helps, and every
            // completed task met a deadline of at most 1 s.
            if q.completed() {
                assert!(p.completed() && q.service_s <= 1.0, "{:?}", q.id);
            }
        }
    }
    assert!(executed > 100 && migrated > 10, "executed {executed}, migrated {migrated}");
    let (fa, fb) = (sa.summary().faults, sb.summary().faults);
    assert_eq!(fa, FaultCounts::default());
    let uploaded = sb.summary().tasks_uploaded;
    assert_eq!(fb.uploads_delayed, uploaded);
    assert_eq!(fb.migrations_delayed, sb.summary().migrations);
    assert!((fb.upload_latency_s - 0.05 * uploaded as f64).abs() < 1e-9);
    assert!(sb.summary().tasks_completed <= sa.summary().tasks_completed);
}

/// The hand-worked case. RSU0 at x = 0 (2 GHz, 100 Mbit/s), RSU1 at x = 1000 m (8 GHz); one
/// parked vehicle at x = 100 m with a 1 Mbit × 1000 cycles/bit task (1e9 cycles), deadline
/// 0.2 s, every slot.
///
/// - `orl` (local): u = 1e6 / 100e6 = 0.01 s, x = 1e9 / 2e9 = 0.5 s: ψ = 0.51 s (missed);
///   with 0.05 s upload latency ψ = 0.56 s.
/// - `orm` (migrates to RSU1): w = 0.0006667 · 1e6 · 1000 / 52428800 = 0.0127163 s,
///   x = 1e9 / 8e9 = 0.125 s: ψ = 0.01 + 0.0127163 + 0.125 = 0.1477163 s (completed);
///   with 0.05 s upload and 0.02 s wired latency ψ = 0.2177163 s > 0.2 s: the late task misses.
#[test]
fn latency_hand_worked() {
    let text = |policy: &str, faults: &str| {
        format!(
            r#"
name = "hand"
seed = 3
policy = "{policy}"
[time]
slots = 3
[rsus]
list = [{{ x = 0.0, y = 0.0, cpu_ghz = 2.0, bandwidth_mbps = 100.0 }}, {{ x = 1000.0, y = 0.0, cpu_ghz = 8.0, bandwidth_mbps = 100.0 }}]
[tasks]
request_rate = 1.0
data_mbit = [1.0, 1.0]
cycles_per_bit = [1000.0, 1000.0]
deadline_s = [0.2, 0.2]
[mobility]
source = "generator"
road_length_m = 1000.0
arrival_rate_per_s = 0.0
speed_mps = [10.0, 10.0]
{faults}
"#
        )
    };
    let lat =
        "[faults]\nlatency.upload = { kind = \"fixed\", s = 0.05 }\nlatency.wired = { kind = \"fixed\", s = 0.02 }\n";
    let fleet = || parked_at(100.0);
    let one = |policy: &str, faults: &str| -> Vec<TaskResult> {
        let s = Scenario::parse(&text(policy, faults)).unwrap();
        let (reports, stats) = run_with(&s, fleet());
        assert!(stats.counts().conserved());
        reports.into_iter().flat_map(|r| r.results).collect()
    };
    let w = 0.0006667 * 1e6 * 1000.0 / 52_428_800.0;
    for (policy, faults, executor, psi, outcome) in [
        ("orl", "", 0, 0.51, Outcome::MissedDeadline),
        ("orl", lat, 0, 0.56, Outcome::MissedDeadline),
        ("orm", "", 1, 0.01 + w + 0.125, Outcome::Completed),
        ("orm", lat, 1, 0.06 + w + 0.02 + 0.125, Outcome::MissedDeadline),
    ] {
        let rs = one(policy, faults);
        assert_eq!(rs.len(), 3, "{policy} {faults}");
        for r in rs {
            assert_eq!(r.executor, Some(RsuId(executor)), "{policy} {faults}");
            assert!((r.service_s - psi).abs() < 1e-12, "{policy} {faults}: ψ = {} ≠ {psi}", r.service_s);
            assert_eq!(r.outcome, outcome, "{policy} {faults}");
        }
    }
    assert!((0.01 + w + 0.125 - 0.1477163).abs() < 1e-6);
}

/// An RSU outage: its vehicles re-home to the next RSU in range, and a task still executing
/// at an RSU when its outage starts fails with cause `rsu_down`.
#[test]
fn outage_rehomes_and_fails_running_tasks() {
    // RSU0 at 0 and RSU1 at 600 m (both 500 m range); the parked vehicle at 250 m is nearer
    // RSU0. Its 6e9-cycle task runs 1.5 s on a free 4 GHz (deadline 2 s, longer than the 1 s
    // slot, so carry-over is on: a task running into the next slot keeps its CPU there).
    let text = r#"
name = "outage"
seed = 5
policy = "orl"
[time]
slots = 6
[rsus]
list = [{ x = 0.0, y = 0.0, cpu_ghz = 4.0, bandwidth_mbps = 1000.0 }, { x = 600.0, y = 0.0, cpu_ghz = 4.0, bandwidth_mbps = 1000.0 }]
[tasks]
request_rate = 1.0
data_mbit = [1.0, 1.0]
cycles_per_bit = [6000.0, 6000.0]
deadline_s = [2.0, 2.0]
[allocation]
carry_over = true
[mobility]
source = "generator"
road_length_m = 1000.0
arrival_rate_per_s = 0.0
speed_mps = [10.0, 10.0]
[faults]
rsu_outage = [{ rsu = 0, from_slot = 3, to_slot = 4 }]
"#;
    let s = Scenario::parse(text).unwrap();
    let fleet = parked_at(250.0);
    let (reports, stats) = run_with(&s, fleet);
    let r: Vec<&TaskResult> = reports.iter().map(|r| &r.results[0]).collect();
    let up0 = (Some(RsuId(0)), Some(RsuId(0)));
    let at = |r: &TaskResult| ((r.uploader, r.executor), r.outcome);
    // Slot 0: 4 GHz free, ψ = 0.001 + 1.5 s ≤ 2 s: completed at 1.501 s (RSU0 goes down at 3 s).
    assert_eq!(at(r[0]), (up0, Outcome::Completed));
    // Slot 1: slot 0's task holds all 4 GHz until 1.501 s, so this one gets none and misses its
    // deadline at 1 + 2 = 3 s, the instant RSU0 goes down: missed first, not rsu_down.
    assert_eq!(at(r[1]), (up0, Outcome::MissedDeadline));
    // Slot 2: 4 GHz free again; it would complete at 3.501 s, after RSU0 goes down at 3 s.
    assert_eq!(at(r[2]), (up0, Outcome::Dropped(DropCause::RsuDown)));
    // Slots 3, 4: re-homed to RSU1 (350 m away, in range): completed in slot 3, and in slot 4
    // RSU1's CPU is held by it (until 4.501 s), so that one misses.
    let up1 = (Some(RsuId(1)), Some(RsuId(1)));
    assert_eq!(at(r[3]), (up1, Outcome::Completed));
    assert_eq!(at(r[4]), (up1, Outcome::MissedDeadline));
    // Slot 5: RSU0 is back, with nothing left running (the outage dropped its work).
    assert_eq!(at(r[5]), (up0, Outcome::Completed));
    let sum = stats.summary();
    assert_eq!(sum.dropped_by_cause.rsu_down, 1);
    assert_eq!(sum.faults.tasks_rsu_down, 1);
    assert_eq!(sum.faults.rsu_outage_slots, 2);
    assert_eq!(csv_column(stats.slots_csv(), "rsus_down"), vec![0.0, 0.0, 0.0, 1.0, 1.0, 0.0]);
}

/// Bad fault plans are rejected with a message naming the key.
#[test]
fn bad_fault_plans_name_the_key() {
    let small = Small { slots: 20, ..default_small() };
    for (faults, key) in [
        ("vehicle_dropout = 1.5", "faults.vehicle_dropout"),
        ("vehicle_dropout = -0.1", "faults.vehicle_dropout"),
        ("round_dropout = 2.0", "faults.round_dropout"),
        ("loss.upload = 1.01", "faults.loss.upload"),
        ("loss.wired = -1.0", "faults.loss.wired"),
        ("loss.pool = nan", "faults.loss.pool"),
        ("latency.upload = { kind = \"fixed\", s = -0.1 }", "faults.latency.upload"),
        ("latency.wired = { kind = \"uniform\", min_s = 0.2, max_s = 0.1 }", "faults.latency.wired"),
        ("latency.pool = { kind = \"exponential\", mean_s = inf }", "faults.latency.pool"),
        ("rsu_outage = [{ rsu = 3, from_slot = 0, to_slot = 1 }]", "faults.rsu_outage[0].rsu"),
        ("rsu_outage = [{ rsu = 0, from_slot = 5, to_slot = 20 }]", "faults.rsu_outage[0].to_slot"),
        ("rsu_outage = [{ rsu = 0, from_slot = 6, to_slot = 5 }]", "faults.rsu_outage[0].from_slot"),
        ("crash_rsu = [{ rsu = 9, slot = 1 }]", "faults.crash_rsu[0].rsu"),
        ("crash_rsu = [{ rsu = 0, slot = 20 }]", "faults.crash_rsu[0].slot"),
        // Unknown keys, at every level.
        ("bogus_fault = 1", "bogus_fault"),
        ("loss.radio = 0.1", "radio"),
        ("latency.upload = { kind = \"gamma\", s = 1.0 }", "gamma"),
        ("latency.upload = { kind = \"fixed\", seconds = 1.0 }", "seconds"),
        ("rsu_outage = [{ rsu = 0, from = 1, to_slot = 2 }]", "from"),
    ] {
        let text = small.toml(&format!("[faults]\n{faults}\n"));
        let err = Scenario::parse(&text).expect_err(faults).to_string();
        assert!(err.contains(key), "{faults}: error does not name `{key}`: {err}");
    }
    // And the good ones pass.
    small.scenario(
        "[faults]\nrsu_outage = [{ rsu = 2, from_slot = 0, to_slot = 19 }]\ncrash_rsu = [{ rsu = 2, slot = 19 }]\n",
    );
}

/// The shipped presets parse, inject what they say, and conserve.
#[test]
fn presets_parse_and_conserve() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios");
    for name in ["faults-latency", "faults-dropout"] {
        let mut s = Scenario::load(&dir.join(format!("{name}.toml"))).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(!s.faults.is_empty(), "{name} injects nothing");
        s.time.slots = 160; // long enough for the dropout preset's outage window
        s.policy = PolicyName::Orm; // migrates, so wired faults show
        s.validate().unwrap();
        let (reports, stats) = run(&s);
        check_conservation(&s, &reports, &stats);
        let f = stats.summary().faults;
        match name {
            "faults-latency" => assert!(
                f.uploads_delayed > 0 && f.migrations_delayed > 0 && stats.summary().tasks_dropped == 0,
                "{f:?}"
            ),
            _ => assert!(
                f.vehicle_dropouts > 0 && f.uploads_lost > 0 && f.migrations_lost > 0 && f.rsu_outage_slots == 60,
                "{f:?}"
            ),
        }
    }
}
