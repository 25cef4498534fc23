"""vecsim from Python: a PettingZoo ``ParallelEnv`` of Vehicular Edge Computing.

>>> import vecsim
>>> env = vecsim.parallel_env("paper-noon", seed=1, slots=50, reward="difference")
>>> obs, infos = env.reset()
>>> obs, rewards, terms, truncs, infos = env.step(env.baseline_actions("orm"))

Agents are the RSUs (``rsu_0``, ...); each step is one slot. See ``python/README.md``.
"""

from .env import (
    BASELINES,
    CANDIDATE_FEATURES,
    REWARDS,
    TASK_FEATURES,
    TaskActions,
    VecsimError,
    VecsimParallelEnv,
    parallel_env,
    run_native,
)

__all__ = [
    "BASELINES",
    "CANDIDATE_FEATURES",
    "REWARDS",
    "TASK_FEATURES",
    "TaskActions",
    "VecsimError",
    "VecsimParallelEnv",
    "parallel_env",
    "run_native",
]
