//! The learner state shared by one scenario's RSU policies, and the per-RSU [`Policy`] handles.
//!
//! One [`State`] holds every RSU's agent (networks, target networks, Adam state, RNG streams)
//! and the replay buffer(s). What each algorithm may *use* is what makes it private or not:
//! `fed-maddpg` agent `e` reads only buffer `e` and its own networks (no state sharing; only its
//! actor parameters leave it, through the VEC POOL); `maddpg` and `masac` agents train
//! centralised critics on the joint buffer. Keeping the agents together lets the centralised
//! critics see all actors and lets a checkpoint capture everything at one instant.
//!
//! Slot protocol: `decide` records the observation and actions of RSU e; `feedback` records its
//! reward; when every RSU's feedback for the slot is in (in any order), the slot's record is
//! pushed and the update steps run in RSU-id order, so results do not depend on call order.

#![allow(clippy::manual_is_multiple_of)] // `is_multiple_of` needs Rust 1.87; the workspace supports 1.85.

use crate::adam::{soft_update, Adam};
use crate::features::{encode, Enc, RawObs, Scales};
use crate::gumbel::{masked_argmax, masked_softmax, sample_categorical, uniform_allowed};
use crate::mlp::{Acts, Backend, Mlp};
use crate::nets::{CriticNet, CriticWs, NetShape, SetBatch};
use crate::replay::{NStep, Replay, SlotRecord};
use crate::{maddpg, masac, LearnError};
use rand::Rng;
use serde::{Deserialize, Serialize};
use std::sync::{Arc, Mutex, MutexGuard};
use vecsim_core::ids::RsuId;
use vecsim_core::learning::LearningConfig;
use vecsim_core::policy::{Feedback, Observation, Policy};
use vecsim_core::rng::{self, Domain, SimRng};
use vecsim_core::Scenario;

/// Which learner.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Kind {
    /// Local actor and critic per RSU, FedAvg of actors at the VEC POOL.
    FedMaddpg,
    /// Actor per RSU, centralised critics over all RSUs' observations and actions.
    Maddpg,
    /// Discrete soft actor-critic per RSU with centralised critics and learned temperature, in a
    /// Gumbel-softmax variant: one critic, straight-through actor gradient, exact categorical
    /// entropy (not the canonical twin-critic, exact-expectation discrete SAC; see `masac.rs`).
    Masac,
}

impl Kind {
    /// Every learner, in the order they are listed to users.
    pub const ALL: [Kind; 3] = [Kind::FedMaddpg, Kind::Maddpg, Kind::Masac];

    /// The learner called `name` (`fed-maddpg`, `maddpg`, `masac`), or `None`.
    pub fn parse(name: &str) -> Option<Kind> {
        match name {
            "fed-maddpg" => Some(Kind::FedMaddpg),
            "maddpg" => Some(Kind::Maddpg),
            "masac" => Some(Kind::Masac),
            _ => None,
        }
    }

    /// The policy name, as [`Kind::parse`] accepts it.
    pub fn name(self) -> &'static str {
        match self {
            Kind::FedMaddpg => "fed-maddpg",
            Kind::Maddpg => "maddpg",
            Kind::Masac => "masac",
        }
    }

    /// Whether its critics are centralised over all RSUs (one joint replay buffer).
    pub fn central(self) -> bool {
        !matches!(self, Kind::FedMaddpg)
    }

    /// Whether its actors are averaged at the VEC POOL (Fed-MADDPG only).
    pub fn federated(self) -> bool {
        matches!(self, Kind::FedMaddpg)
    }
}

/// Whether `name` is one of the learners of this crate.
pub fn is_learner(name: &str) -> bool {
    Kind::parse(name).is_some()
}

