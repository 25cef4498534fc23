//! The dfdx backend of the learners' networks: the same MLP as [`crate::mlp`] (Linear layers,
//! ReLU between them, none after the last unless `relu_last`), built from dfdx 0.13 tensors and
//! differentiated by dfdx's tape, generic over the device `D: Device<f32>`.
//!
//! Selected per learner with [`crate::net::Backend::Dfdx`] (`LearnerOptions::backend`), on the
//! run's [`crate::device::Device`] (`--device cpu|cuda[:N]`): dfdx's [`Cpu`], or its `Cuda`
//! device in a build with the crate's `cuda` feature. The gemm backend stays the default because
//! it is faster on the CPU (see `docs/learning.md` for the measured rates).
//!
//! The network ([`ResidentMlp`], the [`Net`] implementation the learners' dfdx working form and
//! the update-step benchmark use), its target and its Adam moments are built on the device once
//! (per RSU per episode) and stay there; a gradient pass traces one forward pass, keeps its tape
//! and differentiates it when the output's gradient is known; Adam (dfdx's kernel) and the soft
//! target updates (`axpy`) run on the device in place. Flat parameters cross to or from the
//! device only when they are asked for (see `crate::resident`). A dfdx `Cuda` device is neither
//! `Send` nor `Sync` and a tape is not `Send`, so a resident network stays on the thread that
//! built it: the actor engine pins each RSU's actor to one thread. The device handles are one
//! per thread (`thread_local!`, created on first use).
//!
//! Backward injects the upstream gradient `dy` as a dot product: `sum(y ⊙ dy)` has gradient `dy`
//! with respect to `y`, so dfdx's `backward()` gives exactly the vector-Jacobian products that
//! [`Mlp::backward`] computes by hand. Only the input carries the tape; dfdx records the
//! gradients of every tensor an op touches, parameters included.

use crate::adam::Adam;
use crate::mlp::Mlp;
use crate::net::{Net, Params};
use dfdx::shapes::{Axis, HasShape, Shape};
use dfdx::tensor::Cpu;
use dfdx::tensor::{Gradients, Merge, NoneTape, OwnedTape, Tape, Tensor, Trace};
use dfdx::tensor_ops::{AdamConfig, Backward, BroadcastTo, Device, SumTo, TryMatMul};
use std::ops::Range;

thread_local! {
    /// One dfdx `Cpu` per thread, created on first use.
    static CPU: Cpu = Cpu::default();
}

#[cfg(feature = "cuda")]
thread_local! {
    /// One dfdx `Cuda` per (thread, ordinal), created on first use: a `Cuda` device is neither
    /// `Send` nor `Sync`, so it cannot be shared between the threads that run RSU actors.
    static CUDA: std::cell::RefCell<std::collections::BTreeMap<usize, dfdx::tensor::Cuda>> =
        std::cell::RefCell::new(std::collections::BTreeMap::new());
}

/// Opens (or reuses) this thread's handle on CUDA device `ordinal`.
#[cfg(feature = "cuda")]
pub(crate) fn open_cuda(ordinal: usize) -> Result<(), String> {
    CUDA.with(|m| {
        let mut m = m.borrow_mut();
        if !m.contains_key(&ordinal) {
            let dev = dfdx::tensor::Cuda::try_build(ordinal, 0).map_err(|e| format!("{e:?}"))?;
            m.insert(ordinal, dev);
        }
        Ok(())
    })
}

/// Runs `f` with this thread's dfdx `Cpu`.
pub(crate) fn with_cpu<R>(f: impl FnOnce(&Cpu) -> R) -> R {
    CPU.with(f)
}

/// This thread's handle on CUDA device `ordinal` (a resident network keeps a clone; it and the
/// network stay on this thread). Panics when the device does not open: the trainer and the CLI check
/// it at start-up ([`crate::device::Device::check`]).
#[cfg(feature = "cuda")]
pub(crate) fn cuda_handle(ordinal: usize) -> dfdx::tensor::Cuda {
    open_cuda(ordinal).unwrap_or_else(|e| panic!("CUDA device {ordinal} was checked at start-up: {e}"));
    CUDA.with(|m| m.borrow()[&ordinal].clone())
}

