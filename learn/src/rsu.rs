//! One RSU's learner, owned by that RSU (its actor, in the actor engine): networks, target
//! networks, optimiser state, replay buffer and random streams, and the update steps that run in
//! the RSU's own handler. Nothing is shared with the other RSUs' learners but messages.
//!
//! Slot protocol ([`Policy`]): `decide` records the observation and actions; `feedback` records
//! the reward. A local learner (fed-maddpg) then stores its own record and trains at once. A
//! centralised learner (maddpg, masac) instead hands the engine a [`SlotShare`] (its
//! observation, actions, reward and the actor parameters the others' critics need) and trains
//! in `receive`, once it holds every RSU's share of the slot: it stores the joint record in its
//! own copy of the joint buffer (the records' observations are `Arc`s, so in one process the
//! copies share them) and steps with the others' actors as they were shared at the end of the
//! slot. So an RSU's update never depends on when another RSU's ran: RSUs train in parallel
//! and the result is the same in any order, on any thread count, on either engine.

#![allow(clippy::manual_is_multiple_of)] // `is_multiple_of` needs Rust 1.87.

use crate::adam::Adam;
use crate::features::{add_local_prior, encode, encode_in_turn, RawObs, Scales};
use crate::gumbel::{masked_argmax, masked_softmax, sample_categorical, uniform_allowed};
use crate::learner::{Kind, LearnerOptions, RewardSignal};
use crate::maddpg::{Ctx, Minibatch, Workspace};
use crate::net::{FlatNet, Net, Params};
use crate::nets::{ActorCritic, NetShape, SetCritic};
use crate::replay::{NStep, Replay, SlotRecord};
use crate::{maddpg, masac};
use rand::Rng;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use vecsim_core::ids::RsuId;
use vecsim_core::learning::LearningConfig;
use vecsim_core::policy::{Feedback, Observation};
use vecsim_core::rng::{self, Domain, SimRng};
use vecsim_core::Scenario;

/// One RSU's networks, optimisers and random streams. `N`: how its networks run ([`FlatNet`]
/// between episodes and with the gemm backend; resident on a dfdx device for an episode with the
/// dfdx backend, [`crate::resident`]).
#[derive(Clone, Debug, PartialEq)]
pub struct Agent<N = FlatNet> {
    /// The actor and the critic, each with its target copy and its Adam state (actor lr and
    /// critic lr, Table III).
    pub(crate) nets: ActorCritic<N>,
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

impl Agent {
    /// Flat actor (policy) parameters.
    pub fn actor(&self) -> &[f32] {
        &self.nets.actor.params
    }

    /// Target actor parameters, soft-updated towards the actor (eq. 25).
    pub fn actor_target(&self) -> &[f32] {
        &self.nets.actor.target
    }

    /// Adam state of the actor.
    pub fn actor_opt(&self) -> &Adam {
        &self.nets.actor.opt
    }

    /// Flat critic parameters (`φ`'s then `ρ`'s).
    pub fn critic(&self) -> Vec<f32> {
        let c = &self.nets.critic;
        [&c.phi.params[..], &c.rho.params[..]].concat()
    }

    /// Target critic parameters, soft-updated towards the critic (eq. 25).
    pub fn critic_target(&self) -> Vec<f32> {
        let c = &self.nets.critic;
        [&c.phi.target[..], &c.rho.target[..]].concat()
    }

    /// Adam state of the critic (`φ`'s then `ρ`'s moments).
    pub fn critic_opt(&self) -> Adam {
        let c = &self.nets.critic;
        c.phi.opt.concat(&c.rho.opt)
    }
}

/// Running means of the losses since the last [`RsuLearner::take_losses`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct LossMeter {
    /// Sum (running) or mean (taken) of the critic losses.
    pub critic: f64,
    /// Sum (running) or mean (taken) of the actor losses.
    pub actor: f64,
    /// Updates counted.
    pub count: u64,
}

