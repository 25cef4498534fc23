//! Fig. 7: cumulative reward per training iteration of each learner in each traffic window,
//! Gaussian-smoothed (σ scaled from the paper's 10 of 610 points, [`vecsim_learn::budget::BudgetSpec::smoothing_sigma`]),
//! the mean over learner seeds with a band of ± one standard deviation; ORM and ORL (evaluated
//! on held-out traffic with the same episode length) as reference lines.

use super::{stat, Budget, ExperimentError, Plan, RunRow, Training, WINDOWS};
use crate::plot::{gaussian_smooth, Figure, LineKind, LinePanel, LineSeries, MeanErr, Panel, Table, Unit};
use vecsim_core::policy::PolicyName;

/// The three windows; the learners plus ORM and ORL.
pub fn plan(budget: &Budget) -> Result<Plan, ExperimentError> {
    let settings = super::window_settings(budget)?;
    Ok(Plan {
        settings,
        baselines: vec![PolicyName::Orm, PolicyName::Orl],
        learners: vec![PolicyName::FedMaddpg, PolicyName::Maddpg, PolicyName::Masac],
    })
}

/// Fig. 7 from the rows and the trainings' learning curves.
pub fn figure(budget: &Budget, rows: &[RunRow], curves: &[(Training, Table)]) -> Result<Figure, ExperimentError> {
    let sigma = budget.spec().smoothing_sigma();
    let mut panels = Vec::new();
    for (w, _) in WINDOWS {
        let mut series = Vec::new();
        for p in [PolicyName::FedMaddpg, PolicyName::Maddpg, PolicyName::Masac] {
            let runs: Vec<Vec<(f64, f64)>> = curves
                .iter()
                .filter(|(t, _)| t.setting == w && t.policy == p.as_str())
                .map(|(_, table)| -> Result<Vec<(f64, f64)>, ExperimentError> {
                    let (ec, rc) = (table.col("episode")?, table.col("cumulative_reward")?);
                    let ep: Vec<f64> = (0..table.rows.len()).map(|r| table.num(r, ec)).collect::<Result<_, _>>()?;
                    let y: Vec<f64> = (0..table.rows.len()).map(|r| table.num(r, rc)).collect::<Result<_, _>>()?;
                    Ok(ep.into_iter().zip(gaussian_smooth(&y, sigma)).collect())
                })
                .collect::<Result<_, _>>()?;
            if runs.is_empty() {
                continue;
            }
            let n = runs.iter().map(Vec::len).min().unwrap_or(0);
            let mut points = Vec::new();
            let mut band = Vec::new();
            for i in 0..n {
                let ys: Vec<f64> = runs.iter().map(|r| r[i].1).collect();
                if let Some(m) = MeanErr::of(&ys) {
                    let x = runs[0][i].0;
                    points.push((x, m.mean));
                    band.push((x, m.mean - m.err, m.mean + m.err));
                }
            }
            series.push(LineSeries {
                name: format!("{p} ({} seed(s))", runs.len()),
                points,
                band,
                kind: LineKind::Line,
            });
        }
        let hlines = [PolicyName::Orm, PolicyName::Orl]
            .iter()
            .filter_map(|p| stat(rows, w, p.as_str(), |r| Some(r.cumulative_reward)).map(|m| (p.to_string(), m.mean)))
            .collect();
        panels.push(Panel::Lines(LinePanel {
            title: w.to_string(),
            x_label: "training iteration (episode)".into(),
            y_label: format!("potential F summed over a {}-slot episode", super::slots_of(*budget)),
            unit: Unit::Plain,
            series,
            hlines,
        }));
    }
    Ok(Figure {
        title: format!(
            "Fig. 7: convergence — budget {} ({} episodes × {} slots), Gaussian σ = {:.2} episodes, band ± sd over learner seeds",
            budget.name(), budget.spec().episodes, super::slots_of(*budget), sigma
        ),
        panels,
    })
}
