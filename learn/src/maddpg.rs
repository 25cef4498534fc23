//! The (Fed-)MADDPG update of one agent (Algorithm 1, lines 10–16), shared with MASAC, written
//! once against the learner's networks ([`ActorCritic`] on any [`Net`]: flat vectors, or resident on a dfdx device).
//!
//! - Critic (eq. 21–23): `Y = Σ_{n<N} γ^n r + γ^N Q⁻(o', μ⁻(o'))`, minimise `mean (Q(o,a) − Y)²`.
//!   The target policy acts greedily (argmax of the target actor's logits), so the critic only
//!   ever sees one-hot actions. With a centralised critic, `o'` and `μ⁻` cover every RSU, each
//!   acting with its own target actor as that RSU shared it at the end of the slot
//!   ([`crate::rsu::SlotShare`]).
//! - Actor (eq. 24): maximise `Q(o, a)` with `a` the straight-through Gumbel-softmax sample of the
//!   actor: forward with the hard one-hot, gradient through `softmax((z + g)/τ)`. Only the actor
//!   takes a step; the critic's input gradient is all that is asked of it.
//! - Targets (eq. 25) are soft-updated by the caller every `t_tg` updates.
//!
//! Every backward pass differentiates the forward pass traced just before it
//! ([`Net::forward_traced`], [`crate::nets::SetCritic::forward_traced`]): the resident dfdx
//! networks keep that pass's tape, the gemm layers its activations.

use crate::adam::Adam;
use crate::features::{add_local_prior, Enc, CRITIC_IN};
use crate::gumbel::{entropy_and_grad, gumbel, masked_argmax, masked_softmax, sample_categorical, softmax_backward};
use crate::net::{Net, Params};
use crate::nets::SetBatch;
use crate::nets::{action_grad, ActorCritic};
use std::sync::Arc;
use vecsim_core::rng::SimRng;

/// Reusable host buffers of the update steps (not part of the state).
#[derive(Clone, Debug, Default)]
pub(crate) struct Workspace {
    pub rows: Vec<f32>,
    pub batch: SetBatch,
    pub dx: Vec<f32>,
    pub da: Vec<f32>,
}

/// What the update steps need of a learner besides its networks ([`ActorCritic`]).
pub(crate) struct Ctx<'a> {
    pub rsu: usize,
    pub central: bool,
    pub gumbel_tau: f32,
    pub sac_target_entropy: f32,
    /// `[learning] local_prior`, logits ([`crate::features::add_local_prior`]).
    pub local_prior: f32,
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

/// One update of the learner; returns (critic loss, actor loss).
pub(crate) fn update_on<N: Net>(ctx: &mut Ctx<'_>, nets: &mut ActorCritic<N>, mb: &Minibatch) -> (f32, f32) {
    let y = targets_on(ctx, nets, mb, None);
    let cl = critic_step_on(ctx, nets, mb, &y);
    let (al, _) = actor_step_on(ctx, nets, mb, None);
    (cl, al)
}

/// Actions on each of `encs` by the actor `which` (greedy, or sampled from the softmax with
/// `rng` when given), plus, for sampled actions, the mean task entropy of that policy per item
/// (0 without tasks, and for greedy actions, which do not need it).
pub(crate) fn next_actions<N: Net>(
    actor: &mut N,
    rows: &mut Vec<f32>,
    which: Params<'_>,
    prior: f32,
    encs: &[&Enc],
    rng: Option<&mut SimRng>,
) -> (Vec<Vec<u16>>, Vec<f32>) {
    rows.clear();
    let mut total = 0;
    for enc in encs {
        enc.actor_rows(rows);
        total += enc.n_tasks * enc.n_cands;
    }
    let mut out = Vec::with_capacity(encs.len());
    let mut ent = Vec::with_capacity(encs.len());
    if total == 0 {
        return (encs.iter().map(|_| Vec::new()).collect(), vec![0.0; encs.len()]);
    }
    let mut logits = actor.forward(which, rows, total);
    add_local_prior(&mut logits, rows, prior);
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
            // The greedy targets need neither the softmax nor its entropy (only the sampled,
            // soft targets use them): skipping them changes no result.
            let a = match rng.as_deref_mut() {
                Some(r) => {
                    masked_softmax(z, &enc.mask, 1.0, &mut p);
                    h += entropy_and_grad(&p, 0.0, None);
                    sample_categorical(&p, &enc.mask, r)
                }
                None => masked_argmax(z, &enc.mask),
            };
            acts.push(a.unwrap_or(0) as u16);
        }
        ent.push(if enc.n_tasks > 0 { h / enc.n_tasks as f32 } else { 0.0 });
        out.push(acts);
    }
    (out, ent)
}

