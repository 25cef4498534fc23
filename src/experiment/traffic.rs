//! Fig. 4: completion rate and average realized potential of every policy in the three traffic
//! windows (lightest to densest), mean and standard deviation over learner seeds × traffic seeds;
//! `br-ne` (the best-response oracle) and `random` as reference lines.

use super::{distinct, stat, Budget, ExperimentError, Plan, RunRow};
use crate::plot::{label, BarPanel, BarSeries, Figure, Panel, Unit};
use vecsim_core::policy::PolicyName;

/// The policies drawn as bars, in the paper's order.
pub const BARS: [PolicyName; 5] =
    [PolicyName::FedMaddpg, PolicyName::Maddpg, PolicyName::Masac, PolicyName::Orm, PolicyName::Orl];
/// The reference policies (dashed lines).
pub const REFERENCES: [PolicyName; 2] = [PolicyName::BrNe, PolicyName::Random];

/// The three windows at the budget, the paper's α_tg (scaled).
pub fn plan(budget: &Budget) -> Result<Plan, ExperimentError> {
    let settings = super::window_settings(budget)?;
    Ok(Plan {
        settings,
        baselines: vec![PolicyName::Orm, PolicyName::Orl, PolicyName::BrNe, PolicyName::Random],
        learners: vec![PolicyName::FedMaddpg, PolicyName::Maddpg, PolicyName::Masac],
    })
}

/// Bars per setting for `bars`, dashed reference lines for `refs`, one panel per metric.
pub(crate) fn bar_panels(rows: &[RunRow], x_label: &str, bars: &[PolicyName], refs: &[PolicyName]) -> Vec<Panel> {
    let settings = distinct(rows, |r| r.setting.clone());
    type Metric = fn(&RunRow) -> Option<f64>;
    let metrics: [(&str, String, Unit, Metric); 2] = [
        ("Task completion rate", label::with(label::COMPLETION, "mean ± sd"), Unit::Fraction, |r| r.completion_rate),
        ("Average realized potential", label::with(label::REALIZED_POTENTIAL, "mean ± sd"), Unit::Plain, |r| {
            Some(r.average_realized_potential)
        }),
    ];
    let series = |ps: &[PolicyName], m: fn(&RunRow) -> Option<f64>| -> Vec<BarSeries> {
        ps.iter()
            .filter(|p| rows.iter().any(|r| r.policy == p.as_str()))
            .map(|p| BarSeries {
                name: p.to_string(),
                values: settings.iter().map(|s| stat(rows, s, p.as_str(), m)).collect(),
            })
            .collect()
    };
    metrics
        .iter()
        .map(|(title, y, unit, m)| {
            Panel::Bars(BarPanel {
                title: title.to_string(),
                x_label: x_label.into(),
                y_label: y.to_string(),
                unit: *unit,
                groups: settings.clone(),
                series: series(bars, *m),
                references: series(refs, *m),
            })
        })
        .collect()
}

/// The seed counts behind a figure, for its title.
pub(crate) fn seeds_note(rows: &[RunRow]) -> String {
    let t = distinct(rows, |r| r.traffic_seed.to_string()).len();
    let l = distinct(rows, |r| r.learner_seed.map_or(String::new(), |s| s.to_string()))
        .into_iter()
        .filter(|s| !s.is_empty())
        .count();
    format!("{t} traffic seed(s) × {l} learner seed(s)")
}

/// Fig. 4 from the rows.
pub fn figure(budget: &Budget, rows: &[RunRow]) -> Figure {
    Figure {
        title: format!(
            "Fig. 4: policies by traffic window — budget {} ({} episodes × {} slots), {}",
            budget.name(),
            budget.spec().episodes,
            super::slots_of(*budget),
            seeds_note(rows)
        ),
        panels: bar_panels(rows, "traffic window (lightest → densest)", &BARS, &REFERENCES),
    }
}