/// What a centralised learner's RSU shares after a slot: its part of the joint record, and the
/// actor parameters the other RSUs' critics use for its next actions (its target actor for
/// maddpg, its current actor for masac), as they are before this slot's updates.
/// Serialisable: on a cluster, shares cross processes (`pipeline::learner_codec`).
#[derive(Debug, Serialize, Deserialize)]
pub struct SlotShare {
    /// The RSU's observation of the slot (empty when it had no uploads).
    pub obs: Arc<RawObs>,
    /// The executing-RSU index it chose for each task.
    pub act: Vec<u16>,
    /// Its reward signal for the slot.
    pub reward: f32,
    /// The slot was the episode's last.
    pub end: bool,
    /// Its actor parameters for the others' next actions.
    pub actor: Arc<Vec<f32>>,
}

/// One RSU's learner: what the RSU owns, and the [`Policy`] it runs. `N`: how its networks run
/// (see [`Agent`]); its serialised form (checkpoints, a cluster's hand-over) is that of
/// [`FlatNet`]s, the networks in the flat layout.
#[derive(Clone, Debug)]
pub struct RsuLearner<N = FlatNet> {
    /// Which learner this is.
    pub kind: Kind,
    /// Table III hyper-parameters, from the scenario's `[learning]` table.
    pub cfg: LearningConfig,
    /// Learner settings outside Table III.
    pub opts: LearnerOptions,
    /// Feature normalisers of the scenario.
    pub scales: Scales,
    /// Number of RSUs in the scenario.
    pub rsus: usize,
    /// This learner's RSU (index = RSU id).
    pub rsu: usize,
    /// Its networks, optimisers and random streams.
    pub agent: Agent<N>,
    /// Its replay buffer: its own records (fed-maddpg) or its copy of the joint records.
    pub replay: Replay,
    /// Explore and learn (training) or act greedily (evaluation).
    pub training: bool,
    /// Slots trained on.
    pub slots: u64,
    /// Episodes trained on (iterations of Algorithm 1; drives ε).
    pub episodes: u64,
    /// Federated rounds held (set by the trainer).
    pub fed_rounds: u64,
    /// Loss sums since the last [`RsuLearner::take_losses`].
    pub losses: LossMeter,
    /// The other RSUs' actor parameters as last shared (centralised learners; not saved: every
    /// slot's shares refresh them before any update).
    peers: Vec<Arc<Vec<f32>>>,
    /// Not saved (nor any field below): the slot in progress.
    pending: Option<(RawObs, Vec<u16>)>,
    reward: f32,
    end: bool,
    /// Fed back this slot and not yet shared / received (centralised learners).
    awaiting: Stage,
    pub(crate) ws: Workspace,
}

/// Where a centralised learner is in the slot's exchange.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum Stage {
    #[default]
    Idle,
    /// Fed back; `share` is next.
    Fed,
    /// Shared; `receive` is next.
    Shared,
}

impl RsuLearner {
    /// RSU `rsu`'s learner for `scenario`: hyper-parameters from its `[learning]` table
    /// (Table III), freshly initialised networks and random streams from
    /// `seed` (the same for every RSU's learner of one run), an empty buffer.
    pub fn new(kind: Kind, scenario: &Scenario, rsu: usize, seed: u64, opts: LearnerOptions) -> RsuLearner {
        let rsus = scenario.rsu_count();
        let cfg = scenario.learning.clone();
        let e = rsu as u64;
        // Fed-MADDPG starts every actor from one common initialisation, as FedAvg assumes
        // (averaging independently initialised networks mixes unrelated features).
        let actor = opts.shape.actor().with_threads(opts.threads);
        let a = actor.init(&mut rng::stream(seed, Domain::Learner, if kind.federated() { 0 } else { e }));
        let (phi, rho) = opts.shape.critic(kind.central());
        let (phi, rho) = (phi.with_threads(opts.threads), rho.with_threads(opts.threads));
        let mut critic_rng = rng::stream(seed, Domain::Learner, (3 << 32) | e);
        let (p, r) = (phi.init(&mut critic_rng), rho.init(&mut critic_rng));
        let width = critic_width(&opts.shape);
        let nets = ActorCritic {
            actor: FlatNet::fresh(actor, a, cfg.actor_lr),
            critic: SetCritic::new(
                FlatNet::fresh(phi, p, cfg.critic_lr),
                FlatNet::fresh(rho, r, cfg.critic_lr),
                kind.central(),
                width,
            ),
        };
        let agent = Agent {
            nets,
            log_alpha: opts.sac_init_alpha.ln(),
            alpha_opt: Adam::new(1, cfg.critic_lr),
            explore_rng: rng::stream(seed, Domain::Learner, (1 << 32) | e),
            train_rng: rng::stream(seed, Domain::Learner, (2 << 32) | e),
            updates: 0,
            samples: 0,
            last_critic_loss: 0.0,
            last_actor_loss: 0.0,
        };
        let replay = Replay::new(cfg.replay_capacity, if kind.central() { rsus } else { 1 });
        RsuLearner {
            kind,
            cfg,
            opts,
            scales: Scales::from_scenario(scenario),
            rsus,
            rsu,
            agent,
            replay,
            training: true,
            slots: 0,
            episodes: 0,
            fed_rounds: 0,
            losses: LossMeter::default(),
            peers: Vec::new(),
            pending: None,
            reward: 0.0,
            end: false,
            awaiting: Stage::Idle,
            ws: Workspace::default(),
        }
    }
}

