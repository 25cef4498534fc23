//! The dfdx backend of the learners' networks: the same MLP as [`crate::mlp`] (Linear layers,
//! ReLU between them, none after the last unless `relu_last`), built from dfdx 0.13 tensors and
//! differentiated by dfdx's tape, generic over the device `D: Device<f32>`.
//!
//! Selected per learner with [`crate::mlp::Backend::Dfdx`] (`LearnerOptions::backend`), on the
//! run's [`crate::device::Device`] (`--device cpu|cuda[:N]`): dfdx's [`Cpu`], or its `Cuda`
//! device in a build with the crate's `cuda` feature. The gemm backend stays the default because
//! it is faster on the CPU (see `docs/learning.md` for the measured rates).
//!
//! Design (what stays plain, and what it costs):
//! - Parameters, gradients and Adam moments stay flat `Vec<f32>` in [`Mlp`]'s layout (`W_l` row
//!   major `[in x out]`, then `b_l`), so the flat Adam, soft target updates, FedAvg, the joint
//!   record's shared actors and checkpoints work unchanged whatever the backend.
//! - The dfdx network ([`DfdxMlp`]) is built from the flat parameters on every call and dropped
//!   after it. Each RSU's learner is owned by its RSU actor, which tokio may run on any of its
//!   worker threads from one message to the next, so the learner must be `Send`; a `Cuda`
//!   device is neither `Send` nor `Sync` and a gradient tape is not `Send`. The devices are one
//!   per thread (`thread_local!`, created on first use). Cost: a copy (a host-to-device upload
//!   on CUDA) of every parameter per call. Networks resident on the device for the whole run
//!   need the RSU actor pinned to one thread (ractor's thread-local actors) and are not done:
//!   see `docs/learning.md`.
//! - A gradient call traces one forward pass and differentiates that tape
//!   ([`DfdxMlp::forward_backward`], behind `Mlp::forward_backward`: the output's gradient comes
//!   from a closure on the output). [`DfdxMlp::backward`] alone (for `Mlp::backward`) runs the
//!   forward pass again with a tape, since the tape of an earlier call cannot be kept.
//! - Backward injects the upstream gradient `dy` as a dot product: `sum(y ⊙ dy)` has gradient
//!   `dy` with respect to `y`, so dfdx's `backward()` gives exactly the vector-Jacobian products
//!   that [`Mlp::backward`] computes by hand. Only the input carries the tape; dfdx records the
//!   gradients of every tensor an op touches, parameters included.

use crate::device::Device as RunDevice;
use crate::mlp::Mlp;
use dfdx::shapes::{Axis, HasShape};
use dfdx::tensor::Cpu;
use dfdx::tensor::{Gradients, Merge, NoneTape, Tape, Tensor, Trace};
use dfdx::tensor_ops::{Backward, BroadcastTo, Device, SumTo, TryMatMul};

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
pub fn with_cpu<R>(f: impl FnOnce(&Cpu) -> R) -> R {
    CPU.with(f)
}

/// Runs `f` on `device`'s dfdx device (this thread's handle); `f` is generic over the device.
/// Panics for CUDA in a build without the `cuda` feature or a device that does not open: callers
/// check [`RunDevice::check`] at start-up.
fn on_device<R>(device: RunDevice, f: impl DeviceFn<R>) -> R {
    match device {
        RunDevice::Cpu => CPU.with(|d| f.call(d)),
        #[cfg(feature = "cuda")]
        RunDevice::Cuda(n) => {
            open_cuda(n).unwrap_or_else(|e| panic!("CUDA device {n} was checked at start-up: {e}"));
            CUDA.with(|m| f.call(&m.borrow()[&n]))
        }
        #[cfg(not(feature = "cuda"))]
        RunDevice::Cuda(_) => panic!("{}", crate::device::DeviceError::NotBuilt(device)),
    }
}

