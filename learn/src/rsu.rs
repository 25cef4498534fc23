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
use crate::features::{encode, encode_in_turn, Enc, RawObs, Scales};
use crate::gumbel::{masked_argmax, masked_softmax, sample_categorical, uniform_allowed};
use crate::learner::{Kind, LearnerOptions, RewardSignal};
use crate::mlp::{Backend, Mlp};
use crate::net::Params;
use crate::nets::{CriticNet, FlatNets, NetWs, Nets, SetBatch};
use crate::replay::{NStep, Replay, SlotRecord};
use crate::{maddpg, masac};
use rand::Rng;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use vecsim_core::ids::RsuId;
use vecsim_core::learning::LearningConfig;
use vecsim_core::policy::{Feedback, Observation, Policy, Share, Working};
use vecsim_core::rng::{self, Domain, SimRng};
use vecsim_core::Scenario;

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

/// One RSU's learner: what the RSU owns, and the [`Policy`] it runs.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RsuLearner {
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
    pub agent: Agent,
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
    #[serde(skip)]
    peers: Vec<Arc<Vec<f32>>>,
    #[serde(skip)]
    pending: Option<(RawObs, Vec<u16>)>,
    #[serde(skip)]
    reward: f32,
    #[serde(skip)]
    end: bool,
    /// Fed back this slot and not yet shared / received (centralised learners).
    #[serde(skip)]
    awaiting: Stage,
    #[serde(skip)]
    pub(crate) ws: Workspace,
    #[serde(skip)]
    pub(crate) net_ws: NetWs,
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

/// Reusable host buffers of the update steps (not part of the state).
#[derive(Clone, Debug, Default)]
pub(crate) struct Workspace {
    pub rows: Vec<f32>,
    pub batch: SetBatch,
    pub dx: Vec<f32>,
    pub da: Vec<f32>,
}

/// What the update steps need of a learner besides its networks ([`Nets`]).
pub(crate) struct Ctx<'a> {
    pub rsu: usize,
    pub central: bool,
    pub gumbel_tau: f32,
    pub sac_target_entropy: f32,
    pub train_rng: &'a mut SimRng,
    /// The other RSUs' actors as last shared (centralised learners).
    pub peers: &'a [Arc<Vec<f32>>],
    pub ws: &'a mut Workspace,
    pub log_alpha: &'a mut f32,
    pub alpha_opt: &'a mut Adam,
}

impl Ctx<'_> {
    /// RSU `j`'s actor as it shared it last (in `peers`, this context's), when `j` is another
    /// RSU whose actor this centralised learner has seen; `None` means: use this learner's own.
    pub(crate) fn peer_actor<'p>(&self, peers: &'p [Arc<Vec<f32>>], j: usize) -> Option<&'p [f32]> {
        if !self.central || j == self.rsu {
            return None;
        }
        peers.get(j).filter(|p| !p.is_empty()).map(|p| p.as_slice())
    }
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

impl RsuLearner {
    /// A fresh learner for RSU `rsu` of `scenario`: initial networks and random streams from
    /// `seed` (the same for every RSU's learner of one run), an empty buffer.
    pub fn new(kind: Kind, scenario: &Scenario, rsu: usize, seed: u64, opts: LearnerOptions) -> RsuLearner {
        let rsus = scenario.rsu_count();
        let cfg = scenario.learning.clone();
        let e = rsu as u64;
        // Fed-MADDPG starts every actor from one common initialisation, as FedAvg assumes
        // (averaging independently initialised networks mixes unrelated features).
        let a = opts.shape.actor().init(&mut rng::stream(seed, Domain::Learner, if kind.federated() { 0 } else { e }));
        let c = opts.shape.critic(kind.central()).init(&mut rng::stream(seed, Domain::Learner, (3 << 32) | e));
        let agent = Agent {
            actor_target: a.clone(),
            critic_target: c.clone(),
            actor_opt: Adam::new(a.len(), cfg.actor_lr),
            critic_opt: Adam::new(c.len(), cfg.critic_lr),
            actor: a,
            critic: c,
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
            net_ws: NetWs::default(),
        }
    }

