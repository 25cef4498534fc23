"""Env steps per second from Python beside the sequential engine's slots per second.

    python examples/python/bench.py [--scenario paper-noon] [--slots 300] [--repeat 3]

Both run the same episode (ORL's decisions: every task stays at its uploading RSU) of the same
build: the Rust number is one native call running the whole episode on the sequential engine
(`vecsim.run_native`), the Python number drives `vecsim.parallel_env` slot by slot with
PettingZoo's dicts (observations as numpy arrays, rewards, infos). Best of `--repeat` runs each.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import vecsim


def python_steps_per_s(scenario: str, slots: int | None) -> tuple[float, dict]:
    env = vecsim.parallel_env(scenario, slots=slots)
    env.reset()
    local = {a: np.full(env.max_tasks, e, dtype=np.int64) for e, a in enumerate(env.possible_agents)}
    steps = 0
    t0 = time.perf_counter()
    while env.agents:
        env.step(local)
        steps += 1
    wall = time.perf_counter() - t0
    return steps / wall, env.summary()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--scenario", default="paper-noon")
    p.add_argument("--slots", type=int, default=None)
    p.add_argument("--repeat", type=int, default=3)
    a = p.parse_args()
    rust, py = 0.0, 0.0
    for _ in range(a.repeat):
        summary, wall = vecsim.run_native(a.scenario, "orl", slots=a.slots)
        rust = max(rust, summary["slots"] / wall)
        rate, got = python_steps_per_s(a.scenario, a.slots)
        py = max(py, rate)
        summary["policy"] = "external"
        assert got == summary, "the Python episode is not the native one"
    print(f"scenario {a.scenario}, {summary['slots']} slots, {summary['tasks_uploaded']} tasks (orl)")
    print(f"  sequential engine (Rust)   {rust:10.0f} slots/s")
    print(f"  parallel_env (Python)      {py:10.0f} steps/s")
    print(f"  ratio                      {py / rust:10.2f}")


if __name__ == "__main__":
    main()
