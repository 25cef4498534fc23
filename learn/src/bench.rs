//! `vecsim bench train-step`: update-steps/s of one full MADDPG update of every agent with the
//! anchor's flat shapes (`benches/maddpg_step_torch.py` at the repository root): per agent, a critic step
//! towards `r + 0.99·Q⁻(o', softmax(μ⁻(o')))`, an actor step through the centralised critic with
//! a straight-through Gumbel-softmax action, and a soft update of both targets (τ = 0.01).
//!
//! It runs on the learners' own code: the same [`Mlp`] forward/backward, [`Adam`],
//! [`soft_update`] and Gumbel/softmax routines the learners use; only the batch layout differs
//! (flat `[obs…, act…]` rows instead of the learners' per-task sets). One difference from the
//! anchor, by design: the actor step does not compute the critic's parameter gradients (PyTorch
//! computes and then discards them); the learners skip them too.

use crate::adam::{soft_update, Adam};
use crate::device::Device;
use crate::gumbel::{gumbel, masked_argmax, masked_softmax, softmax_backward};
use crate::mlp::{set_threads, Acts, Backend, Mlp};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::time::Instant;

struct AgentNets {
    actor: Vec<f32>,
    actor_t: Vec<f32>,
    critic: Vec<f32>,
    critic_t: Vec<f32>,
    aopt: Adam,
    copt: Adam,
}

/// Update-steps/s (all `agents` updated once per step) over `steps` timed steps after 3 warm-up
/// steps, with 2 threads for large products. Shapes: actor `obs → 256-256-256 → act`,
/// centralised critic `agents·(obs+act) → 512-512-256 → 1`.
pub fn bench_train_step(obs: usize, act: usize, agents: usize, batch: usize, steps: usize) -> f64 {
    bench_train_step_threads(obs, act, agents, batch, steps, 2)
}

/// [`bench_train_step`] on the gemm backend with `threads` threads for large matrix products.
pub fn bench_train_step_threads(
    obs: usize,
    act: usize,
    agents: usize,
    batch: usize,
    steps: usize,
    threads: usize,
) -> f64 {
    bench_train_step_backend(obs, act, agents, batch, steps, threads, Backend::Gemm, Device::Cpu)
}

/// [`bench_train_step`] with the networks run by the dfdx backend ([`Backend::Dfdx`]) on
/// `device` (dfdx's `Cpu`, or `Cuda` in a build with the `cuda` feature; check it first with
/// [`Device::check`]); everything else (Adam, soft updates, Gumbel) is the same code. For the
/// comparison `vecsim bench train-step` prints beside the gemm rate.
pub fn bench_train_step_dfdx(obs: usize, act: usize, agents: usize, batch: usize, steps: usize, device: Device) -> f64 {
    bench_train_step_backend(obs, act, agents, batch, steps, 2, Backend::Dfdx, device)
}

/// The update-step benchmark with the networks run by `backend` (dfdx on `device`). `threads`
/// applies to the gemm layers; dfdx's CPU matrix products use rayon's global pool
/// (`RAYON_NUM_THREADS`).
#[allow(clippy::too_many_arguments)]
pub fn bench_train_step_backend(
    obs: usize,
    act: usize,
    agents: usize,
    batch: usize,
    steps: usize,
    threads: usize,
    backend: Backend,
    device: Device,
) -> f64 {
    let prev = crate::mlp::threads();
    set_threads(threads);
    let mut rng = ChaCha8Rng::seed_from_u64(0);
    let actor = Mlp::new(&[obs, 256, 256, 256, act], false).with_backend(backend).on(device);
    let xin = agents * (obs + act);
    let critic = Mlp::new(&[xin, 512, 512, 256, 1], false).with_backend(backend).on(device);
    let mut nets: Vec<AgentNets> = (0..agents)
        .map(|_| {
            let a = actor.init(&mut rng);
            let c = critic.init(&mut rng);
            AgentNets {
                actor_t: a.clone(),
                critic_t: c.clone(),
                aopt: Adam::new(a.len(), 1e-5),
                copt: Adam::new(c.len(), 1e-4),
                actor: a,
                critic: c,
            }
        })
        .collect();
    let mut randn = |n: usize| -> Vec<f32> { (0..n).map(|_| rng.gen_range(-1.0f32..1.0)).collect() };
    let o = randn(batch * agents * obs); // [B x E x obs]
    let a = randn(batch * agents * act);
    let r = randn(batch * agents);
    let o2 = randn(batch * agents * obs);
    let mut st = Bench {
        actor,
        critic,
        batch,
        agents,
        obs,
        act,
        acts_a: Acts::default(),
        acts_c: Acts::default(),
        rng: ChaCha8Rng::seed_from_u64(1),
    };
    for _ in 0..3 {
        st.step(&mut nets, &o, &a, &r, &o2);
    }
    let t0 = Instant::now();
    for _ in 0..steps {
        st.step(&mut nets, &o, &a, &r, &o2);
    }
    let dt = t0.elapsed().as_secs_f64();
    set_threads(prev);
    steps as f64 / dt
}

struct Bench {
    actor: Mlp,
    critic: Mlp,
    batch: usize,
    agents: usize,
    obs: usize,
    act: usize,
    acts_a: Acts,
    acts_c: Acts,
    rng: ChaCha8Rng,
}

impl Bench {
    /// Rows of agent `j`'s observations `[B x obs]`.
    fn obs_of(&self, o: &[f32], j: usize) -> Vec<f32> {
        let (e, d) = (self.agents, self.obs);
        (0..self.batch).flat_map(|b| o[(b * e + j) * d..(b * e + j + 1) * d].iter().copied()).collect()
    }

