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

use crate::adam::{soft_update, Adam};
use crate::dfdx_backend::ResidentMlp;
use crate::features::{Enc, ACTOR_IN, CRITIC_IN, PAIR_F, TASK_F};
use crate::mlp::{Acts, Backend, Mlp};
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
    pub fn actor(&self) -> Mlp {
        let mut d = vec![ACTOR_IN];
        d.extend(&self.actor_hidden);
        d.push(1);
        Mlp::new(&d, false)
    }

    /// The critic, centralised over every RSU's tasks when `central`, else local.
    pub fn critic(&self, central: bool) -> CriticNet {
        let mut d = vec![CRITIC_IN];
        d.extend(&self.critic_embed);
        let phi = Mlp::new(&d, true);
        let width = *self.critic_embed.last().expect("critic_embed is not empty");
        let pooled = if central { 2 * width + 2 } else { width + 1 };
        let mut h = vec![pooled];
        h.extend(&self.critic_head);
        h.push(1);
        CriticNet { phi, rho: Mlp::new(&h, false), central }
    }
}

/// A batch of task sets for the critic: rows `[R x CRITIC_IN]` and, per batch item, the row range
/// of the evaluated RSU's own tasks and of all tasks (equal for the local critic).
#[derive(Clone, Debug, Default)]
pub struct SetBatch {
    /// Critic input rows, row-major `[R x CRITIC_IN]`.
    pub x: Vec<f32>,
    /// Per batch item, the row range `[start, end)` of the evaluated RSU's own tasks.
    pub own: Vec<(usize, usize)>,
    /// Per batch item, the row range `[start, end)` of all its tasks.
    pub all: Vec<(usize, usize)>,
}

impl SetBatch {
    /// Empties the batch, keeping its allocations.
    pub fn clear(&mut self) {
        self.x.clear();
        self.own.clear();
        self.all.clear();
    }

    /// Number of task rows over all batch items.
    pub fn rows(&self) -> usize {
        self.x.len() / CRITIC_IN
    }

    /// Number of batch items.
    pub fn len(&self) -> usize {
        self.own.len()
    }

    /// Whether the batch holds no items.
    pub fn is_empty(&self) -> bool {
        self.own.is_empty()
    }

    /// Adds one batch item: the observations of the RSUs the critic sees (one for the local
    /// critic, all for the centralised one) with their actions; `own` indexes the evaluated RSU.
    pub fn push(&mut self, obs: &[(&Enc, &[u16])], own: usize) {
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

/// The set critic: per-task embedding `φ`, mean-pooled, then head `ρ` giving Q.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CriticNet {
    /// Per-task embedding `φ` (ReLU on its last layer too).
    pub phi: Mlp,
    /// Head `ρ` from the pooled embedding(s) to one Q value.
    pub rho: Mlp,
    /// Whether it also pools every RSU's tasks (maddpg, masac) besides the own ones.
    pub central: bool,
}

/// Buffers of one critic pass.
#[derive(Clone, Debug, Default)]
pub struct CriticWs {
    phi: Acts,
    rho: Acts,
    pooled: Vec<f32>,
    dpool: Vec<f32>,
    dh: Vec<f32>,
}

impl CriticNet {
    /// The same critic with both of its MLPs run by `backend`.
    pub fn with_backend(mut self, backend: Backend) -> CriticNet {
        self.phi.backend = backend;
        self.rho.backend = backend;
        self
    }

    /// The same critic with its dfdx passes on `device`.
    pub fn on(mut self, device: crate::device::Device) -> CriticNet {
        self.phi.device = device;
        self.rho.device = device;
        self
    }

    /// Length of the flat parameter vector: `φ`'s then `ρ`'s.
    pub fn num_params(&self) -> usize {
        self.phi.num_params() + self.rho.num_params()
    }

    /// Fresh parameters, PyTorch's `nn.Linear` initialisation for `φ` then `ρ`.
    pub fn init<R: rand::Rng + ?Sized>(&self, rng: &mut R) -> Vec<f32> {
        let mut p = self.phi.init(rng);
        p.extend(self.rho.init(rng));
        p
    }

