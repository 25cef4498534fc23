"""The vecsim PettingZoo environment against PettingZoo's own checks and the `vecsim` CLI.

Tests that compare with the command line run the binary named by ``VECSIM_BIN`` (the e2e test
``tests/e2e/python.rs`` sets it); without it they are skipped, saying so.
"""

from __future__ import annotations

import json
import os
import pathlib
import subprocess

import numpy as np
import pytest
from pettingzoo.test import parallel_api_test, parallel_seed_test

import vecsim

REPO = pathlib.Path(__file__).resolve().parents[2]
FIXTURES = REPO / "tests" / "fixtures"
BIN = os.environ.get("VECSIM_BIN")
needs_bin = pytest.mark.skipif(not BIN, reason="VECSIM_BIN is not set (the e2e test sets it to the vecsim binary)")


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([BIN, *args], capture_output=True, text=True, timeout=600)


def cli_summary(scenario: str, policy: str, slots: int, faults=(), seed: int | None = None) -> dict:
    args = ["run", scenario, "--policy", policy, "--engine", "sequential", "--json", "--slots", str(slots)]
    if seed is not None:
        args += ["--seed", str(seed)]
    for f in faults:
        args += ["--fault", f]
    p = cli(*args)
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout)


def replay(env: vecsim.VecsimParallelEnv, policy: str, seed: int | None = None):
    """Drives a whole episode with the baseline's decisions; returns the summary and the sum of
    the per-step system rewards."""
    env.reset(seed=seed)
    total = 0.0
    while env.agents:
        _, _, _, truncs, infos = env.step(env.baseline_actions(policy))
        total += infos["rsu_0"]["rewards"]["system"]
    return env.summary(), total


def test_pettingzoo_parallel_api():
    parallel_api_test(vecsim.parallel_env("paper-noon", slots=12), num_cycles=40)


def test_pettingzoo_parallel_seed():
    parallel_seed_test(lambda: vecsim.parallel_env("paper-noon", slots=10), num_cycles=20)


def test_observations_are_in_their_spaces_and_masks_sample():
    env = vecsim.parallel_env("paper-noon", slots=5, faults=["rsu_outage=3:0:4"])
    obs, infos = env.reset(seed=2)
    assert env.agents == [f"rsu_{e}" for e in range(8)] and set(infos) == set(env.agents)
    for agent, o in obs.items():
        space = env.observation_space(agent)
        assert space.contains(o), agent
        k = int(o["task_mask"].sum())
        # Real rows allow every RSU but the one down; padding rows only the RSU itself.
        e = int(agent.split("_")[1])
        if k:
            assert o["action_mask"][0].tolist() == [0 if j == 3 else 1 for j in range(8)]
        assert o["action_mask"][k].tolist() == [1 if j == e else 0 for j in range(8)]
        assert o["candidates"][e, 5] == 1.0 and o["candidates"][3, 4] == 0.0
        for _ in range(20):
            a = env.action_space(agent).sample(mask=o["action_mask"])
            assert env.action_space(agent).contains(a) and 3 not in a[:k].tolist()
    busy = [a for a, o in obs.items() if o["task_mask"].sum()]
    assert busy, "paper-noon has uploads in its first slot"


@needs_bin
@pytest.mark.parametrize("policy", ["orl", "orm"])
def test_replaying_a_baseline_gives_the_cli_run(policy):
    want = cli_summary("paper-noon", policy, 60)
    got, total = replay(vecsim.parallel_env("paper-noon", slots=60), policy)
    assert got["completion_rate"] == want["completion_rate"]
    assert got["cumulative_reward"] == want["cumulative_reward"]
    assert total == want["cumulative_reward"]
    assert want["tasks_uploaded"] > 1000
    want["policy"] = "external"
    assert got == want


@needs_bin
@pytest.mark.parametrize("policy", ["random", "br-ne", "orm-in-turn"])
def test_replaying_random_the_oracle_and_orm_in_turn_with_faults_and_a_scenario_file(policy):
    scenario = str(FIXTURES / "faults-small.toml")
    faults = ["loss.wired=0.2", "rsu_outage=1:3:8", "vehicle_dropout=0.05", "latency.upload=fixed:0.01"]
    want = cli_summary(scenario, policy, 25, faults, seed=3)
    env = vecsim.parallel_env(scenario, slots=25, faults=faults, seed=3)
    got, _ = replay(env, policy)
    assert want["faults"]["migrations_lost"] > 0 and want["faults"]["rsu_outage_slots"] == 6
    want["policy"] = "external"
    assert got == want
    # A later episode with the same seed replays it again.
    assert replay(env, policy, seed=3)[0] == want