/// TD targets of eq. (21). `sac_alpha`: MASAC's soft target (next actions sampled from the
/// current actors, plus `α ·` the mean task entropy of the agent's own policy).
pub(crate) fn targets_on<N: Net>(
    ctx: &mut Ctx<'_>,
    nets: &mut ActorCritic<N>,
    mb: &Minibatch,
    sac_alpha: Option<f32>,
) -> Vec<f32> {
    let b_n = mb.ret.len();
    let mut y = mb.ret.clone();
    let items: Vec<usize> = (0..b_n).filter(|&b| mb.next[b].is_some()).collect();
    if items.is_empty() {
        return y;
    }
    let covered = mb.cur[0].len();
    let soft = sac_alpha.is_some();
    let mut next_acts: Vec<Vec<Vec<u16>>> = vec![Vec::with_capacity(covered); items.len()];
    let mut own_ent = vec![0.0f32; items.len()];
    let mut rng = ctx.train_rng.clone();
    let peers = ctx.peers;
    let prior = ctx.local_prior;
    // Tasks decided in turn: the critic sees the next observations re-encoded with the next
    // actions (`renc[i][j]`), as the acting actor would have seen them.
    let in_turn = mb.next[items[0]].as_ref().is_some_and(|e| e.iter().any(Enc::is_in_turn));
    let mut renc: Vec<Vec<Enc>> = vec![Vec::new(); if in_turn { items.len() } else { 0 }];
    for j in 0..covered {
        let encs: Vec<&Enc> = items.iter().map(|&b| &mb.next[b].as_ref().unwrap()[j]).collect();
        let rng = sac_alpha.map(|_| &mut rng);
        let which = match ctx.peer_actor(peers, if j == mb.own { ctx.rsu } else { j }) {
            // Another RSU's actor, as it shared it.
            Some(params) => Params::Given(params),
            None if soft => Params::Online,
            None => Params::Target,
        };
        let (acts, ent) = if in_turn {
            let (acts, ent, re) =
                crate::in_turn::next_actions(&mut nets.actor, &mut ctx.ws.rows, which, prior, &encs, rng);
            for (i, e) in re.into_iter().enumerate() {
                renc[i].push(e);
            }
            (acts, ent)
        } else {
            next_actions(&mut nets.actor, &mut ctx.ws.rows, which, prior, &encs, rng)
        };
        for (i, a) in acts.into_iter().enumerate() {
            next_acts[i].push(a);
        }
        if j == mb.own {
            own_ent = ent;
        }
    }
    *ctx.train_rng = rng;
    let ws = &mut *ctx.ws;
    ws.batch.clear();
    for (i, &b) in items.iter().enumerate() {
        let encs = if in_turn { &renc[i] } else { mb.next[b].as_ref().unwrap() };
        let obs: Vec<(&Enc, &[u16])> = encs.iter().zip(&next_acts[i]).map(|(en, a)| (en, a.as_slice())).collect();
        ws.batch.push(&obs, mb.own);
    }
    let q = nets.critic.q(true, &ws.batch);
    for (i, &b) in items.iter().enumerate() {
        let bonus = sac_alpha.map_or(0.0, |a| a * own_ent[i]);
        y[b] += mb.disc[b] * (q[i] + bonus);
    }
    y
}

/// Critic step (eq. 22–23) towards `y`; returns the loss before the step.
pub(crate) fn critic_step_on<N: Net>(ctx: &mut Ctx<'_>, nets: &mut ActorCritic<N>, mb: &Minibatch, y: &[f32]) -> f32 {
    let ws = &mut *ctx.ws;
    ws.batch.clear();
    for (encs, acts) in mb.cur.iter().zip(&mb.cur_act) {
        let obs: Vec<(&Enc, &[u16])> = encs.iter().zip(acts).map(|(en, a)| (en, a.as_slice())).collect();
        ws.batch.push(&obs, mb.own);
    }
    let n = y.len() as f32;
    let q = nets.critic.forward_traced(&ws.batch);
    let mut loss = 0.0f32;
    let dq: Vec<f32> = q
        .iter()
        .zip(y)
        .map(|(&q, &y)| {
            loss += (q - y) * (q - y) / n;
            2.0 * (q - y) / n
        })
        .collect();
    nets.critic.backward(&ws.batch, &dq, true, None);
    nets.critic.step();
    loss
}

/// Actor step (eq. 24) through the critic with straight-through Gumbel-softmax actions.
/// `sac_alpha`: also maximise `α ·` mean task entropy (MASAC). Returns the actor loss and the
/// per-task (entropy, target entropy) pairs for the temperature step.
pub(crate) fn actor_step_on<N: Net>(
    ctx: &mut Ctx<'_>,
    nets: &mut ActorCritic<N>,
    mb: &Minibatch,
    sac_alpha: Option<f32>,
) -> (f32, Vec<(f32, f32)>) {
    let r = actor_grad_on(ctx, nets, mb, sac_alpha, false);
    nets.actor.step();
    r
}

