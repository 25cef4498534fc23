//! The sequential engine's loop: the slot protocol run step by step, no actors.
//!
//! It is the reference the actor engine must match byte for byte, and the fast path for
//! training. Both engines call the same per-entity code ([`Vehicle::step`],
//! [`RsuNode`]'s phases, [`score`]); only the plumbing differs. See `actors/src/protocol.rs`
//! for the slot protocol written as messages.

use super::{check_decisions, EngineError};
use crate::clock::SlotClock;
use crate::ids::{RsuId, VehicleId};
use crate::mobility::Fleet;
use crate::outcome::TaskResult;
use crate::policy::intent::Turns;
use crate::policy::{Candidate, JointRefiner, Observation, Policy, PolicySet, Share, Working};
use crate::report::{RunStats, SlotReport};
use crate::rsu::{LoadSummary, RsuNode};
use crate::scenario::{RsuSpec, Scenario};
use crate::slot::{difference_rewards, score, ExecTask, SlotProblem};
use crate::task::UploadedTask;
use crate::vehicle::{UploadMsg, Vehicle, VehicleEmit};
use std::sync::Arc;

/// When each vehicle enters and leaves, in slots, so engines spawn entities only while they
/// exist (a 100,000-vehicle scenario never holds 100,000 idle vehicles).
#[derive(Clone, Debug)]
pub struct SpawnSchedule {
    /// `(first slot, last slot, vehicle)`, sorted by first slot then id.
    pub spans: Vec<(u32, u32, VehicleId)>,
}

impl SpawnSchedule {
    /// The slot span of every vehicle of `fleet` that exists during the episode of `clock`.
    pub fn new(fleet: &Fleet, clock: &SlotClock) -> SpawnSchedule {
        let mut spans: Vec<(u32, u32, VehicleId)> = fleet
            .paths
            .iter()
            .zip(fleet.ids())
            .filter_map(|(p, id)| {
                let (a, b) = p.lifetime_s();
                clock.slot_span(a, b).map(|(f, l)| (f, l, id))
            })
            .collect();
        spans.sort_unstable();
        SpawnSchedule { spans }
    }
}

/// A slot between its uploads and its decisions ([`SequentialRun::open_slot`]).
#[derive(Debug)]
pub struct OpenSlot {
    t: u32,
    present: u32,
    up: Vec<bool>,
    /// Tasks that ended before any decision (uncovered, dropped on the way up).
    results: Vec<TaskResult>,
    uploads: Vec<Vec<UploadedTask>>,
    /// CPU free for new work at each RSU this slot (its load summary), cycles/s.
    free: Vec<f64>,
    /// Every RSU's public load summary.
    summaries: Vec<LoadSummary>,
    /// Each RSU's candidate table; empty for an RSU without uploads (it decides nothing, and
    /// building n tables of n candidates every slot would cost the engine for nothing).
    candidates: Vec<Vec<Candidate>>,
}

impl OpenSlot {
    /// The slot `t`.
    pub fn slot(&self) -> u32 {
        self.t
    }

    /// The tasks uploaded at RSU `e`, sorted by task id: `close_slot` wants one decision each.
    pub fn uploads(&self, e: usize) -> &[UploadedTask] {
        &self.uploads[e]
    }

    /// RSU `e`'s candidate table (index = RSU id); empty when `e` had no uploads (see
    /// [`SequentialRun::candidates`] for every RSU's).
    pub fn candidates(&self, e: usize) -> &[Candidate] {
        &self.candidates[e]
    }

    /// Whether each RSU is up this slot (index = RSU id).
    pub fn available(&self) -> &[bool] {
        &self.up
    }

    fn problem<'a>(&'a self, specs: &'a [RsuSpec], sc: &Scenario) -> SlotProblem<'a> {
        SlotProblem {
            rsus: specs,
            free_cpu_hz: &self.free,
            available: &self.up,
            wired: sc.wired,
            allocator: sc.allocation.allocator,
            uploads: &self.uploads,
        }
    }
}

/// What closing a slot produced: its report, and each RSU's difference reward
/// ([`crate::slot::difference_rewards`]; the other signals are in `report.score`).
#[derive(Clone, Debug)]
pub struct ClosedSlot {
    /// The slot's report (as [`SequentialRun::step`] returns it).
    pub report: SlotReport,
    /// `difference[e]`: RSU e's difference reward, the one its policy's feedback carried.
    pub difference: Vec<f64>,
}

