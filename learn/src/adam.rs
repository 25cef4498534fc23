//! Adam (Kingma & Ba), in place over a flat parameter vector, as `torch.optim.Adam` computes it
//! (bias-corrected moments, `eps` added to the corrected root).
//!
//! Its state is plain vectors, so it is `Send` (RSU actors own their learners), checkpoints
//! with the parameters, and costs no allocation per step.

use serde::{Deserialize, Serialize};

/// Adam optimiser state for one flat parameter vector (moments sized at construction).
/// `Default`: for nothing, at learning rate 0 (a placeholder while the state is elsewhere).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Adam {
    /// Learning rate (Table III: critic `1e-4`, actor `1e-5`).
    pub lr: f32,
    /// Decay of the first-moment (mean) estimate; 0.9 as in PyTorch.
    pub beta1: f32,
    /// Decay of the second-moment (uncentred variance) estimate; 0.999 as in PyTorch.
    pub beta2: f32,
    /// Added to the bias-corrected root of the second moment to avoid division by zero.
    pub eps: f32,
    /// Steps taken, for the bias correction.
    pub t: u64,
    m: Vec<f32>,
    v: Vec<f32>,
}

impl Adam {
    /// Fresh optimiser for `n` parameters at learning rate `lr`, PyTorch's default betas and eps.
    pub fn new(n: usize, lr: f64) -> Adam {
        Adam { lr: lr as f32, beta1: 0.9, beta2: 0.999, eps: 1e-8, t: 0, m: vec![0.0; n], v: vec![0.0; n] }
    }

    /// Whether the state is for `n` parameters (a loaded checkpoint's is checked before use:
    /// [`Adam::step`] would panic on a mismatch).
    pub fn fits(&self, n: usize) -> bool {
        self.m.len() == n && self.v.len() == n
    }

    /// The first and second moments, in the parameters' order (a resident network copies them
    /// onto its device).
    pub fn moments(&self) -> (&[f32], &[f32]) {
        (&self.m, &self.v)
    }

    /// The same hyper-parameters with the state `t`, `m`, `v` (a resident network's, copied
    /// back); `m` and `v` must have one entry per parameter.
    pub fn with_state(&self, t: u64, m: Vec<f32>, v: Vec<f32>) -> Adam {
        assert_eq!(m.len(), v.len(), "Adam: moments of different lengths");
        Adam { t, m, v, ..*self }
    }

    /// The state of the first `k` parameters and that of the rest (a critic's `φ` and `ρ`), with
    /// the same step count and hyper-parameters; `k` is clamped to the moments' lengths (a
    /// loaded checkpoint is checked afterwards, [`Adam::fits`]).
    pub fn split_at(&self, k: usize) -> (Adam, Adam) {
        let (km, kv) = (k.min(self.m.len()), k.min(self.v.len()));
        let head = Adam { m: self.m[..km].to_vec(), v: self.v[..kv].to_vec(), ..*self };
        let tail = Adam { m: self.m[km..].to_vec(), v: self.v[kv..].to_vec(), ..*self };
        (head, tail)
    }

    /// This state followed by `rest`'s moments, with this one's step count and
    /// hyper-parameters: the inverse of [`Adam::split_at`].
    pub fn concat(&self, rest: &Adam) -> Adam {
        let m = self.m.iter().chain(&rest.m).copied().collect();
        let v = self.v.iter().chain(&rest.v).copied().collect();
        Adam { m, v, ..*self }
    }

    /// One descent step: `params -= lr · m̂ / (sqrt(v̂) + eps)`.
    pub fn step(&mut self, params: &mut [f32], grad: &[f32]) {
        assert_eq!(params.len(), self.m.len(), "Adam: parameter count changed");
        assert_eq!(grad.len(), self.m.len(), "Adam: gradient does not fit");
        self.t += 1;
        let (b1, b2) = (self.beta1, self.beta2);
        let bc1 = 1.0 - b1.powi(self.t.min(i32::MAX as u64) as i32);
        let bc2 = 1.0 - b2.powi(self.t.min(i32::MAX as u64) as i32);
        let step = self.lr / bc1;
        let bc2_sqrt = bc2.sqrt();
        for (((p, &g), m), v) in params.iter_mut().zip(grad).zip(&mut self.m).zip(&mut self.v) {
            *m = b1 * *m + (1.0 - b1) * g;
            *v = b2 * *v + (1.0 - b2) * g * g;
            *p -= step * *m / ((*v).sqrt() / bc2_sqrt + self.eps);
        }
    }
}

/// Soft target update (eq. 25): `target ← τ·online + (1 − τ)·target`.
pub(crate) fn soft_update(target: &mut [f32], online: &[f32], tau: f32) {
    assert_eq!(target.len(), online.len());
    for (t, &o) in target.iter_mut().zip(online) {
        *t = tau * o + (1.0 - tau) * *t;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_step_moves_by_lr_against_the_gradient_sign() {
        // With bias correction, Adam's first step is lr·sign(g) (up to eps).
        let mut a = Adam::new(3, 0.1);
        let mut p = vec![1.0, 1.0, 1.0];
        a.step(&mut p, &[2.0, -0.5, 0.0]);
        assert!((p[0] - 0.9).abs() < 1e-6 && (p[1] - 1.1).abs() < 1e-6 && p[2] == 1.0);
    }

    #[test]
    fn minimises_a_quadratic() {
        let mut a = Adam::new(1, 0.05);
        let mut p = vec![3.0f32];
        for _ in 0..500 {
            let g = [2.0 * (p[0] - 1.0)];
            a.step(&mut p, &g);
        }
        assert!((p[0] - 1.0).abs() < 1e-2, "{}", p[0]);
    }
}
