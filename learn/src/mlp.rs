//! The learners' multilayer perceptron: f32, row-major, parameters in one flat vector.
//!
//! Why not dfdx's modules for the hot path: an anchor-shaped MADDPG update built from dfdx 0.13
//! CPU ops ran at about 0.43x PyTorch on this 2-core machine (allocation per op, unfused bias and
//! ReLU, a tape per call, and an optimiser that is not `Send`). This layer does the same
//! mathematics with the `gemm` crate (the kernel dfdx itself calls), bias+ReLU fused into one
//! pass, reusable activation buffers and gradients written in place, so the learners' parameters,
//! gradients and Adam moments are plain `Vec<f32>` — trivially `Send`, checkpointable and
//! federated-averaged without conversion. Gradients are checked against finite differences in
//! the tests. Trade-off: these layers run on the CPU only; [`crate::net::Backend::Dfdx`] runs
//! the same network through dfdx instead ([`crate::dfdx_backend`]), in the same flat layout.
//!
//! Layout: layer `l` maps `dims[l]` inputs to `dims[l+1]` outputs with `W_l` stored row-major as
//! `[dims[l] x dims[l+1]]` followed by `b_l`, so `Z = X·W + b` on row-major `X [rows x in]`.
//! Hidden layers use ReLU; the last layer is linear unless `relu_last`.

use rand::Rng;

/// `dst[m x n] (+)= lhs[m x k] · rhs[k x n]`, each operand given by (pointer, row stride,
/// column stride) in elements. `accumulate` adds to `dst` instead of overwriting it. Large
/// products use up to `threads` threads; the result does not depend on it: `gemm` splits the
/// output, never the reduction, so every element is summed in the same order.
#[allow(clippy::too_many_arguments)]
pub(crate) fn matmul(
    m: usize,
    n: usize,
    k: usize,
    dst: &mut [f32],
    dst_rs: usize,
    lhs: &[f32],
    lhs_rs: usize,
    lhs_cs: usize,
    rhs: &[f32],
    rhs_rs: usize,
    rhs_cs: usize,
    accumulate: bool,
    threads: usize,
) {
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        if !accumulate {
            for r in 0..m {
                dst[r * dst_rs..r * dst_rs + n].fill(0.0);
            }
        }
        return;
    }
    // Bounds: the furthest element each operand touches must be inside its slice.
    assert!((m - 1) * dst_rs + n <= dst.len(), "matmul: dst too small");
    assert!((m - 1) * lhs_rs + (k - 1) * lhs_cs < lhs.len(), "matmul: lhs too small");
    assert!((k - 1) * rhs_rs + (n - 1) * rhs_cs < rhs.len(), "matmul: rhs too small");
    let par =
        if threads > 1 && m * n * k >= 1 << 18 { gemm::Parallelism::Rayon(threads) } else { gemm::Parallelism::None };
    // SAFETY: the asserts above keep every access inside the slices; dst does not alias inputs
    // (it is a distinct &mut).
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst.as_mut_ptr(),
            1,
            dst_rs as isize,
            accumulate,
            lhs.as_ptr(),
            lhs_cs as isize,
            lhs_rs as isize,
            rhs.as_ptr(),
            rhs_cs as isize,
            rhs_rs as isize,
            1.0,
            1.0,
            false,
            false,
            false,
            par,
        );
    }
}

/// Shape of an MLP. The parameters live elsewhere, as a flat `[f32]` of [`Mlp::num_params`].
#[derive(Clone, Debug)]
pub struct Mlp {
    /// Layer widths: input, hidden layers, output (at least two entries).
    pub dims: Vec<usize>,
    /// Whether the last layer is followed by a ReLU too (hidden layers always are).
    pub relu_last: bool,
    /// Threads its large matrix products may use ([`matmul`]): how it runs, not what it
    /// computes (not compared, not saved).
    pub threads: usize,
}

/// The same network: the same widths and final ReLU, whatever the threads.
impl PartialEq for Mlp {
    fn eq(&self, o: &Mlp) -> bool {
        self.dims == o.dims && self.relu_last == o.relu_last
    }
}

/// Activations of one forward pass, kept for the backward pass. Reused across calls to avoid
/// allocation: buffers only grow.
#[derive(Clone, Debug, Default)]
pub struct Acts {
    rows: usize,
    /// Output of each layer (post-activation), `[rows x dims[l+1]]`.
    pub out: Vec<Vec<f32>>,
    /// Scratch for gradients flowing backwards.
    g0: Vec<f32>,
    g1: Vec<f32>,
}

impl Acts {
    /// The network output `[rows x dims.last()]`.
    pub fn output(&self) -> &[f32] {
        let last = self.out.last().expect("forward ran");
        &last[..]
    }

    /// Number of input rows of the forward pass these activations hold.
    pub fn rows(&self) -> usize {
        self.rows
    }
}

