"""Regenerate the README's task pictures: one scripted-expert demo per task as a contact sheet.

Run with ``make pictures`` (or ``python docs/make_pictures.py``).
"""

from __future__ import annotations

from pathlib import Path

from robo_reward.data import contact_sheet
from robo_reward.sim import TASKS
from robo_reward.sim.demos import rollout

OUT = Path(__file__).resolve().parent / "images"


def main() -> None:
    OUT.mkdir(exist_ok=True)
    for task in TASKS:
        trajectory = rollout(task, seed=1)
        path = contact_sheet(trajectory, OUT / f"task_{task}.png", columns=8)
        print(f"wrote {path}")
    perturbed = rollout("pick_place", seed=0, variant="perturbed")
    print(f"wrote {contact_sheet(perturbed, OUT / 'perturbed_pick_place.png', columns=10)}")


if __name__ == "__main__":
    main()