/// Learner settings that are not in the scenario's `[learning]` table (Table III).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LearnerOptions {
    /// Hidden layer sizes of the actor and critic networks.
    pub shape: NetShape,
    /// Update rounds (one gradient step per agent each) after every `learning.update_every`
    /// slots. Algorithm 1 does one per slot.
    pub updates_per_slot: u32,
    /// Weight FedAvg by each RSU's number of decisions instead of equally (eq. 27).
    pub weighted_fedavg: bool,
    /// Gumbel-softmax temperature of the actor step.
    pub gumbel_tau: f32,
    /// MASAC: initial temperature α and target entropy as a fraction of `ln(#available RSUs)`.
    pub sac_init_alpha: f32,
    /// MASAC: target entropy per task, as a fraction of `ln(#available RSUs)`.
    pub sac_target_entropy: f32,
    /// What each RSU learns from.
    pub reward: RewardSignal,
    /// What runs the networks: the gemm layers (default, fastest on the CPU) or dfdx (CPU, or
    /// CUDA with the `cuda` feature). Same parameters, same layout; see `docs/learning.md`.
    pub backend: Backend,
}

/// The reward an RSU's learner maximises. The reported metrics (completion rate, cumulative
/// reward `Σ F^t`, average realized potential `Σ r_e / E` with eq. 19's `r_e`) keep their paper
/// definitions whichever signal trains.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum RewardSignal {
    /// `r_e^t = F^t − F^t_{−e}` (eq. 19), the paper's choice: `F_{−e}` counts the tasks RSU `e`
    /// *executes* as failed, so a completed task is credited to its executor.
    Marginal,
    /// The system reward `F^t` (eq. 18), shared by every RSU (fully cooperative extension).
    System,
    /// The difference reward `F^t − F'^t_{−e}` with the tasks *uploaded at* `e` absent and the
    /// executors' allocations recomputed without them: credits the RSU that decided. The
    /// default: it trains best of the three (measured; README, "Does it learn?").
    #[default]
    Difference,
}

impl RewardSignal {
    /// Every signal, in the order they are listed to users.
    pub const ALL: [RewardSignal; 3] = [RewardSignal::Marginal, RewardSignal::System, RewardSignal::Difference];

    /// The command-line name (`marginal`, `system`, `difference`).
    pub fn name(self) -> &'static str {
        match self {
            RewardSignal::Marginal => "marginal",
            RewardSignal::System => "system",
            RewardSignal::Difference => "difference",
        }
    }

    /// The signal called `name`, or `None`.
    pub fn parse(name: &str) -> Option<RewardSignal> {
        RewardSignal::ALL.into_iter().find(|r| r.name() == name)
    }
}

impl Default for LearnerOptions {
    fn default() -> Self {
        LearnerOptions {
            shape: NetShape::default(),
            updates_per_slot: 1,
            weighted_fedavg: false,
            gumbel_tau: 1.0,
            sac_init_alpha: 0.05,
            sac_target_entropy: 0.5,
            reward: RewardSignal::Difference,
            backend: Backend::Gemm,
        }
    }
}

/// One RSU's networks, optimisers and random streams.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Agent {
    /// Flat actor (policy) parameters.
    pub actor: Vec<f32>,
    /// Target actor parameters, soft-updated towards `actor` (eq. 25).
    pub actor_target: Vec<f32>,
    /// Flat critic parameters.
    pub critic: Vec<f32>,
    /// Target critic parameters, soft-updated towards `critic` (eq. 25).
    pub critic_target: Vec<f32>,
    /// Adam state of the actor (actor lr, Table III).
    pub actor_opt: Adam,
    /// Adam state of the critic (critic lr, Table III).
    pub critic_opt: Adam,
    /// MASAC temperature, `ln α`, and its optimiser.
    pub log_alpha: f32,
    /// Adam state of `log_alpha` (MASAC only).
    pub alpha_opt: Adam,
    /// Exploration draws at decision time.
    pub explore_rng: SimRng,
    /// Minibatch sampling and Gumbel noise in updates.
    pub train_rng: SimRng,
    /// Gradient updates done (drives the target update every `t_tg`).
    pub updates: u64,
    /// Decisions taken while training (FedAvg weight option).
    pub samples: u64,
    /// Critic loss (mean squared TD error, before the step) of the latest update.
    pub last_critic_loss: f32,
    /// Actor loss (`−mean Q`, less `α·H̄` for MASAC) of the latest update.
    pub last_actor_loss: f32,
}