impl Mlp {
    /// An MLP with layer widths `dims`, on one thread; panics with fewer than two widths.
    pub fn new(dims: &[usize], relu_last: bool) -> Mlp {
        assert!(dims.len() >= 2, "an MLP needs input and output sizes");
        Mlp { dims: dims.to_vec(), relu_last, threads: 1 }
    }

    /// The same network with up to `threads` threads for its large matrix products.
    pub fn with_threads(mut self, threads: usize) -> Mlp {
        self.threads = threads;
        self
    }

    /// Input width (features per row).
    pub fn input(&self) -> usize {
        self.dims[0]
    }

    /// Output width (values per row).
    pub fn output(&self) -> usize {
        *self.dims.last().unwrap()
    }

    /// Number of linear layers.
    pub fn layers(&self) -> usize {
        self.dims.len() - 1
    }

    /// Length of the flat parameter vector (all weights and biases).
    pub fn num_params(&self) -> usize {
        (0..self.layers()).map(|l| self.dims[l] * self.dims[l + 1] + self.dims[l + 1]).sum()
    }

    /// Offset of `W_l` in the flat vector; `b_l` follows it.
    fn offset(&self, l: usize) -> usize {
        (0..l).map(|i| self.dims[i] * self.dims[i + 1] + self.dims[i + 1]).sum()
    }

    /// PyTorch's `nn.Linear` default: `U(-1/sqrt(in), 1/sqrt(in))` for weights and biases.
    pub fn init<R: Rng + ?Sized>(&self, rng: &mut R) -> Vec<f32> {
        let mut p = Vec::with_capacity(self.num_params());
        for l in 0..self.layers() {
            let bound = 1.0 / (self.dims[l] as f32).sqrt();
            for _ in 0..self.dims[l] * self.dims[l + 1] + self.dims[l + 1] {
                p.push(rng.gen_range(-bound..bound));
            }
        }
        p
    }

    fn relu_at(&self, l: usize) -> bool {
        l + 1 < self.layers() || self.relu_last
    }

    /// Forward pass of `x [rows x in]`; the output is `acts.output()`.
    pub fn forward(&self, p: &[f32], x: &[f32], rows: usize, acts: &mut Acts) {
        assert_eq!(p.len(), self.num_params(), "parameter vector does not fit the network");
        assert_eq!(x.len(), rows * self.input(), "input is not rows x in");
        acts.rows = rows;
        acts.out.resize_with(self.layers(), Vec::new);
        for l in 0..self.layers() {
            let (i, o) = (self.dims[l], self.dims[l + 1]);
            let off = self.offset(l);
            let (w, b) = (&p[off..off + i * o], &p[off + i * o..off + i * o + o]);
            let mut out = std::mem::take(&mut acts.out[l]);
            out.resize(rows * o, 0.0);
            {
                let input: &[f32] = if l == 0 { x } else { &acts.out[l - 1] };
                matmul(rows, o, i, &mut out, o, input, i, 1, w, o, 1, false, self.threads);
            }
            let relu = self.relu_at(l);
            for row in out.chunks_exact_mut(o) {
                for (z, &bb) in row.iter_mut().zip(b) {
                    let v = *z + bb;
                    *z = if relu && v < 0.0 { 0.0 } else { v };
                }
            }
            acts.out[l] = out;
        }
    }

    /// Backward pass for the forward pass recorded in `acts` on input `x`, given `dy`, the
    /// gradient of the loss with respect to the output. Adds parameter gradients into `grad`
    /// (if given) and writes the input gradient `[rows x in]` into `dx` (if given).
    pub fn backward(
        &self,
        p: &[f32],
        x: &[f32],
        acts: &mut Acts,
        dy: &[f32],
        grad: Option<&mut [f32]>,
        dx: Option<&mut Vec<f32>>,
    ) {
        self.backward_cols(p, x, acts, dy, grad, dx, 0, self.input());
    }

