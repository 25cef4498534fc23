//! `provenance.json`: how a result was produced, beside the result.
//!
//! The rule: a result file (`summary.json`, `slots.csv`, a compare CSV, `curve.csv`) holds only
//! what the scenario and the seed decide, so it is the same bytes whatever the engine, the
//! thread count, the machine or the day (the determinism tests compare them across engines).
//! What legitimately differs between two runs of the same inputs — the vecsim version and
//! commit, the command line, the engine, the threads, the time — goes into `provenance.json`
//! beside it, together with the inputs needed to reproduce it (the resolved scenario, embedded
//! whole, its hash, the seed and the fault plan).

use serde_json::{json, Value};
use vecsim_core::Scenario;

/// The provenance of a run of `scenario` (as resolved: overrides and faults applied) on
/// `engine` with `threads` worker threads; `extra` adds command-specific fields.
pub(crate) fn of(scenario: &Scenario, engine: &str, threads: usize, extra: Value) -> Value {
    let started = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let mut v = json!({
        "vecsim_version": env!("CARGO_PKG_VERSION"),
        "commit": super::version::commit(),
        "build": super::version::short(),
        "command_line": std::env::args().collect::<Vec<_>>(),
        "engine": engine,
        "threads": threads,
        "written_unix_s": started,
        "scenario_name": scenario.name,
        "scenario_hash": format!("{:016x}", scenario.hash()),
        "seed": scenario.seed,
        "slots": scenario.time.slots,
        "policy": scenario.policy.as_str(),
        "faults": scenario.faults,
        "scenario": scenario,
    });
    if let (Value::Object(m), Value::Object(e)) = (&mut v, extra) {
        m.extend(e);
    }
    v
}

/// [`of`] as pretty JSON text with a final newline.
pub(crate) fn text(scenario: &Scenario, engine: &str, threads: usize, extra: Value) -> String {
    let mut t = serde_json::to_string_pretty(&of(scenario, engine, threads, extra)).expect("provenance serialises");
    t.push('\n');
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holds_the_inputs_and_what_differs_between_engines() {
        let s = vecsim::pipeline::load_scenario("paper-evening", &Default::default()).unwrap();
        let v = of(&s, "actors", 3, json!({"checkpoint": "runs/x"}));
        assert_eq!(v["engine"], "actors");
        assert_eq!(v["threads"], 3);
        assert_eq!(v["seed"], s.seed);
        assert_eq!(v["checkpoint"], "runs/x");
        assert_eq!(v["scenario_hash"], format!("{:016x}", s.hash()));
        // The embedded scenario reads back as the same scenario.
        let back: Scenario = serde_json::from_value(v["scenario"].clone()).unwrap();
        assert_eq!(back.hash(), s.hash());
        assert_eq!(back.seed, s.seed);
    }
}
