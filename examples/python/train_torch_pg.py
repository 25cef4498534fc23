"""A short policy-gradient training loop with a PyTorch network on vecsim's environment.

    pip install torch matplotlib
    python examples/python/train_torch_pg.py [--episodes 40] [--slots 60] [--out FIGURE.png]

The same loop as `train_reinforce.py` (REINFORCE with each RSU's `difference` reward minus a
running baseline, one policy shared by every RSU), with a small PyTorch MLP in place of the
linear score: the network scores every (task, candidate RSU) pair from the pair's features,
a softmax over the available candidates (the environment's action mask) gives each task's
decision, and autograd gives the gradient of the sampled decisions' log-probabilities. Each
training episode draws new traffic; after each one the greedy policy is evaluated on a held-out
seed, beside ORL and ORM replayed from Python on that seed. The figure it writes is
`docs/figures/python-torch-pg.png`.
"""

from __future__ import annotations

import argparse

import numpy as np
import torch

import vecsim
from train_reinforce import baseline_rates, features, plot_curve  # shared with the numpy loop


class PairScorer(torch.nn.Module):
    """Scores each (task, candidate) pair: one shared MLP, so any number of tasks and RSUs fits."""

    def __init__(self, n_features: int, hidden: int = 32) -> None:
        super().__init__()
        self.net = torch.nn.Sequential(
            torch.nn.Linear(n_features, hidden),
            torch.nn.Tanh(),
            torch.nn.Linear(hidden, hidden),
            torch.nn.Tanh(),
            torch.nn.Linear(hidden, 1),
        )

    def forward(self, f: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Log-probabilities `[tasks, candidates]`, unavailable candidates at -inf."""
        logits = self.net(f).squeeze(-1).masked_fill(~mask, float("-inf"))
        return torch.log_softmax(logits, dim=-1)


def act(policy: PairScorer, obs: dict, gen: torch.Generator, greedy: bool = False):
    """One RSU's action (a candidate per padded task row) and the log-probability of it."""
    f, mask, k = features(obs)
    action = np.nonzero(obs["candidates"][:, 5])[0].repeat(len(obs["task_mask"]))  # padding: self
    if k == 0:
        return action, None
    logp = policy(torch.as_tensor(f, dtype=torch.float32), torch.as_tensor(mask))
    if greedy:
        a = logp.argmax(dim=-1)
    else:
        a = torch.multinomial(logp.exp(), 1, generator=gen).squeeze(-1)
    action[:k] = a.numpy()
    return action, logp[torch.arange(k), a].sum()


def run(env, policy, seed, gen, greedy=False, learn=None):
    obs, _ = env.reset(seed=seed)
    while env.agents:
        with torch.set_grad_enabled(learn is not None):
            decided = {agent: act(policy, o, gen, greedy) for agent, o in obs.items()}
        obs, rewards, _, _, _ = env.step({agent: a for agent, (a, _) in decided.items()})
        if learn is not None:
            learn(decided, rewards)
    return env.summary()


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--scenario", default="paper-noon")
    p.add_argument("--episodes", type=int, default=40)
    p.add_argument("--slots", type=int, default=60)
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--out", default="docs/figures/python-torch-pg.png")
    a = p.parse_args()
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(0)
    env = vecsim.parallel_env(a.scenario, slots=a.slots, reward="difference")
    policy = PairScorer(n_features=6)
    opt = torch.optim.Adam(policy.parameters(), lr=a.lr)
    baseline = {"value": 0.0}

    def learn(decided, rewards):
        terms = []
        for agent, (_, logp) in decided.items():
            if logp is not None:
                r = rewards[agent]
                terms.append(-(r - baseline["value"]) * logp)
                baseline["value"] += 0.01 * (r - baseline["value"])
        if terms:
            opt.zero_grad()
            torch.stack(terms).sum().backward()
            opt.step()

    held_out = 1000
    ref = baseline_rates(env, held_out)
    train, evaluation = [], []
    for ep in range(a.episodes):
        s = run(env, policy, seed=ep + 1, gen=gen, learn=learn)
        train.append(s["completion_rate"])
        e = run(env, policy, seed=held_out, gen=gen, greedy=True)
        evaluation.append(e["completion_rate"])
        print(f"episode {ep + 1:3d}  train {100 * train[-1]:6.2f} %  greedy on held-out seed {100 * evaluation[-1]:6.2f} %")
    print(f"held-out seed: orl {100 * ref['orl']:.2f} %, orm {100 * ref['orm']:.2f} %")

    title = f"PyTorch REINFORCE (MLP 6-32-32-1), vecsim.parallel_env('{a.scenario}'), {a.slots} slots/episode"
    plot_curve(train, evaluation, ref, title, a.out)


if __name__ == "__main__":
    main()
