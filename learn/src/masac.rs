//! MASAC: a *Gumbel-softmax variant* of multi-agent discrete soft actor-critic (the paper's
//! fourth baseline), with centralised critics like MADDPG and a learned temperature.
//!
//! Not the canonical discrete SAC (Christodoulou, 2019), which trains twin critics, takes the
//! minimum of the two target critics, and replaces the sampled action by the exact expectation
//! `Σ_a π(a|s) Q(s, a)` over the categorical policy. Here the action is joint over a slot's
//! tasks (one categorical per task, `n_cands^n_tasks` joint actions) and the critic scores the
//! whole set, so that expectation is not tractable; this variant keeps one critic and steps
//! the actor through a straight-through Gumbel-softmax sample, like MADDPG. What is exact is the
//! entropy: per task, `H = −Σ_j π_j ln π_j` of the categorical, not a sampled `−ln π(a)`.
//!
//! The policy factorises over tasks: each task's executing RSU is drawn from its own masked
//! softmax. Soft target: `Y = R + γ^N (Q⁻(o', a') + α·H̄(o'))`, with `a'` sampled from the current
//! actors (the other RSUs' as they shared them at the end of the slot) and `H̄` the mean per-task entropy of the agent's policy (the expected `−α ln π`, exact
//! for a categorical policy). Actor: maximise `Q(o, a) + α·H̄(o)` with `a` the straight-through
//! Gumbel-softmax sample. Temperature: minimise `α · mean_k (H_k − H*_k)` over `ln α`, with the
//! target entropy `H*_k` a fraction of `ln(#available RSUs)`. One critic (no twin critics).
//! MASAC explores by sampling its policy, not by ε.

use crate::maddpg::{actor_step_on, critic_step_on, targets_on};
use crate::maddpg::{Ctx, Minibatch};
use crate::net::Net;
use crate::nets::ActorCritic;

pub(crate) fn update_on<N: Net>(ctx: &mut Ctx<'_>, nets: &mut ActorCritic<N>, mb: &Minibatch) -> (f32, f32) {
    let alpha = ctx.log_alpha.exp();
    let y = targets_on(ctx, nets, mb, Some(alpha));
    let cl = critic_step_on(ctx, nets, mb, &y);
    let (al, ent) = actor_step_on(ctx, nets, mb, Some(alpha));
    if !ent.is_empty() {
        let g = alpha * ent.iter().map(|(h, t)| h - t).sum::<f32>() / ent.len() as f32;
        let mut la = [*ctx.log_alpha];
        ctx.alpha_opt.step(&mut la, &[g]);
        *ctx.log_alpha = la[0].clamp(-12.0, 2.0);
    }
    (cl, al)
}