    fn split<'a>(&self, p: &'a [f32]) -> (&'a [f32], &'a [f32]) {
        p.split_at(self.phi.num_params())
    }

    /// φ's and ρ's parts of a flat gradient, if there is one.
    fn split_grad<'a>(&self, grad: Option<&'a mut [f32]>) -> (Option<&'a mut [f32]>, Option<&'a mut [f32]>) {
        match grad {
            Some(g) => {
                let (a, b) = g.split_at_mut(self.phi.num_params());
                (Some(a), Some(b))
            }
            None => (None, None),
        }
    }

    /// Q for each batch item.
    pub fn forward<'w>(&self, p: &[f32], b: &SetBatch, ws: &'w mut CriticWs) -> &'w [f32] {
        let (pp, pr) = self.split(p);
        self.phi.forward(pp, &b.x, b.rows(), &mut ws.phi);
        self.pool(ws.phi.output(), b, &mut ws.pooled);
        self.rho.forward(pr, &ws.pooled, b.len(), &mut ws.rho);
        ws.rho.output()
    }

    /// The pooled embeddings `[items x ρ's input]`: the mean of the own rows' (and, centralised,
    /// of all rows') embeddings `h`, and the set sizes.
    pub(crate) fn pool(&self, h: &[f32], b: &SetBatch, pooled: &mut Vec<f32>) {
        let w = *self.phi.dims.last().unwrap();
        let width = self.rho.input();
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
    pub(crate) fn unpool(&self, b: &SetBatch, dpool: &[f32], dh: &mut Vec<f32>) {
        let w = *self.phi.dims.last().unwrap();
        let width = self.rho.input();
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

    /// Forward and backward in one call, with the per-item gradient `dq_of(q)` of the loss
    /// with respect to Q: the same as [`CriticNet::forward`] then [`CriticNet::backward`], but
    /// each MLP differentiates its own forward pass ([`Mlp::forward_backward`]; the dfdx
    /// backend then runs no second forward pass). Parameter gradients are added into `grad`
    /// (if any), columns `cols` of the input gradient written into `dx` (if any).
    #[allow(clippy::too_many_arguments)]
    pub fn forward_backward(
        &self,
        p: &[f32],
        b: &SetBatch,
        ws: &mut CriticWs,
        dq_of: impl FnOnce(&[f32]) -> Vec<f32>,
        grad: Option<&mut [f32]>,
        dx: Option<&mut Vec<f32>>,
        cols: std::ops::Range<usize>,
    ) {
        let (pp, pr) = self.split(p);
        let (gp, gr) = self.split_grad(grad);
        let CriticWs { phi, rho, pooled, dpool, dh } = ws;
        let width = self.rho.input();
        self.phi.forward_backward(
            pp,
            &b.x,
            b.rows(),
            phi,
            |h| {
                self.pool(h, b, pooled);
                self.rho.forward_backward(pr, pooled, b.len(), rho, dq_of, gr, Some(dpool), 0..width);
                self.unpool(b, dpool, dh);
                std::mem::take(dh)
            },
            gp,
            dx,
            cols,
        );
    }

    /// Q of the last [`CriticNet::forward_backward`], per item.
    pub fn last_q<'w>(&self, ws: &'w CriticWs) -> &'w [f32] {
        ws.rho.output()
    }

    /// Backward of the last [`CriticNet::forward`] given `dq` per item: parameter gradients
    /// added into `grad` (if any), input gradients `[R x CRITIC_IN]` written into `dx` (if any).
    pub fn backward(
        &self,
        p: &[f32],
        b: &SetBatch,
        ws: &mut CriticWs,
        dq: &[f32],
        grad: Option<&mut [f32]>,
        dx: Option<&mut Vec<f32>>,
    ) {
        let (pp, pr) = self.split(p);
        let (gp, gr) = self.split_grad(grad);
        let mut dpool = std::mem::take(&mut ws.dpool);
        self.rho.backward(pr, &ws.pooled, &mut ws.rho, dq, gr, Some(&mut dpool));
        let mut dh = std::mem::take(&mut ws.dh);
        self.unpool(b, &dpool, &mut dh);
        ws.dpool = dpool;
        self.phi.backward(pp, &b.x, &mut ws.phi, &dh, gp, dx);
        ws.dh = dh;
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
pub fn action_grad(enc: &Enc, dx_rows: &[f32], da: &mut Vec<f32>) {
    da.clear();
    for k in 0..enc.n_tasks {
        let g = &dx_rows[k * CRITIC_IN + TASK_F..k * CRITIC_IN + TASK_F + PAIR_F];
        for j in 0..enc.n_cands {
            da.push(g.iter().zip(enc.pair(k, j)).map(|(a, b)| a * b).sum());
        }
    }
}

/// An RSU learner's networks as the update steps use them (`maddpg.rs` is written once against
/// this): the actor and the set critic, each with its target copy and its optimiser. Every
/// backward pass is of the forward pass traced just before it. Two implementations:
/// [`FlatNets`], the learner's own flat vectors (the `Send` form, the source of truth for
/// checkpoints, FedAvg and evaluation), and [`ResidentNets`], the same networks resident on a
/// dfdx device for an episode.
pub(crate) trait Nets {
    /// Actor logits of `which` on `x [rows x ACTOR_IN]`, without gradient.
    fn actor_forward(&mut self, which: Params<'_>, x: &[f32], rows: usize) -> Vec<f32>;
    /// Online actor logits on `x`, traced for [`Nets::actor_backward`].
    fn actor_forward_traced(&mut self, x: &[f32], rows: usize) -> Vec<f32>;
    /// The actor's parameter gradients for the logits' gradient `dy`, kept for the step.
    fn actor_backward(&mut self, x: &[f32], dy: &[f32]);
    /// One Adam step of the actor.
    fn actor_step(&mut self);
    /// Q of the target (`target`) or online critic per batch item, without gradient.
    fn critic_q(&mut self, target: bool, b: &SetBatch) -> Vec<f32>;
    /// Q of the online critic, traced for [`Nets::critic_backward`].
    fn critic_forward_traced(&mut self, b: &SetBatch) -> Vec<f32>;
    /// Backward of the traced critic pass for `dq` per item: parameter gradients kept for the
    /// step if `params`; the input gradient `[R x CRITIC_IN]` into `dx` if given.
    fn critic_backward(&mut self, b: &SetBatch, dq: &[f32], params: bool, dx: Option<&mut Vec<f32>>);
    /// One Adam step of the critic.
    fn critic_step(&mut self);
    /// Soft target updates of both networks (eq. 25).
    fn soft_update(&mut self, tau: f32);
    /// The actor's (or its target's) parameters, flat.
    fn actor_params(&self, target: bool) -> Vec<f32>;
    /// Overwrites the actor's parameters (a FedAvg import).
    fn set_actor_params(&mut self, p: &[f32]);
}

/// Reusable buffers of the flat networks' passes (not part of the state).
#[derive(Clone, Debug, Default)]
pub(crate) struct NetWs {
    actor_acts: Acts,
    actor_infer: Acts,
    critic_ws: CriticWs,
    critic_infer: CriticWs,
    /// The actor's parameter gradient of the last backward pass.
    pub actor_grad: Vec<f32>,
    critic_grad: Vec<f32>,
}

/// [`Nets`] on the learner's flat vectors, run by [`Mlp`] (gemm layers, or dfdx rebuilding the
/// networks on every call): taken out of the learner for one call
/// ([`crate::rsu::RsuLearner::with_flat`]) and put back after it.
pub(crate) struct FlatNets {
    pub actor: Vec<f32>,
    pub actor_target: Vec<f32>,
    pub critic: Vec<f32>,
    pub critic_target: Vec<f32>,
    pub actor_opt: Adam,
    pub critic_opt: Adam,
    pub actor_net: Mlp,
    pub critic_net: CriticNet,
    pub ws: NetWs,
}

impl Nets for FlatNets {
    fn actor_forward(&mut self, which: Params<'_>, x: &[f32], rows: usize) -> Vec<f32> {
        let p = match which {
            Params::Online => &self.actor,
            Params::Target => &self.actor_target,
            Params::Given(p) => p,
        };
        self.actor_net.forward(p, x, rows, &mut self.ws.actor_infer);
        self.ws.actor_infer.output().to_vec()
    }

    fn actor_forward_traced(&mut self, x: &[f32], rows: usize) -> Vec<f32> {
        self.actor_net.forward(&self.actor, x, rows, &mut self.ws.actor_acts);
        self.ws.actor_acts.output().to_vec()
    }

    fn actor_backward(&mut self, x: &[f32], dy: &[f32]) {
        let ws = &mut self.ws;
        ws.actor_grad.clear();
        ws.actor_grad.resize(self.actor.len(), 0.0);
        self.actor_net.backward(&self.actor, x, &mut ws.actor_acts, dy, Some(&mut ws.actor_grad), None);
    }

    fn actor_step(&mut self) {
        self.actor_opt.step(&mut self.actor, &self.ws.actor_grad);
    }

    fn critic_q(&mut self, target: bool, b: &SetBatch) -> Vec<f32> {
        let p = if target { &self.critic_target } else { &self.critic };
        self.critic_net.forward(p, b, &mut self.ws.critic_infer).to_vec()
    }

    fn critic_forward_traced(&mut self, b: &SetBatch) -> Vec<f32> {
        self.critic_net.forward(&self.critic, b, &mut self.ws.critic_ws).to_vec()
    }

    fn critic_backward(&mut self, b: &SetBatch, dq: &[f32], params: bool, dx: Option<&mut Vec<f32>>) {
        let ws = &mut self.ws;
        ws.critic_grad.clear();
        ws.critic_grad.resize(self.critic.len(), 0.0);
        let grad = params.then_some(&mut ws.critic_grad[..]);
        self.critic_net.backward(&self.critic, b, &mut ws.critic_ws, dq, grad, dx);
    }

    fn critic_step(&mut self) {
        self.critic_opt.step(&mut self.critic, &self.ws.critic_grad);
    }

    fn soft_update(&mut self, tau: f32) {
        soft_update(&mut self.actor_target, &self.actor, tau);
        soft_update(&mut self.critic_target, &self.critic, tau);
    }

    fn actor_params(&self, target: bool) -> Vec<f32> {
        if target { &self.actor_target } else { &self.actor }.clone()
    }

    fn set_actor_params(&mut self, p: &[f32]) {
        assert_eq!(p.len(), self.actor.len(), "actor parameter count differs");
        self.actor.copy_from_slice(p);
    }
}

/// [`Nets`] resident on a dfdx device for an episode ([`ResidentMlp`]s for the actor and the
/// critic's `φ` and `ρ`); the critic's pooling runs on the host between `φ` and `ρ`, as in the
/// flat critic (it is hand-written: a mean over each item's own row range).
pub struct ResidentNets<D: dfdx::tensor_ops::Device<f32>> {
    actor: ResidentMlp<D>,
    phi: ResidentMlp<D>,
    rho: ResidentMlp<D>,
    critic_net: CriticNet,
    /// `φ`'s output of the last traced critic pass (pooled on the host).
    h: Vec<f32>,
    pooled: Vec<f32>,
    dpool: Vec<f32>,
    dh: Vec<f32>,
}

impl<D: dfdx::tensor_ops::Device<f32>> ResidentNets<D> {
    /// The learner's flat networks, built once on `dev`.
    pub(crate) fn new(flat: &FlatNets, dev: &D) -> ResidentNets<D> {
        let c = &flat.critic_net;
        let n_phi = c.phi.num_params();
        let (m, v) = flat.critic_opt.moments();
        let part = |r: std::ops::Range<usize>| {
            flat.critic_opt.with_state(flat.critic_opt.t, m[r.clone()].to_vec(), v[r].to_vec())
        };
        let (np, nr) = (0..n_phi, n_phi..flat.critic.len());
        ResidentNets {
            actor: ResidentMlp::new(&flat.actor_net, &flat.actor, &flat.actor_target, &flat.actor_opt, dev),
            phi: ResidentMlp::new(&c.phi, &flat.critic[np.clone()], &flat.critic_target[np.clone()], &part(np), dev),
            rho: ResidentMlp::new(&c.rho, &flat.critic[nr.clone()], &flat.critic_target[nr.clone()], &part(nr), dev),
            critic_net: c.clone(),
            h: Vec::new(),
            pooled: Vec::new(),
            dpool: Vec::new(),
            dh: Vec::new(),
        }
    }

    /// Copies everything back into `flat` (the learner's `Send` form).
    pub(crate) fn sync_into(&mut self, flat: &mut FlatNets) {
        flat.actor = self.actor.params();
        flat.actor_target = self.actor.target_params();
        flat.actor_opt = self.actor.adam();
        flat.critic = self.phi.params();
        flat.critic.extend(self.rho.params());
        flat.critic_target = self.phi.target_params();
        flat.critic_target.extend(self.rho.target_params());
        let (p, r) = (self.phi.adam(), self.rho.adam());
        let (mut m, mut v) = (p.moments().0.to_vec(), p.moments().1.to_vec());
        m.extend_from_slice(r.moments().0);
        v.extend_from_slice(r.moments().1);
        flat.critic_opt = p.with_state(p.t, m, v);
    }

    /// Full parameter sets copied onto the device for the learner's own networks (each of
    /// actor, `φ`, `ρ`: 2 when built, 1 per FedAvg import); never per pass.
    pub fn uploads(&self) -> u64 {
        self.actor.uploads() + self.phi.uploads() + self.rho.uploads()
    }

    fn critic_pass(&mut self, which: Params<'_>, b: &SetBatch, traced: bool) -> Vec<f32> {
        let rows = b.rows();
        self.h = if traced { self.phi.forward_traced(&b.x, rows) } else { self.phi.forward(which, &b.x, rows) };
        self.critic_net.pool(&self.h, b, &mut self.pooled);
        if traced {
            self.rho.forward_traced(&self.pooled, b.len())
        } else {
            self.rho.forward(which, &self.pooled, b.len())
        }
    }
}

impl<D: dfdx::tensor_ops::Device<f32>> Nets for ResidentNets<D> {
    fn actor_forward(&mut self, which: Params<'_>, x: &[f32], rows: usize) -> Vec<f32> {
        self.actor.forward(which, x, rows)
    }

    fn actor_forward_traced(&mut self, x: &[f32], rows: usize) -> Vec<f32> {
        self.actor.forward_traced(x, rows)
    }

    fn actor_backward(&mut self, x: &[f32], dy: &[f32]) {
        self.actor.backward(x, dy, true, None, 0..0);
    }

    fn actor_step(&mut self) {
        self.actor.step();
    }

    fn critic_q(&mut self, target: bool, b: &SetBatch) -> Vec<f32> {
        self.critic_pass(if target { Params::Target } else { Params::Online }, b, false)
    }

    fn critic_forward_traced(&mut self, b: &SetBatch) -> Vec<f32> {
        self.critic_pass(Params::Online, b, true)
    }

    fn critic_backward(&mut self, b: &SetBatch, dq: &[f32], params: bool, dx: Option<&mut Vec<f32>>) {
        let mut dpool = std::mem::take(&mut self.dpool);
        let width = self.critic_net.rho.input();
        self.rho.backward(&self.pooled, dq, params, Some(&mut dpool), 0..width);
        let mut dh = std::mem::take(&mut self.dh);
        self.critic_net.unpool(b, &dpool, &mut dh);
        self.phi.backward(&b.x, &dh, params, dx, 0..CRITIC_IN);
        self.dpool = dpool;
        self.dh = dh;
    }

    fn critic_step(&mut self) {
        self.phi.step();
        self.rho.step();
    }

    fn soft_update(&mut self, tau: f32) {
        self.actor.soft_update(tau);
        self.phi.soft_update(tau);
        self.rho.soft_update(tau);
    }

    fn actor_params(&self, target: bool) -> Vec<f32> {
        if target {
            self.actor.target_params()
        } else {
            self.actor.params()
        }
    }

    fn set_actor_params(&mut self, p: &[f32]) {
        self.actor.set_params(p);
    }
}
