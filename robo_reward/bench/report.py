"""``robo-reward report``: the latest complete result of every suite, in one Markdown and one HTML
file with their plots.

For each suite the newest run folder under ``results/<suite>/`` whose ``results.json`` says
``"complete": true`` is taken; newer incomplete runs (interrupted, failed, or still running) are
listed at the end and never mixed in. The report folder is self-contained: each run's plots are
copied next to it, so it can be committed or mailed as it is.
"""

from __future__ import annotations

import datetime as _dt
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from robo_reward.bench.results import read_run
from robo_reward.data.atomic import atomic_write_text

REPORT_ORDER = ("quick", "full", "perf", "grm", "perceptual", "dopamine", "nav", "crosssim", "soak")
"""Suites in report order; folders of other names (e.g. ``reward_compare``) come after."""
SUITE_TITLES = {
    "quick": "Quick benchmark",
    "full": "Full benchmark",
    "perf": "Performance against peers and limits",
    "grm": "General process reward model",
    "perceptual": "Perceptual rewards",
    "dopamine": "GRM-shaped reinforcement learning",
    "nav": "Exploration and navigation",
    "crosssim": "Cross-simulator check (MuJoCo to PyBullet)",
    "soak": "ROS 2 soak",
}
_IMAGE = re.compile(r"!\[([^\]]*)\]\(([^)\s]+)\)")


@dataclass(frozen=True)
class FoundRun:
    suite: str
    folder: Path
    payload: dict[str, Any]

    @property
    def complete(self) -> bool:
        return self.payload["results"].get("complete") is True


def find_runs(results_root: str | Path) -> tuple[dict[str, FoundRun], list[FoundRun]]:
    """Per suite, the newest complete run; and the incomplete runs newer than it."""
    root = Path(results_root)
    if not root.is_dir():
        raise FileNotFoundError(
            f"no results folder {root}: run a benchmark first (`robo-reward bench quick`)"
        )
    latest: dict[str, FoundRun] = {}
    skipped: list[FoundRun] = []
    for suite_dir in sorted(p for p in root.iterdir() if p.is_dir() and p.name != "report"):
        for folder in sorted((p for p in suite_dir.iterdir() if p.is_dir()), reverse=True):
            try:
                payload = read_run(folder)
            except (OSError, ValueError):
                continue  # not a run folder (or one being written for the first time)
            run = FoundRun(suite_dir.name, folder, payload)
            if run.complete:
                latest[suite_dir.name] = run
                break
            skipped.append(run)
    return latest, skipped


def _ordered(suites: list[str]) -> list[str]:
    known = [s for s in REPORT_ORDER if s in suites]
    return known + sorted(s for s in suites if s not in REPORT_ORDER)


def _section(run: FoundRun, out_dir: Path) -> str:
    """The run's own Markdown under the suite's title, its images copied and relinked."""
    text = (run.folder / "results.md").read_text()
    # the command titles ("## robo-reward bench grm", "## robo-reward perceptual eval"): the
    # report gives each run its own title
    text = re.sub(r"^## robo-reward [^\n]*\n", "", text, flags=re.MULTILINE)

    def relink(match: re.Match[str]) -> str:
        alt, target = match.groups()
        source = run.folder / target
        if (
            "://" in target
            or not source.is_file()
            or run.folder.resolve() not in source.resolve().parents
        ):
            return match.group(0)
        copied = Path(run.suite) / source.name
        (out_dir / run.suite).mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, out_dir / copied)
        return f"![{alt}]({copied.as_posix()})"

    text = _IMAGE.sub(relink, text)
    payload = run.payload
    machine = payload.get("machine", {})
    profile = f", profile `{payload['profile']}`" if payload.get("profile") else ""
    seconds = payload["results"].get("seconds")
    took = f", {seconds:.0f} s" if isinstance(seconds, (int, float)) else ""
    header = (
        f"## {SUITE_TITLES.get(run.suite, run.suite)}\n\n"
        f"Run `{run.folder}`{profile}{took}, finished {payload.get('finished_utc', '?')}; "
        f"command `{payload.get('command', '?')}`; {machine.get('cpu_count', '?')} CPUs, "
        f"Python {machine.get('python', '?')}.\n\n"
    )
    return header + text.strip() + "\n"


def compose_report(results_root: str | Path, out_dir: str | Path) -> str:
    """The report's Markdown (images copied into ``out_dir``)."""
    out = Path(out_dir)
    latest, skipped = find_runs(results_root)
    if not latest:
        raise FileNotFoundError(
            f"{results_root} holds no complete benchmark run: run `robo-reward bench quick`"
        )
    out.mkdir(parents=True, exist_ok=True)  # only once there is something to report
    now = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
    parts = [
        "# robo_reward benchmark report\n",
        f"Composed {now} by `robo-reward report` from the latest complete run of each suite "
        f"under `{results_root}`. Each section names its run folder, whose `results.json` holds "
        "every figure with its config, seed, package versions and machine.\n",
    ]
    order = _ordered(list(latest))
    parts.append("Sections: " + ", ".join(SUITE_TITLES.get(s, s) for s in order) + ".\n")
    parts += [_section(latest[suite], out) for suite in order]
    if skipped:
        lines = [
            "## Runs left out\n",
            "Incomplete (interrupted, failed or still running) runs newer than the ones above; "
            "their partial figures are in their folders, not in this report.\n",
        ]
        lines += [f"- `{run.folder}` ({run.suite})" for run in skipped]
        parts.append("\n".join(lines) + "\n")
    return "\n".join(parts)


HTML_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>robo_reward benchmark report</title>
<style>
body {{ font-family: system-ui, sans-serif; max-width: 70em; margin: 2em auto; padding: 0 1em;
       line-height: 1.45; color: #222; }}
table {{ border-collapse: collapse; margin: 1em 0; font-size: 0.92em; }}
th, td {{ border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: left; }}
th {{ background: #f2f2f2; }}
img {{ max-width: 100%; }}
code {{ background: #f4f4f4; padding: 0 0.2em; }}
</style></head><body>
{body}
</body></html>
"""


def markdown_to_html(markdown_text: str) -> str:
    import markdown

    body = markdown.markdown(markdown_text, extensions=["tables", "fenced_code"])
    return HTML_PAGE.format(body=body)


def write_report(results_root: str | Path, out_dir: str | Path) -> tuple[Path, Path]:
    """Write ``report.md`` and ``report.html`` into ``out_dir`` (atomically)."""
    out = Path(out_dir)
    try:
        text = compose_report(results_root, out)
    except OSError as error:
        if isinstance(error, FileNotFoundError) or error.filename is None:
            raise
        raise OSError(f"cannot write the report folder {out}: {error.strerror}") from error
    markdown_path, html_path = out / "report.md", out / "report.html"
    atomic_write_text(markdown_path, text)
    atomic_write_text(html_path, markdown_to_html(text))
    return markdown_path, html_path
