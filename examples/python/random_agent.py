"""A random agent on vecsim's PettingZoo environment, beside the built-in baselines.

    python examples/python/random_agent.py [--scenario paper-noon] [--slots 100]

Each RSU picks, for every task, an RSU uniformly among those up (the observation's
`action_mask`). The baselines are replayed through the same environment
(`env.baseline_actions`), so all four lines are the same episode's traffic.
"""

from __future__ import annotations

import argparse

import vecsim


def episode(env, choose) -> dict:
    obs, _ = env.reset(seed=1)
    while env.agents:
        obs, rewards, terminations, truncations, infos = env.step(choose(env, obs))
    return env.summary()


def random_actions(env, obs):
    return {a: env.action_space(a).sample(mask=o["action_mask"]) for a, o in obs.items()}


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--scenario", default="paper-noon")
    p.add_argument("--slots", type=int, default=100)
    a = p.parse_args()
    env = vecsim.parallel_env(a.scenario, slots=a.slots)
    for agent in env.possible_agents:
        env.action_space(agent).seed(0)
    rows = [("random agent (Python)", episode(env, random_actions))]
    for b in ("orl", "orm", "br-ne"):
        rows.append((f"{b} (replayed)", episode(env, lambda env, obs, b=b: env.baseline_actions(b))))
    print(f"{a.scenario}, {a.slots} slots, seed 1")
    for name, s in rows:
        print(f"  {name:24s} completion {100 * s['completion_rate']:6.2f} %  cumulative reward {s['cumulative_reward']:8.2f}")


if __name__ == "__main__":
    main()