/// Running means of the losses since the last [`State::take_losses`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct LossMeter {
    /// Sum (running) or mean (taken) of the critic losses.
    pub critic: f64,
    /// Sum (running) or mean (taken) of the actor losses.
    pub actor: f64,
    /// Updates counted.
    pub count: u64,
}

/// Everything one scenario's learners hold. Serialised whole into checkpoints.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct State {
    /// Which learner this is.
    pub kind: Kind,
    /// Table III hyper-parameters, from the scenario's `[learning]` table.
    pub cfg: LearningConfig,
    /// Learner settings outside Table III.
    pub opts: LearnerOptions,
    /// Feature normalisers of the scenario.
    pub scales: Scales,
    /// Number of RSUs (agents).
    pub rsus: usize,
    /// One agent per RSU, index = RSU id.
    pub agents: Vec<Agent>,
    /// One per RSU (local learners) or one joint buffer (centralised).
    pub replays: Vec<Replay>,
    /// Explore and learn (training) or act greedily (evaluation).
    pub training: bool,
    pending: Vec<Option<(RawObs, Vec<u16>)>>,
    rewards: Vec<f32>,
    arrived: Vec<bool>,
    slot_done: bool,
    /// Slots completed and episodes completed.
    pub slots: u64,
    /// Episodes completed (iterations of Algorithm 1).
    pub episodes: u64,
    /// Federated rounds held.
    pub fed_rounds: u64,
    /// Loss sums since the last [`State::take_losses`].
    pub losses: LossMeter,
    #[serde(skip)]
    pub(crate) ws: Workspace,
}

/// Reusable buffers of the update steps (not part of the state).
#[derive(Clone, Debug, Default)]
pub(crate) struct Workspace {
    pub actor_acts: Acts,
    pub critic_ws: CriticWs,
    pub rows: Vec<f32>,
    pub batch: SetBatch,
    pub dx: Vec<f32>,
    pub da: Vec<f32>,
    pub grad: Vec<f32>,
}

/// A minibatch of one agent's n-step transitions, encoded. `cur[b]` holds the observations the
/// agent's critic sees (all RSUs' for a centralised critic, its own for a local one) with the
/// actions taken; `own` indexes the agent's own among them.
pub(crate) struct Minibatch {
    pub own: usize,
    pub cur: Vec<Vec<Enc>>,
    pub cur_act: Vec<Vec<Vec<u16>>>,
    pub next: Vec<Option<Vec<Enc>>>,
    pub ret: Vec<f32>,
    pub disc: Vec<f32>,
}

impl State {
    /// Fresh learners for `scenario`: initial networks and RNG streams from `seed`, empty buffers.
    pub fn new(kind: Kind, scenario: &Scenario, seed: u64, opts: LearnerOptions) -> State {
        let rsus = scenario.rsu_count();
        let cfg = scenario.learning.clone();
        let actor = opts.shape.actor();
        let critic = opts.shape.critic(kind.central());
        let agents = (0..rsus)
            .map(|e| {
                // Fed-MADDPG starts every actor from one common initialisation, as FedAvg assumes
                // (averaging independently initialised networks mixes unrelated features).
                let a =
                    actor.init(&mut rng::stream(seed, Domain::Learner, if kind.federated() { 0 } else { e as u64 }));
                let c = critic.init(&mut rng::stream(seed, Domain::Learner, (3 << 32) | e as u64));
                Agent {
                    actor_target: a.clone(),
                    critic_target: c.clone(),
                    actor_opt: Adam::new(a.len(), cfg.actor_lr),
                    critic_opt: Adam::new(c.len(), cfg.critic_lr),
                    actor: a,
                    critic: c,
                    log_alpha: opts.sac_init_alpha.ln(),
                    alpha_opt: Adam::new(1, cfg.critic_lr),
                    explore_rng: rng::stream(seed, Domain::Learner, (1 << 32) | e as u64),
                    train_rng: rng::stream(seed, Domain::Learner, (2 << 32) | e as u64),
                    updates: 0,
                    samples: 0,
                    last_critic_loss: 0.0,
                    last_actor_loss: 0.0,
                }
            })
            .collect();
        let replays = if kind.central() {
            vec![Replay::new(cfg.replay_capacity, rsus)]
        } else {
            (0..rsus).map(|_| Replay::new(cfg.replay_capacity, 1)).collect()
        };
        State {
            kind,
            cfg,
            opts,
            scales: Scales::from_scenario(scenario),
            rsus,
            agents,
            replays,
            training: true,
            pending: vec![None; rsus],
            rewards: vec![0.0; rsus],
            arrived: vec![false; rsus],
            slot_done: false,
            slots: 0,
            episodes: 0,
            fed_rounds: 0,
            losses: LossMeter::default(),
            ws: Workspace::default(),
        }
    }