impl RsuLearner {
    /// Up to `threads` threads for each of its networks' large matrix products from now on
    /// ([`LearnerOptions::threads`]).
    pub fn set_threads(&mut self, threads: usize) {
        self.opts.threads = threads;
        let n = &mut self.agent.nets;
        for net in [&mut n.actor, &mut n.critic.phi, &mut n.critic.rho] {
            net.shape.threads = threads;
        }
    }
}

/// `φ`'s output width (the pooled embedding's).
fn critic_width(shape: &NetShape) -> usize {
    shape.critic_embed.last().copied().unwrap_or(0)
}

impl<N: Net> RsuLearner<N> {
    /// The networks, and what the update steps need besides them.
    pub(crate) fn ctx(&mut self) -> (Ctx<'_>, &mut ActorCritic<N>) {
        let ctx = Ctx {
            rsu: self.rsu,
            central: self.kind.central(),
            gumbel_tau: self.opts.gumbel_tau,
            sac_target_entropy: self.opts.sac_target_entropy,
            local_prior: self.cfg.prior() as f32,
            train_rng: &mut self.agent.train_rng,
            peers: &self.peers,
            ws: &mut self.ws,
            log_alpha: &mut self.agent.log_alpha,
            alpha_opt: &mut self.agent.alpha_opt,
        };
        (ctx, &mut self.agent.nets)
    }

    /// The same learner with its networks run by another [`Net`] (made resident on a device for
    /// an episode, or copied back after it); everything else moves as it is.
    pub(crate) fn map_nets<M: Net>(self, f: impl FnMut(N) -> M) -> RsuLearner<M> {
        let a = self.agent;
        let agent = Agent {
            nets: a.nets.map(f),
            log_alpha: a.log_alpha,
            alpha_opt: a.alpha_opt,
            explore_rng: a.explore_rng,
            train_rng: a.train_rng,
            updates: a.updates,
            samples: a.samples,
            last_critic_loss: a.last_critic_loss,
            last_actor_loss: a.last_actor_loss,
        };
        RsuLearner {
            kind: self.kind,
            cfg: self.cfg,
            opts: self.opts,
            scales: self.scales,
            rsus: self.rsus,
            rsu: self.rsu,
            agent,
            replay: self.replay,
            training: self.training,
            slots: self.slots,
            episodes: self.episodes,
            fed_rounds: self.fed_rounds,
            losses: self.losses,
            peers: self.peers,
            pending: self.pending,
            reward: self.reward,
            end: self.end,
            awaiting: self.awaiting,
            ws: self.ws,
        }
    }

    /// Returns and resets the loss sums.
    pub fn take_losses(&mut self) -> LossMeter {
        std::mem::take(&mut self.losses)
    }