    /// [`Mlp::backward`] computing the input gradient only for input columns `c0..c1`
    /// (`dx` is then `[rows x (c1 - c0)]`): an actor step needs the critic's gradient with
    /// respect to the action columns only.
    #[allow(clippy::too_many_arguments)]
    pub fn backward_cols(
        &self,
        p: &[f32],
        x: &[f32],
        acts: &mut Acts,
        dy: &[f32],
        grad: Option<&mut [f32]>,
        dx: Option<&mut Vec<f32>>,
        c0: usize,
        c1: usize,
    ) {
        assert!(c0 <= c1 && c1 <= self.input());
        let rows = acts.rows;
        assert_eq!(dy.len(), rows * self.output());
        let mut grad = grad;
        if let Some(g) = grad.as_deref() {
            assert_eq!(g.len(), self.num_params());
        }
        let mut g = std::mem::take(&mut acts.g0);
        let mut gn = std::mem::take(&mut acts.g1);
        g.clear();
        g.extend_from_slice(dy);
        let want_dx = dx.is_some();
        for l in (0..self.layers()).rev() {
            let (i, o) = (self.dims[l], self.dims[l + 1]);
            // Through the activation: ReLU passes gradient where its output is positive.
            // Written as a select on every element, not a conditional store: the compiler then
            // vectorises it (the conditional store compiled to per-lane branches, ~9 % of a
            // MADDPG update's time). The values are the same.
            if self.relu_at(l) {
                for (gv, &a) in g.iter_mut().zip(&acts.out[l]) {
                    *gv = if a <= 0.0 { 0.0 } else { *gv };
                }
            }
            let off = self.offset(l);
            let input: &[f32] = if l == 0 { x } else { &acts.out[l - 1] };
            if let Some(gr) = grad.as_deref_mut() {
                // dW += Xᵀ · dZ   ([i x rows] · [rows x o])
                matmul(i, o, rows, &mut gr[off..off + i * o], o, input, 1, i, &g, o, 1, true, self.threads);
                let db = &mut gr[off + i * o..off + i * o + o];
                for row in g.chunks_exact(o) {
                    for (d, &v) in db.iter_mut().zip(row) {
                        *d += v;
                    }
                }
            }
            if l > 0 {
                // dX = dZ · Wᵀ   ([rows x o] · [o x i])
                gn.resize(rows * i, 0.0);
                let w = &p[off..off + i * o];
                matmul(rows, i, o, &mut gn, i, &g, o, 1, w, 1, o, false, self.threads);
                std::mem::swap(&mut g, &mut gn);
            } else if want_dx {
                // Only columns c0..c1 of the input gradient: rows c0..c1 of W.
                let n = c1 - c0;
                gn.resize(rows * n, 0.0);
                let w = &p[off + c0 * o..off + c1 * o];
                matmul(rows, n, o, &mut gn, n, &g, o, 1, w, 1, o, false, self.threads);
                std::mem::swap(&mut g, &mut gn);
            }
        }
        if let Some(dx) = dx {
            dx.clear();
            dx.extend_from_slice(&g);
        }
        acts.g0 = g;
        acts.g1 = gn;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    /// Loss `Σ y·c` for a fixed `c`: its gradient with respect to y is `c`.
    fn loss(net: &Mlp, p: &[f32], x: &[f32], rows: usize, c: &[f32]) -> f64 {
        let mut a = Acts::default();
        net.forward(p, x, rows, &mut a);
        a.output().iter().zip(c).map(|(&y, &c)| y as f64 * c as f64).sum()
    }

    #[test]
    fn gradients_match_finite_differences() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let net = Mlp::new(&[5, 7, 6, 3], false);
        let p = net.init(&mut rng);
        let rows = 4;
        let x: Vec<f32> = (0..rows * 5).map(|_| rng.gen_range(-1.0..1.0)).collect();
        let c: Vec<f32> = (0..rows * 3).map(|_| rng.gen_range(-1.0..1.0)).collect();
        let mut a = Acts::default();
        net.forward(&p, &x, rows, &mut a);
        let mut g = vec![0.0; p.len()];
        let mut dx = Vec::new();
        net.backward(&p, &x, &mut a, &c, Some(&mut g), Some(&mut dx));
        let h = 1e-2f32;
        for k in (0..p.len()).step_by(7) {
            let (mut pp, mut pm) = (p.clone(), p.clone());
            pp[k] += h;
            pm[k] -= h;
            let fd = (loss(&net, &pp, &x, rows, &c) - loss(&net, &pm, &x, rows, &c)) / (2.0 * h as f64);
            assert!((fd - g[k] as f64).abs() < 2e-3, "param {k}: fd {fd} vs {}", g[k]);
        }
        for k in 0..x.len() {
            let (mut xp, mut xm) = (x.clone(), x.clone());
            xp[k] += h;
            xm[k] -= h;
            let fd = (loss(&net, &p, &xp, rows, &c) - loss(&net, &p, &xm, rows, &c)) / (2.0 * h as f64);
            assert!((fd - dx[k] as f64).abs() < 2e-3, "input {k}: fd {fd} vs {}", dx[k]);
        }
    }

    #[test]
    fn threads_do_not_change_results() {
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        let net = Mlp::new(&[300, 512, 256, 1], false);
        let p = net.init(&mut rng);
        let rows = 256;
        let x: Vec<f32> = (0..rows * 300).map(|_| rng.gen_range(-1.0..1.0)).collect();
        let run = |th: usize| {
            let net = net.clone().with_threads(th);
            let mut a = Acts::default();
            net.forward(&p, &x, rows, &mut a);
            let dy = vec![1.0; rows];
            let mut g = vec![0.0; p.len()];
            net.backward(&p, &x, &mut a, &dy, Some(&mut g), None);
            (a.output().to_vec(), g)
        };
        assert_eq!(run(1), run(2));
    }
}