/// A scenario ready to run sequentially, one slot per [`SequentialRun::step`] (tests and
/// benchmarks drive it directly; [`super::Sequential`] is the [`super::Engine`] around it).
pub struct SequentialRun {
    scenario: Arc<Scenario>,
    clock: SlotClock,
    specs: Vec<RsuSpec>,
    rsus: Vec<RsuNode>,
    fleet: Fleet,
    schedule: SpawnSchedule,
    next_spawn: usize,
    /// Vehicles in the scenario now, sorted by id.
    active: Vec<Vehicle>,
    /// The policies in their working forms ([`Policy::into_working`]) for the episode: this
    /// run makes every call on the thread that drives it.
    policies: Vec<Box<dyn Working>>,
    refiner: Option<Box<dyn JointRefiner>>,
    /// Some policy trains centrally: exchange shares after every slot ([`Policy::share`]).
    sharing: bool,
    /// Rounds of turns per slot, each RSU seeing the declarations of the others
    /// ([`crate::policy::intent::rounds`]); 0 when nobody decides in turn.
    rounds: u32,
    slot: u32,
    stats: RunStats,
}

impl SequentialRun {
    /// `policies.per_rsu[e]` decides for RSU e.
    pub fn new(scenario: Arc<Scenario>, fleet: Fleet, policies: PolicySet) -> Result<SequentialRun, EngineError> {
        super::check_episode(&scenario, &policies, None)?;
        let PolicySet { per_rsu: policies, refiner } = policies;
        let specs = scenario.rsu_specs();
        let clock = SlotClock::from_scenario(&scenario);
        let schedule = SpawnSchedule::new(&fleet, &clock);
        let stats = RunStats::new(&scenario.name, scenario.policy.as_str(), scenario.seed, specs.len())
            .with_faults(&scenario.faults);
        let rsus = specs.iter().map(|s| RsuNode::new(s.clone(), scenario.seed)).collect();
        let sharing = policies.iter().any(|p| p.shares());
        let rounds = crate::policy::intent::rounds(&policies);
        let policies = policies.into_iter().map(|p| p.into_working()).collect();
        Ok(SequentialRun {
            scenario,
            clock,
            specs,
            rsus,
            fleet,
            schedule,
            next_spawn: 0,
            active: Vec::new(),
            policies,
            refiner,
            sharing,
            rounds,
            slot: 0,
            stats,
        })
    }

    /// The episode's slot clock (`Δ` seconds, `T` slots).
    pub fn clock(&self) -> &SlotClock {
        &self.clock
    }

    /// The statistics of the slots run so far.
    pub fn stats(&self) -> &RunStats {
        &self.stats
    }

    /// The statistics and the policies, back from their working forms (a trainer reuses them
    /// across episodes).
    pub fn into_parts(self) -> (RunStats, Vec<Box<dyn Policy>>) {
        (self.stats, self.policies.into_iter().map(|w| w.into_policy()).collect())
    }

    /// Vehicles the loop holds now (entered and not yet left).
    pub fn live_vehicles(&self) -> usize {
        self.active.len()
    }

    /// The per-RSU policies in their working forms (index = RSU id), e.g. to exchange federated
    /// parameters between slots.
    pub fn policies_mut(&mut self) -> &mut [Box<dyn Working>] {
        &mut self.policies
    }

    /// Whether every slot of the episode has run.
    pub fn finished(&self) -> bool {
        self.slot >= self.clock.slots
    }

    /// Runs the next slot through every phase of the protocol.
    pub fn step(&mut self) -> Result<SlotReport, EngineError> {
        let open = self.open_slot()?;
        let t = open.t;
        let n = self.specs.len();
        let sc = &*self.scenario;

        // Phase 3: decisions (and the joint oracle, if any). In turn: RSU e sees the
        // declarations of RSUs 0..e, and from the second round on the others' latest too.
        let mut decisions: Vec<Vec<RsuId>> = vec![Vec::new(); n];
        let mut turns = Turns::new(self.rounds, n);
        for _ in turns.rounds() {
            for (e, policy) in self.policies.iter_mut().enumerate() {
                if open.uploads[e].is_empty() {
                    continue;
                }
                let me = RsuId(e as u32);
                let obs = Observation {
                    rsu: me,
                    slot: t,
                    slot_s: self.clock.slot_s,
                    tasks: &open.uploads[e],
                    candidates: turns.table(me, &open.candidates[e]),
                    wired: sc.wired,
                    allocator: sc.allocation.allocator,
                };
                let d = policy.decide(&obs);
                check_decisions(policy.name(), me, open.uploads[e].len(), n, &d)?;
                turns.declare(me, &open.uploads[e], &d);
                decisions[e] = d;
            }
        }
        let mut unconverged = false;
        if let Some(refiner) = &self.refiner {
            unconverged = !refiner.refine(&open.problem(&self.specs, sc), &mut decisions);
        }
        Ok(self.finish_slot(open, &decisions, unconverged).report)
    }