    /// The executing RSU of each task of this RSU. With `tasks_in_turn`, task `k` is scored from
    /// features that count the tasks `0..k` already assigned (one actor pass per task, in
    /// upload order); otherwise every (task, candidate) pair in one pass.
    pub(crate) fn decide_slot(&mut self, obs: &Observation<'_>) -> Vec<RsuId> {
        let raw = RawObs::from_observation(obs);
        let in_turn = self.cfg.tasks_in_turn;
        let prior = self.cfg.prior() as f32;
        let mut enc = if in_turn {
            encode_in_turn(&Arc::new(raw.clone()), &Arc::new(self.scales.clone()), &[])
        } else {
            encode(&raw, &self.scales)
        };
        let mut logits = Vec::new();
        if !in_turn {
            self.ws.rows.clear();
            enc.actor_rows(&mut self.ws.rows);
            logits = self.agent.nets.actor.forward(Params::Online, &self.ws.rows, enc.n_tasks * enc.n_cands);
            add_local_prior(&mut logits, &self.ws.rows, prior);
        }
        let nc = enc.n_cands;
        let eps = self.cfg.epsilon_at(self.episodes);
        let training = self.training;
        let soft = self.kind == Kind::Masac;
        let e = self.rsu;
        let mut acts: Vec<u16> = Vec::with_capacity(enc.n_tasks);
        let mut p = vec![0.0; nc];
        for k in 0..enc.n_tasks {
            let z: &[f32] = if in_turn {
                enc.refresh_task(k, &acts);
                self.ws.rows.clear();
                enc.task_actor_rows(k, &mut self.ws.rows);
                logits = self.agent.nets.actor.forward(Params::Online, &self.ws.rows, nc);
                add_local_prior(&mut logits, &self.ws.rows, prior);
                &logits
            } else {
                &logits[k * nc..(k + 1) * nc]
            };
            let agent = &mut self.agent;
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
            // One sample per slot, however many rounds of turns asked: the last is recorded.
            if self.pending.is_none() {
                self.agent.samples += 1;
            }
            self.pending = Some((raw, acts.clone()));
        }
        acts.into_iter().map(|a| RsuId(a as u32)).collect()
    }

    /// Records the slot's reward; a local learner stores its record and trains at once.
    pub(crate) fn feedback_slot(&mut self, fb: &Feedback) {
        self.reward = match self.opts.reward {
            RewardSignal::Marginal => fb.reward as f32,
            RewardSignal::System => fb.potential as f32,
            RewardSignal::Difference => fb.difference as f32,
        };
        self.end = fb.done;
        if !self.training {
            // Evaluation leaves the training counters (ε schedule, update cadence) alone.
            self.pending = None;
            return;
        }
        self.slots += 1;
        if self.end {
            self.episodes += 1;
        }
        if self.kind.central() {
            self.awaiting = Stage::Fed;
            return;
        }
        let (o, a) = self.take_pending();
        let rec = SlotRecord { obs: vec![Arc::new(o)], act: vec![a], reward: vec![self.reward], end: self.end };
        self.replay.push(rec);
        self.train_slot();
    }

    /// The slot's observation and actions, or an empty observation when the RSU had no uploads.
    fn take_pending(&mut self) -> (RawObs, Vec<u16>) {
        self.pending.take().unwrap_or_else(|| (RawObs::empty(self.rsu), Vec::new()))
    }

    /// This RSU's share of the slot (centralised learners, after feedback).
    pub(crate) fn share_slot(&mut self) -> Option<SlotShare> {
        if self.awaiting != Stage::Fed {
            return None;
        }
        self.awaiting = Stage::Shared;
        let (o, a) = self.take_pending();
        let actor = if self.kind == Kind::Masac {
            self.agent.nets.actor.params()
        } else {
            self.agent.nets.actor.target_params()
        };
        Some(SlotShare { obs: Arc::new(o), act: a, reward: self.reward, end: self.end, actor: Arc::new(actor) })
    }

    /// Stores the joint record of every RSU's share and trains (centralised learners). An RSU
    /// that shared nothing counts as one without uploads, with reward 0, and its actor is the
    /// one it shared last.
    pub(crate) fn receive_slot(&mut self, shares: &[Option<&SlotShare>]) {
        if self.awaiting != Stage::Shared {
            return;
        }
        self.awaiting = Stage::Idle;
        self.peers.resize(self.rsus, Arc::new(Vec::new()));
        let mut rec = SlotRecord {
            obs: Vec::with_capacity(self.rsus),
            act: Vec::with_capacity(self.rsus),
            reward: Vec::with_capacity(self.rsus),
            end: self.end,
        };
        for j in 0..self.rsus {
            match shares.get(j).copied().flatten() {
                Some(s) => {
                    rec.obs.push(s.obs.clone());
                    rec.act.push(s.act.clone());
                    rec.reward.push(s.reward);
                    if j != self.rsu {
                        self.peers[j] = s.actor.clone();
                    }
                }
                None => {
                    rec.obs.push(Arc::new(RawObs::empty(j)));
                    rec.act.push(Vec::new());
                    rec.reward.push(0.0);
                }
            }
        }
        self.replay.push(rec);
        self.train_slot();
    }

