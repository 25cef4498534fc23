"""A short policy-gradient (REINFORCE) training loop in plain numpy on vecsim's environment.

    python examples/python/train_reinforce.py [--episodes 40] [--slots 60] [--out FIGURE.png]

One linear softmax policy shared by every RSU scores each (task, candidate) pair from the
observation; unavailable candidates are masked. After each slot, every RSU's log-probability
gradient of its sampled decisions is weighted by its reward (the `difference` signal, minus a
running baseline) and the policy takes an Adam step. Each episode's traffic uses a new seed;
the figure plots the completion rate of each training episode and of a greedy evaluation on a
held-out seed, beside ORL and ORM replayed on that seed.

(No deep-RL library is assumed: torch is not installed here. The same loop with a torch
network in place of `features @ w` is the usual next step.)
"""

from __future__ import annotations

import argparse

import numpy as np

import vecsim

D, C, T, U, V2I = range(5)
DIST, FREE, LOAD, COUNT, AVAIL, SELF = range(6)


def features(obs: dict) -> tuple[np.ndarray, np.ndarray, int]:
    """`[k, rsus, F]` features of each real task row and candidate, the mask, and `k`."""
    k = int(obs["task_mask"].sum())
    t = obs["tasks"][:k].astype(np.float64)
    c = obs["candidates"].astype(np.float64)
    n = c.shape[0]
    sqrt_w = np.sqrt(t[:, D] * t[:, C])[:, None]  # sqrt(cycles)
    free = np.maximum(c[None, :, FREE], 1.0)
    load = c[None, :, LOAD] + sqrt_w * (1.0 - c[None, :, SELF])
    exec_over_deadline = np.minimum(sqrt_w * load / free / t[:, T:T + 1], 4.0)
    f = np.stack(
        [
            np.broadcast_to(c[None, :, SELF], (k, n)),
            np.broadcast_to(c[None, :, DIST] / 1000.0, (k, n)),
            np.broadcast_to(c[None, :, FREE] / 1e10, (k, n)),
            np.broadcast_to(np.log1p(c[None, :, COUNT]) / 3.0, (k, n)),
            exec_over_deadline,
            (exec_over_deadline + t[:, U:U + 1] / t[:, T:T + 1] <= 1.0).astype(np.float64),
        ],
        axis=-1,
    )
    return f, obs["action_mask"][:k].astype(bool), k


def act(w, obs, rng, greedy=False):
    f, mask, k = features(obs)
    action = np.nonzero(obs["candidates"][:, SELF])[0].repeat(len(obs["task_mask"]))
    if k == 0:
        return action, None
    logits = np.where(mask, f @ w, -np.inf)
    p = np.exp(logits - logits.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    if greedy:
        a = p.argmax(axis=1)
    else:
        a = np.array([rng.choice(len(row), p=row) for row in p])
    action[:k] = a
    # d/dw log pi(a) = f_a - sum_j p_j f_j, summed over the RSU's tasks.
    grad = (f[np.arange(k), a] - np.einsum("kj,kjf->kf", p, f)).sum(axis=0)
    return action, grad


def run(env, w, seed, rng, greedy=False, learn=None):
    obs, _ = env.reset(seed=seed)
    while env.agents:
        decided = {agent: act(w, o, rng, greedy) for agent, o in obs.items()}
        obs, rewards, _, _, _ = env.step({agent: a for agent, (a, _) in decided.items()})
        if learn is not None:
            learn(decided, rewards)
    return env.summary()



def baseline_rates(env, seed: int) -> dict:
    """Completion rates of ORL and ORM replayed from Python on traffic `seed` (the references)."""
    ref = {}
    for b in ("orl", "orm"):
        env.reset(seed=seed)
        while env.agents:
            env.step(env.baseline_actions(b))
        ref[b] = env.summary()["completion_rate"]
    return ref


def plot_curve(train, evaluation, ref, title: str, out: str) -> None:
    """The figure: training episodes, the greedy policy on the held-out seed, ORL and ORM."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4), dpi=100)
    x = np.arange(1, len(train) + 1)
    ax.plot(x, 100 * np.array(train), label="training episodes (sampled, new seed each)", color="#0072B2", alpha=0.5)
    ax.plot(x, 100 * np.array(evaluation), label="greedy policy, held-out seed", color="#0072B2", lw=2)
    ax.axhline(100 * ref["orl"], color="#CC79A7", ls="--", label="orl, held-out seed")
    ax.axhline(100 * ref["orm"], color="#E69F00", ls="--", label="orm, held-out seed")
    ax.set_xlabel("episode")
    ax.set_ylabel("task completion rate (%)")
    ax.set_ylim(0, 100)
    ax.set_title(title, fontsize=9)
    ax.legend(loc="upper right", fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(out)
    print(f"wrote {out}")


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--scenario", default="paper-noon")
    p.add_argument("--episodes", type=int, default=40)
    p.add_argument("--slots", type=int, default=60)
    p.add_argument("--lr", type=float, default=0.05)
    p.add_argument("--out", default="docs/figures/python-reinforce.png")
    a = p.parse_args()
    env = vecsim.parallel_env(a.scenario, slots=a.slots, reward="difference")
    rng = np.random.default_rng(0)
    w = np.zeros(6)
    m, v, step = np.zeros_like(w), np.zeros_like(w), 0
    baseline = {"value": 0.0}

    def learn(decided, rewards):
        nonlocal m, v, step, w
        g = np.zeros_like(w)
        for agent, (_, grad) in decided.items():
            if grad is not None:
                r = rewards[agent]
                g += (r - baseline["value"]) * grad
                baseline["value"] += 0.01 * (r - baseline["value"])
        step += 1
        m = 0.9 * m + 0.1 * g
        v = 0.999 * v + 0.001 * g * g
        w += a.lr * (m / (1 - 0.9**step)) / (np.sqrt(v / (1 - 0.999**step)) + 1e-8)

    held_out = 1000
    ref = baseline_rates(env, held_out)
    train, evaluation = [], []
    for ep in range(a.episodes):
        s = run(env, w, seed=ep + 1, rng=rng, learn=learn)
        train.append(s["completion_rate"])
        e = run(env, w, seed=held_out, rng=rng, greedy=True)
        evaluation.append(e["completion_rate"])
        print(f"episode {ep + 1:3d}  train {100 * train[-1]:6.2f} %  greedy on held-out seed {100 * evaluation[-1]:6.2f} %")
    print(f"held-out seed: orl {100 * ref['orl']:.2f} %, orm {100 * ref['orm']:.2f} %; weights {np.round(w, 3).tolist()}")

    title = f"numpy REINFORCE, vecsim.parallel_env('{a.scenario}'), {a.slots} slots/episode"
    plot_curve(train, evaluation, ref, title, a.out)


if __name__ == "__main__":
    main()
