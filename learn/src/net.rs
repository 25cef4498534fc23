//! What a network is, in one place: one MLP with its target copy and its optimiser, as the
//! update steps use it, behind one trait ([`Net`]) with two implementations:
//!
//! - [`FlatNet`] (the [`Backend::Gemm`] backend): flat `Vec<f32>` parameters, target and Adam
//!   moments ([`crate::adam`]), the passes run by the [`Mlp`] gemm layers on the CPU. The
//!   learners' `Send` form: checkpoints, FedAvg and evaluation read these vectors.
//! - [`crate::dfdx_backend::ResidentMlp`] (the [`Backend::Dfdx`] backend): the same network
//!   resident on a dfdx device for as long as it lives (a learner's episode): parameters, target
//!   and Adam moments as device tensors, the backward pass on the traced forward pass's own
//!   tape, Adam (dfdx's kernel) and soft updates on the device.
//!
//! Everything above a single network is written once, generic over [`Net`]: the set critic and
//! the actor-critic bundle ([`crate::nets`]), the update steps ([`crate::maddpg`]), the RSU
//! learner ([`crate::rsu::RsuLearner`]) and the update-step benchmark ([`crate::bench`]).

use crate::adam::{soft_update, Adam};
use crate::mlp::{Acts, Mlp};
use serde::{Deserialize, Serialize};
use std::ops::Range;

/// Which implementation of [`Net`] a learner's networks use during an episode. Both compute the
/// same function and gradients in the same flat layout (checked by the parity tests of
/// [`crate::dfdx_backend`]); they differ in speed and in the device they can use.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Backend {
    /// [`FlatNet`]: the fused f32 layers of [`crate::mlp`] on the `gemm` crate (CPU). The
    /// fastest on the CPU.
    #[default]
    Gemm,
    /// [`crate::dfdx_backend::ResidentMlp`]: dfdx 0.13 tensors and autodiff on dfdx's `Cpu`, or
    /// on its `Cuda` device when the crate is built with the `cuda` feature.
    Dfdx,
}

impl Backend {
    /// The backend called `name` (`gemm` or `dfdx`), or `None`.
    pub fn parse(name: &str) -> Option<Backend> {
        match name {
            "gemm" => Some(Backend::Gemm),
            "dfdx" => Some(Backend::Dfdx),
            _ => None,
        }
    }

    /// The backend's name, as [`Backend::parse`] accepts it.
    pub fn name(self) -> &'static str {
        match self {
            Backend::Gemm => "gemm",
            Backend::Dfdx => "dfdx",
        }
    }
}

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
    /// Number of parameters (the length of the flat layout).
    fn num_params(&self) -> usize;
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
    /// The online parameters, flat (a copy off the device for a resident network).
    fn params(&self) -> Vec<f32>;
    /// The target parameters, flat.
    fn target_params(&self) -> Vec<f32>;
    /// Overwrites the online parameters with the flat `p` (a FedAvg import); same length.
    fn set_params(&mut self, p: &[f32]);
}

/// [`Net`] on flat vectors, the passes run by the [`Mlp`] gemm layers on the CPU.
#[derive(Clone, Debug)]
pub struct FlatNet {
    /// Shape (and the threads its large products may use).
    pub shape: Mlp,
    /// Online parameters.
    pub params: Vec<f32>,
    /// Target parameters.
    pub target: Vec<f32>,
    /// Adam state of the online parameters.
    pub opt: Adam,
    acts: Acts,
    infer: Acts,
    /// The parameter gradient of the last [`Net::backward`] (read by the gradient tests).
    pub grad: Vec<f32>,
}

/// Equal state: shape, parameters, target and optimiser (not the reusable buffers).
impl PartialEq for FlatNet {
    fn eq(&self, o: &FlatNet) -> bool {
        self.shape == o.shape && self.params == o.params && self.target == o.target && self.opt == o.opt
    }
}

impl FlatNet {
    /// `shape` with online parameters `params`, target `target` and optimiser state `opt`.
    pub fn new(shape: Mlp, params: Vec<f32>, target: Vec<f32>, opt: Adam) -> FlatNet {
        FlatNet { shape, params, target, opt, acts: Acts::default(), infer: Acts::default(), grad: Vec::new() }
    }

    /// `shape` with online and target parameters `params` and a fresh Adam at `lr`.
    pub fn fresh(shape: Mlp, params: Vec<f32>, lr: f64) -> FlatNet {
        let opt = Adam::new(params.len(), lr);
        FlatNet::new(shape, params.clone(), params, opt)
    }

    /// Whether parameters, target and optimiser state all have the shape's length (a loaded
    /// checkpoint is checked before use: a pass would panic on a mismatch).
    pub fn fits(&self) -> bool {
        let n = self.shape.num_params();
        self.params.len() == n && self.target.len() == n && self.opt.fits(n)
    }
}

impl Net for FlatNet {
    fn num_params(&self) -> usize {
        self.shape.num_params()
    }

    fn forward(&mut self, which: Params<'_>, x: &[f32], rows: usize) -> Vec<f32> {
        let p = match which {
            Params::Online => &self.params,
            Params::Target => &self.target,
            Params::Given(p) => p,
        };
        self.shape.forward(p, x, rows, &mut self.infer);
        self.infer.output().to_vec()
    }

    fn forward_traced(&mut self, x: &[f32], rows: usize) -> Vec<f32> {
        self.shape.forward(&self.params, x, rows, &mut self.acts);
        self.acts.output().to_vec()
    }

    fn backward(&mut self, x: &[f32], dy: &[f32], params: bool, dx: Option<&mut Vec<f32>>, cols: Range<usize>) {
        self.grad.clear();
        self.grad.resize(self.params.len(), 0.0);
        let grad = params.then_some(&mut self.grad[..]);
        self.shape.backward_cols(&self.params, x, &mut self.acts, dy, grad, dx, cols.start, cols.end);
    }

    fn step(&mut self) {
        self.opt.step(&mut self.params, &self.grad);
    }

    fn soft_update(&mut self, tau: f32) {
        soft_update(&mut self.target, &self.params, tau);
    }

    fn params(&self) -> Vec<f32> {
        self.params.clone()
    }

    fn target_params(&self) -> Vec<f32> {
        self.target.clone()
    }

    fn set_params(&mut self, p: &[f32]) {
        assert_eq!(p.len(), self.params.len(), "parameter count differs");
        self.params.copy_from_slice(p);
    }
}