/// A computation generic over the dfdx device.
trait DeviceFn<R> {
    fn call<D: Device<f32>>(self, dev: &D) -> R;
}

type Mat<D, T = NoneTape> = Tensor<(usize, usize), f32, D, T>;
type Vector<D> = Tensor<(usize,), f32, D>;

/// An MLP as dfdx tensors with runtime shapes (hidden sizes stay configurable).
#[derive(Clone, Debug)]
pub struct DfdxMlp<D: Device<f32>> {
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
    pub fn from_flat(net: &Mlp, p: &[f32], dev: &D) -> Self {
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
    pub fn to_flat(&self) -> Vec<f32> {
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
    pub fn forward(&self, x: &[f32], rows: usize) -> Vec<f32> {
        let i = self.dims[0];
        assert_eq!(x.len(), rows * i, "input is not rows x in");
        if rows == 0 {
            return Vec::new();
        }
        let x = self.dev.tensor_from_vec(x.to_vec(), (rows, i));
        self.run(x).as_vec()
    }

    /// The forward pass on `x` with a tape, then the gradients of `sum(y ⊙ dy_of(y))` on that
    /// same tape: the outputs, the flat parameter gradients and (if `want_dx`) the input
    /// gradient. One forward pass where [`DfdxMlp::forward`] then [`DfdxMlp::backward`] take two.
    pub fn forward_backward(
        &self,
        x: &[f32],
        rows: usize,
        dy_of: impl FnOnce(&[f32]) -> Vec<f32>,
        want_dx: bool,
    ) -> (Vec<f32>, Vec<f32>, Option<Vec<f32>>) {
        let (i, o) = (self.dims[0], *self.dims.last().unwrap());
        assert_eq!(x.len(), rows * i, "input is not rows x in");
        if rows == 0 {
            assert!(dy_of(&[]).is_empty(), "output gradient is not rows x out");
            let n = (0..self.layers()).map(|l| self.dims[l] * self.dims[l + 1] + self.dims[l + 1]).sum();
            return (Vec::new(), vec![0.0; n], want_dx.then(Vec::new));
        }
        let x = self.dev.tensor_from_vec(x.to_vec(), (rows, i));
        let y = self.run(x.trace(Gradients::<f32, D>::leaky()));
        let out = y.as_vec();
        let dy = dy_of(&out);
        assert_eq!(dy.len(), rows * o, "output gradient is not rows x out");
        let up = self.dev.tensor_from_vec(dy, (rows, o));
        let grads = (y * up).sum::<(), _>().backward();
        let mut g = Vec::new();
        for (w, b) in self.weights.iter().zip(&self.biases) {
            g.extend(grads.get(w).as_vec());
            g.extend(grads.get(b).as_vec());
        }
        (out, g, want_dx.then(|| grads.get(&x).as_vec()))
    }

    /// Gradients of `sum(y ⊙ dy)` for the forward pass on `x`: the parameter gradients in the
    /// flat layout and, if `want_dx`, the input gradient `[rows x in]`.
    pub fn backward(&self, x: &[f32], rows: usize, dy: &[f32], want_dx: bool) -> (Vec<f32>, Option<Vec<f32>>) {
        let (_, g, dx) = self.forward_backward(x, rows, |_| dy.to_vec(), want_dx);
        (g, dx)
    }
}

struct Forward<'a> {
    net: &'a Mlp,
    p: &'a [f32],
    x: &'a [f32],
    rows: usize,
}

impl DeviceFn<Vec<f32>> for Forward<'_> {
    fn call<D: Device<f32>>(self, dev: &D) -> Vec<f32> {
        DfdxMlp::from_flat(self.net, self.p, dev).forward(self.x, self.rows)
    }
}

struct BackwardPass<'a> {
    net: &'a Mlp,
    p: &'a [f32],
    x: &'a [f32],
    rows: usize,
    dy: &'a [f32],
    want_dx: bool,
}