    /// The actor network (shape and backend) the parameters are laid out for.
    pub fn actor_net(&self) -> Mlp {
        self.opts.shape.actor().with_backend(self.opts.backend)
    }

    /// The critic network (local or centralised, with the backend) the parameters are laid out for.
    pub fn critic_net(&self) -> CriticNet {
        self.opts.shape.critic(self.kind.central()).with_backend(self.opts.backend)
    }

    /// Returns and resets the loss means.
    pub fn take_losses(&mut self) -> LossMeter {
        let m = self.losses;
        self.losses = LossMeter::default();
        if m.count > 0 {
            LossMeter { critic: m.critic / m.count as f64, actor: m.actor / m.count as f64, count: m.count }
        } else {
            m
        }
    }

    /// Per-task logits of `actor_params` on `enc`, `[n_tasks x n_cands]`.
    fn logits(&mut self, actor_params: &[f32], enc: &Enc) -> Vec<f32> {
        let net = self.actor_net();
        let ws = &mut self.ws;
        ws.rows.clear();
        enc.actor_rows(&mut ws.rows);
        net.forward(actor_params, &ws.rows, enc.n_tasks * enc.n_cands, &mut ws.actor_acts);
        ws.actor_acts.output().to_vec()
    }

    /// The executing RSU of each task of RSU `e`.
    pub fn decide(&mut self, e: usize, obs: &Observation<'_>) -> Vec<RsuId> {
        let raw = RawObs::from_observation(obs);
        let enc = encode(&raw, &self.scales);
        let actor = std::mem::take(&mut self.agents[e].actor);
        let logits = self.logits(&actor, &enc);
        self.agents[e].actor = actor;
        let nc = enc.n_cands;
        let eps = self.cfg.epsilon_at(self.episodes);
        let training = self.training;
        let soft = self.kind == Kind::Masac;
        let agent = &mut self.agents[e];
        let mut acts = Vec::with_capacity(enc.n_tasks);
        let mut p = vec![0.0; nc];
        for k in 0..enc.n_tasks {
            let z = &logits[k * nc..(k + 1) * nc];
            let a = if !training {
                masked_argmax(z, &enc.mask)
            } else if soft {
                // MASAC explores by sampling its stochastic policy.
                masked_softmax(z, &enc.mask, 1.0, &mut p);
                sample_categorical(&p, &enc.mask, &mut agent.explore_rng)
            } else {
                // ε-greedy (Table III): one uniform draw per task, always, to keep the stream aligned.
                let u: f64 = agent.explore_rng.gen();
                if u < eps {
                    uniform_allowed(&enc.mask, &mut agent.explore_rng)
                } else {
                    masked_argmax(z, &enc.mask)
                }
            };
            acts.push(a.unwrap_or(e) as u16);
        }
        if training {
            agent.samples += 1;
            self.pending[e] = Some((raw, acts.clone()));
        }
        acts.into_iter().map(|a| RsuId(a as u32)).collect()
    }

    /// Records RSU `fb.rsu`'s reward; the slot is stored and trained on once every RSU's is in.
    pub fn feedback(&mut self, fb: &Feedback) {
        let e = fb.rsu.index();
        self.rewards[e] = match self.opts.reward {
            RewardSignal::Marginal => fb.reward as f32,
            RewardSignal::System => fb.potential as f32,
            RewardSignal::Difference => fb.difference as f32,
        };
        self.arrived[e] = true;
        self.slot_done |= fb.done;
        if self.arrived.iter().all(|&a| a) {
            self.finish_slot();
        }
    }

