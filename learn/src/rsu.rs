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

use crate::adam::{soft_update, Adam};
use crate::features::{encode, Enc, RawObs, Scales};
use crate::gumbel::{masked_argmax, masked_softmax, sample_categorical, uniform_allowed};
use crate::learner::{Kind, LearnerOptions, RewardSignal};
use crate::mlp::{Acts, Mlp};
use crate::nets::{CriticNet, CriticWs, SetBatch};
use crate::replay::{NStep, Replay, SlotRecord};
use crate::{maddpg, masac};
use rand::Rng;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use vecsim_core::ids::RsuId;
use vecsim_core::learning::LearningConfig;
use vecsim_core::policy::{Feedback, Observation, Policy, Share};
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
        }
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

    /// Per-task logits of `actor_params` on `enc`, `[n_tasks x n_cands]`.
    fn logits(&mut self, actor_params: &[f32], enc: &Enc) -> Vec<f32> {
        let net = self.actor_net();
        let ws = &mut self.ws;
        ws.rows.clear();
        enc.actor_rows(&mut ws.rows);
        net.forward(actor_params, &ws.rows, enc.n_tasks * enc.n_cands, &mut ws.actor_acts);
        ws.actor_acts.output().to_vec()
    }

    /// The executing RSU of each task of this RSU.
    fn decide_tasks(&mut self, obs: &Observation<'_>) -> Vec<RsuId> {
        let raw = RawObs::from_observation(obs);
        let enc = encode(&raw, &self.scales);
        let actor = std::mem::take(&mut self.agent.actor);
        let logits = self.logits(&actor, &enc);
        self.agent.actor = actor;
        let nc = enc.n_cands;
        let eps = self.cfg.epsilon_at(self.episodes);
        let training = self.training;
        let soft = self.kind == Kind::Masac;
        let e = self.rsu;
        let agent = &mut self.agent;
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
            self.pending = Some((raw, acts.clone()));
        }
        acts.into_iter().map(|a| RsuId(a as u32)).collect()
    }

    /// Records the slot's reward; a local learner stores its record and trains at once.
    fn take_feedback(&mut self, fb: &Feedback) {
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
    fn make_share(&mut self) -> Option<SlotShare> {
        if self.awaiting != Stage::Fed {
            return None;
        }
        self.awaiting = Stage::Shared;
        let (o, a) = self.take_pending();
        let actor = if self.kind == Kind::Masac { &self.agent.actor } else { &self.agent.actor_target };
        Some(SlotShare { obs: Arc::new(o), act: a, reward: self.reward, end: self.end, actor: Arc::new(actor.clone()) })
    }

    /// Stores the joint record of every RSU's share and trains (centralised learners). An RSU
    /// that shared nothing counts as one without uploads, with reward 0, and its actor is the
    /// one it shared last.
    pub fn receive_shares(&mut self, shares: &[Option<&SlotShare>]) {
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

    /// RSU `j`'s actor as it shared it last, when `j` is another RSU whose actor this
    /// centralised learner has seen; `None` means: use this learner's own.
    pub(crate) fn peer_actor(&self, j: usize) -> Option<Arc<Vec<f32>>> {
        if !self.kind.central() || j == self.rsu {
            return None;
        }
        self.peers.get(j).filter(|p| !p.is_empty()).cloned()
    }

    /// One gradient update (critic step, actor step, target update every `t_tg`). Returns false
    /// when the buffer does not hold a minibatch yet.
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
        let (cl, al) = match self.kind {
            Kind::Masac => masac::update(self, &mb),
            _ => maddpg::update(self, &mb),
        };
        let tau = self.cfg.tau as f32;
        let every = self.cfg.target_update_every.max(1) as u64;
        let a = &mut self.agent;
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

    /// Actions on each of `encs` by `params` (greedy, or sampled from the softmax with `rng`
    /// when given), plus the mean task entropy of that policy per item (0 without tasks).
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
        self.decide_tasks(obs)
    }

    fn feedback(&mut self, fb: &Feedback) {
        self.take_feedback(fb)
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
        self.make_share().map(|s| Arc::new(s) as Share)
    }

    fn receive(&mut self, shares: &[Option<Share>]) {
        let own: Vec<Option<&SlotShare>> =
            shares.iter().map(|s| s.as_ref().and_then(|s| s.downcast_ref::<SlotShare>())).collect();
        self.receive_shares(&own);
    }
}