    /// What the update steps need besides the networks.
    pub(crate) fn ctx(&mut self) -> Ctx<'_> {
        Ctx {
            rsu: self.rsu,
            central: self.kind.central(),
            gumbel_tau: self.opts.gumbel_tau,
            sac_target_entropy: self.opts.sac_target_entropy,
            train_rng: &mut self.agent.train_rng,
            peers: &self.peers,
            ws: &mut self.ws,
            log_alpha: &mut self.agent.log_alpha,
            alpha_opt: &mut self.agent.alpha_opt,
        }
    }

    /// The flat networks, taken out of the learner (its actor and critic vectors are empty
    /// until [`RsuLearner::put_flat`]).
    pub(crate) fn take_flat(&mut self) -> FlatNets {
        let (actor_net, critic_net) = (self.actor_net(), self.critic_net());
        let a = &mut self.agent;
        FlatNets {
            actor: std::mem::take(&mut a.actor),
            actor_target: std::mem::take(&mut a.actor_target),
            critic: std::mem::take(&mut a.critic),
            critic_target: std::mem::take(&mut a.critic_target),
            actor_opt: std::mem::take(&mut a.actor_opt),
            critic_opt: std::mem::take(&mut a.critic_opt),
            actor_net,
            critic_net,
            ws: std::mem::take(&mut self.net_ws),
        }
    }

    /// Puts back what [`RsuLearner::take_flat`] took.
    pub(crate) fn put_flat(&mut self, n: FlatNets) {
        let a = &mut self.agent;
        a.actor = n.actor;
        a.actor_target = n.actor_target;
        a.critic = n.critic;
        a.critic_target = n.critic_target;
        a.actor_opt = n.actor_opt;
        a.critic_opt = n.critic_opt;
        self.net_ws = n.ws;
    }

    /// Runs `f` on this learner and its flat networks, taken out of it for the call (so that
    /// the learner's code is written once for any [`Nets`]). A panic in `f` leaves the learner
    /// without networks; a policy that panics fails its run anyway.
    pub(crate) fn with_flat<R>(&mut self, f: impl FnOnce(&mut RsuLearner, &mut FlatNets) -> R) -> R {
        let mut n = self.take_flat();
        let r = f(self, &mut n);
        self.put_flat(n);
        r
    }

    /// The actor network (shape and backend) the parameters are laid out for.
    pub fn actor_net(&self) -> Mlp {
        self.opts.shape.actor().with_backend(self.opts.backend).on(self.opts.device)
    }

    /// The critic network (local or centralised, with the backend) the parameters are laid out for.
    pub fn critic_net(&self) -> CriticNet {
        self.opts.shape.critic(self.kind.central()).with_backend(self.opts.backend).on(self.opts.device)
    }

    /// Returns and resets the loss sums.
    pub fn take_losses(&mut self) -> LossMeter {
        std::mem::take(&mut self.losses)
    }

    /// The executing RSU of each task of this RSU. With `tasks_in_turn`, task `k` is scored from
    /// features that count the tasks `0..k` already assigned (one actor pass per task, in
    /// upload order); otherwise every (task, candidate) pair in one pass.
    pub(crate) fn decide_on<N: Nets>(&mut self, nets: &mut N, obs: &Observation<'_>) -> Vec<RsuId> {
        let raw = RawObs::from_observation(obs);
        let in_turn = self.cfg.tasks_in_turn;
        let mut enc = if in_turn {
            encode_in_turn(&Arc::new(raw.clone()), &Arc::new(self.scales.clone()), &[])
        } else {
            encode(&raw, &self.scales)
        };
        let mut logits = Vec::new();
        if !in_turn {
            self.ws.rows.clear();
            enc.actor_rows(&mut self.ws.rows);
            logits = nets.actor_forward(Params::Online, &self.ws.rows, enc.n_tasks * enc.n_cands);
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
                logits = nets.actor_forward(Params::Online, &self.ws.rows, nc);
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
            self.agent.samples += 1;
            self.pending = Some((raw, acts.clone()));
        }
        acts.into_iter().map(|a| RsuId(a as u32)).collect()
    }

    /// Records the slot's reward; a local learner stores its record and trains at once.
    pub(crate) fn feedback_on<N: Nets>(&mut self, nets: &mut N, fb: &Feedback) {
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
        self.train_slot(nets);
    }

    /// The slot's observation and actions, or an empty observation when the RSU had no uploads.
    fn take_pending(&mut self) -> (RawObs, Vec<u16>) {
        self.pending.take().unwrap_or_else(|| (RawObs::empty(self.rsu), Vec::new()))
    }

    /// This RSU's share of the slot (centralised learners, after feedback).
    pub(crate) fn share_on<N: Nets>(&mut self, nets: &mut N) -> Option<SlotShare> {
        if self.awaiting != Stage::Fed {
            return None;
        }
        self.awaiting = Stage::Shared;
        let (o, a) = self.take_pending();
        let actor = nets.actor_params(self.kind != Kind::Masac);
        Some(SlotShare { obs: Arc::new(o), act: a, reward: self.reward, end: self.end, actor: Arc::new(actor) })
    }

    /// Stores the joint record of every RSU's share and trains (centralised learners). An RSU
    /// that shared nothing counts as one without uploads, with reward 0, and its actor is the
    /// one it shared last.
    pub(crate) fn receive_on<N: Nets>(&mut self, nets: &mut N, shares: &[Option<&SlotShare>]) {
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
        self.train_slot(nets);
    }

    /// The update steps due after a slot (every `update_every` slots, `updates_per_slot` of them).
    fn train_slot<N: Nets>(&mut self, nets: &mut N) {
        if self.slots % self.cfg.update_every.max(1) as u64 == 0 {
            for _ in 0..self.opts.updates_per_slot {
                self.update_on(nets);
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

    /// One gradient update of the flat networks ([`RsuLearner::update_on`]).
    pub fn update(&mut self) -> bool {
        self.with_flat(|l, n| l.update_on(n))
    }

    /// One gradient update (critic step, actor step, target update every `t_tg`) of `nets`.
    /// Returns false when the buffer does not hold a minibatch yet.
    pub(crate) fn update_on<N: Nets>(&mut self, nets: &mut N) -> bool {
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
        let mut ctx = self.ctx();
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
            nets.soft_update(tau);
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
                .map(|(o, a)| if self.cfg.tasks_in_turn { encode_in_turn(o, &scales, a) } else { encode(o, &self.scales) })
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

    /// Overwrites the actor parameters (same length required).
    pub fn set_actor_params(&mut self, p: &[f32]) {
        assert_eq!(p.len(), self.agent.actor.len(), "actor parameter count differs");
        self.agent.actor.copy_from_slice(p);
    }
}

impl Policy for RsuLearner {
    fn name(&self) -> &'static str {
        self.kind.name()
    }

    fn decide(&mut self, obs: &Observation<'_>) -> Vec<RsuId> {
        debug_assert_eq!(obs.rsu.index(), self.rsu);
        self.with_flat(|l, n| l.decide_on(n, obs))
    }

    fn feedback(&mut self, fb: &Feedback) {
        self.with_flat(|l, n| l.feedback_on(n, fb))
    }

    fn export_params(&self) -> Option<(u64, Vec<f32>)> {
        self.kind.federated().then(|| (self.agent.samples, self.agent.actor.clone()))
    }

    fn import_params(&mut self, params: &[f32]) {
        if self.kind.federated() && params.len() == self.agent.actor.len() {
            self.set_actor_params(params);
        }
    }

    fn shares(&self) -> bool {
        self.kind.central() && self.training
    }

    fn share(&mut self) -> Option<Share> {
        self.with_flat(|l, n| l.share_on(n)).map(|s| Arc::new(s) as Share)
    }

    fn receive(&mut self, shares: &[Option<Share>]) {
        let own = downcast_shares(shares);
        self.with_flat(|l, n| l.receive_on(n, &own))
    }

    /// With the dfdx backend: the networks resident on the learner's device for the episode
    /// ([`crate::resident::ResidentLearner`]); with the gemm layers, the learner itself.
    fn into_working(self: Box<Self>) -> Box<dyn Working> {
        match self.opts.backend {
            Backend::Gemm => Box::new(self as Box<dyn Policy>),
            Backend::Dfdx => crate::resident::working(*self),
        }
    }
}

/// The learners' own shares among `shares` (a share of another type counts as none).
pub(crate) fn downcast_shares(shares: &[Option<Share>]) -> Vec<Option<&SlotShare>> {
    shares.iter().map(|s| s.as_ref().and_then(|s| s.downcast_ref::<SlotShare>())).collect()
}
