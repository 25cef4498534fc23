//! Tasks decided in turn (`[learning] tasks_in_turn`, beyond the paper): the rollout of an
//! actor over a batch of observations where task `k`'s features count the tasks `0..k` the RSU
//! has already assigned (see [`crate::features::encode_in_turn`]). Used for the next actions
//! of the TD target, so the critic sees the target actor's own in-turn features; the decisions
//! themselves go through [`crate::rsu::RsuLearner`]'s `decide_slot`, one task at a time, with the
//! same features.

use crate::features::{add_local_prior, Enc};
use crate::gumbel::{entropy_and_grad, masked_argmax, masked_softmax, sample_categorical};
use crate::net::{Net, Params};
use vecsim_core::rng::SimRng;

/// Actions of the actor `which` on each of `encs`, deciding every observation's tasks in turn
/// (greedy, or sampled from the softmax with `rng`), the mean task entropy per item, and the
/// encodings re-computed with those actions (what the critic must see with them). One actor
/// pass per task index over the whole batch.
pub(crate) fn next_actions<N: Net>(
    actor: &mut N,
    rows: &mut Vec<f32>,
    which: Params<'_>,
    prior: f32,
    encs: &[&Enc],
    mut rng: Option<&mut SimRng>,
) -> (Vec<Vec<u16>>, Vec<f32>, Vec<Enc>) {
    let mut out: Vec<Enc> = encs.iter().map(|e| (*e).clone()).collect();
    let mut acts: Vec<Vec<u16>> = encs.iter().map(|e| Vec::with_capacity(e.n_tasks)).collect();
    let mut h = vec![0.0f32; encs.len()];
    let max_t = encs.iter().map(|e| e.n_tasks).max().unwrap_or(0);
    let mut p = Vec::new();
    for k in 0..max_t {
        rows.clear();
        let mut total = 0;
        for (i, e) in out.iter_mut().enumerate() {
            if k < e.n_tasks {
                e.refresh_task(k, &acts[i]);
                e.task_actor_rows(k, rows);
                total += e.n_cands;
            }
        }
        let mut logits = actor.forward(which, rows, total);
        add_local_prior(&mut logits, rows, prior);
        let mut off = 0;
        for (i, e) in out.iter().enumerate() {
            if k >= e.n_tasks {
                continue;
            }
            let nc = e.n_cands;
            let z = &logits[off..off + nc];
            off += nc;
            p.resize(nc, 0.0);
            masked_softmax(z, &e.mask, 1.0, &mut p);
            h[i] += entropy_and_grad(&p, 0.0, None);
            let a = match rng.as_deref_mut() {
                Some(r) => sample_categorical(&p, &e.mask, r),
                None => masked_argmax(z, &e.mask),
            };
            acts[i].push(a.unwrap_or(0) as u16);
        }
    }
    let ent = out.iter().zip(&h).map(|(e, &h)| if e.n_tasks > 0 { h / e.n_tasks as f32 } else { 0.0 }).collect();
    (acts, ent, out)
}