type Mat<D, T = NoneTape> = Tensor<(usize, usize), f32, D, T>;
type Vector<D> = Tensor<(usize,), f32, D>;

/// An MLP as dfdx tensors with runtime shapes (hidden sizes stay configurable).
#[derive(Clone, Debug)]
pub(crate) struct DfdxMlp<D: Device<f32>> {
    dims: Vec<usize>,
    relu_last: bool,
    /// `W_l` as `[dims[l] x dims[l+1]]`.
    pub weights: Vec<Mat<D>>,
    /// `b_l` as `[dims[l+1]]`.
    pub biases: Vec<Vector<D>>,
    dev: D,
}

impl<D: Device<f32>> DfdxMlp<D> {
    /// The network `net` with the flat parameters `p` ([`Mlp`]'s layout), on `dev`.
    pub(crate) fn from_flat(net: &Mlp, p: &[f32], dev: &D) -> Self {
        assert_eq!(p.len(), net.num_params(), "parameter vector does not fit the network");
        let mut weights = Vec::with_capacity(net.layers());
        let mut biases = Vec::with_capacity(net.layers());
        let mut off = 0;
        for l in 0..net.layers() {
            let (i, o) = (net.dims[l], net.dims[l + 1]);
            weights.push(dev.tensor_from_vec(p[off..off + i * o].to_vec(), (i, o)));
            off += i * o;
            biases.push(dev.tensor_from_vec(p[off..off + o].to_vec(), (o,)));
            off += o;
        }
        DfdxMlp { dims: net.dims.clone(), relu_last: net.relu_last, weights, biases, dev: dev.clone() }
    }

    /// The parameters back in [`Mlp`]'s flat layout.
    pub(crate) fn to_flat(&self) -> Vec<f32> {
        let mut p = Vec::new();
        for (w, b) in self.weights.iter().zip(&self.biases) {
            p.extend(w.as_vec());
            p.extend(b.as_vec());
        }
        p
    }

    fn layers(&self) -> usize {
        self.dims.len() - 1
    }

    /// `Z_l = X·W_l + b_l` with ReLU on every layer but the last (unless `relu_last`), with or
    /// without a tape on `x`.
    fn run<T: Tape<f32, D> + Merge<NoneTape>>(&self, x: Mat<D, T>) -> Mat<D, T> {
        let mut h = x;
        for l in 0..self.layers() {
            let z = h.matmul(self.weights[l].clone());
            let b = self.biases[l].clone().broadcast_like::<_, Axis<0>>(z.shape());
            let z = z + b;
            h = if l + 1 < self.layers() || self.relu_last { z.relu() } else { z };
        }
        h
    }

    /// Outputs `[rows x out]` of the rows `x [rows x in]`, row major.
    pub(crate) fn forward(&self, x: &[f32], rows: usize) -> Vec<f32> {
        let i = self.dims[0];
        assert_eq!(x.len(), rows * i, "input is not rows x in");
        if rows == 0 {
            return Vec::new();
        }
        let x = self.dev.tensor_from_vec(x.to_vec(), (rows, i));
        self.run(x).as_vec()
    }
}

/// The tape of a traced forward pass: its input (a leaf, whose gradient is the input gradient)
/// and its output, which still carries the tape.
struct Traced<D: Device<f32>> {
    x: Mat<D>,
    y: Mat<D, OwnedTape<f32, D>>,
}

/// One network resident on a dfdx device for as long as it lives (an RSU's episode): online
/// and target parameters and the Adam moments as device tensors, built once from the flat
/// parameters and copied back only when flat parameters are asked for ([`ResidentMlp::params`],
/// [`ResidentMlp::adam`]). The backward pass differentiates the tape of the last traced forward
/// pass; Adam is dfdx's own kernel (`AdamConfig::try_update`, the update rule of `dfdx::optim::Adam`),
/// soft target updates are dfdx's `axpy`, both in place on the device.
///
/// Why not `dfdx::optim::Adam` itself: its moments and step count are private, so a checkpoint
/// could neither save nor restore them. The moments live where that optimiser keeps them (a
/// [`Gradients`] keyed by the parameter tensors), written once from the flat state.
pub struct ResidentMlp<D: Device<f32>> {
    shape: Mlp,
    online: DfdxMlp<D>,
    target: DfdxMlp<D>,
    cfg: AdamConfig,
    adam: Adam,
    t: u64,
    m: Gradients<f32, D>,
    v: Gradients<f32, D>,
    traced: Option<Traced<D>>,
    grads: Option<Gradients<f32, D>>,
    uploads: u64,
    given: u64,
}