    fn finish_slot(&mut self) {
        let end = self.slot_done;
        self.arrived.iter_mut().for_each(|a| *a = false);
        self.slot_done = false;
        if !self.training {
            // Evaluation leaves the training counters (ε schedule, update cadence) alone.
            self.pending.iter_mut().for_each(|p| *p = None);
            return;
        }
        self.slots += 1;
        if end {
            self.episodes += 1;
        }
        let mut obs = Vec::with_capacity(self.rsus);
        let mut act = Vec::with_capacity(self.rsus);
        for e in 0..self.rsus {
            let (o, a) = self.pending[e].take().unwrap_or_else(|| (RawObs::empty(e), Vec::new()));
            obs.push(o);
            act.push(a);
        }
        if self.kind.central() {
            self.replays[0].push(SlotRecord { obs, act, reward: self.rewards.clone(), end });
        } else {
            for (e, (o, a)) in obs.into_iter().zip(act).enumerate() {
                self.replays[e].push(SlotRecord { obs: vec![o], act: vec![a], reward: vec![self.rewards[e]], end });
            }
        }
        if self.slots % self.cfg.update_every.max(1) as u64 == 0 {
            for _ in 0..self.opts.updates_per_slot {
                for e in 0..self.rsus {
                    self.update(e);
                }
            }
        }
    }

    /// (buffer, index of RSU e in that buffer's records).
    fn buffer_of(&self, e: usize) -> (usize, usize) {
        if self.kind.central() {
            (0, e)
        } else {
            (e, 0)
        }
    }

    /// One gradient update of agent `e` (critic step, actor step, target update every `t_tg`).
    /// Returns false when its buffer does not hold a minibatch yet.
    pub fn update(&mut self, e: usize) -> bool {
        let (bi, own) = self.buffer_of(e);
        let batch = self.cfg.batch_size;
        if (self.replays[bi].decisions(own) as usize) < batch {
            return false;
        }
        let (n, gamma) = (self.cfg.n_step, self.cfg.gamma as f32);
        let samples = {
            let (replays, agents) = (&self.replays, &mut self.agents);
            replays[bi].sample(own, batch, n, gamma, &mut agents[e].train_rng)
        };
        if samples.is_empty() {
            return false;
        }
        let mb = self.minibatch(bi, own, &samples);
        let (cl, al) = match self.kind {
            Kind::Masac => masac::update(self, e, &mb),
            _ => maddpg::update(self, e, &mb),
        };
        let tau = self.cfg.tau as f32;
        let every = self.cfg.target_update_every.max(1) as u64;
        let a = &mut self.agents[e];
        a.updates += 1;
        a.last_critic_loss = cl;
        a.last_actor_loss = al;
        if a.updates % every == 0 {
            soft_update(&mut a.actor_target, &a.actor, tau);
            soft_update(&mut a.critic_target, &a.critic, tau);
        }
        self.losses.critic += cl as f64;
        self.losses.actor += al as f64;
        self.losses.count += 1;
        true
    }

    /// A minibatch for agent `e` drawn with its training stream (tests).
    #[cfg(test)]
    pub(crate) fn test_minibatch(&mut self, e: usize) -> Option<Minibatch> {
        let (bi, own) = self.buffer_of(e);
        let (n, gamma, batch) = (self.cfg.n_step, self.cfg.gamma as f32, self.cfg.batch_size);
        let samples = self.replays[bi].sample(own, batch, n, gamma, &mut self.agents[e].train_rng);
        (!samples.is_empty()).then(|| self.minibatch(bi, own, &samples))
    }

    fn minibatch(&self, bi: usize, own: usize, samples: &[NStep]) -> Minibatch {
        let buf = &self.replays[bi];
        let enc_all = |rec: &SlotRecord| rec.obs.iter().map(|o| encode(o, &self.scales)).collect::<Vec<_>>();
        let mut mb = Minibatch {
            own,
            cur: Vec::new(),
            cur_act: Vec::new(),
            next: Vec::new(),
            ret: Vec::new(),
            disc: Vec::new(),
        };
        for s in samples {
            let rec = buf.get(s.idx);
            mb.cur.push(enc_all(rec));
            mb.cur_act.push(rec.act.clone());
            mb.next.push(s.next.map(|i| enc_all(buf.get(i))));
            mb.ret.push(s.ret);
            mb.disc.push(s.discount);
        }
        mb
    }

