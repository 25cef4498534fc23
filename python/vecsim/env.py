"""The PettingZoo ``ParallelEnv`` of vecsim: agents are the RSUs, each step is one slot.

The logic is the Rust library's (``vecsim::env``); this module only turns its flat arrays into
Gymnasium spaces and PettingZoo's dicts. See ``python/README.md`` for the observation layout.
"""

from __future__ import annotations

import json
from typing import Any, Iterable, Mapping

import numpy as np
from gymnasium import spaces
from pettingzoo import ParallelEnv

from . import _native

VecsimError = _native.VecsimError

#: Names of the task features, in the order of ``obs["tasks"][k]``.
TASK_FEATURES = ("data_bits", "cycles_per_bit", "deadline_s", "upload_s", "distance_m")
#: Names of the candidate features, in the order of ``obs["candidates"][j]``.
CANDIDATE_FEATURES = (
    "distance_m",
    "free_cpu_hz",
    "uploaded_load",
    "uploaded_tasks",
    "available",
    "is_self",
)
#: The reward signals (the trainer's): what ``reward=`` accepts.
REWARDS = ("difference", "marginal", "system")
#: The baselines ``baseline_actions`` replays.
BASELINES = ("orl", "orm", "random", "br-ne", "orm-in-turn")

assert len(TASK_FEATURES) == _native.TASK_FEATURES
assert len(CANDIDATE_FEATURES) == _native.CANDIDATE_FEATURES


_EMPTY = np.empty(0, dtype=np.int64)


class TaskActions(spaces.MultiDiscrete):
    """One candidate index per task row: ``MultiDiscrete([rsus] * max_tasks)``.

    ``sample(mask=...)`` also takes the observation's 2-D ``action_mask`` (``[max_tasks,
    rsus]`` int8) as it is, besides Gymnasium's tuple of per-row masks.
    """

    def sample(self, mask=None, probability=None):  # noqa: D102 (Gymnasium's)
        if isinstance(mask, np.ndarray) and mask.ndim == 2:
            mask = tuple(mask)
        if isinstance(probability, np.ndarray) and probability.ndim == 2:
            probability = tuple(probability)
        return super().sample(mask=mask, probability=probability)


def _fault_args(faults: Iterable[str] | Mapping[str, Any] | str | None) -> list[str]:
    if faults is None:
        return []
    if isinstance(faults, str):
        return [faults]
    if isinstance(faults, Mapping):
        return [f"{k}={v}" for k, v in faults.items()]
    return [str(f) for f in faults]


