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
use crate::policy::{JointRefiner, Observation, Policy, PolicySet, Share, Working};
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
        let t = self.slot;
        let sc = &*self.scenario;
        let n = self.specs.len();
        let t0 = self.clock.start_s(t);
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
        let uploads: Vec<Vec<UploadedTask>> =
            self.rsus.iter().zip(msgs).map(|(r, m)| r.receive_uploads(m, &sc.channel)).collect();
        let summaries: Vec<LoadSummary> =
            self.rsus.iter().zip(&uploads).zip(&up).map(|((r, u), &a)| r.summary(u, t0, a)).collect();

        // Phase 3: decisions (and the joint oracle, if any).
        let mut decisions: Vec<Vec<RsuId>> = Vec::with_capacity(n);
        for (e, policy) in self.policies.iter_mut().enumerate() {
            if uploads[e].is_empty() {
                decisions.push(Vec::new());
                continue;
            }
            let candidates = self.rsus[e].candidates(&self.specs, &summaries);
            let obs = Observation {
                rsu: RsuId(e as u32),
                slot: t,
                slot_s: self.clock.slot_s,
                tasks: &uploads[e],
                candidates: &candidates,
                wired: sc.wired,
                allocator: sc.allocation.allocator,
            };
            let d = policy.decide(&obs);
            check_decisions(policy.name(), RsuId(e as u32), uploads[e].len(), n, &d)?;
            decisions.push(d);
        }
        let mut unconverged = false;
        if let Some(refiner) = &self.refiner {
            let free: Vec<f64> = summaries.iter().map(|s| s.free_cpu_hz).collect();
            let problem = SlotProblem {
                rsus: &self.specs,
                free_cpu_hz: &free,
                available: &up,
                wired: sc.wired,
                allocator: sc.allocation.allocator,
                uploads: &uploads,
            };
            unconverged = !refiner.refine(&problem, &mut decisions);
        }

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
        let free: Vec<f64> = summaries.iter().map(|s| s.free_cpu_hz).collect();
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
        Ok(report)
    }

    /// Runs the remaining slots; returns the statistics and the policies.
    pub fn run(mut self) -> Result<(RunStats, Vec<Box<dyn Policy>>), EngineError> {
        while !self.finished() {
            self.step()?;
        }
        Ok(self.into_parts())
    }
}