    /// The update steps due after a slot (every `update_every` slots, `updates_per_slot` of them).
    fn train_slot(&mut self) {
        if self.slots % self.cfg.update_every.max(1) as u64 == 0 {
            for _ in 0..self.opts.updates_per_slot {
                self.update();
            }
        }
    }

    /// Index of this RSU in its buffer's records.
    fn own(&self) -> usize {
        if self.kind.central() {
            self.rsu
        } else {
            0
        }
    }

    /// One gradient update (critic step, actor step, target update every `t_tg`) of the
    /// networks. Returns false when the buffer does not hold a minibatch yet.
    pub fn update(&mut self) -> bool {
        let own = self.own();
        let batch = self.cfg.batch_size;
        if (self.replay.decisions(own) as usize) < batch {
            return false;
        }
        let (n, gamma) = (self.cfg.n_step, self.cfg.gamma as f32);
        let samples = self.replay.sample(own, batch, n, gamma, &mut self.agent.train_rng);
        if samples.is_empty() {
            return false;
        }
        let mb = self.minibatch(own, &samples);
        let kind = self.kind;
        let (mut ctx, nets) = self.ctx();
        let (cl, al) = match kind {
            Kind::Masac => masac::update_on(&mut ctx, nets, &mb),
            _ => maddpg::update_on(&mut ctx, nets, &mb),
        };
        let tau = self.cfg.tau as f32;
        let every = self.cfg.target_update_every.max(1) as u64;
        let a = &mut self.agent;
        a.updates += 1;
        a.last_critic_loss = cl;
        a.last_actor_loss = al;
        if a.updates % every == 0 {
            a.nets.soft_update(tau);
        }
        self.losses.critic += cl as f64;
        self.losses.actor += al as f64;
        self.losses.count += 1;
        true
    }

    /// A minibatch drawn with the training stream (tests).
    #[cfg(test)]
    pub(crate) fn test_minibatch(&mut self) -> Option<Minibatch> {
        let own = self.own();
        let (n, gamma, batch) = (self.cfg.n_step, self.cfg.gamma as f32, self.cfg.batch_size);
        let samples = self.replay.sample(own, batch, n, gamma, &mut self.agent.train_rng);
        (!samples.is_empty()).then(|| self.minibatch(own, &samples))
    }

    fn minibatch(&self, own: usize, samples: &[NStep]) -> Minibatch {
        let buf = &self.replay;
        let scales = Arc::new(self.scales.clone());
        // In turn: each RSU's tasks encoded with the decisions it took, as its actor saw them.
        let enc_all = |rec: &SlotRecord| {
            rec.obs
                .iter()
                .zip(&rec.act)
                .map(
                    |(o, a)| {
                        if self.cfg.tasks_in_turn {
                            encode_in_turn(o, &scales, a)
                        } else {
                            encode(o, &self.scales)
                        }
                    },
                )
                .collect::<Vec<_>>()
        };
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

    /// Takes a federated round's average `avg` (fed-maddpg): `θ ← (1 − β)·θ + β·θ̄` with
    /// `β = learning.fed_mix`; with `β = 1` (eq. 28) the average replaces the actor. One rule for
    /// both engines (the in-process round and the VEC POOL actor's).
    pub(crate) fn adopt_average(&mut self, avg: &[f32]) {
        let mix = self.cfg.fed_mix as f32;
        if mix >= 1.0 {
            self.set_actor_params(avg);
            return;
        }
        let mut p = self.agent.nets.actor.params();
        for (p, a) in p.iter_mut().zip(avg) {
            *p = (1.0 - mix) * *p + mix * a;
        }
        self.set_actor_params(&p);
    }

    /// Overwrites the actor parameters (same length required).
    pub fn set_actor_params(&mut self, p: &[f32]) {
        self.agent.nets.actor.set_params(p);
    }

    /// The actor's parameters and the decisions taken, for a VEC POOL round (fed-maddpg).
    pub(crate) fn export_actor(&self) -> Option<(u64, Vec<f32>)> {
        self.kind.federated().then(|| (self.agent.samples, self.agent.nets.actor.params()))
    }

    /// A VEC POOL round's average, written over the actor (fed-maddpg; an average of another
    /// length is ignored).
    pub(crate) fn import_actor(&mut self, params: &[f32]) {
        if self.kind.federated() && params.len() == self.agent.nets.actor.num_params() {
            self.adopt_average(params);
        }
    }
}

/// The update steps one at a time, on the learner's networks (tests).
#[cfg(test)]
impl<N: Net> RsuLearner<N> {
    /// [`maddpg::targets_on`].
    pub(crate) fn targets(&mut self, mb: &Minibatch, sac_alpha: Option<f32>) -> Vec<f32> {
        let (mut ctx, nets) = self.ctx();
        maddpg::targets_on(&mut ctx, nets, mb, sac_alpha)
    }