    /// Phases 1 and 2 of the next slot: vehicles move and upload, RSUs publish their load
    /// summaries. The slot then waits for one decision per uploaded task
    /// ([`SequentialRun::close_slot`]): this is how a decision maker outside the engine (the
    /// Python environment, `vecsim::env`) takes the policies' place.
    pub fn open_slot(&mut self) -> Result<OpenSlot, EngineError> {
        if self.finished() {
            return Err(EngineError::Finished { slots: self.clock.slots });
        }
        let t = self.slot;
        let sc = &*self.scenario;
        let n = self.specs.len();
        let up: Vec<bool> = self.specs.iter().map(|r| sc.faults.rsu_up(r.id, t)).collect();

        // Phase 1: positions and tasks. Spawn arrivals, step everyone in id order, drop leavers.
        while let Some(&(first, _, id)) = self.schedule.spans.get(self.next_spawn) {
            if first > t {
                break;
            }
            self.active.push(Vehicle::new(id, Arc::new(self.fleet.paths[id.index()].clone()), sc.seed));
            self.next_spawn += 1;
        }
        self.active.sort_by_key(|v| v.id);
        let mut results: Vec<TaskResult> = Vec::new();
        let mut msgs: Vec<Vec<UploadMsg>> = vec![Vec::new(); n];
        let mut present = 0u32;
        for v in &mut self.active {
            let Some(pos) = v.position(t, self.clock.slot_s) else { continue };
            present += 1;
            match v.step(t, pos, &sc.tasks, &self.specs, &up, &sc.faults) {
                VehicleEmit::Idle => {}
                VehicleEmit::Ended(r) => results.push(r),
                VehicleEmit::Upload(m) => msgs[m.rsu.index()].push(m),
            }
        }
        let clock = &self.clock;
        self.active.retain(|v| {
            clock.slot_span(v.path.lifetime_s().0, v.path.lifetime_s().1).is_some_and(|(_, last)| last > t)
        });

        // Phase 2: uploads, and the public load summaries.
        let t0 = self.clock.start_s(t);
        let uploads: Vec<Vec<UploadedTask>> =
            self.rsus.iter().zip(msgs).map(|(r, m)| r.receive_uploads(m, &sc.channel)).collect();
        let summaries: Vec<LoadSummary> =
            self.rsus.iter().zip(&uploads).zip(&up).map(|((r, u), &a)| r.summary(u, t0, a)).collect();
        let candidates: Vec<Vec<Candidate>> = self
            .rsus
            .iter()
            .zip(&uploads)
            .map(|(r, u)| if u.is_empty() { Vec::new() } else { r.candidates(&self.specs, &summaries) })
            .collect();
        let free = summaries.iter().map(|s| s.free_cpu_hz).collect();
        Ok(OpenSlot { t, present, up, results, uploads, free, summaries, candidates })
    }

