//! Fig. 5: Fed-MADDPG's completion rate against the aggregation period α_tg ∈ {50, 100, 300,
//! 500, 700, 900} in each traffic window. α_tg counts iterations of the paper's 6,100; a budget
//! with fewer training episodes scales it ([`vecsim_learn::budget::BudgetSpec::scaled_alpha`]), and the figure says so.

use super::{budget_scenario, distinct, stat, Budget, ExperimentError, Plan, RunRow, Setting, WINDOWS};
use crate::plot::{label, BarPanel, BarSeries, Figure, Panel, Unit};
use vecsim_core::policy::PolicyName;

/// The paper's aggregation periods, iterations.
pub const ALPHAS: [u32; 6] = [50, 100, 300, 500, 700, 900];

/// One setting per (window, α_tg).
pub fn plan(budget: &Budget) -> Result<Plan, ExperimentError> {
    let mut settings = Vec::new();
    for (w, preset) in WINDOWS {
        for a in ALPHAS {
            settings.push(Setting {
                name: format!("{w} alpha={a}"),
                window: w.to_string(),
                x: a as f64,
                scenario: budget_scenario(preset, budget, a)?,
            });
        }
    }
    Ok(Plan { settings, baselines: vec![], learners: vec![PolicyName::FedMaddpg] })
}

/// Fig. 5 from the rows: one panel per window, a bar per α_tg.
pub fn figure(budget: &Budget, rows: &[RunRow]) -> Figure {
    let windows = distinct(rows, |r| r.window.clone());
    let panels = windows
        .iter()
        .map(|w| {
            let settings = distinct(rows, |r| r.setting.clone())
                .into_iter()
                .filter(|s| rows.iter().any(|r| &r.setting == s && &r.window == w))
                .collect::<Vec<_>>();
            let groups = settings
                .iter()
                .map(|s| {
                    let a = rows.iter().find(|r| &r.setting == s).map_or(0, |r| r.x as u32);
                    format!("{a} (→{})", budget.spec().scaled_alpha(a))
                })
                .collect();
            Panel::Bars(BarPanel {
                title: format!("{w}: Fed-MADDPG"),
                x_label: "aggregation period α, iterations: the paper's (→ this budget's)".into(),
                y_label: label::with(label::COMPLETION, "mean ± sd"),
                unit: Unit::Fraction,
                groups,
                series: vec![BarSeries {
                    name: PolicyName::FedMaddpg.to_string(),
                    values: settings.iter().map(|s| stat(rows, s, "fed-maddpg", |r| r.completion_rate)).collect(),
                }],
                references: vec![],
            })
        })
        .collect();
    Figure {
        title: format!(
            "Fig. 5: aggregation period — budget {} ({} episodes × {} slots; α scaled by {}/6100), {}",
            budget.name(),
            budget.spec().episodes,
            super::slots_of(*budget),
            budget.spec().episodes,
            super::traffic::seeds_note(rows)
        ),
        panels,
    }
}