def test_determinism_under_reset_seed():
    def episode(env, seed):
        obs, _ = env.reset(seed=seed)
        rng = np.random.default_rng(0)
        trace = []
        while env.agents:
            acts = {a: rng.integers(0, env.n_rsus, env.max_tasks) for a in env.agents}
            obs, rew, _, _, infos = env.step(acts)
            trace.append((sorted(rew.items()), [o["tasks"].tobytes() for o in obs.values()], infos["rsu_2"]))
        return trace, env.summary()

    # The same padding for both: the default is sized on the constructor's seed.
    a = vecsim.parallel_env("paper-noon", slots=15, max_tasks=200)
    b = vecsim.parallel_env("paper-noon", slots=15, seed=99, max_tasks=200)
    first = episode(a, 7)
    assert episode(b, 7) == first
    assert episode(a, 7) == first
    assert episode(a, 8)[1] != first[1]
    # Without a seed: the constructor's seed, then + 1.
    c = vecsim.parallel_env("paper-noon", slots=3, seed=7)
    c.reset()
    assert c.seed == 7
    c.reset()
    assert c.seed == 8


def test_reward_signals():
    for signal in vecsim.REWARDS:
        env = vecsim.parallel_env("paper-noon", slots=4, reward=signal)
        env.reset()
        while env.agents:
            _, rew, _, _, infos = env.step(env.baseline_actions("orm"))
            for agent, r in rew.items():
                assert r == infos[agent]["rewards"][signal]
                i = infos[agent]
                assert i["tasks"] == i["completed"] + i["missed_deadline"] + i["dropped"]
    with pytest.raises(vecsim.VecsimError, match=r"reward `sum`: expected one of difference, marginal, system"):
        vecsim.parallel_env("paper-noon", reward="sum")


@needs_bin
def test_a_bad_scenario_raises_the_cli_message(tmp_path):
    bad = tmp_path / "bad.toml"
    text = (FIXTURES / "minimal.toml").read_text().replace("[time]", "[time]\nslotz = 3", 1)
    bad.write_text(text)
    cases = [
        (["no-such-scenario"], {}),
        ([str(bad)], {}),
        (["paper-noon", "--fault", "loss.wired=1.5"], {"faults": ["loss.wired=1.5"]}),
        (["paper-noon", "--slots", "0"], {"slots": 0}),
    ]
    for args, kwargs in cases:
        p = cli("run", *args, "--json")
        assert p.returncode == 2, p.stderr
        with pytest.raises(vecsim.VecsimError) as e:
            vecsim.parallel_env(args[0], **kwargs)
        assert p.stderr == f"error: {e.value}\n"
        assert isinstance(e.value, ValueError)


def test_bad_actions_raise_and_leave_the_slot_open():
    env = vecsim.parallel_env("paper-noon", slots=3)
    with pytest.raises(vecsim.VecsimError, match="call reset"):
        env.step({})
    obs, _ = env.reset()
    m = env.max_tasks
    busy = next(a for a, o in obs.items() if o["task_mask"].sum())
    k = int(obs[busy]["task_mask"].sum())
    e = int(busy.split("_")[1])
    good = env.baseline_actions("orl")
    cases = [
        ({**good, busy: np.zeros((m, 1), dtype=np.int64)}, rf"{busy}: action of shape \({m}, 1\); expected \({m},\)"),
        ({**good, busy: np.zeros(k + 1, dtype=np.int64)}, rf"rsu{e}: action of length {k + 1}; expected {m} .* or {k} "),
        ({**good, busy: np.full(m, 8)}, rf"rsu{e}: action\[0\] = 8: expected a candidate index from 0 to 7"),
        ({**good, busy: np.full(m, -1)}, rf"rsu{e}: action\[0\] = -1"),
        ({**good, busy: np.full(m, 0.5)}, r"dtype float64; expected integer"),
        ({a: v for a, v in good.items() if a != busy}, rf"no action for {busy}"),
        ({**good, "rsu_99": good[busy]}, r"unknown agents \['rsu_99'\]"),
    ]
    for actions, pattern in cases:
        with pytest.raises(vecsim.VecsimError, match=pattern):
            env.step(actions)
        assert env.slot == 0
    # One entry per task is fine too, and the env goes on.
    env.step({a: v[: int(obs[a]["task_mask"].sum())] for a, v in good.items()})
    assert env.slot == 1
    with pytest.raises(vecsim.VecsimError, match=r"baseline `nope`: expected one of orl, orm, random, br-ne"):
        env.baseline_actions("nope")
    while env.agents:
        env.step(env.baseline_actions("orl"))
    with pytest.raises(vecsim.VecsimError, match="call reset"):
        env.step(good)


def test_run_native_matches_the_replay():
    native, wall, cpu = vecsim.run_native("paper-noon", "orm", slots=20)
    got, _ = replay(vecsim.parallel_env("paper-noon", slots=20), "orm")
    assert wall > 0 and cpu > 0 and native["policy"] == "orm"
    native["policy"] = "external"
    assert got == native


def test_padding_overflow_is_an_error_naming_the_option():
    env = vecsim.parallel_env("paper-noon", slots=2, max_tasks=1)
    with pytest.raises(vecsim.VecsimError, match=r"more than max_tasks = 1; build the environment with max_tasks >= \d+"):
        env.reset()