/// Gradients whose entry for each parameter tensor of `net` is the matching part of `vals`
/// (the flat layout). dfdx offers no way to write a gradient buffer, so each entry is made by
/// differentiating `sum(w ⊙ c)` with `c` the wanted values: its gradient is exactly `1·c`.
fn gradients_equal_to<D: Device<f32>>(net: &DfdxMlp<D>, vals: &[f32]) -> Gradients<f32, D> {
    fn put<S: Shape, D: Device<f32>>(
        g: Gradients<f32, D>,
        w: &Tensor<S, f32, D>,
        vals: &[f32],
        dev: &D,
    ) -> Gradients<f32, D> {
        let c = dev.tensor_from_vec(vals.to_vec(), *w.shape());
        (w.clone().traced(g) * c).sum::<(), _>().backward()
    }
    assert_eq!(vals.len(), net.num_params(), "moments do not fit the network");
    let mut g = Gradients::leaky();
    let mut off = 0;
    for (w, b) in net.weights.iter().zip(&net.biases) {
        let (nw, nb) = (w.shape().num_elements(), b.shape().num_elements());
        g = put(g, w, &vals[off..off + nw], &net.dev);
        g = put(g, b, &vals[off + nw..off + nw + nb], &net.dev);
        off += nw + nb;
    }
    g
}

impl<D: Device<f32>> DfdxMlp<D> {
    fn num_params(&self) -> usize {
        (0..self.layers()).map(|l| self.dims[l] * self.dims[l + 1] + self.dims[l + 1]).sum()
    }

    /// Overwrites the parameters in place with the flat `p` (no new tensors).
    fn copy_from_flat(&mut self, p: &[f32]) {
        assert_eq!(p.len(), self.num_params(), "parameter vector does not fit the network");
        let mut off = 0;
        for (w, b) in self.weights.iter_mut().zip(self.biases.iter_mut()) {
            let (nw, nb) = (w.shape().num_elements(), b.shape().num_elements());
            w.copy_from(&p[off..off + nw]);
            b.copy_from(&p[off + nw..off + nw + nb]);
            off += nw + nb;
        }
    }

    /// The flat values of `g`'s entries for this network's parameters (zeros where none).
    fn flat_of(&self, g: &mut Gradients<f32, D>) -> Vec<f32> {
        let mut out = Vec::with_capacity(self.num_params());
        for (w, b) in self.weights.iter().zip(&self.biases) {
            g.get_or_alloc_mut(w).expect("dfdx: allocate a moment");
            out.extend(g.get(w).as_vec());
            g.get_or_alloc_mut(b).expect("dfdx: allocate a moment");
            out.extend(g.get(b).as_vec());
        }
        out
    }
}

/// dfdx's Adam kernel on one parameter tensor, with its moments in `m`, `v` and its gradient in
/// `g` (zero where the pass did not reach it, as the flat optimiser's zero-filled buffer).
fn adam_tensor<S: Shape, D: Device<f32>>(
    cfg: &AdamConfig,
    t: i32,
    p: &mut Tensor<S, f32, D>,
    m: &mut Gradients<f32, D>,
    v: &mut Gradients<f32, D>,
    g: &mut Gradients<f32, D>,
) {
    let gp = g.get_or_alloc_mut(&*p).expect("dfdx: allocate a gradient");
    let mp = m.get_or_alloc_mut(&*p).expect("dfdx: allocate a moment");
    let vp = v.get_or_alloc_mut(&*p).expect("dfdx: allocate a moment");
    cfg.try_update(t, p, mp, vp, gp).expect("dfdx: Adam step");
}

