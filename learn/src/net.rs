//! One network with its target copy and its optimiser, as the update steps use it, behind one
//! trait ([`Net`]) with two implementations:
//!
//! - [`FlatMlp`]: flat `Vec<f32>` parameters, target and Adam moments ([`crate::adam`]), the
//!   passes run by [`Mlp`] (the gemm layers, or dfdx rebuilding the network from the flat
//!   parameters on each call);
//! - [`crate::dfdx_backend::ResidentMlp`]: the same network resident on a dfdx device for as
//!   long as it lives: parameters, target and Adam moments as device tensors, the backward
//!   pass on the traced forward pass's own tape, Adam (dfdx's kernel) and soft updates on the
//!   device.
//!
//! The update-step benchmark ([`crate::bench`]) is written once against [`Net`]. The learners
//! use the same two implementations through [`crate::nets::Nets`] (actor and set critic).

use crate::adam::{soft_update, Adam};
use crate::mlp::{Acts, Mlp};
use std::ops::Range;

/// Which parameters a forward pass without gradient uses.
#[derive(Clone, Copy, Debug)]
pub enum Params<'a> {
    /// The online network.
    Online,
    /// Its target copy (eq. 25).
    Target,
    /// Parameters given in the flat layout (another RSU's shared actor).
    Given(&'a [f32]),
}

/// A network, its target copy and its optimiser.
pub trait Net {
    /// Outputs `[rows x out]` of `which` on `x [rows x in]`, without gradient.
    fn forward(&mut self, which: Params<'_>, x: &[f32], rows: usize) -> Vec<f32>;
    /// Outputs of the online network on `x`, keeping what [`Net::backward`] needs.
    fn forward_traced(&mut self, x: &[f32], rows: usize) -> Vec<f32>;
    /// Gradients of `sum(y ⊙ dy)` for the last [`Net::forward_traced`] (on `x`, the same input):
    /// the parameter gradients, kept for [`Net::step`], if `params`; columns `cols` of the input
    /// gradient, `[rows x cols.len()]`, into `dx` if given.
    fn backward(&mut self, x: &[f32], dy: &[f32], params: bool, dx: Option<&mut Vec<f32>>, cols: Range<usize>);
    /// One Adam step with the parameter gradients of the last [`Net::backward`].
    fn step(&mut self);
    /// `target ← τ·online + (1 − τ)·target`.
    fn soft_update(&mut self, tau: f32);
}

/// [`Net`] on flat vectors, run by [`Mlp`] (its backend: gemm, or dfdx per call).
#[derive(Clone, Debug)]
pub struct FlatMlp {
    /// Shape and backend.
    pub net: Mlp,
    /// Online parameters.
    pub params: Vec<f32>,
    /// Target parameters.
    pub target: Vec<f32>,
    /// Adam state of the online parameters.
    pub opt: Adam,
    acts: Acts,
    infer: Acts,
    grad: Vec<f32>,
}

impl FlatMlp {
    /// `net` with online and target parameters `params` and a fresh Adam at `lr`.
    pub fn new(net: Mlp, params: Vec<f32>, lr: f64) -> FlatMlp {
        let n = params.len();
        FlatMlp {
            net,
            target: params.clone(),
            params,
            opt: Adam::new(n, lr),
            acts: Acts::default(),
            infer: Acts::default(),
            grad: Vec::new(),
        }
    }
}

impl Net for FlatMlp {
    fn forward(&mut self, which: Params<'_>, x: &[f32], rows: usize) -> Vec<f32> {
        let p = match which {
            Params::Online => &self.params,
            Params::Target => &self.target,
            Params::Given(p) => p,
        };
        self.net.forward(p, x, rows, &mut self.infer);
        self.infer.output().to_vec()
    }

    fn forward_traced(&mut self, x: &[f32], rows: usize) -> Vec<f32> {
        self.net.forward(&self.params, x, rows, &mut self.acts);
        self.acts.output().to_vec()
    }

    fn backward(&mut self, x: &[f32], dy: &[f32], params: bool, dx: Option<&mut Vec<f32>>, cols: Range<usize>) {
        self.grad.clear();
        self.grad.resize(self.params.len(), 0.0);
        let grad = params.then_some(&mut self.grad[..]);
        self.net.backward_cols(&self.params, x, &mut self.acts, dy, grad, dx, cols.start, cols.end);
    }

    fn step(&mut self) {
        self.opt.step(&mut self.params, &self.grad);
    }

    fn soft_update(&mut self, tau: f32) {
        soft_update(&mut self.target, &self.params, tau);
    }
}
