//! The two networks, built from [`Mlp`]s whose shapes do not depend on how many tasks or RSUs a
//! slot has (SPEC §3).
//!
//! - Actor: one shared MLP scores every (task, candidate RSU) pair from
//!   `[task features, candidate/pair features, pooled summary of the RSU's tasks]`; a masked
//!   softmax over the candidates of each task gives the task's policy (down RSUs masked out).
//! - Critic: a per-task embedding `φ` of `[task, chosen candidate's features, summary, own]`,
//!   mean-pooled over the task set, then a head `ρ`. The local critic (fed-maddpg) pools the
//!   RSU's own tasks; the centralised critic (maddpg, masac) additionally pools every RSU's tasks
//!   and actions in the slot. An empty set pools to zeros (an RSU with no uploads still has a
//!   value). Hidden sizes default to the reference code's: actor 256-256-256, critic
//!   512-512 (φ) then 256 (ρ).

use crate::features::{Enc, ACTOR_IN, CRITIC_IN, PAIR_F, TASK_F};
use crate::mlp::Mlp;
use crate::net::{Net, Params};
use serde::{Deserialize, Serialize};

/// Hidden layer sizes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetShape {
    /// The actor's hidden layer widths (reference code: 256-256-256).
    pub actor_hidden: Vec<usize>,
    /// φ's layers; the pooled width is the last one.
    pub critic_embed: Vec<usize>,
    /// ρ's hidden layers.
    pub critic_head: Vec<usize>,
}

impl Default for NetShape {
    fn default() -> Self {
        NetShape { actor_hidden: vec![256, 256, 256], critic_embed: vec![512, 512], critic_head: vec![256] }
    }
}

impl NetShape {
    /// Parameters of the actor and of the critic (centralised when `central`), or why the
    /// shape is impossible (an empty or zero-width layer list, or a count past `usize`).
    pub fn param_counts(&self, central: bool) -> Result<(usize, usize), String> {
        fn mlp(dims: &[usize]) -> Option<usize> {
            dims.windows(2).try_fold(0usize, |acc, w| w[0].checked_mul(w[1])?.checked_add(w[1])?.checked_add(acc))
        }
        let ok = |name: &str, v: &[usize]| {
            if v.is_empty() || v.contains(&0) {
                Err(format!("{name} {v:?}: expected widths >= 1"))
            } else {
                Ok(())
            }
        };
        ok("actor_hidden", &self.actor_hidden)?;
        ok("critic_embed", &self.critic_embed)?;
        ok("critic_head", &self.critic_head)?;
        let too_big = || "more parameters than this machine can address".to_string();
        let mut a = vec![ACTOR_IN];
        a.extend(&self.actor_hidden);
        a.push(1);
        let mut phi = vec![CRITIC_IN];
        phi.extend(&self.critic_embed);
        let width = *self.critic_embed.last().expect("checked non-empty");
        let pooled = if central { width.checked_mul(2).and_then(|w| w.checked_add(2)) } else { width.checked_add(1) };
        let mut rho = vec![pooled.ok_or_else(too_big)?];
        rho.extend(&self.critic_head);
        rho.push(1);
        let actor = mlp(&a).ok_or_else(too_big)?;
        let critic = mlp(&phi).and_then(|p| p.checked_add(mlp(&rho)?)).ok_or_else(too_big)?;
        Ok((actor, critic))
    }

    /// The actor: `ACTOR_IN → actor_hidden → 1` logit per (task, candidate) row.
    pub(crate) fn actor(&self) -> Mlp {
        let mut d = vec![ACTOR_IN];
        d.extend(&self.actor_hidden);
        d.push(1);
        Mlp::new(&d, false)
    }

    /// The critic's two MLPs, centralised over every RSU's tasks when `central`, else local:
    /// `φ` (`CRITIC_IN → critic_embed`, ReLU on its last layer too) and `ρ` (the pooled
    /// embedding(s) and set sizes `→ critic_head → 1`).
    pub(crate) fn critic(&self, central: bool) -> (Mlp, Mlp) {
        let mut d = vec![CRITIC_IN];
        d.extend(&self.critic_embed);
        let phi = Mlp::new(&d, true);
        let width = *self.critic_embed.last().expect("critic_embed is not empty");
        let pooled = if central { 2 * width + 2 } else { width + 1 };
        let mut h = vec![pooled];
        h.extend(&self.critic_head);
        h.push(1);
        (phi, Mlp::new(&h, false))
    }
}

/// A batch of task sets for the critic: rows `[R x CRITIC_IN]` and, per batch item, the row range
/// of the evaluated RSU's own tasks and of all tasks (equal for the local critic).
#[derive(Clone, Debug, Default)]
pub(crate) struct SetBatch {
    /// Critic input rows, row-major `[R x CRITIC_IN]`.
    pub x: Vec<f32>,
    /// Per batch item, the row range `[start, end)` of the evaluated RSU's own tasks.
    pub own: Vec<(usize, usize)>,
    /// Per batch item, the row range `[start, end)` of all its tasks.
    pub all: Vec<(usize, usize)>,
}

