"""SIGKILL after the last checkpoint, while ``robo-reward train`` writes the policy: ``--resume``
writes the policy without training or evaluating again, so the run folder equals that of an
uninterrupted run (no evaluation logged twice)."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

from test_faults_kill import ENV, assert_same_run, only_run_dir, printed_metrics, run_cli

from robo_reward.checkpoints import load_weights
from robo_reward.rl.runner import POLICY_FILE, TRAINER_FILE

ARGS = [
    "--algo", "sac", "--task", "reach", "--steps", "150", "--seed", "4", "--no-progress",
    "--set", "sac.learning_starts=50", "--set", "sac.batch_size=16", "--set", "sac.hidden=[16]",
    "--set", "sac.eval_episodes=2", "--set", "sac.log_every=25",
]  # fmt: skip
KILLED_WRITING_THE_POLICY = """
import os, signal, sys
from robo_reward.rl import runner
runner.save_policy = lambda *args, **kwargs: os.kill(os.getpid(), signal.SIGKILL)
from robo_reward.cli import main
sys.exit(main(sys.argv[1:]))
"""


def test_sigkill_while_writing_the_policy_then_resume_only_finishes_the_run(
    tmp_path: Path,
) -> None:
    reference = run_cli(*ARGS, "--out", str(tmp_path / "uninterrupted"))

    out = tmp_path / "killed"
    command = [sys.executable, "-c", KILLED_WRITING_THE_POLICY, "train", *ARGS, "--out", str(out)]
    killed = subprocess.run(command, env=ENV, capture_output=True, text=True, timeout=300)
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    run_dir = only_run_dir(out)
    assert not (run_dir / POLICY_FILE).exists()
    trainer = load_weights(run_dir / TRAINER_FILE)
    assert trainer.extra["global_step"] == 150 and trainer.extra["caller"]["finished"] is True

    resumed = run_cli("--resume", str(run_dir))
    assert printed_metrics(resumed.stdout) == printed_metrics(reference.stdout)
    assert_same_run(run_dir, only_run_dir(tmp_path / "uninterrupted"))
