//! Federated averaging at the VEC POOL (eq. 26–28): the new global policy parameters are the
//! (weighted) element-wise mean of the parameter vectors that reached the pool this round.
//!
//! A participant that missed the round (dropout, lost message, RSU down) is simply absent from
//! `updates`; the mean is over those present, so it never drags the result towards zero.

/// Why a round could not be averaged.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum FedAvgError {
    /// No participant reached the pool: there is nothing to average.
    #[error("no participant reached the pool this round")]
    Empty,
    /// A participant sent a parameter vector of another length than the first one.
    #[error("participant {index} sent {got} parameters, the first sent {expected}")]
    LengthMismatch {
        /// Position of the offending participant in `updates`.
        index: usize,
        /// Number of parameters the first participant sent.
        expected: usize,
        /// Number of parameters this one sent.
        got: usize,
    },
    /// A weight is negative or not finite, or all weights are 0.
    #[error("participant {index} has weight {weight}; weights must be finite and >= 0 with a positive sum")]
    BadWeight {
        /// Position of the offending participant in `updates` (0 when the weights sum to 0).
        index: usize,
        /// Its weight (e.g. its sample count).
        weight: f64,
    },
}

/// `Σ_i w_i θ_i / Σ_i w_i` element-wise, accumulated in f64 in participant order (so the result
/// does not depend on thread count). Equal weights give the paper's eq. (27); sample counts give
/// the weighted variant.
pub fn fed_avg(updates: &[(f64, &[f32])]) -> Result<Vec<f32>, FedAvgError> {
    let Some(first) = updates.first() else { return Err(FedAvgError::Empty) };
    let n = first.1.len();
    let mut total = 0.0;
    for (index, (w, p)) in updates.iter().enumerate() {
        if p.len() != n {
            return Err(FedAvgError::LengthMismatch { index, expected: n, got: p.len() });
        }
        if !(w.is_finite() && *w >= 0.0) {
            return Err(FedAvgError::BadWeight { index, weight: *w });
        }
        total += w;
    }
    if total <= 0.0 {
        return Err(FedAvgError::BadWeight { index: 0, weight: first.0 });
    }
    let mut acc = vec![0.0f64; n];
    for (w, p) in updates {
        let s = w / total;
        for (a, &x) in acc.iter_mut().zip(p.iter()) {
            *a += s * x as f64;
        }
    }
    Ok(acc.into_iter().map(|a| a as f32).collect())
}

/// One VEC POOL round's average of `(weight, params)`, in the given order: `None` when nobody
/// contributed; equal weights when every weight is 0 (a weighted round in which no RSU has a
/// sample yet must still average, not fail); otherwise [`fed_avg`] as given. This is the one
/// round rule: the VEC POOL actor, the sequential engine and the learners' in-process round all
/// call it, so their results agree bit for bit.
pub fn average(items: &[(f64, &[f32])]) -> Result<Option<Vec<f32>>, FedAvgError> {
    if items.is_empty() {
        return Ok(None);
    }
    if items.iter().all(|(w, _)| *w == 0.0) {
        let eq: Vec<(f64, &[f32])> = items.iter().map(|(_, p)| (1.0, *p)).collect();
        return fed_avg(&eq).map(Some);
    }
    fed_avg(items).map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equals_the_elementwise_mean() {
        let a = [1.0f32, 2.0, -3.0];
        let b = [3.0f32, 6.0, 5.0];
        let c = [5.0f32, 1.0, 1.0];
        let avg = fed_avg(&[(1.0, &a), (1.0, &b), (1.0, &c)]).unwrap();
        for i in 0..3 {
            let mean = (a[i] + b[i] + c[i]) / 3.0;
            assert!((avg[i] - mean).abs() < 1e-6);
        }
    }

    #[test]
    fn weighted_mean_by_sample_counts() {
        let a = [0.0f32, 10.0];
        let b = [4.0f32, 0.0];
        let avg = fed_avg(&[(3.0, &a), (1.0, &b)]).unwrap();
        assert!((avg[0] - 1.0).abs() < 1e-6 && (avg[1] - 7.5).abs() < 1e-6);
    }

    #[test]
    fn a_missing_participant_does_not_corrupt_the_round() {
        let a = [2.0f32, 4.0];
        let c = [4.0f32, 8.0];
        // RSU b missed the round: it is absent, not a zero vector.
        let avg = fed_avg(&[(1.0, &a), (1.0, &c)]).unwrap();
        assert_eq!(avg, vec![3.0, 6.0]);
        let single = fed_avg(&[(5.0, &a)]).unwrap();
        assert_eq!(single, a.to_vec());
    }

    #[test]
    fn mismatched_lengths_and_empty_rounds_are_errors() {
        let a = [1.0f32, 2.0];
        let b = [1.0f32];
        assert_eq!(
            fed_avg(&[(1.0, &a), (1.0, &b)]),
            Err(FedAvgError::LengthMismatch { index: 1, expected: 2, got: 1 })
        );
        assert_eq!(fed_avg(&[]), Err(FedAvgError::Empty));
        assert!(fed_avg(&[(0.0, &a)]).is_err());
        assert!(fed_avg(&[(f64::NAN, &a)]).is_err());
    }

    #[test]
    fn round_average_treats_all_zero_weights_as_equal_and_nobody_as_none() {
        let a = [1.0f32, 3.0];
        let b = [3.0f32, 5.0];
        assert_eq!(average(&[(0.0, &a), (0.0, &b)]).unwrap(), Some(vec![2.0, 4.0]));
        // One zero weight among positive ones is a real zero weight.
        assert_eq!(average(&[(0.0, &a), (2.0, &b)]).unwrap(), Some(vec![3.0, 5.0]));
        assert_eq!(average(&[]).unwrap(), None);
        assert!(average(&[(1.0, &a), (1.0, &[1.0f32][..])]).is_err());
        // With any positive weight it is fed_avg as given, bit for bit.
        let c = [0.1f32, -7.3];
        let items = [(2.0, &a[..]), (5.0, &b[..]), (1.0, &c[..])];
        assert_eq!(average(&items).unwrap().unwrap(), fed_avg(&items).unwrap());
    }
}