    /// [`maddpg::critic_step_on`].
    pub(crate) fn critic_step(&mut self, mb: &Minibatch, y: &[f32]) -> f32 {
        let (mut ctx, nets) = self.ctx();
        maddpg::critic_step_on(&mut ctx, nets, mb, y)
    }

    /// [`maddpg::actor_step_on`].
    pub(crate) fn actor_step(&mut self, mb: &Minibatch, sac_alpha: Option<f32>) -> (f32, Vec<(f32, f32)>) {
        let (mut ctx, nets) = self.ctx();
        maddpg::actor_step_on(&mut ctx, nets, mb, sac_alpha)
    }

    /// [`maddpg::actor_grad_on`]; the gradient is left in the actor's
    /// [`crate::net::FlatNet::grad`] (on the flat form).
    pub(crate) fn actor_grad(
        &mut self,
        mb: &Minibatch,
        sac_alpha: Option<f32>,
        relaxed: bool,
    ) -> (f32, Vec<(f32, f32)>) {
        let (mut ctx, nets) = self.ctx();
        maddpg::actor_grad_on(&mut ctx, nets, mb, sac_alpha, relaxed)
    }
}

/// The serialised form of an [`RsuLearner`] (checkpoints, a cluster's hand-over of a learner):
/// the networks in the flat layout, the critic as `φ`'s parameters then `ρ`'s with one Adam
/// state over both (the layout of checkpoint format 3); the slot in progress is not saved.
#[derive(Serialize)]
#[serde(rename = "RsuLearner")]
struct LearnerOut<'a> {
    kind: Kind,
    cfg: &'a LearningConfig,
    opts: &'a LearnerOptions,
    scales: &'a Scales,
    rsus: usize,
    rsu: usize,
    agent: AgentOut<'a>,
    replay: &'a Replay,
    training: bool,
    slots: u64,
    episodes: u64,
    fed_rounds: u64,
    losses: &'a LossMeter,
}

/// The serialised form of an [`Agent`] (see [`LearnerOut`]).
#[derive(Serialize)]
#[serde(rename = "Agent")]
struct AgentOut<'a> {
    actor: &'a [f32],
    actor_target: &'a [f32],
    critic: Vec<f32>,
    critic_target: Vec<f32>,
    actor_opt: &'a Adam,
    critic_opt: Adam,
    log_alpha: f32,
    alpha_opt: &'a Adam,
    explore_rng: &'a SimRng,
    train_rng: &'a SimRng,
    updates: u64,
    samples: u64,
    last_critic_loss: f32,
    last_actor_loss: f32,
}

/// [`LearnerOut`], read back.
#[derive(Deserialize)]
#[serde(rename = "RsuLearner")]
struct LearnerIn {
    kind: Kind,
    cfg: LearningConfig,
    opts: LearnerOptions,
    scales: Scales,
    rsus: usize,
    rsu: usize,
    agent: AgentIn,
    replay: Replay,
    training: bool,
    slots: u64,
    episodes: u64,
    fed_rounds: u64,
    losses: LossMeter,
}