impl DeviceFn<(Vec<f32>, Option<Vec<f32>>)> for BackwardPass<'_> {
    fn call<D: Device<f32>>(self, dev: &D) -> (Vec<f32>, Option<Vec<f32>>) {
        DfdxMlp::from_flat(self.net, self.p, dev).backward(self.x, self.rows, self.dy, self.want_dx)
    }
}

struct ForwardBackward<'a, F> {
    net: &'a Mlp,
    p: &'a [f32],
    x: &'a [f32],
    rows: usize,
    dy_of: F,
    want_dx: bool,
}

impl<F: FnOnce(&[f32]) -> Vec<f32>> DeviceFn<(Vec<f32>, Vec<f32>, Option<Vec<f32>>)> for ForwardBackward<'_, F> {
    fn call<D: Device<f32>>(self, dev: &D) -> (Vec<f32>, Vec<f32>, Option<Vec<f32>>) {
        DfdxMlp::from_flat(self.net, self.p, dev).forward_backward(self.x, self.rows, self.dy_of, self.want_dx)
    }
}

/// [`Mlp::forward_backward`] on the network's device: the outputs, the flat parameter
/// gradients of `sum(y ⊙ dy_of(y))` and (if `want_dx`) the input gradient, from one traced
/// forward pass.
pub fn forward_backward_flat(
    net: &Mlp,
    p: &[f32],
    x: &[f32],
    rows: usize,
    dy_of: impl FnOnce(&[f32]) -> Vec<f32>,
    want_dx: bool,
) -> (Vec<f32>, Vec<f32>, Option<Vec<f32>>) {
    on_device(net.device, ForwardBackward { net, p, x, rows, dy_of, want_dx })
}

/// [`Mlp::forward`] on the network's device ([`Mlp::device`]): the outputs `[rows x out]`.
pub fn forward_flat(net: &Mlp, p: &[f32], x: &[f32], rows: usize) -> Vec<f32> {
    on_device(net.device, Forward { net, p, x, rows })
}