impl<D: Device<f32>> ResidentMlp<D> {
    /// `shape` with online parameters `p`, target parameters `target` and the optimiser state
    /// `opt` (all in the flat layout), resident on `dev` from now on.
    pub fn new(shape: &Mlp, p: &[f32], target: &[f32], opt: &Adam, dev: &D) -> ResidentMlp<D> {
        let online = DfdxMlp::from_flat(shape, p, dev);
        let target = DfdxMlp::from_flat(shape, target, dev);
        let (m, v) = opt.moments();
        let cfg = AdamConfig {
            lr: opt.lr as f64,
            betas: [opt.beta1 as f64, opt.beta2 as f64],
            eps: opt.eps as f64,
            weight_decay: None,
        };
        ResidentMlp {
            m: gradients_equal_to(&online, m),
            v: gradients_equal_to(&online, v),
            shape: shape.clone(),
            online,
            target,
            cfg,
            adam: opt.with_state(0, Vec::new(), Vec::new()),
            t: opt.t,
            traced: None,
            grads: None,
            uploads: 2,
            given: 0,
        }
    }

    /// The network's shape.
    pub fn shape(&self) -> &Mlp {
        &self.shape
    }

    /// The optimiser state, flat (copied off the device).
    pub fn adam(&mut self) -> Adam {
        let m = self.online.flat_of(&mut self.m);
        let v = self.online.flat_of(&mut self.v);
        self.adam.with_state(self.t, m, v)
    }

    /// Full parameter sets copied onto the device for this network's own parameters: 2 when
    /// built (online, target), 1 more per [`Net::set_params`]; never per pass.
    pub fn uploads(&self) -> u64 {
        self.uploads
    }

    /// Networks built for passes with given parameters ([`Params::Given`]: other RSUs' actors).
    pub fn given_builds(&self) -> u64 {
        self.given
    }
}

impl<D: Device<f32>> Net for ResidentMlp<D> {
    fn num_params(&self) -> usize {
        self.shape.num_params()
    }

    fn params(&self) -> Vec<f32> {
        self.online.to_flat()
    }

    fn target_params(&self) -> Vec<f32> {
        self.target.to_flat()
    }

    /// In place on the device (no new tensors); counted as an upload.
    fn set_params(&mut self, p: &[f32]) {
        self.online.copy_from_flat(p);
        self.uploads += 1;
    }

    fn forward(&mut self, which: Params<'_>, x: &[f32], rows: usize) -> Vec<f32> {
        match which {
            Params::Online => self.online.forward(x, rows),
            Params::Target => self.target.forward(x, rows),
            Params::Given(p) => {
                self.given += 1;
                DfdxMlp::from_flat(&self.shape, p, &self.online.dev).forward(x, rows)
            }
        }
    }

    fn forward_traced(&mut self, x: &[f32], rows: usize) -> Vec<f32> {
        let i = self.shape.input();
        assert_eq!(x.len(), rows * i, "input is not rows x in");
        self.grads = None;
        if rows == 0 {
            self.traced = None;
            return Vec::new();
        }
        let xt = self.online.dev.tensor_from_vec(x.to_vec(), (rows, i));
        let y = self.online.run(xt.trace(Gradients::leaky()));
        let out = y.as_vec();
        self.traced = Some(Traced { x: xt, y });
        out
    }

    fn backward(&mut self, x: &[f32], dy: &[f32], params: bool, dx: Option<&mut Vec<f32>>, cols: Range<usize>) {
        let (i, o) = (self.shape.input(), self.shape.output());
        let rows = x.len() / i;
        assert_eq!(dy.len(), rows * o, "output gradient is not rows x out");
        let Some(Traced { x: xt, y }) = self.traced.take() else {
            // No rows: no gradient (the step then sees zeros, as the flat optimiser does).
            if let Some(dx) = dx {
                dx.clear();
            }
            self.grads = None;
            return;
        };
        let up = self.online.dev.tensor_from_vec(dy.to_vec(), (rows, o));
        let grads = (y * up).sum::<(), _>().backward();
        if let Some(dx) = dx {
            let full = grads.get(&xt).as_vec();
            dx.clear();
            if cols == (0..i) {
                dx.extend(full);
            } else {
                for r in 0..rows {
                    dx.extend_from_slice(&full[r * i + cols.start..r * i + cols.end]);
                }
            }
        }
        self.grads = params.then_some(grads);
    }