/// The actor loss and its gradient (kept by the actor for [`Net::step`]) without a step.
/// `relaxed`: the critic sees the relaxed action `Σ_j y_kj · pair_kj` (y the Gumbel-softmax
/// sample) instead of the straight-through one-hot, which makes the loss a smooth function of
/// the actor parameters whose exact gradient this computes (the finite-difference tests use
/// it). Training uses the straight-through form: the same backward chain, evaluated at the hard
/// action.
pub(crate) fn actor_grad_on<N: Net>(
    ctx: &mut Ctx<'_>,
    nets: &mut ActorCritic<N>,
    mb: &Minibatch,
    sac_alpha: Option<f32>,
    relaxed: bool,
) -> (f32, Vec<(f32, f32)>) {
    let inv_tau = 1.0 / ctx.gumbel_tau;
    let target_frac = ctx.sac_target_entropy;
    let own = mb.own;
    let Workspace { rows, batch, dx, da } = &mut *ctx.ws;
    let train_rng = &mut *ctx.train_rng;
    // Actor forward over every own (task, candidate) pair of the batch, traced: the backward
    // pass below differentiates this pass.
    rows.clear();
    let mut total = 0;
    for encs in &mb.cur {
        encs[own].actor_rows(rows);
        total += encs[own].n_tasks * encs[own].n_cands;
    }
    let mut logits = nets.actor.forward_traced(rows, total);
    add_local_prior(&mut logits, rows, ctx.local_prior);
    // Straight-through Gumbel-softmax samples.
    let mut y_soft = vec![0.0f32; total];
    let mut hard: Vec<Vec<u16>> = Vec::with_capacity(mb.cur.len());
    let mut z = Vec::new();
    let mut off = 0;
    for encs in &mb.cur {
        let enc = &encs[own];
        let nc = enc.n_cands;
        let mut h = Vec::with_capacity(enc.n_tasks);
        for _ in 0..enc.n_tasks {
            z.clear();
            z.extend(logits[off..off + nc].iter().map(|&l| l + gumbel(train_rng)));
            masked_softmax(&z, &enc.mask, inv_tau, &mut y_soft[off..off + nc]);
            h.push(masked_argmax(&y_soft[off..off + nc], &enc.mask).unwrap_or(0) as u16);
            off += nc;
        }
        hard.push(h);
    }
    // Critic on (o, a) with the agent's own actions replaced.
    batch.clear();
    let mut off = 0;
    for (b, encs) in mb.cur.iter().enumerate() {
        let obs: Vec<(&Enc, &[u16])> = encs
            .iter()
            .enumerate()
            .map(|(j, en)| (en, if j == own { hard[b].as_slice() } else { mb.cur_act[b][j].as_slice() }))
            .collect();
        batch.push(&obs, own);
        let enc = &encs[own];
        let n = enc.n_tasks * enc.n_cands;
        if relaxed {
            // Overwrite the own rows' action features with the relaxed action.
            let (o0, _) = batch.own[b];
            let mut soft = Vec::new();
            enc.critic_rows_relaxed(&y_soft[off..off + n], true, &mut soft);
            batch.x[o0 * CRITIC_IN..o0 * CRITIC_IN + soft.len()].copy_from_slice(&soft);
        }
        off += n;
    }
    let n = mb.cur.len() as f32;
    let q = nets.critic.forward_traced(batch);
    let mut loss = -q.iter().sum::<f32>() / n;
    nets.critic.backward(batch, &vec![-1.0 / n; q.len()], false, Some(dx));
    // Back to the logits.
    let mut dlogits = vec![0.0f32; total];
    let mut off = 0;
    for (b, encs) in mb.cur.iter().enumerate() {
        let enc = &encs[own];
        let nc = enc.n_cands;
        let (r0, r1) = batch.own[b];
        action_grad(enc, &dx[r0 * CRITIC_IN..r1 * CRITIC_IN], da);
        for k in 0..enc.n_tasks {
            let s = off + k * nc;
            softmax_backward(&y_soft[s..s + nc], &da[k * nc..(k + 1) * nc], inv_tau, &mut dlogits[s..s + nc]);
        }
        off += enc.n_tasks * nc;
    }
    let mut ent = Vec::new();
    if let Some(alpha) = sac_alpha {
        let tasks = total_tasks(mb, own) as f32;
        let mut p = Vec::new();
        let mut off = 0;
        let mut hsum = 0.0;
        for encs in &mb.cur {
            let enc = &encs[own];
            let nc = enc.n_cands;
            p.resize(nc, 0.0);
            let avail = enc.mask.iter().filter(|&&m| m).count().max(1) as f32;
            for _ in 0..enc.n_tasks {
                masked_softmax(&logits[off..off + nc], &enc.mask, 1.0, &mut p);
                // loss −α·H/tasks: gradient −α/tasks · dH/dz.
                let h = entropy_and_grad(&p, -alpha / tasks, Some(&mut dlogits[off..off + nc]));
                hsum += h;
                ent.push((h, target_frac * avail.ln()));
                off += nc;
            }
        }
        loss -= alpha * hsum / tasks;
    }
    nets.actor.backward(rows, &dlogits, true, None, 0..0);
    (loss, ent)
}

fn total_tasks(mb: &Minibatch, own: usize) -> usize {
    mb.cur.iter().map(|encs| encs[own].n_tasks).sum::<usize>().max(1)
}