    /// Actions of the RSU at position `i` of the buffer records on each `next` observation, by
    /// `params` (greedy, or sampled from the softmax with `rng` when given), plus the mean task
    /// entropy of that policy per item (0 for items without tasks).
    pub(crate) fn next_actions(
        &mut self,
        params: &[f32],
        encs: &[&Enc],
        rng: Option<&mut SimRng>,
    ) -> (Vec<Vec<u16>>, Vec<f32>) {
        let net = self.actor_net();
        let ws = &mut self.ws;
        ws.rows.clear();
        let mut total = 0;
        for enc in encs {
            enc.actor_rows(&mut ws.rows);
            total += enc.n_tasks * enc.n_cands;
        }
        let mut out = Vec::with_capacity(encs.len());
        let mut ent = Vec::with_capacity(encs.len());
        if total == 0 {
            return (encs.iter().map(|_| Vec::new()).collect(), vec![0.0; encs.len()]);
        }
        net.forward(params, &ws.rows, total, &mut ws.actor_acts);
        let logits = ws.actor_acts.output();
        let mut off = 0;
        let mut rng = rng;
        for enc in encs {
            let nc = enc.n_cands;
            let mut acts = Vec::with_capacity(enc.n_tasks);
            let mut p = vec![0.0; nc];
            let mut h = 0.0;
            for _ in 0..enc.n_tasks {
                let z = &logits[off..off + nc];
                off += nc;
                masked_softmax(z, &enc.mask, 1.0, &mut p);
                h += crate::gumbel::entropy_and_grad(&p, 0.0, None);
                let a = match rng.as_deref_mut() {
                    Some(r) => sample_categorical(&p, &enc.mask, r),
                    None => masked_argmax(z, &enc.mask),
                };
                acts.push(a.unwrap_or(0) as u16);
            }
            ent.push(if enc.n_tasks > 0 { h / enc.n_tasks as f32 } else { 0.0 });
            out.push(acts);
        }
        (out, ent)
    }

    /// Flat actor parameters of RSU `e` (what goes to the VEC POOL).
    pub fn actor_params(&self, e: usize) -> &[f32] {
        &self.agents[e].actor
    }

    /// Overwrites RSU `e`'s actor parameters (same length required).
    pub fn set_actor_params(&mut self, e: usize, p: &[f32]) {
        assert_eq!(p.len(), self.agents[e].actor.len(), "actor parameter count differs");
        self.agents[e].actor.copy_from_slice(p);
    }

    /// One federated round (eq. 26–28) among the RSUs with `participants[e]`: FedAvg of their
    /// actor parameters (weighted by decisions if configured), written back to them. Returns
    /// false when nobody took part (the round is skipped, nothing changes).
    pub fn federated_round(&mut self, participants: &[bool]) -> Result<bool, LearnError> {
        let ups: Vec<(f64, &[f32])> = (0..self.rsus)
            .filter(|&e| participants.get(e).copied().unwrap_or(false))
            .map(|e| {
                let w = if self.opts.weighted_fedavg { self.agents[e].samples as f64 } else { 1.0 };
                (w, self.agents[e].actor.as_slice())
            })
            .collect();
        let Some(avg) = vecsim_core::fedavg::average(&ups)? else { return Ok(false) };
        for e in 0..self.rsus {
            if participants.get(e).copied().unwrap_or(false) {
                self.agents[e].actor.copy_from_slice(&avg);
            }
        }
        self.fed_rounds += 1;
        Ok(true)
    }
}

/// Locks the shared state; a panic in another holder leaves the data usable (it is only read
/// or overwritten whole), so poisoning is ignored.
pub(crate) fn lock(s: &Mutex<State>) -> MutexGuard<'_, State> {
    s.lock().unwrap_or_else(|e| e.into_inner())
}

