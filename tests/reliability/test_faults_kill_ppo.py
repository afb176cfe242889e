"""SIGKILL mid-checkpoint with PPO: ``robo-reward train --algo ppo`` killed while it writes a
checkpoint resumes to exactly the uninterrupted result (see test_faults_kill.py for SAC)."""

from __future__ import annotations

from pathlib import Path

from test_faults_kill import (
    assert_checkpoint_intact,
    assert_same_run,
    kill_while_saving,
    only_run_dir,
    printed_metrics,
    run_cli,
    start,
    wait_for_run_dir,
)

from robo_reward.rl.runner import POLICY_FILE

PPO_ARGS = [
    "--algo", "ppo", "--task", "reach", "--steps", "600", "--seed", "5", "--no-progress",
    "--set", "save_every=200", "--set", "ppo.num_minibatches=2", "--set", "ppo.num_envs=2",
    "--set", "ppo.num_steps=50", "--set", "ppo.update_epochs=2", "--set", "ppo.hidden=[16]",
    "--set", "ppo.eval_episodes=2", "--set", "ppo.eval_every=200",
]  # fmt: skip


def test_ppo_sigkill_while_writing_a_checkpoint_then_resume_equals_an_uninterrupted_run(
    tmp_path: Path,
) -> None:
    reference_out = tmp_path / "uninterrupted"
    reference = run_cli(*PPO_ARGS, "--out", str(reference_out))

    out = tmp_path / "killed"
    process = start(*PPO_ARGS, "--out", str(out))
    run_dir = wait_for_run_dir(out, process)
    phase = kill_while_saving(process, run_dir, delay_s=0.0)
    print(f"\nPPO kill phase: {phase}")
    assert phase in ("staging", "committed")
    assert assert_checkpoint_intact(run_dir) in (200, 400, 600)
    assert not (run_dir / POLICY_FILE).exists()

    resumed = run_cli("--resume", str(run_dir))
    assert printed_metrics(resumed.stdout) == printed_metrics(reference.stdout)
    assert_same_run(run_dir, only_run_dir(reference_out))