impl SetBatch {
    /// Empties the batch, keeping its allocations.
    pub(crate) fn clear(&mut self) {
        self.x.clear();
        self.own.clear();
        self.all.clear();
    }

    /// Number of task rows over all batch items.
    pub(crate) fn rows(&self) -> usize {
        self.x.len() / CRITIC_IN
    }

    /// Number of batch items.
    pub(crate) fn len(&self) -> usize {
        self.own.len()
    }

    /// Adds one batch item: the observations of the RSUs the critic sees (one for the local
    /// critic, all for the centralised one) with their actions; `own` indexes the evaluated RSU.
    pub(crate) fn push(&mut self, obs: &[(&Enc, &[u16])], own: usize) {
        let start = self.rows();
        let mut own_range = (start, start);
        for (i, (enc, act)) in obs.iter().enumerate() {
            let s = self.rows();
            enc.critic_rows(act, i == own, &mut self.x);
            if i == own {
                own_range = (s, self.rows());
            }
        }
        self.own.push(own_range);
        self.all.push((start, self.rows()));
    }
}

fn mean_rows(h: &[f32], w: usize, r0: usize, r1: usize, dst: &mut [f32]) {
    dst.fill(0.0);
    if r1 == r0 {
        return;
    }
    for r in r0..r1 {
        for (d, &v) in dst.iter_mut().zip(&h[r * w..(r + 1) * w]) {
            *d += v;
        }
    }
    let inv = 1.0 / (r1 - r0) as f32;
    dst.iter_mut().for_each(|d| *d *= inv);
}

fn spread_rows(dh: &mut [f32], w: usize, r0: usize, r1: usize, d: &[f32]) {
    if r1 == r0 {
        return;
    }
    let inv = 1.0 / (r1 - r0) as f32;
    for r in r0..r1 {
        for (x, &v) in dh[r * w..(r + 1) * w].iter_mut().zip(d) {
            *x += v * inv;
        }
    }
}

/// The gradient reaching the one-hot action `a_kj` of own task k through the critic input:
/// the chosen candidate's pair features enter linearly as `Σ_j a_kj · pair_kj`, so
/// `dQ/da_kj = dX[k, pair cols] · pair_kj`. Writes `[n_tasks x n_cands]` into `da`.
pub(crate) fn action_grad(enc: &Enc, dx_rows: &[f32], da: &mut Vec<f32>) {
    da.clear();
    for k in 0..enc.n_tasks {
        let g = &dx_rows[k * CRITIC_IN + TASK_F..k * CRITIC_IN + TASK_F + PAIR_F];
        for j in 0..enc.n_cands {
            da.push(g.iter().zip(enc.pair(k, j)).map(|(a, b)| a * b).sum());
        }
    }
}

/// The set critic, written once for any [`Net`]: the per-task embedding `φ` of the batch's task
/// rows, mean-pooled per item over its own rows (and, centralised, over all its rows) with the
/// set sizes appended (on the host, between the two networks), then the head `ρ` giving Q. An
/// empty set pools to zeros. In the flat layout (checkpoints) the critic is `φ`'s parameters
/// then `ρ`'s, one Adam state over both.
#[derive(Clone, Debug)]
pub(crate) struct SetCritic<N> {
    /// Per-task embedding `φ` (ReLU on its last layer too).
    pub phi: N,
    /// Head `ρ` from the pooled embedding(s) to one Q value.
    pub rho: N,
    /// Whether it also pools every RSU's tasks (maddpg, masac) besides the own ones.
    central: bool,
    /// `φ`'s output width.
    width: usize,
    /// `φ`'s output of the last pass.
    h: Vec<f32>,
    /// `ρ`'s input of the last traced pass (its backward pass needs it).
    pooled: Vec<f32>,
    /// `ρ`'s input of the last pass without gradient.
    pooled_q: Vec<f32>,
    dpool: Vec<f32>,
    dh: Vec<f32>,
}

/// Equal networks (not the reusable buffers).
impl<N: PartialEq> PartialEq for SetCritic<N> {
    fn eq(&self, o: &SetCritic<N>) -> bool {
        self.phi == o.phi && self.rho == o.rho && self.central == o.central
    }
}

impl<N: Net> SetCritic<N> {
    /// The critic of `φ` (output width `width`) and `ρ`, centralised when `central`.
    pub(crate) fn new(phi: N, rho: N, central: bool, width: usize) -> SetCritic<N> {
        let (h, pooled, pooled_q, dpool, dh) = Default::default();
        SetCritic { phi, rho, central, width, h, pooled, pooled_q, dpool, dh }
    }

    /// The same critic on other networks (made resident, or copied back).
    pub(crate) fn map<M: Net>(self, mut f: impl FnMut(N) -> M) -> SetCritic<M> {
        SetCritic::new(f(self.phi), f(self.rho), self.central, self.width)
    }