    /// RSU `e`'s policy observation of an open slot (what [`Policy::decide`] would see).
    pub fn observation<'a>(&self, open: &'a OpenSlot, e: usize) -> Observation<'a> {
        Observation {
            rsu: RsuId(e as u32),
            slot: open.t,
            slot_s: self.clock.slot_s,
            tasks: &open.uploads[e],
            candidates: &open.candidates[e],
            wired: self.scenario.wired,
            allocator: self.scenario.allocation.allocator,
        }
    }

    /// RSU `e`'s candidate table in an open slot, whether or not it had uploads (an external
    /// decision maker may want to see an idle RSU's view too).
    pub fn candidates(&self, open: &OpenSlot, e: usize) -> Vec<Candidate> {
        self.rsus[e].candidates(&self.specs, &open.summaries)
    }

    /// The open slot as a pure problem (what the `br-ne` oracle's refiner works on).
    pub fn slot_problem<'a>(&'a self, open: &'a OpenSlot) -> SlotProblem<'a> {
        open.problem(&self.specs, &self.scenario)
    }

    /// Checks decisions for an open slot: `decisions[e][i]` is the executing RSU of the i-th
    /// task uploaded at RSU e; one per task, each an RSU of the scenario.
    pub fn check_slot(&self, open: &OpenSlot, decisions: &[Vec<RsuId>]) -> Result<(), EngineError> {
        let n = self.specs.len();
        if decisions.len() != n {
            let message = format!("decisions for {} RSUs, the scenario has {n}", decisions.len());
            return Err(EngineError::BadDecision { policy: "external", rsu: RsuId(0), message });
        }
        for (e, d) in decisions.iter().enumerate() {
            check_decisions("external", RsuId(e as u32), open.uploads[e].len(), n, d)?;
        }
        Ok(())
    }

    /// Phases 4 to 6 of an open slot with `decisions` ([`SequentialRun::check_slot`] first: a
    /// slot whose decisions are refused is dropped, and the run cannot go on). `unconverged`:
    /// the decisions come from an oracle that stopped short of its equilibrium (counted in the
    /// summary). The policies get their feedback as in [`SequentialRun::step`].
    pub fn close_slot(
        &mut self,
        open: OpenSlot,
        decisions: &[Vec<RsuId>],
        unconverged: bool,
    ) -> Result<ClosedSlot, EngineError> {
        self.check_slot(&open, decisions)?;
        Ok(self.finish_slot(open, decisions, unconverged))
    }

    fn finish_slot(&mut self, open: OpenSlot, decisions: &[Vec<RsuId>], unconverged: bool) -> ClosedSlot {
        let OpenSlot { t, present, mut results, uploads, free, .. } = open;
        let sc = &*self.scenario;
        let n = self.specs.len();

        // Phase 4: wired migrations.
        let mut incoming: Vec<Vec<ExecTask>> = vec![Vec::new(); n];
        for (e, node) in self.rsus.iter_mut().enumerate() {
            let (sent, lost) = node.dispatch(&uploads[e], &decisions[e], &self.specs, &sc.wired, &sc.faults);
            results.extend(lost);
            for s in sent {
                incoming[s.executor.index()].push(s);
            }
        }

        // Phase 5: allocation, execution, outcomes.
        for (e, node) in self.rsus.iter_mut().enumerate() {
            let tasks = std::mem::take(&mut incoming[e]);
            results.extend(node.execute(
                tasks,
                t,
                self.clock.slot_s,
                sc.allocation.allocator,
                sc.allocation.carry_over,
                &sc.faults,
            ));
        }
        results.sort_by_key(|r| r.id);

        // Phase 6: report, and feedback to the policies.
        let sc_score = score(&results, n);
        let difference = difference_rewards(&results, &uploads, &free, sc.allocation.allocator, &sc_score);
        let done = t + 1 >= self.clock.slots;
        for (e, policy) in self.policies.iter_mut().enumerate() {
            policy.feedback(&sc_score.feedback(e, t, difference[e], done));
        }
        if self.sharing {
            // Every share is taken before any is received, as the actor engine's barrier does.
            let shares: Vec<Option<Share>> = self.policies.iter_mut().map(|p| p.share()).collect();
            for policy in &mut self.policies {
                policy.receive(&shares);
            }
        }
        let report = SlotReport { slot: t, vehicles: present, results, score: sc_score, unconverged };
        self.stats.add(&report);
        self.slot += 1;
        ClosedSlot { report, difference }
    }

    /// Runs the remaining slots; returns the statistics and the policies.
    pub fn run(mut self) -> Result<(RunStats, Vec<Box<dyn Policy>>), EngineError> {
        while !self.finished() {
            self.step()?;
        }
        Ok(self.into_parts())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::{Baseline, Feedback, Orm};
    use std::sync::Mutex;

    /// The fault tests' small scenario with carry-over (so decisions change later slots' free
    /// CPU) and a fault plan (losses, latency, an outage), `slots` slots.
    fn scenario(slots: u32) -> Scenario {
        let text = include_str!("../../../tests/fixtures/faults-small.toml")
            .replace("slots = 30", &format!("slots = {slots}"))
            .replace("carry_over = false", "carry_over = true")
            + "\n[faults]\nvehicle_dropout = 0.05\nrsu_outage = [{ rsu = 1, from_slot = 3, to_slot = 5 }]\n\
               [faults.loss]\nwired = 0.1\nupload = 0.05\n";
        Scenario::parse(&text).unwrap()
    }

    /// ORM that records the feedback it gets.
    struct Recording(Arc<Mutex<Vec<Feedback>>>);
    impl Policy for Recording {
        fn name(&self) -> &'static str {
            "orm"
        }
        fn decide(&mut self, obs: &Observation<'_>) -> Vec<RsuId> {
            Orm.decide(obs)
        }
        fn feedback(&mut self, fb: &Feedback) {
            self.0.lock().unwrap().push(fb.clone());
        }
    }

    #[test]
    fn decisions_from_outside_replay_the_engine_byte_for_byte() {
        let s = Arc::new(scenario(20));
        let fleet = crate::mobility::load(&s, None).unwrap();
        let log = Arc::new(Mutex::new(Vec::new()));
        let rec = (0..3).map(|_| Box::new(Recording(log.clone())) as Box<dyn Policy>).collect();
        let mut inside = SequentialRun::new(s.clone(), fleet.clone(), PolicySet::new(rec)).unwrap();
        let mut reports = Vec::new();
        while !inside.finished() {
            reports.push(inside.step().unwrap());
        }

        // The same episode with ORM's decisions made outside the engine, on the observations
        // it exposes; the run's own policies (ORL) are never asked.
        let orl = PolicySet::baseline(Baseline::Orl, 3, s.seed);
        let mut outside = SequentialRun::new(s.clone(), fleet, orl).unwrap();
        let mut slot = 0;
        let mut tasks = 0;
        while !outside.finished() {
            let open = outside.open_slot().unwrap();
            assert_eq!(open.slot(), slot);
            let d: Vec<Vec<RsuId>> = (0..3)
                .map(|e| {
                    tasks += open.uploads(e).len();
                    assert_eq!(open.candidates(e).len(), if open.uploads(e).is_empty() { 0 } else { 3 });
                    assert_eq!(outside.candidates(&open, e).len(), 3);
                    if !open.uploads(e).is_empty() {
                        assert_eq!(outside.candidates(&open, e), open.candidates(e));
                    }
                    if open.uploads(e).is_empty() {
                        Vec::new()
                    } else {
                        Orm.decide(&outside.observation(&open, e))
                    }
                })
                .collect();
            assert_eq!(open.available()[1], !(3..=5).contains(&slot), "slot {slot}");
            let closed = outside.close_slot(open, &d, false).unwrap();
            assert_eq!(format!("{:?}", closed.report), format!("{:?}", reports[slot as usize]));
            let fb = log.lock().unwrap();
            for e in 0..3 {
                assert_eq!(closed.difference[e].to_bits(), fb[slot as usize * 3 + e].difference.to_bits());
            }
            slot += 1;
        }
        assert!(tasks > 100, "the scenario exercises the path: {tasks} tasks");
        assert_eq!(outside.stats().summary().to_json(), inside.stats().summary().to_json());
        assert!(matches!(outside.open_slot(), Err(EngineError::Finished { slots: 20 })));
    }

    #[test]
    fn wrong_decisions_are_refused_and_change_nothing() {
        let s = Arc::new(scenario(8));
        let fleet = crate::mobility::load(&s, None).unwrap();
        let mut run = SequentialRun::new(s.clone(), fleet, PolicySet::baseline(Baseline::Orl, 3, s.seed)).unwrap();
        let open = run.open_slot().unwrap();
        let e = (0..3).find(|&e| !open.uploads(e).is_empty()).expect("some uploads in slot 0");
        let k = open.uploads(e).len();
        let mut d: Vec<Vec<RsuId>> = (0..3).map(|x| vec![RsuId(x as u32); open.uploads(x).len()]).collect();
        d[e].push(RsuId(0));
        let err = run.check_slot(&open, &d).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!("policy external at RSU {}: returned {} decisions for {k} tasks", RsuId(e as u32), k + 1)
        );
        d[e].pop();
        d[e][0] = RsuId(7);
        let err = run.check_slot(&open, &d).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!("policy external at RSU {}: chose rsu7, but the scenario has 3 RSUs", RsuId(e as u32))
        );
        let err = run.check_slot(&open, &d[..2]).unwrap_err();
        assert!(err.to_string().contains("decisions for 2 RSUs, the scenario has 3"), "{err}");
        assert_eq!(run.stats().slots(), 0);
        d[e][0] = RsuId(e as u32);
        run.close_slot(open, &d, false).unwrap();
        assert_eq!(run.stats().slots(), 1);
    }
}