    /// Critic input rows `[B x E(obs+act)]` from `[B x E x obs]` and `[B x E x act]`.
    fn joint(&self, o: &[f32], a: &[f32]) -> Vec<f32> {
        let (e, d, k) = (self.agents, self.obs, self.act);
        let mut x = Vec::with_capacity(self.batch * e * (d + k));
        for b in 0..self.batch {
            x.extend_from_slice(&o[b * e * d..(b + 1) * e * d]);
            x.extend_from_slice(&a[b * e * k..(b + 1) * e * k]);
        }
        x
    }

    fn step(&mut self, nets: &mut [AgentNets], o: &[f32], a: &[f32], r: &[f32], o2: &[f32]) {
        let (bn, e, d, k) = (self.batch, self.agents, self.obs, self.act);
        let mask = vec![true; k];
        // Target actions of every agent on o'.
        let mut a2 = vec![0.0f32; bn * e * k];
        for (j, n) in nets.iter().enumerate() {
            let oj = self.obs_of(o2, j);
            self.actor.forward(&n.actor_t, &oj, bn, &mut self.acts_a);
            let lg = self.acts_a.output();
            for b in 0..bn {
                masked_softmax(&lg[b * k..(b + 1) * k], &mask, 1.0, &mut a2[(b * e + j) * k..(b * e + j + 1) * k]);
            }
        }
        let x2 = self.joint(o2, &a2);
        let x = self.joint(o, a);
        let xw = e * (d + k);
        let mut grad_c = vec![0.0f32; self.critic.num_params()];
        let mut grad_a = vec![0.0f32; self.actor.num_params()];
        let mut dx = Vec::new();
        for (ei, n) in nets.iter_mut().enumerate() {
            // Critic step.
            self.critic.forward(&n.critic_t, &x2, bn, &mut self.acts_c);
            let y: Vec<f32> = (0..bn).map(|b| r[b * e + ei] + 0.99 * self.acts_c.output()[b]).collect();
            grad_c.fill(0.0);
            let dq_of = |q: &[f32]| -> Vec<f32> { q.iter().zip(&y).map(|(q, y)| 2.0 * (q - y) / bn as f32).collect() };
            self.critic.forward_backward(&n.critic, &x, bn, &mut self.acts_c, dq_of, Some(&mut grad_c), None, 0..0);
            n.copt.step(&mut n.critic, &grad_c);
            // Actor step through the critic; the actor's and the critic's backward passes reuse
            // their forward passes.
            let oe = self.obs_of(o, ei);
            let Bench { actor, critic, acts_a, acts_c, rng, .. } = self;
            let dl_of = |logits: &[f32]| -> Vec<f32> {
                let mut ysoft = vec![0.0f32; bn * k];
                let mut xa = x.clone();
                let mut z = vec![0.0f32; k];
                for b in 0..bn {
                    for (zi, &l) in z.iter_mut().zip(&logits[b * k..(b + 1) * k]) {
                        *zi = l + gumbel(rng);
                    }
                    masked_softmax(&z, &mask, 1.0, &mut ysoft[b * k..(b + 1) * k]);
                    let h = masked_argmax(&ysoft[b * k..(b + 1) * k], &mask).unwrap();
                    let base = b * xw + e * d + ei * k;
                    xa[base..base + k].fill(0.0);
                    xa[base + h] = 1.0;
                }
                // Only agent e's action columns of the critic's input gradient are needed.
                let c0 = e * d + ei * k;
                let dq_of = |_: &[f32]| vec![-1.0 / bn as f32; bn];
                critic.forward_backward(&n.critic, &xa, bn, acts_c, dq_of, None, Some(&mut dx), c0..c0 + k);
                let mut dl = vec![0.0f32; bn * k];
                for b in 0..bn {
                    softmax_backward(
                        &ysoft[b * k..(b + 1) * k],
                        &dx[b * k..(b + 1) * k],
                        1.0,
                        &mut dl[b * k..(b + 1) * k],
                    );
                }
                dl
            };
            grad_a.fill(0.0);
            actor.forward_backward(&n.actor, &oe, bn, acts_a, dl_of, Some(&mut grad_a), None, 0..0);
            n.aopt.step(&mut n.actor, &grad_a);
            soft_update(&mut n.actor_t, &n.actor, 0.01);
            soft_update(&mut n.critic_t, &n.critic, 0.01);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bench_runs_on_small_shapes() {
        let r = super::bench_train_step_threads(8, 4, 2, 16, 2, 1);
        assert!(r.is_finite() && r > 0.0);
        let r = super::bench_train_step_backend(8, 4, 2, 16, 2, 1, Backend::Dfdx, Device::Cpu);
        assert!(r.is_finite() && r > 0.0);
    }

    /// The anchor shapes through both backends (slow in debug builds):
    /// `cargo test --release -p vecsim-learn --lib anchor_rates -- --ignored --nocapture`.
    #[test]
    #[ignore]
    fn anchor_rates_of_both_backends() {
        let gemm = bench_train_step(64, 72, 8, 256, 5);
        let dfdx = bench_train_step_dfdx(64, 72, 8, 256, 5, Device::Cpu);
        eprintln!("anchor shapes: gemm {gemm:.2} update-steps/s, dfdx {dfdx:.2} ({:.2}x gemm)", dfdx / gemm);
    }
}
