//! Fig. 6: completion rate and average realized potential against the RSUs' CPU range (spread
//! evenly over the 8 RSUs, as the paper does), on the noon window.

use super::traffic::{bar_panels, seeds_note, BARS, REFERENCES};
use super::{budget_scenario, Budget, ExperimentError, Plan, RunRow, Setting};
use crate::plot::Figure;
use vecsim_core::scenario::Range;

/// The CPU ranges, GHz (the paper's is 3–10; it does not list the others).
pub const RANGES: [(f64, f64); 5] = [(1.0, 4.0), (2.0, 6.0), (3.0, 10.0), (5.0, 15.0), (8.0, 20.0)];
/// The window the capacities are varied in.
pub const WINDOW: (&str, &str) = ("noon", "paper-noon");

/// One setting per CPU range.
pub fn plan(budget: &Budget) -> Result<Plan, ExperimentError> {
    let base = budget_scenario(WINDOW.1, budget, super::paper_alpha())?;
    let settings = RANGES
        .iter()
        .map(|&(lo, hi)| {
            let mut s = base.clone();
            s.rsus.cpu_ghz = Some(Range::new(lo, hi));
            s.validate()?;
            Ok(Setting { name: format!("{lo}-{hi} GHz"), window: WINDOW.0.into(), x: (lo + hi) / 2.0, scenario: s })
        })
        .collect::<Result<_, vecsim_core::ScenarioError>>()
        .map_err(crate::pipeline::PipelineError::from)?;
    let mut p = super::traffic::plan(budget)?;
    p.settings = settings;
    Ok(p)
}

/// Fig. 6 from the rows.
pub fn figure(budget: &Budget, rows: &[RunRow]) -> Figure {
    Figure {
        title: format!(
            "Fig. 6: policies by RSU CPU range ({} window) — budget {} ({} episodes × {} slots), {}",
            WINDOW.0,
            budget.name(),
            budget.spec().episodes,
            super::slots_of(*budget),
            seeds_note(rows)
        ),
        panels: bar_panels(rows, "RSU CPU range, evenly spread over 8 RSUs", &BARS, &REFERENCES),
    }
}
