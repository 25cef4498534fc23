//! Times the anchor-shaped MADDPG update step: `cargo run --release -p vecsim-learn --example
//! train_step -- [OBS ACT AGENTS BATCH STEPS]` (defaults 64 72 8 256 10).
fn main() {
    let a: Vec<usize> = std::env::args().skip(1).map(|s| s.parse().expect("integer argument")).collect();
    let g = |i: usize, d: usize| a.get(i).copied().unwrap_or(d);
    let (obs, act, agents, batch, steps) = (g(0, 64), g(1, 72), g(2, 8), g(3, 256), g(4, 10));
    let r = vecsim_learn::bench_train_step(obs, act, agents, batch, steps);
    println!(
        "vecsim-learn obs={obs} act={act} agents={agents} batch={batch}: {r:.2} update-steps/s ({:.1} ms/step)",
        1e3 / r
    );
}
