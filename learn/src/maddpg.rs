//! The (Fed-)MADDPG update of one agent (Algorithm 1, lines 10–16), shared with MASAC.
//!
//! - Critic (eq. 21–23): `Y = Σ_{n<N} γ^n r + γ^N Q⁻(o', μ⁻(o'))`, minimise `mean (Q(o,a) − Y)²`.
//!   The target policy acts greedily (argmax of the target actor's logits), so the critic only
//!   ever sees one-hot actions. With a centralised critic, `o'` and `μ⁻` cover every RSU, each
//!   acting with its own target actor as that RSU shared it at the end of the slot
//!   ([`crate::rsu::SlotShare`]).
//! - Actor (eq. 24): maximise `Q(o, a)` with `a` the straight-through Gumbel-softmax sample of the
//!   actor: forward with the hard one-hot, gradient through `softmax((z + g)/τ)`. Only the actor
//!   takes a step; the critic's parameter gradients are not even computed.
//! - Targets (eq. 25) are soft-updated by the caller every `t_tg` updates.

use crate::features::Enc;
use crate::gumbel::{entropy_and_grad, gumbel, masked_argmax, masked_softmax, softmax_backward};
use crate::nets::action_grad;
use crate::rsu::{Minibatch, RsuLearner};

/// One update of the learner; returns (critic loss, actor loss).
pub(crate) fn update(st: &mut RsuLearner, mb: &Minibatch) -> (f32, f32) {
    let y = targets(st, mb, None);
    let cl = critic_step(st, mb, &y);
    let (al, _) = actor_step(st, mb, None);
    (cl, al)
}

/// TD targets of eq. (21). `sac_alpha`: MASAC's soft target (next actions sampled from the
/// current actors, plus `α ·` the mean task entropy of the agent's own policy).
pub(crate) fn targets(st: &mut RsuLearner, mb: &Minibatch, sac_alpha: Option<f32>) -> Vec<f32> {
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
    let mut rng = st.agent.train_rng.clone();
    for j in 0..covered {
        let encs: Vec<&Enc> = items.iter().map(|&b| &mb.next[b].as_ref().unwrap()[j]).collect();
        let rng = sac_alpha.map(|_| &mut rng);
        let (acts, ent) = match st.peer_actor(if j == mb.own { st.rsu } else { j }) {
            // Another RSU's actor, as it shared it.
            Some(params) => st.next_actions(&params, &encs, rng),
            None => {
                let params =
                    if soft { std::mem::take(&mut st.agent.actor) } else { std::mem::take(&mut st.agent.actor_target) };
                let r = st.next_actions(&params, &encs, rng);
                if soft {
                    st.agent.actor = params;
                } else {
                    st.agent.actor_target = params;
                }
                r
            }
        };
        for (i, a) in acts.into_iter().enumerate() {
            next_acts[i].push(a);
        }
        if j == mb.own {
            own_ent = ent;
        }
    }
    st.agent.train_rng = rng;
    let net = st.critic_net();
    let ws = &mut st.ws;
    ws.batch.clear();
    for (i, &b) in items.iter().enumerate() {
        let encs = mb.next[b].as_ref().unwrap();
        let obs: Vec<(&Enc, &[u16])> = encs.iter().zip(&next_acts[i]).map(|(en, a)| (en, a.as_slice())).collect();
        ws.batch.push(&obs, mb.own);
    }
    let q = net.forward(&st.agent.critic_target, &ws.batch, &mut ws.critic_ws);
    for (i, &b) in items.iter().enumerate() {
        let bonus = sac_alpha.map_or(0.0, |a| a * own_ent[i]);
        y[b] += mb.disc[b] * (q[i] + bonus);
    }
    y
}

/// Critic step (eq. 22–23) towards `y`; returns the loss before the step.
pub(crate) fn critic_step(st: &mut RsuLearner, mb: &Minibatch, y: &[f32]) -> f32 {
    let net = st.critic_net();
    let ws = &mut st.ws;
    ws.batch.clear();
    for (encs, acts) in mb.cur.iter().zip(&mb.cur_act) {
        let obs: Vec<(&Enc, &[u16])> = encs.iter().zip(acts).map(|(en, a)| (en, a.as_slice())).collect();
        ws.batch.push(&obs, mb.own);
    }
    let agent = &mut st.agent;
    let n = y.len() as f32;
    let mut loss = 0.0f32;
    ws.grad.clear();
    ws.grad.resize(net.num_params(), 0.0);
    let dq_of = |q: &[f32]| -> Vec<f32> {
        q.iter()
            .zip(y)
            .map(|(&q, &y)| {
                loss += (q - y) * (q - y) / n;
                2.0 * (q - y) / n
            })
            .collect()
    };
    net.forward_backward(&agent.critic, &ws.batch, &mut ws.critic_ws, dq_of, Some(&mut ws.grad), None, 0..0);
    agent.critic_opt.step(&mut agent.critic, &ws.grad);
    loss
}