/// [`AgentOut`], read back.
#[derive(Deserialize)]
#[serde(rename = "Agent")]
struct AgentIn {
    actor: Vec<f32>,
    actor_target: Vec<f32>,
    critic: Vec<f32>,
    critic_target: Vec<f32>,
    actor_opt: Adam,
    critic_opt: Adam,
    log_alpha: f32,
    alpha_opt: Adam,
    explore_rng: SimRng,
    train_rng: SimRng,
    updates: u64,
    samples: u64,
    last_critic_loss: f32,
    last_actor_loss: f32,
}

impl Serialize for RsuLearner {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let a = &self.agent;
        let agent = AgentOut {
            actor: a.actor(),
            actor_target: a.actor_target(),
            critic: a.critic(),
            critic_target: a.critic_target(),
            actor_opt: a.actor_opt(),
            critic_opt: a.critic_opt(),
            log_alpha: a.log_alpha,
            alpha_opt: &a.alpha_opt,
            explore_rng: &a.explore_rng,
            train_rng: &a.train_rng,
            updates: a.updates,
            samples: a.samples,
            last_critic_loss: a.last_critic_loss,
            last_actor_loss: a.last_actor_loss,
        };
        LearnerOut {
            kind: self.kind,
            cfg: &self.cfg,
            opts: &self.opts,
            scales: &self.scales,
            rsus: self.rsus,
            rsu: self.rsu,
            agent,
            replay: &self.replay,
            training: self.training,
            slots: self.slots,
            episodes: self.episodes,
            fed_rounds: self.fed_rounds,
            losses: &self.losses,
        }
        .serialize(s)
    }
}

/// Reads the flat layout back into networks of the options' shape. The lengths are not
/// checked here (a critic vector is split at `φ`'s length, or where it ends): a loaded
/// checkpoint is checked whole, naming the field, by [`crate::LearnerSet::validate`]. A shape
/// that cannot be built is refused here.
impl<'de> Deserialize<'de> for RsuLearner {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<RsuLearner, D::Error> {
        let l = LearnerIn::deserialize(d)?;
        l.opts
            .shape
            .param_counts(l.kind.central())
            .map_err(|m| serde::de::Error::custom(format!("opts.shape: {m}")))?;
        let a = l.agent;
        let (phi, rho) = l.opts.shape.critic(l.kind.central());
        let (phi, rho) = (phi.with_threads(l.opts.threads), rho.with_threads(l.opts.threads));
        let k = phi.num_params();
        let split = |v: Vec<f32>| {
            let at = k.min(v.len());
            (v[..at].to_vec(), v[at..].to_vec())
        };
        let ((p, r), (pt, rt)) = (split(a.critic), split(a.critic_target));
        let (po, ro) = a.critic_opt.split_at(k);
        let nets = ActorCritic {
            actor: FlatNet::new(
                l.opts.shape.actor().with_threads(l.opts.threads),
                a.actor,
                a.actor_target,
                a.actor_opt,
            ),
            critic: SetCritic::new(
                FlatNet::new(phi, p, pt, po),
                FlatNet::new(rho, r, rt, ro),
                l.kind.central(),
                critic_width(&l.opts.shape),
            ),
        };
        let agent = Agent {
            nets,
            log_alpha: a.log_alpha,
            alpha_opt: a.alpha_opt,
            explore_rng: a.explore_rng,
            train_rng: a.train_rng,
            updates: a.updates,
            samples: a.samples,
            last_critic_loss: a.last_critic_loss,
            last_actor_loss: a.last_actor_loss,
        };
        Ok(RsuLearner {
            kind: l.kind,
            cfg: l.cfg,
            opts: l.opts,
            scales: l.scales,
            rsus: l.rsus,
            rsu: l.rsu,
            agent,
            replay: l.replay,
            training: l.training,
            slots: l.slots,
            episodes: l.episodes,
            fed_rounds: l.fed_rounds,
            losses: l.losses,
            peers: Vec::new(),
            pending: None,
            reward: 0.0,
            end: false,
            awaiting: Stage::Idle,
            ws: Workspace::default(),
        })
    }
}
