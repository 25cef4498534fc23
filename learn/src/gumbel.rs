//! Discrete actions from logits: masked softmax, Gumbel noise, and the straight-through
//! Gumbel-softmax estimator (Jang et al. 2017) MADDPG uses for discrete actions: the forward pass
//! takes the hard one-hot `argmax(logits + g)`, the backward pass uses the gradient of the soft
//! sample `softmax((logits + g)/τ)`.

use rand::Rng;

/// Softmax over the entries where `mask` is true; masked entries get probability 0. With no
/// entry allowed, everything is 0 (the caller must not act on such a group).
pub(crate) fn masked_softmax(logits: &[f32], mask: &[bool], inv_tau: f32, out: &mut [f32]) {
    let max = logits.iter().zip(mask).filter(|(_, &m)| m).map(|(&l, _)| l).fold(f32::NEG_INFINITY, f32::max);
    let mut sum = 0.0f32;
    for ((o, &l), &m) in out.iter_mut().zip(logits).zip(mask) {
        *o = if m { ((l - max) * inv_tau).exp() } else { 0.0 };
        sum += *o;
    }
    if sum > 0.0 {
        for o in out.iter_mut() {
            *o /= sum;
        }
    }
}

/// A standard Gumbel draw `−ln(−ln u)`, `u` uniform in (0, 1).
pub(crate) fn gumbel<R: Rng + ?Sized>(rng: &mut R) -> f32 {
    let u: f32 = rng.gen_range(f32::EPSILON..1.0);
    -(-u.ln()).ln()
}

/// Index of the largest allowed entry (lowest index on ties); `None` when nothing is allowed.
pub(crate) fn masked_argmax(v: &[f32], mask: &[bool]) -> Option<usize> {
    let mut best: Option<(usize, f32)> = None;
    for (i, (&x, &m)) in v.iter().zip(mask).enumerate() {
        if m && best.is_none_or(|(_, b)| x > b) {
            best = Some((i, x));
        }
    }
    best.map(|(i, _)| i)
}

/// Uniform choice among the allowed entries.
pub(crate) fn uniform_allowed<R: Rng + ?Sized>(mask: &[bool], rng: &mut R) -> Option<usize> {
    let n = mask.iter().filter(|&&m| m).count();
    if n == 0 {
        return None;
    }
    let k = rng.gen_range(0..n);
    mask.iter().enumerate().filter(|(_, &m)| m).nth(k).map(|(i, _)| i)
}

/// Draw from a categorical distribution `p` (sums to 1 over allowed entries).
pub(crate) fn sample_categorical<R: Rng + ?Sized>(p: &[f32], mask: &[bool], rng: &mut R) -> Option<usize> {
    let u: f32 = rng.gen();
    let mut acc = 0.0;
    let mut last = None;
    for (i, (&pi, &m)) in p.iter().zip(mask).enumerate() {
        if !m {
            continue;
        }
        last = Some(i);
        acc += pi;
        if u < acc {
            return Some(i);
        }
    }
    last
}

/// Backward of `y = softmax(z·inv_tau)`: `dz = inv_tau · y ⊙ (dy − Σ y·dy)`. Masked entries have
/// `y = 0` and get no gradient.
pub(crate) fn softmax_backward(y: &[f32], dy: &[f32], inv_tau: f32, dz: &mut [f32]) {
    let dot: f32 = y.iter().zip(dy).map(|(a, b)| a * b).sum();
    for ((d, &yi), &dyi) in dz.iter_mut().zip(y).zip(dy) {
        *d = inv_tau * yi * (dyi - dot);
    }
}

/// Entropy `H = −Σ p ln p` of one group and its gradient with respect to the logits:
/// `dH/dz_j = −p_j (ln p_j + H)`, added into `dz` scaled by `scale`.
pub(crate) fn entropy_and_grad(p: &[f32], scale: f32, dz: Option<&mut [f32]>) -> f32 {
    let h: f32 = -p.iter().filter(|&&x| x > 0.0).map(|&x| x * x.ln()).sum::<f32>();
    if let Some(dz) = dz {
        for (d, &x) in dz.iter_mut().zip(p) {
            if x > 0.0 {
                *d += scale * (-x * (x.ln() + h));
            }
        }
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masked_entries_get_no_mass_and_no_gradient() {
        let z = [1.0, 5.0, 0.5];
        let mask = [true, false, true];
        let mut y = [0.0; 3];
        masked_softmax(&z, &mask, 1.0, &mut y);
        assert_eq!(y[1], 0.0);
        assert!((y[0] + y[2] - 1.0).abs() < 1e-6 && y[0] > y[2]);
        assert_eq!(masked_argmax(&z, &mask), Some(0));
        let mut dz = [0.0; 3];
        softmax_backward(&y, &[1.0, 7.0, -1.0], 1.0, &mut dz);
        assert_eq!(dz[1], 0.0);
        assert!((dz.iter().sum::<f32>()).abs() < 1e-6);
    }

    #[test]
    fn entropy_gradient_matches_finite_differences() {
        let z = [0.3f32, -0.2, 0.9];
        let mask = [true; 3];
        let h_of = |z: &[f32]| {
            let mut p = [0.0; 3];
            masked_softmax(z, &mask, 1.0, &mut p);
            entropy_and_grad(&p, 1.0, None)
        };
        let mut p = [0.0; 3];
        masked_softmax(&z, &mask, 1.0, &mut p);
        let mut g = [0.0; 3];
        entropy_and_grad(&p, 1.0, Some(&mut g));
        for j in 0..3 {
            let (mut a, mut b) = (z, z);
            a[j] += 1e-3;
            b[j] -= 1e-3;
            let fd = (h_of(&a) - h_of(&b)) / 2e-3;
            assert!((fd - g[j]).abs() < 1e-3, "{fd} vs {}", g[j]);
        }
    }
}
