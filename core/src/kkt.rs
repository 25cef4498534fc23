//! The KKT solution of problem P3 and the deadline-first extension.
//!
//! P3 (eq. 12): minimise `Σ_k W_k / c_k'` subject to `Σ_k c_k' ≤ C`, `c_k' > 0`, with
//! `W_k = d_k c_k` cycles. The objective is strictly convex and decreasing in every `c_k'`, so the
//! constraint is tight and stationarity of the Lagrangian gives `W_k / c_k'^2 = λ` for all k,
//! i.e. `c_k' = sqrt(W_k / λ)`. Substituting into `Σ c_k' = C`:
//!
//! `c_k' = C · sqrt(W_k) / Σ_j sqrt(W_j)`.
//!
//! The paper's printed eq. (15) instead normalises `1/c_e · sqrt(log d_k c_k)`: it is not scaled
//! by `C` (its shares do not even have the unit of a frequency) and no logarithm arises from the
//! derivation. vecsim implements the derivation above.

use crate::allocation::Demand;

/// True KKT shares of `capacity_hz`.
pub fn kkt(capacity_hz: f64, demands: &[Demand]) -> Vec<f64> {
    let roots: Vec<f64> = demands.iter().map(|d| d.work_cycles.max(0.0).sqrt()).collect();
    let total: f64 = roots.iter().sum();
    if total <= 0.0 {
        return vec![capacity_hz / demands.len() as f64; demands.len()];
    }
    roots.iter().map(|r| share(capacity_hz, *r, total)).collect()
}

/// `capacity · part / total` without overflow: the plain product is kept whenever it is finite
/// (so ordinary numbers round exactly as always), else the fraction is taken first.
pub(crate) fn share(capacity: f64, part: f64, total: f64) -> f64 {
    let s = capacity * part / total;
    if s.is_finite() {
        s
    } else {
        capacity * (part / total)
    }
}