    /// Q of the target (`target`) or online critic per batch item, without gradient.
    pub(crate) fn q(&mut self, target: bool, b: &SetBatch) -> Vec<f32> {
        let which = if target { Params::Target } else { Params::Online };
        self.h = self.phi.forward(which, &b.x, b.rows());
        let mut pooled = std::mem::take(&mut self.pooled_q);
        self.pool(b, &mut pooled);
        let q = self.rho.forward(which, &pooled, b.len());
        self.pooled_q = pooled;
        q
    }

    /// Q of the online critic, traced for [`SetCritic::backward`].
    pub(crate) fn forward_traced(&mut self, b: &SetBatch) -> Vec<f32> {
        self.h = self.phi.forward_traced(&b.x, b.rows());
        let mut pooled = std::mem::take(&mut self.pooled);
        self.pool(b, &mut pooled);
        let q = self.rho.forward_traced(&pooled, b.len());
        self.pooled = pooled;
        q
    }

    /// Backward of the last traced pass for `dq` per item: parameter gradients kept for the
    /// step if `params`; the input gradient `[R x CRITIC_IN]` into `dx` if given.
    pub(crate) fn backward(&mut self, b: &SetBatch, dq: &[f32], params: bool, dx: Option<&mut Vec<f32>>) {
        let mut dpool = std::mem::take(&mut self.dpool);
        let width = self.pooled_width();
        self.rho.backward(&self.pooled, dq, params, Some(&mut dpool), 0..width);
        let mut dh = std::mem::take(&mut self.dh);
        self.unpool(b, &dpool, &mut dh);
        self.phi.backward(&b.x, &dh, params, dx, 0..CRITIC_IN);
        self.dpool = dpool;
        self.dh = dh;
    }

    /// One Adam step of `φ` and `ρ`.
    pub(crate) fn step(&mut self) {
        self.phi.step();
        self.rho.step();
    }

    /// Soft target updates of `φ` and `ρ` (eq. 25).
    pub(crate) fn soft_update(&mut self, tau: f32) {
        self.phi.soft_update(tau);
        self.rho.soft_update(tau);
    }

    /// `ρ`'s input width: the pooled embedding(s) and the set size(s).
    fn pooled_width(&self) -> usize {
        if self.central {
            2 * self.width + 2
        } else {
            self.width + 1
        }
    }

    /// The pooled embeddings `[items x ρ's input]` of `φ`'s last output: the mean of the own
    /// rows' (and, centralised, of all rows') embeddings, and the set sizes.
    fn pool(&self, b: &SetBatch, pooled: &mut Vec<f32>) {
        let (w, width, h) = (self.width, self.pooled_width(), &self.h);
        pooled.clear();
        pooled.resize(b.len() * width, 0.0);
        for (i, (&(o0, o1), &(a0, a1))) in b.own.iter().zip(&b.all).enumerate() {
            let dst = &mut pooled[i * width..(i + 1) * width];
            mean_rows(h, w, o0, o1, &mut dst[..w]);
            if self.central {
                mean_rows(h, w, a0, a1, &mut dst[w..2 * w]);
                dst[2 * w] = (1.0 + (o1 - o0) as f32).ln() / 4.0;
                dst[2 * w + 1] = (1.0 + (a1 - a0) as f32).ln() / 4.0;
            } else {
                dst[w] = (1.0 + (o1 - o0) as f32).ln() / 4.0;
            }
        }
    }

    /// The gradient reaching the embeddings `[R x w]` from the pooled ones' gradient `dpool`.
    fn unpool(&self, b: &SetBatch, dpool: &[f32], dh: &mut Vec<f32>) {
        let (w, width) = (self.width, self.pooled_width());
        dh.clear();
        dh.resize(b.rows() * w, 0.0);
        for (i, (&(o0, o1), &(a0, a1))) in b.own.iter().zip(&b.all).enumerate() {
            let d = &dpool[i * width..(i + 1) * width];
            spread_rows(dh, w, o0, o1, &d[..w]);
            if self.central {
                spread_rows(dh, w, a0, a1, &d[w..2 * w]);
            }
        }
    }
}

/// An RSU learner's networks, written once for any [`Net`]: the actor and the set critic, each
/// with its target copy and its optimiser. [`crate::rsu::Agent`] owns one; the update steps
/// ([`crate::maddpg`]) run on it. Every backward pass is of the forward pass traced just
/// before it.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct ActorCritic<N> {
    /// The shared actor: one logit per (task, candidate) row.
    pub actor: N,
    /// The set critic.
    pub critic: SetCritic<N>,
}

impl<N: Net> ActorCritic<N> {
    /// The same networks on another [`Net`] (made resident on a device, or copied back).
    pub(crate) fn map<M: Net>(self, mut f: impl FnMut(N) -> M) -> ActorCritic<M> {
        ActorCritic { actor: f(self.actor), critic: self.critic.map(f) }
    }

    /// Soft target updates of both networks (eq. 25).
    pub(crate) fn soft_update(&mut self, tau: f32) {
        self.actor.soft_update(tau);
        self.critic.soft_update(tau);
    }
}
