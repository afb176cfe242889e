"""Benchmark suites write complete, traceable result folders; failures are marked partial."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from robo_reward.bench import suites
from robo_reward.bench.perf import PerfConfig, run_sim_perf, time_env_steps
from robo_reward.config import preset_path

TINY_PERF = [
    "sim.steps=20",
    "sim.repeats=1",
    "sim_peer.enabled=false",
    "ros.enabled=false",
    "controllers.enabled=false",
]


def _payload(run_dir: Path) -> dict:
    return json.loads((run_dir / "results.json").read_text())


def test_quick_profile_runs_member_suites_into_their_own_folders(tmp_path: Path) -> None:
    run_dir, markdown = suites.run_suite("quick", tmp_path, preset_path("bench", "tiny"))
    payload = _payload(run_dir)
    assert payload["results"]["complete"] is True and payload["suite"] == "quick"
    assert payload["machine"]["versions"]["mujoco"]
    members = {entry["suite"]: entry for entry in payload["results"]["runs"]}
    assert set(members) == {"perf", "nav"} and all(e["complete"] for e in members.values())
    perf = _payload(Path(members["perf"]["folder"]))
    assert perf["profile"] == "quick" and perf["results"]["complete"] is True
    assert perf["config"]["sim"]["steps"] == 20
    sps = perf["results"]["sim"]["steps_per_second"]
    assert set(sps) == {"no_render", "rgb", "rgb_depth"} and all(v > 0 for v in sps.values())
    nav = _payload(Path(members["nav"]["folder"]))
    assert nav["results"]["nav"]["summary"]["small"]["random"]["seeds"] == 1
    assert set(payload["results"]["experts"]) == {"reach", "button_press"}
    assert (run_dir / "results.md").read_text() == markdown
    assert "Suites run" in markdown and "Scripted experts" in markdown
    report = (tmp_path / "report" / "report.md").read_text()
    for title in ("Quick benchmark", "Performance against peers", "Exploration and navigation"):
        assert f"## {title}" in report
    assert (tmp_path / "report" / "nav" / "nav.png").is_file()
    assert "<table>" in (tmp_path / "report" / "report.html").read_text()


def test_failed_run_is_marked_incomplete(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args, **kwargs):
        raise RuntimeError("simulated crash")

    monkeypatch.setattr(suites, "run_grm_perf", broken)
    with pytest.raises(RuntimeError, match="simulated crash"):
        suites.run_suite("perf", tmp_path, overrides=TINY_PERF)
    (run_dir,) = (tmp_path / "perf").iterdir()
    payload = _payload(run_dir)
    assert payload["results"]["complete"] is False
    assert "sim" in payload["results"]  # what was measured before the crash is kept
    assert "INCOMPLETE RUN" in (run_dir / "results.md").read_text()


def test_a_failed_member_leaves_the_profile_incomplete_and_the_others_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args, **kwargs):
        raise RuntimeError("simulated crash")

    monkeypatch.setattr(suites, "run_sim_perf", broken)
    with pytest.raises(suites.SuiteFailed, match=r"suites \['perf'\] failed"):
        suites.run_suite("quick", tmp_path, preset_path("bench", "tiny"))
    (run_dir,) = (tmp_path / "quick").iterdir()
    payload = _payload(run_dir)
    assert payload["results"]["complete"] is False
    perf, nav = payload["results"]["runs"]
    assert "simulated crash" in perf["error"] and nav["complete"] is True
    report = (tmp_path / "report" / "report.md").read_text()
    assert "## Exploration and navigation" in report
    assert "## Performance against peers" not in report  # the failed run is left out ...
    assert "Runs left out" in report and "(perf)" in report  # ... and listed


def test_cli_exits_1_with_the_failed_members_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from robo_reward.cli import main

    def broken(*args, **kwargs):
        raise RuntimeError("simulated crash")

    monkeypatch.setattr(suites, "run_sim_perf", broken)
    assert main(["bench", "quick", "--config", "tiny", "--results", str(tmp_path)]) == 1
    assert "suites ['perf'] failed" in capsys.readouterr().err


def test_interrupted_run_keeps_finished_parts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(suites, "run_grm_perf", interrupted)
    with pytest.raises(KeyboardInterrupt):
        suites.run_suite("quick", tmp_path, preset_path("bench", "tiny"))
    (perf_dir,) = (tmp_path / "perf").iterdir()
    assert _payload(perf_dir)["results"]["complete"] is False
    assert "sim" in _payload(perf_dir)["results"]
    assert not (tmp_path / "nav").exists()  # an interrupt stops the profile
    (quick_dir,) = (tmp_path / "quick").iterdir()
    assert _payload(quick_dir)["results"]["complete"] is False


def test_profile_rejects_unknown_member_suites() -> None:
    with pytest.raises(ValueError, match="unknown suites"):
        suites.QuickSuiteConfig(suites=("perf", "nope"))
    assert "dopamine" in suites.FullSuiteConfig().suites
    assert "dopamine" not in suites.QuickSuiteConfig().suites


def test_unknown_suite_and_unwritable_results(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown bench suite"):
        suites.run_suite("nope", tmp_path)
    not_a_folder = tmp_path / "results"
    not_a_folder.write_text("a file where the results folder should be")
    with pytest.raises(OSError, match="cannot create the results folder"):
        suites.run_suite("perf", not_a_folder)
    assert not_a_folder.read_text() == "a file where the results folder should be"


def test_time_env_steps_measures_something_positive() -> None:
    assert time_env_steps("reach", 10, {"cameras": ()}) > 0


def test_sim_perf_reports_ratios_consistent_with_speeds() -> None:
    result = run_sim_perf(
        PerfConfig(task="reach", steps=10, repeats=1, image_size=16), progress=False
    )
    sps = result["steps_per_second"]
    assert result["ratio_rgb_to_no_render"] == pytest.approx(sps["rgb"] / sps["no_render"])
    assert result["meets_target"] == (sps["rgb"] >= result["target_rgb_steps_per_second"])


def test_perf_config_rejects_bad_values() -> None:
    with pytest.raises(ValueError):
        PerfConfig(steps=1)
    with pytest.raises(ValueError):
        PerfConfig(repeats=0)


def test_controller_perf_table_reports_ratios_and_success() -> None:
    from robo_reward.bench.controllers import controller_perf_markdown

    def run(sps: float, success: float) -> dict:
        return {"steps_per_s": sps, "eval_success": success, "eval_return": 0.0}

    results = {
        "sac": {"FetchReach-v4": {"ours": [run(90, 1.0), run(80, 0.5)], "sb3": [run(60, 1.0)] * 2}},
        "ppo": {"Reach": {"ours": [run(2000, 0.0)] * 2, "sb3": [run(1000, 0.0)] * 2}},
    }
    table = controller_perf_markdown(results)
    assert "| SAC | FetchReach-v4 | 85 | 60 | 1.42 | >= 3 (not met) | 75% / 100% |" in table
    assert "| PPO | Reach | 2000 | 1000 | 2.00 | >= 1.5 (met) | 0% / 0% |" in table


def test_controller_runs_train_and_evaluate_our_side() -> None:
    """One tiny run of each of our controllers through the bench's own code path (the SB3 side
    needs the [bench] extra and is exercised by `make bench-perf`)."""
    from robo_reward.bench.controllers import run_ppo, run_sac

    sac = run_sac("ours", "robo_reward/Reach-v0", 120, 60, 0, 2)
    ppo = run_ppo("ours", "robo_reward/Reach-v0", 2048, 0, 2)
    for result in (sac, ppo):
        assert result["steps_per_s"] > 0
        assert 0.0 <= result["eval_success"] <= 1.0
        assert -50.0 <= result["eval_return"] <= 0.0  # Fetch's reward: -1 per step, 50 steps