/// Deadline-first: tasks sorted by their need `W_k / slack_k` (ascending; ties by position) get
/// exactly their need while it fits; what is left is then shared among *all* tasks by KKT (so
/// served tasks finish earlier and the rest get what remains). A task with no slack left has
/// infinite need and only shares the remainder.
///
/// With unit task values this maximises the number of tasks meeting their deadline at this RSU:
/// serving any k tasks needs at least the sum of the k smallest needs.
pub fn deadline_first(capacity_hz: f64, demands: &[Demand]) -> Vec<f64> {
    // The need carries a relative margin of 1e-12 so that `u + w + W/c <= t` holds in floating
    // point, not just in exact arithmetic.
    let need = |d: &Demand| {
        if d.slack_s > 0.0 {
            d.work_cycles / d.slack_s * (1.0 + 1e-12)
        } else {
            f64::INFINITY
        }
    };
    let mut order: Vec<usize> = (0..demands.len()).collect();
    order.sort_by(|&a, &b| need(&demands[a]).total_cmp(&need(&demands[b])).then(a.cmp(&b)));
    let mut shares = vec![0.0; demands.len()];
    let mut left = capacity_hz;
    for &i in &order {
        let n = need(&demands[i]);
        if n.is_finite() && n <= left {
            shares[i] = n;
            left -= n;
        } else {
            break;
        }
    }
    if left > 0.0 {
        for (s, extra) in shares.iter_mut().zip(kkt(left, demands)) {
            *s += extra;
        }
    }
    shares
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::allocation::exec_time_s;
    use proptest::prelude::*;

    fn d(w: f64, slack: f64) -> Demand {
        Demand { work_cycles: w, slack_s: slack }
    }

    /// Issue 10, item 6: shares of a huge capacity stay finite (the plain `C · r` overflows).
    #[test]
    fn kkt_shares_do_not_overflow() {
        // Roots 1e150 and 3e150 of W = 1e300 and 9e300: shares 1/4 and 3/4 of 1e308 Hz.
        let s = kkt(1e308, &[d(1e300, 1.0), d(9e300, 1.0)]);
        assert!((s[0] / 2.5e307 - 1.0).abs() < 1e-12 && (s[1] / 7.5e307 - 1.0).abs() < 1e-12, "{s:?}");
        let p = crate::allocation::allocate(
            crate::allocation::AllocatorKind::Proportional,
            1e308,
            &[d(1e300, 1.0), d(3e300, 1.0)],
        );
        assert!((p[0] / 2.5e307 - 1.0).abs() < 1e-12 && (p[1] / 7.5e307 - 1.0).abs() < 1e-12, "{p:?}");
    }

    #[test]
    fn kkt_by_hand() {
        // W = 1e8 and 4e8: roots 1e4 and 2e4, shares 1/3 and 2/3 of 6 GHz.
        let s = kkt(6e9, &[d(1e8, 1.0), d(4e8, 1.0)]);
        assert!((s[0] - 2e9).abs() < 1e-3 && (s[1] - 4e9).abs() < 1e-3);
        // Total execution time 1e8/2e9 + 4e8/4e9 = 0.05 + 0.1 = 0.15 s.
        let t = exec_time_s(1e8, s[0]) + exec_time_s(4e8, s[1]);
        assert!((t - 0.15).abs() < 1e-12);
    }

    #[test]
    fn deadline_by_hand() {
        // C = 10 GHz. Needs: 1e9/0.5 = 2 GHz, 4e9/1 = 4 GHz, 9e9/1 = 9 GHz.
        // Serve the first two (6 GHz); the 4 GHz left is shared by KKT over roots 1:2:3.
        let ds = [d(1e9, 0.5), d(4e9, 1.0), d(9e9, 1.0)];
        let s = deadline_first(10e9, &ds);
        let roots = [1e9f64.sqrt(), 4e9f64.sqrt(), 9e9f64.sqrt()]; // 1:2:3
        let tot: f64 = roots.iter().sum();
        let expect = [2e9 + 4e9 * roots[0] / tot, 4e9 + 4e9 * roots[1] / tot, 4e9 * roots[2] / tot];
        for (a, b) in s.iter().zip(expect) {
            assert!((a - b).abs() < 1.0, "{a} vs {b}");
        }
        assert!((s.iter().sum::<f64>() - 10e9).abs() < 1.0);
        // The first two meet their deadlines, the third cannot.
        assert!(exec_time_s(1e9, s[0]) <= 0.5);
        assert!(exec_time_s(4e9, s[1]) <= 1.0);
        assert!(exec_time_s(9e9, s[2]) > 1.0);
    }

    fn objective(ds: &[Demand], s: &[f64]) -> f64 {
        ds.iter().zip(s).map(|(d, c)| d.work_cycles / c).sum()
    }

    proptest! {
        #[test]
        fn kkt_sums_to_capacity_and_no_feasible_perturbation_improves(
            works in proptest::collection::vec(1e6f64..1e10, 1..12),
            cap in 1e9f64..2e10,
            moves in proptest::collection::vec((0usize..12, 0usize..12, 0.0f64..0.5), 1..20),
        ) {
            let ds: Vec<Demand> = works.iter().map(|&w| d(w, 1.0)).collect();
            let s = kkt(cap, &ds);
            let sum: f64 = s.iter().sum();
            prop_assert!((sum - cap).abs() <= cap * 1e-12);
            let best = objective(&ds, &s);
            // Move a fraction of one task's CPU to another: still feasible, never better.
            for (i, j, f) in moves {
                let (i, j) = (i % ds.len(), j % ds.len());
                if i == j { continue; }
                let mut p = s.clone();
                let delta = p[i] * f;
                p[i] -= delta;
                p[j] += delta;
                prop_assert!(objective(&ds, &p) >= best * (1.0 - 1e-12));
            }
        }

        #[test]
        fn deadline_meets_at_least_as_many_deadlines_as_kkt(
            tasks in proptest::collection::vec((1e6f64..5e9, -0.1f64..1.0), 1..15),
            cap in 1e9f64..2e10,
        ) {
            let ds: Vec<Demand> = tasks.iter().map(|&(w, s)| d(w, s)).collect();
            let met = |s: &[f64]| ds.iter().zip(s).filter(|(d, &c)| d.slack_s > 0.0 && exec_time_s(d.work_cycles, c) <= d.slack_s * (1.0 + 1e-12)).count();
            let dl = deadline_first(cap, &ds);
            let k = kkt(cap, &ds);
            prop_assert!(dl.iter().sum::<f64>() <= cap * (1.0 + 1e-12));
            prop_assert!(met(&dl) >= met(&k));
        }
    }
}