/// RSU `rsu`'s view of the learners: the [`Policy`] the engine (or RSU actor) owns.
pub struct LearnerPolicy {
    rsu: usize,
    name: &'static str,
    state: Arc<Mutex<State>>,
}

impl Policy for LearnerPolicy {
    fn name(&self) -> &'static str {
        self.name
    }

    fn decide(&mut self, obs: &Observation<'_>) -> Vec<RsuId> {
        debug_assert_eq!(obs.rsu.index(), self.rsu);
        lock(&self.state).decide(self.rsu, obs)
    }

    fn feedback(&mut self, fb: &Feedback) {
        lock(&self.state).feedback(fb)
    }

    fn export_params(&self) -> Option<(u64, Vec<f32>)> {
        let s = lock(&self.state);
        s.kind.federated().then(|| (s.agents[self.rsu].samples, s.agents[self.rsu].actor.clone()))
    }

    fn import_params(&mut self, params: &[f32]) {
        let mut s = lock(&self.state);
        if s.kind.federated() && params.len() == s.agents[self.rsu].actor.len() {
            s.set_actor_params(self.rsu, params);
        }
    }
}

/// The learners of one scenario: hands out one [`Policy`] per RSU and keeps access to the
/// shared state for the trainer (federated rounds, checkpoints, losses).
#[derive(Clone)]
pub struct LearnerSet {
    state: Arc<Mutex<State>>,
    kind: Kind,
    rsus: usize,
}

impl LearnerSet {
    /// Wraps a state (fresh or loaded from a checkpoint) for sharing among RSU policies.
    pub fn from_state(state: State) -> LearnerSet {
        let (kind, rsus) = (state.kind, state.rsus);
        LearnerSet { state: Arc::new(Mutex::new(state)), kind, rsus }
    }

    /// Which learner this is.
    pub fn kind(&self) -> Kind {
        self.kind
    }

    /// Number of RSUs (one policy each).
    pub fn rsus(&self) -> usize {
        self.rsus
    }

    /// One policy per RSU, index = RSU id. They share this set's state.
    pub fn policies(&self) -> Vec<Box<dyn Policy>> {
        (0..self.rsus)
            .map(|rsu| {
                Box::new(LearnerPolicy { rsu, name: self.kind.name(), state: self.state.clone() }) as Box<dyn Policy>
            })
            .collect()
    }

    /// Training (ε-exploration, replay, updates) or evaluation (greedy, nothing stored).
    pub fn set_training(&self, on: bool) {
        lock(&self.state).training = on;
    }

    /// Runs `f` on the state (checkpoints, inspection).
    pub fn with_state<R>(&self, f: impl FnOnce(&mut State) -> R) -> R {
        f(&mut lock(&self.state))
    }

    /// One federated round among `participants`; see [`State::federated_round`].
    pub fn federated_round(&self, participants: &[bool]) -> Result<bool, LearnError> {
        lock(&self.state).federated_round(participants)
    }
}

/// Builds the learner `name` (`fed-maddpg`, `maddpg`, `masac`) for a scenario with `rsus` RSUs,
/// default [`LearnerOptions`], Table III hyper-parameters from `scenario.learning`.
pub fn build_learner(name: &str, scenario: &Scenario, rsus: usize, seed: u64) -> Result<LearnerSet, LearnError> {
    build_learner_with(name, scenario, rsus, seed, LearnerOptions::default())
}

/// [`build_learner`] with explicit [`LearnerOptions`]; rejects empty hidden layer lists.
pub fn build_learner_with(
    name: &str,
    scenario: &Scenario,
    rsus: usize,
    seed: u64,
    opts: LearnerOptions,
) -> Result<LearnerSet, LearnError> {
    let kind = Kind::parse(name).ok_or_else(|| LearnError::UnknownPolicy(name.to_string()))?;
    if rsus != scenario.rsu_count() {
        return Err(LearnError::RsuCount { scenario: scenario.rsu_count(), asked: rsus });
    }
    if opts.shape.critic_embed.is_empty() || opts.shape.actor_hidden.is_empty() {
        return Err(LearnError::Options("hidden layer lists must not be empty".into()));
    }
    Ok(LearnerSet::from_state(State::new(kind, scenario, seed, opts)))
}