/// [`Mlp::backward`] on the network's device: flat parameter gradients and the input gradient.
pub fn backward_flat(
    net: &Mlp,
    p: &[f32],
    x: &[f32],
    rows: usize,
    dy: &[f32],
    want_dx: bool,
) -> (Vec<f32>, Option<Vec<f32>>) {
    on_device(net.device, BackwardPass { net, p, x, rows, dy, want_dx })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::learner::{Kind, LearnerSet};
    use crate::maddpg;
    use crate::mlp::{Acts, Backend};
    use dfdx::tensor::Cpu;
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

    /// Forward outputs, parameter gradients and input gradients of `net` on dfdx device `dev`
    /// against the gemm layers, for random parameters, inputs and upstream gradients.
    fn parity_on<D: Device<f32>>(dev: &D, net: &Mlp, rows: usize, seed: u64) {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let p = net.init(&mut rng);
        let x: Vec<f32> = (0..rows * net.input()).map(|_| rng.gen_range(-1.0..1.0)).collect();
        let dy: Vec<f32> = (0..rows * net.output()).map(|_| rng.gen_range(-1.0..1.0)).collect();
        let mut acts = Acts::default();
        net.forward(&p, &x, rows, &mut acts);
        let mut g = vec![0.0; p.len()];
        let mut dx = Vec::new();
        net.backward(&p, &x, &mut acts, &dy, Some(&mut g), Some(&mut dx));

        let d = DfdxMlp::from_flat(net, &p, dev);
        assert_eq!(d.to_flat(), p, "flat layout round trip");
        let what = format!("{:?} relu_last={} rows={rows}", net.dims, net.relu_last);
        assert_close(&format!("{what} forward"), &d.forward(&x, rows), acts.output(), 1e-4);
        let (gd, dxd) = d.backward(&x, rows, &dy, true);
        assert_close(&format!("{what} parameter gradients"), &gd, &g, 1e-4);
        assert_close(&format!("{what} input gradients"), &dxd.unwrap(), &dx, 1e-4);
    }

    #[test]
    fn dfdx_cpu_matches_the_gemm_layers_on_random_shapes() {
        let dev = Cpu::default();
        let mut rng = ChaCha8Rng::seed_from_u64(11);
        for case in 0..12u64 {
            let layers = rng.gen_range(1..=4);
            let dims: Vec<usize> = (0..=layers).map(|_| rng.gen_range(1..=40)).collect();
            let rows = rng.gen_range(1..=33);
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

    /// Through the [`Mlp`] dispatch, as the learners call it: `Backend::Dfdx` gives the gemm
    /// results (on the default device), including the column-restricted input gradient, the
    /// accumulation into `grad` and zero rows.
    #[test]
    fn the_dfdx_backend_behind_mlp_matches_gemm() {
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        let gemm = Mlp::new(&[9, 16, 12, 3], false);
        let dfdx = gemm.clone().with_backend(Backend::Dfdx);
        let p = gemm.init(&mut rng);
        for rows in [0usize, 1, 7] {
            let x: Vec<f32> = (0..rows * 9).map(|_| rng.gen_range(-1.0..1.0)).collect();
            let dy: Vec<f32> = (0..rows * 3).map(|_| rng.gen_range(-1.0..1.0)).collect();
            let run = |net: &Mlp| {
                let mut a = Acts::default();
                net.forward(&p, &x, rows, &mut a);
                let y = a.output().to_vec();
                let mut g = vec![0.5; p.len()];
                let mut dx = Vec::new();
                net.backward_cols(&p, &x, &mut a, &dy, Some(&mut g), Some(&mut dx), 2, 6);
                (y, g, dx)
            };
            let (yg, gg, dxg) = run(&gemm);
            let (yd, gd, dxd) = run(&dfdx);
            assert_close("forward", &yd, &yg, 1e-4);
            assert_close("parameter gradients", &gd, &gg, 1e-4);
            assert_close("input gradient columns", &dxd, &dxg, 1e-4);
            assert_eq!(dxd.len(), rows * 4);
        }
    }

    /// The fused pass ([`Mlp::forward_backward`]: one traced forward pass, then the backward
    /// pass on its tape, with an output gradient that depends on the output) gives what the gemm
    /// layers' forward then backward give, on both backends, for empty and non-empty inputs.
    #[test]
    fn the_fused_pass_matches_forward_then_backward() {
        let mut rng = ChaCha8Rng::seed_from_u64(8);
        let gemm = Mlp::new(&[6, 11, 9, 2], false);
        let p = gemm.init(&mut rng);
        for rows in [0usize, 1, 5] {
            let x: Vec<f32> = (0..rows * 6).map(|_| rng.gen_range(-1.0..1.0)).collect();
            // A loss of the output: Σ y², so dy = 2y.
            let dy_of = |y: &[f32]| y.iter().map(|v| 2.0 * v).collect::<Vec<f32>>();
            let mut a = Acts::default();
            gemm.forward(&p, &x, rows, &mut a);
            let dy = dy_of(a.output());
            let (y0, mut g0, mut dx0) = (a.output().to_vec(), vec![0.25; p.len()], Vec::new());
            gemm.backward_cols(&p, &x, &mut a, &dy, Some(&mut g0), Some(&mut dx0), 1, 4);
            for net in [gemm.clone(), gemm.clone().with_backend(Backend::Dfdx)] {
                let (mut a, mut g, mut dx) = (Acts::default(), vec![0.25; p.len()], Vec::new());
                net.forward_backward(&p, &x, rows, &mut a, dy_of, Some(&mut g), Some(&mut dx), 1..4);
                let what = format!("{:?} rows={rows}", net.backend);
                if rows > 0 {
                    assert_close(&format!("{what} output"), a.output(), &y0, 1e-5);
                }
                assert_close(&format!("{what} parameter gradients"), &g, &g0, 1e-5);
                assert_close(&format!("{what} input gradient columns"), &dx, &dx0, 1e-5);
                assert_eq!(dx.len(), rows * 3);
            }
        }
    }

    /// The learners with three episodes of data and no updates yet (collected with the gemm
    /// backend, so both backends start from the same state).
    fn collected(kind: Kind) -> LearnerSet {
        crate::tests::collected_set(kind, 3)
    }

    fn set_backend(set: &mut LearnerSet, backend: Backend) {
        set.learners_mut().iter_mut().for_each(|l| l.opts.backend = backend);
    }

    #[test]
    fn a_dfdx_critic_step_lowers_the_critic_loss_on_a_fixed_batch() {
        for kind in Kind::ALL {
            let mut set = collected(kind);
            set_backend(&mut set, Backend::Dfdx);
            let st = &mut set.learners_mut()[0];
            let mb = st.test_minibatch().expect("enough data for a minibatch");
            let y = maddpg::targets(st, &mb, None);
            let before = maddpg::critic_step(st, &mb, &y);
            let after = maddpg::critic_step(st, &mb, &y);
            assert!(after < before, "{}: critic loss {before} -> {after}", kind.name());
        }
    }

    /// Full update steps (targets, critic step, actor step, soft target updates) of every agent
    /// from one state, once through gemm and once through dfdx on `device`: the parameters stay
    /// equal up to float rounding. (Adam divides by the gradients' running RMS, so a
    /// rounding-level difference in a near-zero gradient can move a weight by a fraction of the
    /// learning rate; hence an absolute tolerance well below the learning rate rather than bit
    /// equality.)
    fn learners_train_the_same(device: RunDevice) {
        for kind in Kind::ALL {
            let gemm = collected(kind);
            let start: Vec<Vec<f32>> = gemm.learners().iter().map(|l| l.agent.actor.clone()).collect();
            let mut a = gemm.clone();
            let mut b = gemm;
            set_backend(&mut b, Backend::Dfdx);
            b.set_device(device);
            for _ in 0..3 {
                for (x, y) in a.learners_mut().iter_mut().zip(b.learners_mut()) {
                    // An agent whose buffer holds too few decisions skips its update on both.
                    assert_eq!(x.update(), y.update());
                }
            }
            for (e, (x, y)) in a.learners().iter().zip(b.learners()).enumerate() {
                let (x, y) = (&x.agent, &y.agent);
                assert_eq!(x.updates, y.updates);
                let what = |n: &str| format!("{} agent {e} {n} on {device}", kind.name());
                assert_close(&what("critic loss"), &[x.last_critic_loss], &[y.last_critic_loss], 1e-3);
                assert_close(&what("actor loss"), &[x.last_actor_loss], &[y.last_actor_loss], 1e-3);
                assert_close(&what("actor"), &x.actor, &y.actor, 2e-5);
                assert_close(&what("critic"), &x.critic, &y.critic, 2e-5);
                assert_close(&what("actor target"), &x.actor_target, &y.actor_target, 2e-5);
                assert_close(&what("critic target"), &x.critic_target, &y.critic_target, 2e-5);
                if e == 0 {
                    assert_eq!(x.updates, 3, "{}: agent 0 has data", kind.name());
                    assert_ne!(x.actor, start[e], "{}: the actor trained", kind.name());
                }
            }
        }
    }

    #[test]
    fn learners_train_the_same_through_dfdx_and_gemm() {
        learners_train_the_same(RunDevice::Cpu);
    }

    /// The learners' parity on the GPU (only with the `cuda` feature, on a machine with CUDA;
    /// `scripts/gpu-check.sh` runs it).
    #[cfg(feature = "cuda")]
    #[test]
    fn learners_train_the_same_on_cuda_and_gemm() {
        learners_train_the_same(RunDevice::Cuda(0));
    }
}