class VecsimParallelEnv(ParallelEnv):
    """vecsim's slot protocol as a PettingZoo ``ParallelEnv``.

    Args:
        scenario: a scenario file or a preset name (``paper-noon``), as ``vecsim run`` takes it.
        seed: master seed of the first episode (default: the scenario's).
        slots: slots per episode (default: the scenario's ``time.slots``).
        faults: fault-plan changes as ``--fault`` takes them: ``["loss.wired=0.1",
            "rsu_outage=2:10:20"]`` or ``{"loss.wired": 0.1}``.
        reward: ``difference`` (default), ``marginal`` (eq. 19) or ``system`` (eq. 18).
        max_tasks: task rows per RSU (default: the peak vehicle count of the first episode,
            which bounds the tasks any RSU receives in a slot).
        trace: a trace file replacing the scenario's (trace-based scenarios).
        max_memory_gib: memory limit, as ``--max-memory``.
    """

    metadata = {"name": "vecsim_v0", "render_modes": [], "is_parallelizable": True}

    def __init__(
        self,
        scenario: str = "paper-noon",
        seed: int | None = None,
        slots: int | None = None,
        faults: Iterable[str] | Mapping[str, Any] | str | None = None,
        reward: str = "difference",
        max_tasks: int | None = None,
        trace: str | None = None,
        max_memory_gib: float = 16.0,
        render_mode: str | None = None,
    ):
        self._native = _native.NativeEnv(
            str(scenario),
            seed=seed,
            slots=slots,
            faults=_fault_args(faults),
            reward=reward,
            max_tasks=max_tasks,
            trace=None if trace is None else str(trace),
            max_memory_gib=max_memory_gib,
        )
        self.render_mode = render_mode
        n, m = self._native.rsus, self._native.max_tasks
        self.n_rsus, self.max_tasks = n, m
        self.possible_agents = [f"rsu_{e}" for e in range(n)]
        self.agents: list[str] = []
        self._index = {a: e for e, a in enumerate(self.possible_agents)}
        self._obs_space = spaces.Dict(
            {
                "tasks": spaces.Box(0.0, np.inf, (m, len(TASK_FEATURES)), np.float32),
                "task_mask": spaces.MultiBinary(m),
                "candidates": spaces.Box(0.0, np.inf, (n, len(CANDIDATE_FEATURES)), np.float32),
                "action_mask": spaces.MultiBinary((m, n)),
            }
        )
        self._obs_spaces = {a: self._obs_space for a in self.possible_agents}
        # One action space object per agent (seeding one must not seed the others).
        self._act_spaces = {a: TaskActions([n] * m) for a in self.possible_agents}
        self._counts = [0] * n

    # -- PettingZoo -------------------------------------------------------------------------

    def observation_space(self, agent: str) -> spaces.Space:
        return self._obs_spaces[agent]

    def action_space(self, agent: str) -> spaces.Space:
        return self._act_spaces[agent]

    @property
    def scenario(self) -> str:
        """The scenario's name."""
        return self._native.scenario_name

    @property
    def seed(self) -> int:
        """The seed of the current (or next) episode."""
        return self._native.seed

    @property
    def slots(self) -> int:
        """Slots per episode."""
        return self._native.slots

    @property
    def slot(self) -> int | None:
        """The slot waiting for actions (``None`` before ``reset`` and after the last)."""
        return self._native.slot

    def reset(self, seed: int | None = None, options: dict | None = None):
        """Starts an episode with master ``seed``; without one, the constructor's seed first and
        the previous episode's seed + 1 after that (deterministic either way)."""
        if seed is not None:
            seed = int(seed)
            if seed < 0:
                raise VecsimError(f"seed {seed}: expected a non-negative integer")
        self._native.reset(seed)
        self.agents = list(self.possible_agents)
        obs = self._observe()
        return obs, {a: {} for a in self.agents}

    def step(self, actions: Mapping[str, Any]):
        """Runs one slot: ``actions[agent]`` holds one candidate index per task row
        (``max_tasks`` entries, padding ignored) or one per task uploaded this slot. An agent
        without tasks this slot may be left out."""
        if not self.agents:
            raise VecsimError("no slot is open: call reset() first, or again after the last slot")
        parts, lengths = [], []
        get = actions.get
        for e, agent in enumerate(self.possible_agents):
            a = get(agent)
            if a is None:
                if self._counts[e] > 0:
                    raise VecsimError(f"no action for {agent}, which has {self._counts[e]} task(s) this slot")
                a = _EMPTY
            elif type(a) is not np.ndarray:
                a = np.asarray(a)
            if a.ndim != 1:
                raise VecsimError(
                    f"{agent}: action of shape {a.shape}; expected ({self.max_tasks},), one "
                    f"candidate index per task row"
                )
            if a.dtype != np.int64:
                if a.size and a.dtype.kind not in "iu":
                    raise VecsimError(f"{agent}: action of dtype {a.dtype}; expected integer candidate indices")
                a = a.astype(np.int64)
            parts.append(a)
            lengths.append(a.shape[0])
        if len(actions) > len(self.possible_agents) or any(a not in self._index for a in actions):
            unknown = sorted(set(actions) - set(self._index))
            raise VecsimError(f"actions for unknown agents {unknown}; agents: {self.possible_agents}")
        slot, rewards, all_rewards, counts, done = self._native.step(np.concatenate(parts).tobytes(), lengths)
        agents = self.agents
        obs = self._observe()
        infos = {
            agent: {
                "slot": slot,
                "tasks": counts[4 * e],
                "completed": counts[4 * e + 1],
                "missed_deadline": counts[4 * e + 2],
                "dropped": counts[4 * e + 3],
                "rewards": {
                    "difference": all_rewards[3 * e],
                    "marginal": all_rewards[3 * e + 1],
                    "system": all_rewards[3 * e + 2],
                },
            }
            for e, agent in enumerate(agents)
        }
        rew = dict(zip(agents, rewards))
        terminations = dict.fromkeys(agents, False)
        truncations = dict.fromkeys(agents, bool(done))
        if done:
            self.agents = []
        return obs, rew, terminations, truncations, infos

    def render(self):
        return None

    def close(self):
        pass

    def state(self) -> np.ndarray:
        """Every RSU's candidate table of the open slot, ``[rsus, rsus, 6]``."""
        _, _, cands, _, _ = self._native.observe()
        n = self.n_rsus
        return np.frombuffer(cands, dtype=np.float32).reshape(n, n, len(CANDIDATE_FEATURES))

    # -- vecsim -----------------------------------------------------------------------------

    def baseline_actions(self, name: str) -> dict[str, np.ndarray]:
        """What baseline ``name`` (``orl``, ``orm``, ``random``, ``br-ne``) would choose this
        slot, per agent, ``max_tasks`` entries each (padding rows hold the RSU itself).
        Stepping with them every slot replays ``vecsim run --policy NAME --engine
        sequential`` exactly."""
        raw = self._native.baseline_actions(name)
        a = np.frombuffer(raw, dtype=np.int64).reshape(self.n_rsus, self.max_tasks)
        return {agent: a[e] for e, agent in enumerate(self.possible_agents)}

    def summary(self) -> dict | None:
        """The run so far with the fields of ``summary.json`` (``policy`` reads ``external``);
        ``None`` before the first reset."""
        s = self._native.summary_json()
        return None if s is None else json.loads(s)

    def _observe(self) -> dict[str, dict[str, np.ndarray]]:
        tasks, tmask, cands, amask, counts = self._native.observe()
        n, m = self.n_rsus, self.max_tasks
        # Views of the fresh bytearrays (writable, owned by this step's arrays alone).
        tasks = np.ndarray((n, m, len(TASK_FEATURES)), np.float32, tasks)
        tmask = np.ndarray((n, m), np.int8, tmask)
        cands = np.ndarray((n, n, len(CANDIDATE_FEATURES)), np.float32, cands)
        amask = np.ndarray((n, m, n), np.int8, amask)
        self._counts = counts
        return {
            agent: {"tasks": t, "task_mask": tm, "candidates": c, "action_mask": am}
            for agent, t, tm, c, am in zip(self.agents, tasks, tmask, cands, amask)
        }


def parallel_env(scenario: str = "paper-noon", **kwargs) -> VecsimParallelEnv:
    """A vecsim ``ParallelEnv``: see :class:`VecsimParallelEnv` for the arguments."""
    return VecsimParallelEnv(scenario, **kwargs)


def run_native(
    scenario: str = "paper-noon",
    policy: str = "orl",
    seed: int | None = None,
    slots: int | None = None,
    faults=None,
    trace: str | None = None,
) -> tuple[dict, float, float]:
    """One episode of baseline ``policy`` run natively by the sequential engine:
    ``(summary.json as a dict, wall seconds of its slots, thread CPU seconds of its slots)``."""
    s, wall, cpu = _native.run_native(
        str(scenario),
        policy,
        seed=seed,
        slots=slots,
        faults=_fault_args(faults),
        trace=None if trace is None else str(trace),
    )
    return json.loads(s), wall, cpu
