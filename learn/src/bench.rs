//! `vecsim bench train-step`: update-steps/s of one full MADDPG update of every agent with the
//! anchor's flat shapes (`benches/maddpg_step_torch.py` at the repository root): per agent, a critic step
//! towards `r + 0.99·Q⁻(o', softmax(μ⁻(o')))`, an actor step through the centralised critic with
//! a straight-through Gumbel-softmax action, and a soft update of both targets (τ = 0.01).
//!
//! It runs the learners' own networks, the two implementations of [`Net`]: with the gemm
//! backend [`FlatNet`]s (the [`Mlp`] layers, the flat [`crate::adam::Adam`] and soft updates,
//! exactly what a learner's actor and critic run), with the dfdx backend [`ResidentMlp`]s,
//! resident on the device for the whole benchmark, as the learners' dfdx working form keeps
//! them for an episode. Only the batch layout differs from the learners (flat `[obs…, act…]`
//! rows instead of per-task sets). One difference from the anchor, by design: the actor step
//! takes no step of the critic, and the gemm layers compute only the critic's input gradient
//! columns of the agent's own action (PyTorch computes the critic's parameter gradients and
//! then discards them; dfdx computes them too, on its tape).

use crate::device::Device;
use crate::dfdx_backend::ResidentMlp;
use crate::gumbel::{gumbel, masked_argmax, masked_softmax, softmax_backward};
use crate::mlp::Mlp;
use crate::net::{Backend, FlatNet, Net, Params};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::time::Instant;

/// One agent's actor and critic (each with its target and optimiser).
struct AgentNets<N> {
    actor: N,
    critic: N,
}

/// Update-steps/s (all `agents` updated once per step) over `steps` timed steps after 3 warm-up
/// steps, with 2 threads for large products. Shapes: actor `obs → 256-256-256 → act`,
/// centralised critic `agents·(obs+act) → 512-512-256 → 1`.
pub fn bench_train_step(obs: usize, act: usize, agents: usize, batch: usize, steps: usize) -> f64 {
    bench_train_step_threads(obs, act, agents, batch, steps, 2)
}

/// [`bench_train_step`] on the gemm backend with `threads` threads for large matrix products.
pub(crate) fn bench_train_step_threads(
    obs: usize,
    act: usize,
    agents: usize,
    batch: usize,
    steps: usize,
    threads: usize,
) -> f64 {
    bench_train_step_backend(obs, act, agents, batch, steps, threads, Backend::Gemm, Device::Cpu)
}

/// [`bench_train_step`] with the networks resident on dfdx `device` ([`ResidentMlp`]: dfdx's
/// `Cpu`, or `Cuda` in a build with the `cuda` feature; check it first with
/// [`Device::check`]); Gumbel and softmax stay the same host code. For the comparison
/// `vecsim bench train-step` prints beside the gemm rate.
pub fn bench_train_step_dfdx(obs: usize, act: usize, agents: usize, batch: usize, steps: usize, device: Device) -> f64 {
    bench_train_step_backend(obs, act, agents, batch, steps, 2, Backend::Dfdx, device)
}

/// The update-step benchmark with the networks run by `backend` (dfdx resident on `device`).
/// `threads` applies to the gemm layers; dfdx's CPU matrix products use rayon's global pool
/// (`RAYON_NUM_THREADS`).
#[allow(clippy::too_many_arguments)]
pub(crate) fn bench_train_step_backend(
    obs: usize,
    act: usize,
    agents: usize,
    batch: usize,
    steps: usize,
    threads: usize,
    backend: Backend,
    device: Device,
) -> f64 {
    let mut rng = ChaCha8Rng::seed_from_u64(0);
    let actor = Mlp::new(&[obs, 256, 256, 256, act], false).with_threads(threads);
    let xin = agents * (obs + act);
    let critic = Mlp::new(&[xin, 512, 512, 256, 1], false).with_threads(threads);
    let params: Vec<(Vec<f32>, Vec<f32>)> =
        (0..agents).map(|_| (actor.init(&mut rng), critic.init(&mut rng))).collect();
    let flat = |(a, c): &(Vec<f32>, Vec<f32>)| AgentNets {
        actor: FlatNet::fresh(actor.clone(), a.clone(), 1e-5),
        critic: FlatNet::fresh(critic.clone(), c.clone(), 1e-4),
    };
    let mut randn = |n: usize| -> Vec<f32> { (0..n).map(|_| rng.gen_range(-1.0f32..1.0)).collect() };
    let data = Data {
        o: randn(batch * agents * obs), // [B x E x obs]
        a: randn(batch * agents * act),
        r: randn(batch * agents),
        o2: randn(batch * agents * obs),
    };
    let mut st = Bench { batch, agents, obs, act, rng: ChaCha8Rng::seed_from_u64(1) };
    let rate = match (backend, device) {
        (Backend::Gemm, _) => st.rate(params.iter().map(flat).collect(), &data, steps),
        (Backend::Dfdx, Device::Cpu) => {
            let dev = crate::dfdx_backend::with_cpu(|d| d.clone());
            st.rate(params.iter().map(|p| resident(flat(p), &dev)).collect(), &data, steps)
        }
        #[cfg(feature = "cuda")]
        (Backend::Dfdx, Device::Cuda(n)) => {
            let dev = crate::dfdx_backend::cuda_handle(n);
            st.rate(params.iter().map(|p| resident(flat(p), &dev)).collect(), &data, steps)
        }
        #[cfg(not(feature = "cuda"))]
        (Backend::Dfdx, device @ Device::Cuda(_)) => panic!("{}", crate::device::DeviceError::NotBuilt(device)),
    };
    rate
}

