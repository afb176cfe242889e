"""``robo-reward report``: the latest complete run of each suite, incomplete runs left out."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from robo_reward.bench.report import find_runs, write_report
from robo_reward.bench.results import write_run
from robo_reward.cli import main


def _run(
    root: Path, suite: str, stamp: str, complete: bool, body: str, image: bool = False
) -> Path:
    folder = root / suite / stamp
    folder.mkdir(parents=True)
    markdown = f"## robo-reward bench {suite}\n\n### Table\n\n{body}\n"
    if image:
        (folder / "plot.png").write_bytes(b"\x89PNG not really")
        markdown += "\n![a plot](plot.png)\n![outside](../../secret.png)\n"
    write_run(folder, suite, {"complete": complete, "seconds": 3.0}, markdown, {"x": 1}, "quick")
    return folder


def test_latest_complete_run_per_suite_and_newer_incomplete_runs_listed(tmp_path: Path) -> None:
    root = tmp_path / "results"
    _run(root, "perf", "20260101T000000Z", True, "FIG-OLD")
    _run(root, "perf", "20260102T000000Z", True, "FIG-NEW", image=True)
    partial = _run(root, "perf", "20260103T000000Z", False, "FIG-PARTIAL")
    _run(root, "nav", "20260101T000000Z", True, "nav figure")
    (root / "secret.png").write_bytes(b"not to be copied")
    latest, skipped = find_runs(root)
    assert latest["perf"].folder.name == "20260102T000000Z"
    assert [run.folder for run in skipped] == [partial]

    markdown_path, html_path = write_report(root, tmp_path / "report")
    text = markdown_path.read_text()
    assert "FIG-NEW" in text and "FIG-OLD" not in text and "FIG-PARTIAL" not in text
    assert text.index("## Performance") < text.index("## Exploration")  # report order
    assert "![a plot](perf/plot.png)" in text
    assert (tmp_path / "report" / "perf" / "plot.png").read_bytes() == b"\x89PNG not really"
    assert "](../../secret.png)" in text  # left as written: outside the run folder, not copied
    assert not (tmp_path / "report" / "secret.png").exists()
    assert "Runs left out" in text and str(partial) in text
    html = html_path.read_text()
    assert html.startswith("<!DOCTYPE html>") and '<img alt="a plot" src="perf/plot.png"' in html


def test_missing_or_empty_results_give_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="run a benchmark first"):
        write_report(tmp_path / "nothing", tmp_path / "report")
    _run(tmp_path / "results", "perf", "20260101T000000Z", False, "partial")
    with pytest.raises(FileNotFoundError, match="no complete benchmark run"):
        write_report(tmp_path / "results", tmp_path / "report")
    assert not (tmp_path / "report").exists()  # no empty report folder left behind


def test_cli_report_and_an_unwritable_report_folder(tmp_path: Path, capsys) -> None:
    root = tmp_path / "results"
    _run(root, "grm", "20260101T000000Z", True, "grm figure")
    assert main(["report", "--results", str(root)]) == 0
    assert (root / "report" / "report.md").is_file()
    blocker = tmp_path / "blocker"
    blocker.write_text("a file")
    assert main(["report", "--results", str(root), "--out", str(blocker / "report")]) == 2
    assert "cannot write the report folder" in capsys.readouterr().err
    assert blocker.read_text() == "a file"
    if os.geteuid() != 0:  # root writes anywhere
        locked = tmp_path / "locked"
        locked.mkdir()
        locked.chmod(0o500)
        try:
            assert main(["report", "--results", str(root), "--out", str(locked)]) == 2
            assert list(locked.iterdir()) == []
        finally:
            locked.chmod(0o700)
