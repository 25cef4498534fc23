"""A hand-written heuristic from the observation alone, against ORL and ORM.

    python examples/python/heuristic.py [--scenario paper-noon] [--slots 100]

For each task (largest first) the RSU predicts its execution time at every available candidate
within `--reach` metres as `sqrt(w) * (load + sqrt(w)) / free_cpu` (the KKT share, eq. 5–6,
with `w = d * c` cycles) plus the upload time, and picks the fastest, adding the task to that
candidate's load. It ignores the wired delay (ORM does not), so it reaches less far.
"""

from __future__ import annotations

import argparse

import numpy as np

import vecsim

D, C, T, U = 0, 1, 2, 3  # task features: data_bits, cycles_per_bit, deadline_s, upload_s
DIST, FREE, LOAD, AVAIL, SELF = 0, 1, 2, 4, 5  # candidate features


def decide(obs: dict, reach_m: float) -> np.ndarray:
    tasks, mask, cands = obs["tasks"], obs["task_mask"], obs["candidates"]
    k = int(mask.sum())
    action = np.nonzero(cands[:, SELF])[0].repeat(len(mask))  # padding: the RSU itself
    if k == 0:
        return action
    load = cands[:, LOAD].astype(np.float64)
    me = int(np.nonzero(cands[:, SELF])[0][0])
    load[me] = 0.0  # this RSU's own uploads are the ones being placed now
    ok = (cands[:, AVAIL] > 0) & (cands[:, DIST] <= reach_m)
    ok[me] = True
    free = np.maximum(cands[:, FREE].astype(np.float64), 1.0)
    sqrt_w = np.sqrt(tasks[:k, D].astype(np.float64) * tasks[:k, C])
    for i in np.argsort(-sqrt_w):
        t = tasks[i, U] + sqrt_w[i] * (load + sqrt_w[i]) / free
        t[~ok] = np.inf
        j = int(np.argmin(t))
        action[i] = j
        load[j] += sqrt_w[i]
    return action


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--scenario", default="paper-noon")
    p.add_argument("--slots", type=int, default=100)
    p.add_argument("--reach", type=float, default=900.0, help="metres")
    a = p.parse_args()
    env = vecsim.parallel_env(a.scenario, slots=a.slots)
    results = {}
    for name in ("heuristic", "orl", "orm"):
        obs, _ = env.reset(seed=1)
        while env.agents:
            if name == "heuristic":
                actions = {agent: decide(o, a.reach) for agent, o in obs.items()}
            else:
                actions = env.baseline_actions(name)
            obs, *_ = env.step(actions)
        results[name] = env.summary()
    for name, s in results.items():
        print(f"  {name:10s} completion {100 * s['completion_rate']:6.2f} %  cumulative reward {s['cumulative_reward']:8.2f}")


if __name__ == "__main__":
    main()