    fn step(&mut self) {
        let mut g = self.grads.take().unwrap_or_else(Gradients::leaky);
        self.t += 1;
        let t = self.t.min(i32::MAX as u64) as i32;
        let ResidentMlp { cfg, online, m, v, .. } = self;
        for (w, b) in online.weights.iter_mut().zip(online.biases.iter_mut()) {
            adam_tensor(cfg, t, w, m, v, &mut g);
            adam_tensor(cfg, t, b, m, v, &mut g);
        }
    }

    fn soft_update(&mut self, tau: f32) {
        // `t·(1 − τ) + o·τ`: the flat update's products and sum, in f32, in the other order
        // (exact: both are commutative), so the resident targets equal the flat ones.
        let keep = 1.0f32 - tau;
        let ResidentMlp { online, target, .. } = self;
        for (t, o) in target.weights.iter_mut().zip(&online.weights) {
            t.axpy(keep as f64, o, tau as f64);
        }
        for (t, o) in target.biases.iter_mut().zip(&online.biases) {
            t.axpy(keep as f64, o, tau as f64);
        }
    }
}

impl<D: Device<f32>> ResidentMlp<D> {
    /// The parameter gradient of the last [`Net::backward`], flat (zeros where none).
    #[cfg(test)]
    fn last_grad(&mut self) -> Vec<f32> {
        match self.grads.take() {
            Some(mut g) => {
                let flat = self.online.flat_of(&mut g);
                self.grads = Some(g);
                flat
            }
            None => vec![0.0; self.shape.num_params()],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::device::Device as RunDevice;
    use crate::learner::Kind;
    use crate::net::{Backend, FlatNet};
    use crate::rsu::RsuLearner;
    use crate::set::LearnerSet;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    /// `|a − b| ≤ tol · max(1, |a|, |b|)` element-wise, with the worst ratio in the message.
    fn assert_close(what: &str, a: &[f32], b: &[f32], tol: f32) {
        assert_eq!(a.len(), b.len(), "{what}: lengths differ");
        let mut worst = (0.0f32, 0);
        for (k, (&x, &y)) in a.iter().zip(b).enumerate() {
            let r = (x - y).abs() / x.abs().max(y.abs()).max(1.0);
            if r > worst.0 {
                worst = (r, k);
            }
        }
        let k = worst.1;
        assert!(worst.0 <= tol, "{what}: element {k}: {} vs {} (relative {})", a[k], b[k], worst.0);
    }

    /// The two [`Net`]s on one network: forward outputs, parameter gradients and input gradients
    /// (all columns, then a column range) of the [`ResidentMlp`] on dfdx device `dev` against
    /// the [`FlatNet`], for random parameters, inputs and upstream gradients. (Steps and soft
    /// updates: `learners_train_the_same_through_dfdx_and_gemm`.)
    fn parity_on<D: Device<f32>>(dev: &D, net: &Mlp, rows: usize, seed: u64) {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let p = net.init(&mut rng);
        let x: Vec<f32> = (0..rows * net.input()).map(|_| rng.gen_range(-1.0..1.0)).collect();
        let dy: Vec<f32> = (0..rows * net.output()).map(|_| rng.gen_range(-1.0..1.0)).collect();
        let (i, c0) = (net.input(), net.input() / 3);
        let mut flat = FlatNet::fresh(net.clone(), p.clone(), 1e-3);
        let mut res = ResidentMlp::new(net, &p, &p, &flat.opt, dev);
        assert_eq!(res.params(), p, "flat layout round trip");
        let what = format!("{:?} relu_last={} rows={rows}", net.dims, net.relu_last);
        let y = flat.forward_traced(&x, rows);
        assert_close(&format!("{what} forward"), &res.forward_traced(&x, rows), &y, 1e-4);
        assert_close(&format!("{what} forward (target)"), &res.forward(Params::Target, &x, rows), &y, 1e-4);
        let (mut dx, mut dxd) = (Vec::new(), Vec::new());
        flat.backward(&x, &dy, false, Some(&mut dx), c0..i);
        res.backward(&x, &dy, false, Some(&mut dxd), c0..i);
        assert_close(&format!("{what} input gradient columns"), &dxd, &dx, 1e-4);
        assert_eq!(dx.len(), rows * (i - c0));
        flat.forward_traced(&x, rows);
        res.forward_traced(&x, rows);
        flat.backward(&x, &dy, true, Some(&mut dx), 0..i);
        res.backward(&x, &dy, true, Some(&mut dxd), 0..i);
        assert_close(&format!("{what} input gradients"), &dxd, &dx, 1e-4);
        assert_close(&format!("{what} parameter gradients"), &res.last_grad(), &flat.grad, 1e-4);
    }

    #[test]
    fn dfdx_cpu_matches_the_gemm_layers_on_random_shapes() {
        let dev = Cpu::default();
        let mut rng = ChaCha8Rng::seed_from_u64(11);
        for case in 0..12u64 {
            let layers = rng.gen_range(1..=4);
            let dims: Vec<usize> = (0..=layers).map(|_| rng.gen_range(1..=40)).collect();
            let rows = rng.gen_range(0..=33);
            parity_on(&dev, &Mlp::new(&dims, case % 3 == 0), rows, 100 + case);
        }
        // The learners' widths (critic φ input, 512-wide layers) on a few rows.
        parity_on(&dev, &Mlp::new(&[43, 512, 256, 1], false), 9, 7);
    }

    /// The same parity on the GPU (only with the `cuda` feature, on a machine with CUDA).
    #[cfg(feature = "cuda")]
    #[test]
    fn dfdx_cuda_matches_the_gemm_layers() {
        let dev = dfdx::tensor::Cuda::default();
        parity_on(&dev, &Mlp::new(&[5, 7, 6, 3], false), 4, 1);
        parity_on(&dev, &Mlp::new(&[43, 512, 256, 1], false), 33, 2);
        parity_on(&dev, &Mlp::new(&[64, 256, 256, 256, 72], true), 256, 3);
    }

    /// The learners with three episodes of data and no updates yet (collected with the gemm
    /// backend, so both backends start from the same state).
    fn collected(kind: Kind) -> LearnerSet {
        crate::tests::collected_set(kind, 3)
    }

    #[test]
    fn a_dfdx_critic_step_lowers_the_critic_loss_on_a_fixed_batch() {
        for kind in Kind::ALL {
            let mut set = collected(kind);
            let st = &mut set.learners_mut()[0];
            st.opts.backend = Backend::Dfdx;
            let mb = st.test_minibatch().expect("enough data for a minibatch");
            let mut st = st.clone().resident_on(&Cpu::default());
            let y = st.targets(&mb, None);
            let before = st.critic_step(&mb, &y);
            let after = st.critic_step(&mb, &y);
            assert!(after < before, "{}: critic loss {before} -> {after}", kind.name());
        }
    }

    /// Full update steps (targets, critic step, actor step, soft target updates) of every agent
    /// from one state, once through the gemm layers and once with the networks resident on
    /// dfdx device `dev` (the dfdx working form the engines use), copied back to flat vectors
    /// at the end: the parameters stay equal up to float rounding. (Adam divides by the
    /// gradients' running RMS, so a rounding-level difference in a near-zero gradient can move a
    /// weight by a fraction of the learning rate; hence an absolute tolerance well below the
    /// learning rate rather than bit equality.) The resident networks are built once: no
    /// parameter upload per pass.
    fn learners_train_the_same_on<D: Device<f32>>(dev: &D, device: RunDevice) {
        for kind in Kind::ALL {
            let gemm = collected(kind);
            let start: Vec<Vec<f32>> = gemm.learners().iter().map(|l| l.agent.actor().to_vec()).collect();
            let mut a = gemm.clone();
            let mut b = gemm;
            b.set_device(device);
            b.learners_mut().iter_mut().for_each(|l| l.opts.backend = Backend::Dfdx);
            let mut resident: Vec<_> = b.learners().iter().map(|l| l.clone().resident_on(dev)).collect();
            for _ in 0..3 {
                for (x, y) in a.learners_mut().iter_mut().zip(&mut resident) {
                    // An agent whose buffer holds too few decisions skips its update on both.
                    assert_eq!(x.update(), y.update());
                }
            }
            for r in &resident {
                assert_eq!(r.uploads(), 6, "actor, φ and ρ, online and target, built once");
            }
            let b: Vec<RsuLearner> = resident.into_iter().map(|r| r.into_flat()).collect();
            for (e, (x, y)) in a.learners().iter().zip(&b).enumerate() {
                let (x, y) = (&x.agent, &y.agent);
                assert_eq!(x.updates, y.updates);
                let what = |n: &str| format!("{} agent {e} {n} on {device}", kind.name());
                assert_close(&what("critic loss"), &[x.last_critic_loss], &[y.last_critic_loss], 1e-3);
                assert_close(&what("actor loss"), &[x.last_actor_loss], &[y.last_actor_loss], 1e-3);
                assert_close(&what("actor"), x.actor(), y.actor(), 2e-5);
                assert_close(&what("critic"), &x.critic(), &y.critic(), 2e-5);
                assert_close(&what("actor target"), x.actor_target(), y.actor_target(), 2e-5);
                assert_close(&what("critic target"), &x.critic_target(), &y.critic_target(), 2e-5);
                assert_eq!((x.actor_opt().t, x.critic_opt().t), (y.actor_opt().t, y.critic_opt().t));
                assert_close(&what("actor Adam m"), x.actor_opt().moments().0, y.actor_opt().moments().0, 2e-5);
                assert_close(&what("critic Adam v"), x.critic_opt().moments().1, y.critic_opt().moments().1, 2e-5);
                if e == 0 {
                    assert_eq!(x.updates, 3, "{}: agent 0 has data", kind.name());
                    assert_ne!(x.actor(), &start[e][..], "{}: the actor trained", kind.name());
                }
            }
        }
    }

    fn learners_train_the_same(device: RunDevice) {
        match device {
            RunDevice::Cpu => learners_train_the_same_on(&Cpu::default(), device),
            #[cfg(feature = "cuda")]
            RunDevice::Cuda(n) => learners_train_the_same_on(&cuda_handle(n), device),
            #[cfg(not(feature = "cuda"))]
            RunDevice::Cuda(_) => unreachable!("CUDA tests need the cuda feature"),
        }
    }

    #[test]
    fn learners_train_the_same_through_dfdx_and_gemm() {
        learners_train_the_same(RunDevice::Cpu);
    }

    /// Resident → flat is exact: a learner (with trained Adam moments) made resident and copied
    /// straight back is the same learner, bit for bit; a FedAvg import is written onto the
    /// device in place (one more upload) and read back exactly.
    #[test]
    fn resident_networks_round_trip_to_the_flat_form_exactly() {
        round_trip_on(&Cpu::default());
    }

    /// The same round trip on the GPU (only with the `cuda` feature, on a machine with CUDA).
    #[cfg(feature = "cuda")]
    #[test]
    fn resident_networks_round_trip_on_cuda() {
        round_trip_on(&cuda_handle(0));
    }

    fn round_trip_on<D: Device<f32>>(dev: &D) {
        use vecsim_core::policy::Working;
        for kind in Kind::ALL {
            let mut set = collected(kind);
            let l = &mut set.learners_mut()[0];
            l.cfg.fed_mix = 1.0; // the paper's round: the import replaces the actor
            assert!(l.update() && l.update(), "{}: updates on the flat form", kind.name());
            let flat = l.clone();
            let back = flat.clone().resident_on(dev).into_flat();
            assert_eq!(back.agent, flat.agent, "{}: round trip", kind.name());
            let mut r = flat.clone().resident_on(dev);
            let avg: Vec<f32> = flat.agent.actor().iter().map(|w| w * 0.5 + 0.125).collect();
            r.import_params(&avg);
            if kind.federated() {
                assert_eq!(r.uploads(), 7);
                let (_, got) = r.export_params().expect("fed-maddpg exports");
                assert_eq!(got, avg);
                assert_eq!(r.into_flat().agent.actor(), &avg[..]);
            } else {
                assert_eq!(r.uploads(), 6);
                assert_eq!(r.into_flat().agent.actor(), flat.agent.actor(), "only fed-maddpg imports");
            }
        }
    }

    /// The learners' parity on the GPU (only with the `cuda` feature, on a machine with CUDA;
    /// `scripts/gpu-check.sh` runs it).
    #[cfg(feature = "cuda")]
    #[test]
    fn learners_train_the_same_on_cuda_and_gemm() {
        learners_train_the_same(RunDevice::Cuda(0));
    }
}