/// Actor step (eq. 24) through the critic with straight-through Gumbel-softmax actions.
/// `sac_alpha`: also maximise `α ·` mean task entropy (MASAC). Returns the actor loss and the
/// per-task (entropy, target entropy) pairs for the temperature step.
pub(crate) fn actor_step(st: &mut RsuLearner, mb: &Minibatch, sac_alpha: Option<f32>) -> (f32, Vec<(f32, f32)>) {
    let (loss, ent) = actor_grad(st, mb, sac_alpha, false);
    let agent = &mut st.agent;
    agent.actor_opt.step(&mut agent.actor, &st.ws.grad);
    (loss, ent)
}

/// The actor loss and its gradient (left in `st.ws.grad`) without a step. `relaxed`: the critic
/// sees the relaxed action `Σ_j y_kj · pair_kj` (y the Gumbel-softmax sample) instead of the
/// straight-through one-hot, which makes the loss a smooth function of the actor parameters
/// whose exact gradient this computes (the finite-difference tests use it). Training uses the
/// straight-through form: the same backward chain, evaluated at the hard action.
pub(crate) fn actor_grad(
    st: &mut RsuLearner,
    mb: &Minibatch,
    sac_alpha: Option<f32>,
    relaxed: bool,
) -> (f32, Vec<(f32, f32)>) {
    let actor_net = st.actor_net();
    let critic_net = st.critic_net();
    let inv_tau = 1.0 / st.opts.gumbel_tau;
    let target_frac = st.opts.sac_target_entropy;
    let own = mb.own;
    let crate::rsu::Workspace { actor_acts, critic_ws, rows, batch, dx, da, grad } = &mut st.ws;
    let agent = &mut st.agent;
    let (actor, critic, train_rng) = (&agent.actor, &agent.critic, &mut agent.train_rng);
    // Actor forward over every own (task, candidate) pair of the batch; everything from the
    // logits to their gradient happens inside, so that the backward pass reuses the forward's.
    rows.clear();
    let mut total = 0;
    for encs in &mb.cur {
        encs[own].actor_rows(rows);
        total += encs[own].n_tasks * encs[own].n_cands;
    }
    let mut loss = 0.0f32;
    let mut ent = Vec::new();
    let dlogits_of = |logits: &[f32]| -> Vec<f32> {
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
                batch.x[o0 * crate::features::CRITIC_IN..o0 * crate::features::CRITIC_IN + soft.len()]
                    .copy_from_slice(&soft);
            }
            off += n;
        }
        let n = mb.cur.len() as f32;
        let dq_of = |q: &[f32]| {
            loss = -q.iter().sum::<f32>() / n;
            vec![-1.0 / n; q.len()]
        };
        critic_net.forward_backward(critic, batch, critic_ws, dq_of, None, Some(dx), 0..crate::features::CRITIC_IN);
        // Back to the logits.
        let mut dlogits = vec![0.0f32; total];
        let mut off = 0;
        for (b, encs) in mb.cur.iter().enumerate() {
            let enc = &encs[own];
            let nc = enc.n_cands;
            let (r0, r1) = batch.own[b];
            action_grad(enc, &dx[r0 * crate::features::CRITIC_IN..r1 * crate::features::CRITIC_IN], da);
            for k in 0..enc.n_tasks {
                let s = off + k * nc;
                softmax_backward(&y_soft[s..s + nc], &da[k * nc..(k + 1) * nc], inv_tau, &mut dlogits[s..s + nc]);
            }
            off += enc.n_tasks * nc;
        }
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
        dlogits
    };
    grad.clear();
    grad.resize(actor_net.num_params(), 0.0);
    actor_net.forward_backward(actor, rows, total, actor_acts, dlogits_of, Some(grad), None, 0..0);
    (loss, ent)
}

fn total_tasks(mb: &Minibatch, own: usize) -> usize {
    mb.cur.iter().map(|encs| encs[own].n_tasks).sum::<usize>().max(1)
}
