"""Env steps per second from Python beside the sequential engine's slots per second.

    python examples/python/bench.py [--scenario paper-noon] [--slots 300] [--repeat 3]

Both run the same episode (ORL's decisions: every task stays at its uploading RSU) of the same
build: the Rust number is one native call running the whole episode on the sequential engine
(`vecsim.run_native`), the Python number drives `vecsim.parallel_env` slot by slot with
PettingZoo's dicts (observations as numpy arrays, rewards, infos). Best of `--repeat` runs each,
interleaved, by wall time and by the thread's CPU time (on a busy machine the wall clock also
counts the other processes; CPU time does not).
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import vecsim


def python_episode(scenario: str, slots: int | None) -> tuple[float, float, dict]:
    """(wall s, thread CPU s, summary) of an episode's steps from Python."""
    env = vecsim.parallel_env(scenario, slots=slots)
    env.reset()
    local = {a: np.full(env.max_tasks, e, dtype=np.int64) for e, a in enumerate(env.possible_agents)}
    t0, c0 = time.perf_counter(), time.thread_time()
    while env.agents:
        env.step(local)
    return time.perf_counter() - t0, time.thread_time() - c0, env.summary()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--scenario", default="paper-noon")
    p.add_argument("--slots", type=int, default=None)
    p.add_argument("--repeat", type=int, default=3)
    a = p.parse_args()
    rust = [float("inf")] * 2  # best wall, best CPU seconds
    py = [float("inf")] * 2
    for _ in range(a.repeat):
        summary, wall, cpu = vecsim.run_native(a.scenario, "orl", slots=a.slots)
        rust = [min(rust[0], wall), min(rust[1], cpu)]
        wall, cpu, got = python_episode(a.scenario, a.slots)
        py = [min(py[0], wall), min(py[1], cpu)]
        summary["policy"] = "external"
        assert got == summary, "the Python episode is not the native one"
    n = summary["slots"]
    print(f"scenario {a.scenario}, {n} slots, {summary['tasks_uploaded']} tasks (orl), best of {a.repeat}")
    print(f"{'':28s}{'wall':>14s}{'CPU':>14s}")
    print(f"  sequential engine (Rust)  {n / rust[0]:10.0f}/s  {n / rust[1]:10.0f}/s   slots")
    print(f"  parallel_env (Python)     {n / py[0]:10.0f}/s  {n / py[1]:10.0f}/s   steps")
    print(f"  ratio                     {rust[0] / py[0]:12.2f}  {rust[1] / py[1]:12.2f}")


if __name__ == "__main__":
    main()