/// The flat networks `n`, resident on `dev`.
fn resident<D: dfdx::tensor_ops::Device<f32>>(n: AgentNets<FlatNet>, dev: &D) -> AgentNets<ResidentMlp<D>> {
    let up = |m: &FlatNet| ResidentMlp::new(&m.shape, &m.params, &m.target, &m.opt, dev);
    AgentNets { actor: up(&n.actor), critic: up(&n.critic) }
}

/// The benchmark's fixed batch: observations, actions, rewards, next observations.
struct Data {
    o: Vec<f32>,
    a: Vec<f32>,
    r: Vec<f32>,
    o2: Vec<f32>,
}

struct Bench {
    batch: usize,
    agents: usize,
    obs: usize,
    act: usize,
    rng: ChaCha8Rng,
}

impl Bench {
    /// Update-steps/s of `nets` over `steps` timed steps after 3 warm-up steps.
    fn rate<N: Net>(&mut self, mut nets: Vec<AgentNets<N>>, d: &Data, steps: usize) -> f64 {
        for _ in 0..3 {
            self.step(&mut nets, d);
        }
        let t0 = Instant::now();
        for _ in 0..steps {
            self.step(&mut nets, d);
        }
        steps as f64 / t0.elapsed().as_secs_f64()
    }

    fn obs_of(&self, o: &[f32], j: usize) -> Vec<f32> {
        let (e, d) = (self.agents, self.obs);
        (0..self.batch).flat_map(|b| o[(b * e + j) * d..(b * e + j + 1) * d].iter().copied()).collect()
    }

    fn joint(&self, o: &[f32], a: &[f32]) -> Vec<f32> {
        let (e, d, k) = (self.agents, self.obs, self.act);
        let mut x = Vec::with_capacity(self.batch * e * (d + k));
        for b in 0..self.batch {
            x.extend_from_slice(&o[b * e * d..(b + 1) * e * d]);
            x.extend_from_slice(&a[b * e * k..(b + 1) * e * k]);
        }
        x
    }

    fn step<N: Net>(&mut self, nets: &mut [AgentNets<N>], data: &Data) {
        let (bn, e, d, k) = (self.batch, self.agents, self.obs, self.act);
        let Data { o, a, r, o2 } = data;
        let mask = vec![true; k];
        // Target actions of every agent on o'.
        let mut a2 = vec![0.0f32; bn * e * k];
        for (j, n) in nets.iter_mut().enumerate() {
            let oj = self.obs_of(o2, j);
            let lg = n.actor.forward(Params::Target, &oj, bn);
            for b in 0..bn {
                masked_softmax(&lg[b * k..(b + 1) * k], &mask, 1.0, &mut a2[(b * e + j) * k..(b * e + j + 1) * k]);
            }
        }
        let x2 = self.joint(o2, &a2);
        let x = self.joint(o, a);
        let xw = e * (d + k);
        let mut dx = Vec::new();
        for (ei, n) in nets.iter_mut().enumerate() {
            // Critic step.
            let q2 = n.critic.forward(Params::Target, &x2, bn);
            let y: Vec<f32> = (0..bn).map(|b| r[b * e + ei] + 0.99 * q2[b]).collect();
            let q = n.critic.forward_traced(&x, bn);
            let dq: Vec<f32> = q.iter().zip(&y).map(|(q, y)| 2.0 * (q - y) / bn as f32).collect();
            n.critic.backward(&x, &dq, true, None, 0..0);
            n.critic.step();
            // Actor step through the critic; each backward pass is of the forward pass traced
            // just before it.
            let oe = self.obs_of(o, ei);
            let logits = n.actor.forward_traced(&oe, bn);
            let mut ysoft = vec![0.0f32; bn * k];
            let mut xa = x.clone();
            let mut z = vec![0.0f32; k];
            for b in 0..bn {
                for (zi, &l) in z.iter_mut().zip(&logits[b * k..(b + 1) * k]) {
                    *zi = l + gumbel(&mut self.rng);
                }
                masked_softmax(&z, &mask, 1.0, &mut ysoft[b * k..(b + 1) * k]);
                let h = masked_argmax(&ysoft[b * k..(b + 1) * k], &mask).unwrap();
                let base = b * xw + e * d + ei * k;
                xa[base..base + k].fill(0.0);
                xa[base + h] = 1.0;
            }
            // Only agent e's action columns of the critic's input gradient are needed.
            let c0 = e * d + ei * k;
            n.critic.forward_traced(&xa, bn);
            n.critic.backward(&xa, &vec![-1.0 / bn as f32; bn], false, Some(&mut dx), c0..c0 + k);
            let mut dl = vec![0.0f32; bn * k];
            for b in 0..bn {
                softmax_backward(&ysoft[b * k..(b + 1) * k], &dx[b * k..(b + 1) * k], 1.0, &mut dl[b * k..(b + 1) * k]);
            }
            n.actor.backward(&oe, &dl, true, None, 0..0);
            n.actor.step();
            n.actor.soft_update(0.01);
            n.critic.soft_update(0.01);
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
