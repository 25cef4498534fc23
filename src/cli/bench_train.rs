//! `vecsim bench train-step`: update-steps/s of one full MADDPG update of every agent with the
//! anchor's shapes, on the learners' own code (layers, optimiser, update routine).

use super::output::{note, outln};
use std::process::ExitCode;

/// Anchor shapes (`benches/maddpg_step_torch.py`): observation 64, action 72, 8 agents,
/// batch 256; actor 256-256-256, centralised critic 512-512-256.
///
/// With `torch = Some(python)`, the PyTorch anchor script runs in the same invocation, right after,
/// and the ratio is printed (machines are noisy: compare two rates measured together).
pub(super) fn train_step(
    obs: usize,
    act: usize,
    agents: usize,
    batch: usize,
    steps: usize,
    dfdx: Option<vecsim_learn::Device>,
    torch: Option<(&str, &std::path::Path)>,
) -> anyhow::Result<ExitCode> {
    if let Some(device) = dfdx {
        device.check().map_err(|e| super::bad(e.to_string()))?;
    }
    if obs == 0 || act == 0 || agents == 0 || batch == 0 || steps == 0 {
        return Err(super::bad("bench train-step: every size must be at least 1"));
    }
    // Before the long Rust measurement, not after it.
    if let Some((_, script)) = torch {
        if !script.is_file() {
            return Err(super::bad(format!(
                "PyTorch anchor script {} not found; give its location with --anchor FILE",
                script.display()
            )));
        }
    }
    outln!(
        "bench train-step: observation {obs}, action {act}, {agents} agents, batch {batch}, actor 256-256-256, centralised critic 512-512-256, {steps} timed steps"
    )?;
    let gemm = vecsim_learn::bench_train_step(obs, act, agents, batch, steps);
    outln!("  gemm backend (default)   {gemm:>8.2} update-steps/s  ({:.1} ms/step)", 1e3 / gemm)?;
    if let Some(device) = dfdx {
        let d = vecsim_learn::bench_train_step_dfdx(obs, act, agents, batch, steps, device);
        let name = format!("dfdx backend ({device})");
        outln!("  {name:<24} {d:>8.2} update-steps/s  ({:.1} ms/step)", 1e3 / d)?;
        outln!("  dfdx {device} / gemm cpu {:.2}", d / gemm)?;
    }
    match torch {
        None => note!(
            "  compare with --torch PYTHON (runs benches/maddpg_step_torch.py {obs} {act} {agents} {batch} {steps})"
        ),
        Some((python, script)) => {
            let out = std::process::Command::new(python)
                .arg(script)
                .args([obs, act, agents, batch, steps].map(|v| v.to_string()))
                .env("THREADS", "2")
                .output()
                .map_err(|e| super::bad(format!("cannot run {python} {}: {e}", script.display())))?;
            let text = String::from_utf8_lossy(&out.stdout);
            let rate = text
                .split_whitespace()
                .zip(text.split_whitespace().skip(1))
                .find(|(_, unit)| *unit == "update-steps/s")
                .and_then(|(v, _)| v.parse::<f64>().ok());
            match rate {
                Some(t) if out.status.success() => {
                    outln!("  pytorch anchor           {t:>8.2} update-steps/s  ({})", text.trim())?;
                    outln!("  gemm/pytorch {:.2}", gemm / t)?;
                }
                _ => {
                    return Err(anyhow::anyhow!(
                        "the PyTorch anchor failed ({}): {}{}",
                        out.status,
                        text,
                        String::from_utf8_lossy(&out.stderr)
                    ))
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
