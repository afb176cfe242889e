"""``robo-reward``: the command line. Thin: each subcommand parses, validates, calls the library.

Bad input exits with status 2 and one line on stderr that says what is wrong; nothing is written.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

import robo_reward


class UsageError(Exception):
    """Raised for bad command-line input; printed without a traceback."""


def _add_config_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", help="YAML file or preset name under configs/ to start from")
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override one config value (repeatable), e.g. --set image_size=64",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="robo-reward",
        description="Dense rewards for robot learning: tasks, demos, reward models, benchmarks.",
    )
    parser.add_argument(
        "--version", action="version", version=f"robo_reward {robo_reward.__version__}"
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    tasks = commands.add_parser("tasks", help="list the registered tasks")
    tasks.set_defaults(handler=_cmd_tasks)

    demos = commands.add_parser("demos", help="generate and look at demonstrations")
    demo_commands = demos.add_subparsers(dest="demos_command", required=True, metavar="ACTION")
    generate = demo_commands.add_parser("generate", help="write scripted-expert demos to a dataset")
    generate.add_argument("--task", help="task name (see `robo-reward tasks`)")
    generate.add_argument("--episodes", type=int, help="number of episodes")
    generate.add_argument("--seed", type=int, help="first env seed")
    generate.add_argument("--out", required=True, help="dataset directory to create")
    generate.add_argument("--overwrite", action="store_true", help="replace an existing dataset")
    _add_config_arguments(generate)
    generate.set_defaults(handler=_cmd_demos_generate)

    show = demo_commands.add_parser("show", help="contact sheet (PNG) of a trajectory")
    show.add_argument("path", help="a trajectory .npz or a dataset directory")
    show.add_argument("--episode", type=int, default=0, help="episode index in a dataset")
    show.add_argument("--out", help="PNG path (default: next to the input)")
    show.add_argument("--columns", type=int, default=10, help="frames per row")
    show.add_argument("--video", help="also write an MP4 of one view here")
    show.set_defaults(handler=_cmd_demos_show)

    grm = commands.add_parser("grm", help="the general process reward model")
    grm_commands = grm.add_subparsers(dest="grm_command", required=True, metavar="ACTION")
    pretrain = grm_commands.add_parser("pretrain", help="train the general GRM")
    pretrain.add_argument("--out", required=True, help="run folder (checkpoint, optimizer, log)")
    pretrain.add_argument("--resume", action="store_true", help="continue the run in --out")
    _add_config_arguments(pretrain)
    pretrain.set_defaults(handler=_cmd_grm_pretrain)

    evaluate = grm_commands.add_parser("eval", help="VOC and completion accuracy on held-out tasks")
    evaluate.add_argument("--results", default="results", help="results root folder")
    _add_config_arguments(evaluate)
    evaluate.set_defaults(handler=_cmd_grm_eval)

    encoder = commands.add_parser("encoder", help="self-supervised image encoders (TCN)")
    encoder_commands = encoder.add_subparsers(
        dest="encoder_command", required=True, metavar="ACTION"
    )
    encoder_train = encoder_commands.add_parser(
        "train", help="train the multi-view time-contrastive encoder on demo videos"
    )
    encoder_train.add_argument(
        "--data", required=True, nargs="+", metavar="DIR", help="dataset directories (2+ views)"
    )
    encoder_train.add_argument("--out", required=True, help="run folder (checkpoint, metrics)")
    encoder_train.add_argument(
        "--allow-held-out",
        action="store_true",
        help="also train on the held-out tasks (stack, button_press) the encoder is tested on",
    )
    encoder_train.add_argument("--no-progress", action="store_true", help="no progress bar")
    _add_config_arguments(encoder_train)
    encoder_train.set_defaults(handler=_cmd_encoder_train)

    perceptual = commands.add_parser(
        "perceptual", help="perceptual rewards from a few demonstrations (step discovery)"
    )
    perceptual_commands = perceptual.add_subparsers(
        dest="perceptual_command", required=True, metavar="ACTION"
    )
    fit = perceptual_commands.add_parser(
        "fit", help="discover steps in demos, choose features, write a perceptual reward"
    )
    fit.add_argument(
        "--demos",
        required=True,
        nargs="+",
        help="dataset directories and/or trajectory .npz files (successful episodes are used)",
    )
    fit.add_argument("--steps", type=int, help="steps per demo (default: the config's, 3)")
    fit.add_argument("--episodes", type=int, help="use at most this many demos")
    fit.add_argument("--out", required=True, help="reward file to write (.safetensors)")
    _add_config_arguments(fit)
    fit.set_defaults(handler=_cmd_perceptual_fit)

    perceptual_eval = perceptual_commands.add_parser(
        "eval", help="step discovery vs annotated steps; VOC and completion next to the GRM"
    )
    perceptual_eval.add_argument("--results", default="results", help="results root folder")
    _add_config_arguments(perceptual_eval)
    perceptual_eval.set_defaults(handler=_cmd_perceptual_eval)

    adapt = commands.add_parser("adapt", help="one-shot adaptation of the GRM on one demo")
    adapt.add_argument(
        "--demo",
        required=True,
        help="a trajectory .npz, a dataset directory, or a rosbag2 folder (has metadata.yaml)",
    )
    adapt.add_argument("--episode", type=int, default=0, help="episode index in a dataset")
    adapt.add_argument("--out", required=True, help="folder for the adapted checkpoint")
    adapt.add_argument(
        "--views",
        metavar="VIEW=TOPIC,...",
        help="rosbag2 demos: the image topic of each camera view, named after the model's "
        "views, e.g. front=/cam/front/image_raw/compressed,side=/cam/side/image_raw",
    )
    adapt.add_argument(
        "--task", help="rosbag2 demos: task name recorded with the checkpoint (default: recorded)"
    )
    adapt.add_argument(
        "--tolerance-ms",
        type=float,
        help="rosbag2 demos: how far (ms) a view's frame may be from a time step "
        "(default: half the reference camera's frame period)",
    )
    adapt.add_argument(
        "--receive-time",
        action="store_true",
        help="rosbag2 demos: align on the bag's receive time, for cameras that leave "
        "header.stamp unset",
    )
    _add_config_arguments(adapt)
    adapt.set_defaults(handler=_cmd_adapt)

    train = commands.add_parser("train", help="train SAC or PPO on a task with a chosen reward")
    train.add_argument("--algo", choices=("sac", "ppo"), help="controller (default: the preset's)")
    train.add_argument("--task", help="task name (see `robo-reward tasks`)")
    train.add_argument("--reward", help="sparse, privileged, grm or perceptual")
    train.add_argument("--steps", type=int, help="env steps to train for")
    train.add_argument("--seed", type=int, help="seed of the run")
    train.add_argument("--out", default="runs", help="folder that receives the run folder")
    train.add_argument(
        "--resume", metavar="RUN_DIR", help="continue a run folder (its config.yaml is used)"
    )
    train.add_argument("--no-progress", action="store_true", help="no progress bar")
    _add_config_arguments(train)
    train.set_defaults(handler=_cmd_train)

    bench = commands.add_parser(
        "bench",
        help="run a benchmark suite",
        description="Suites: quick (the README's, ~10 min), full (every suite, hours), perf, "
        "grm, perceptual, dopamine, nav, crosssim, soak. Each writes "
        "<results>/<suite>/<UTC time>/ with results.json, results.md and plots.",
    )
    bench.add_argument(
        "suite", help="quick, full, perf, grm, perceptual, dopamine, nav, crosssim or soak"
    )
    bench.add_argument("--results", default="results", help="results root folder")
    _add_config_arguments(bench)
    bench.set_defaults(handler=_cmd_bench)

    report = commands.add_parser(
        "report",
        help="compose the latest complete benchmark results into one Markdown and HTML report",
    )
    report.add_argument("--results", default="results", help="results root folder")
    report.add_argument(
        "--out", help="report folder (default: <results>/report/); plots are copied into it"
    )
    report.set_defaults(handler=_cmd_report)

    reward = commands.add_parser("reward", help="compare reward functions")
    reward_commands = reward.add_subparsers(dest="reward_command", required=True, metavar="ACTION")
    compare = reward_commands.add_parser(
        "compare", help="EPIC distances between rewards on simulator transitions"
    )
    compare.add_argument("--task", help="task name (see `robo-reward tasks`)")
    compare.add_argument("--rewards", help="comma-separated reward names, e.g. privileged,grm")
    compare.add_argument("--episodes", type=int, help="episodes rolled out")
    compare.add_argument("--coverage", type=int, help="coverage samples M")
    compare.add_argument("--out", help="results folder (default: results/reward_compare/<time>/)")
    _add_config_arguments(compare)
    compare.set_defaults(handler=_cmd_reward_compare)

    ros = commands.add_parser("ros", help="ROS 2 nodes (needs the [ros] extra)")
    ros_commands = ros.add_subparsers(dest="ros_command", required=True, metavar="ACTION")
    ros_up = ros_commands.add_parser(
        "up", help="start the nodes of a configs/ros preset as processes until Ctrl-C"
    )
    ros_up.add_argument(
        "--config", required=True, help="ROS preset name (sim, robot) or a YAML file"
    )
    ros_up.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a config value (repeatable): nodes.<node>.parameters.<name>=<value>",
    )
    ros_up.add_argument(
        "--dry-run", action="store_true", help="print the node commands, start nothing"
    )
    ros_up.set_defaults(handler=_cmd_ros_up)
    return parser


def _cmd_tasks(args: argparse.Namespace) -> int:
    from robo_reward.sim.experts import EXPERTS
    from robo_reward.sim.registration import TASKS

    for name, spec in TASKS.items():
        subtasks = ", ".join(EXPERTS[name].subtask_labels)
        print(f"{name:13s} {spec.env_id:28s} max {spec.max_episode_steps:3d} steps  [{subtasks}]")
    return 0


def _cmd_demos_generate(args: argparse.Namespace) -> int:
    from robo_reward.config import load_config, preset_path
    from robo_reward.sim.demos import DemoConfig, generate_demos

    overrides = list(args.overrides)
    for key in ("task", "episodes", "seed"):
        value = getattr(args, key)
        if value is not None:
            overrides.append(f"{key}={value}")
    config_path = preset_path("demos", args.config) if args.config else None
    config = load_config(DemoConfig, config_path, overrides)
    summary = generate_demos(config, args.out, overwrite=args.overwrite)
    print(f"wrote {summary['num_episodes']} episodes of {config.task} to {args.out}")
    for variant, counts in summary["by_variant"].items():
        print(
            f"  {variant:10s} {counts['count']:4d} episodes, "
            f"{counts['success_rate']:.0%} successful"
        )
    return 0


def _load_trajectory(path_text: str, episode: int):
    """One trajectory from a ``.npz`` file or episode ``episode`` of a dataset directory."""
    from robo_reward.data import DatasetReader, Trajectory

    path = Path(path_text)
    if path.is_dir():
        dataset = DatasetReader(path)
        if not 0 <= episode < len(dataset):
            raise UsageError(
                f"--episode {episode} is out of range: {path} has {len(dataset)} episodes"
            )
        return dataset[episode]
    if path.is_file():
        return Trajectory.load(path)
    raise UsageError(f"{path} does not exist")


def _cmd_demos_show(args: argparse.Namespace) -> int:
    from robo_reward.data import contact_sheet, write_video

    trajectory = _load_trajectory(args.path, args.episode)
    path = Path(args.path)
    default_out = (
        path / f"episode_{args.episode:06d}.png" if path.is_dir() else path.with_suffix(".png")
    )
    out = contact_sheet(trajectory, args.out or default_out, columns=args.columns)
    print(f"wrote {out}")
    if args.video:
        print(f"wrote {write_video(trajectory, args.video)}")
    return 0


def _cmd_grm_pretrain(args: argparse.Namespace) -> int:
    from robo_reward.config import load_config, preset_path
    from robo_reward.grm.pretrain import PretrainConfig, pretrain

    config_path = preset_path("grm", args.config) if args.config else None
    config = load_config(PretrainConfig, config_path, args.overrides)
    result = pretrain(config, args.out, resume=args.resume)
    print(f"trained {result.steps} steps in {result.seconds:.0f} s", end="; ")
    print(f"final loss {result.final_loss:.3f}")
    print(f"checkpoint: {result.checkpoint}")
    return 0


def _cmd_grm_eval(args: argparse.Namespace) -> int:
    """The ``grm`` bench suite (the same run folder, report and partial-result marking)."""
    from robo_reward.bench.suites import run_suite
    from robo_reward.config import preset_path

    config_path = preset_path("grm", args.config) if args.config else None
    run_dir, markdown = run_suite("grm", args.results, config_path, args.overrides)
    print(markdown)
    print(f"results and progress plots written to {run_dir}")
    return 0


def _successful_demos(paths: Sequence[str], limit: int | None) -> tuple[list, int]:
    """Successful trajectories from dataset directories and .npz files, and how many were
    skipped (a dataset may hold failures; a lone .npz must be a success)."""
    from robo_reward.data import Trajectory, load_trajectories

    demos, skipped = [], 0
    for text in paths:
        path = Path(text)
        if path.is_dir():
            for traj in load_trajectories(path):
                if traj.success:
                    demos.append(traj)
                else:
                    skipped += 1
        elif path.is_file():
            traj = Trajectory.load(path)
            if not traj.success:
                raise UsageError(f"{path} is not a successful episode; a demo must succeed")
            demos.append(traj)
        else:
            raise UsageError(f"{path} does not exist")
    if limit is not None:
        if limit < 1:
            raise UsageError(f"--episodes must be >= 1, got {limit}")
        demos = demos[:limit]
    return demos, skipped


def _cmd_perceptual_fit(args: argparse.Namespace) -> int:
    from robo_reward.config import load_config, preset_path
    from robo_reward.perceptual.reward import PerceptualConfig, fit_perceptual_reward

    overrides = list(args.overrides)
    if args.steps is not None:
        overrides.append(f"steps={args.steps}")
    config_path = preset_path("perceptual", args.config) if args.config else None
    config = load_config(PerceptualConfig, config_path, overrides)
    demos, skipped = _successful_demos(args.demos, args.episodes)
    reward = fit_perceptual_reward(demos, config)
    path = reward.save(args.out)
    print(
        f"fitted a {config.steps}-step perceptual reward for {reward.task} on {len(demos)} demos "
        f"({skipped} unsuccessful episodes skipped), {config.features} features: {path}"
    )
    for index, keys in enumerate(reward.extra["demo_keyframes"]):
        print(f"  demo {index}: steps start at frames {keys[:-1]} (last frame {keys[-1]})")
    return 0


def _cmd_perceptual_eval(args: argparse.Namespace) -> int:
    """The ``perceptual`` bench suite."""
    from robo_reward.bench.suites import run_suite
    from robo_reward.config import preset_path

    config_path = preset_path("perceptual", args.config) if args.config else None
    run_dir, markdown = run_suite("perceptual", args.results, config_path, args.overrides)
    print(markdown)
    print(f"results written to {run_dir}")
    return 0


def _cmd_encoder_train(args: argparse.Namespace) -> int:
    from robo_reward.config import load_config, preset_path
    from robo_reward.perceptual.tcn_train import TCNPretrainConfig, train_tcn

    config_path = preset_path("encoder", args.config) if args.config else None
    config = load_config(TCNPretrainConfig, config_path, args.overrides)
    result = train_tcn(
        args.data,
        args.out,
        config.model,
        config.train,
        progress=not args.no_progress,
        allow_held_out=args.allow_held_out,
    )
    print(f"trained {result.steps} steps in {result.seconds:.0f} s", end="; ")
    print(f"final loss {result.final_loss:.3f}")
    if result.alignment_error is None or result.random_alignment_error is None:
        print("no validation episodes: alignment error not measured")
    else:
        print(
            f"validation multi-view alignment error: {result.alignment_error:.3f} trained, "
            f"{result.random_alignment_error:.3f} random init (0 = perfect, ~0.33 = chance)"
        )
    print(f"checkpoint: {result.checkpoint}; metrics: {result.metrics}")
    return 0


_BAG_ONLY_FLAGS = (
    ("--views", "views"),
    ("--task", "task"),
    ("--tolerance-ms", "tolerance_ms"),
    ("--receive-time", "receive_time"),
)


def _load_bag_demo(args: argparse.Namespace, checkpoint: str):
    """A rosbag2 demo, sized and named for the model that will be adapted on it."""
    import math

    from robo_reward.data.rosbag import parse_view_topics, read_bag_demo, require_rosbag2_dir
    from robo_reward.grm.checkpoint import default_checkpoint, load_grm

    require_rosbag2_dir(args.demo)
    if args.views is None:
        raise UsageError(
            f"{args.demo} is a rosbag2 recording; say which image topic is which camera with "
            "--views, e.g. --views front=/cam/front/image_raw,side=/cam/side/image_raw"
        )
    if args.episode != 0:
        raise UsageError("--episode applies to datasets; a rosbag2 folder holds one demo")
    views = parse_view_topics(args.views)
    tolerance_ns = None
    if args.tolerance_ms is not None:
        if not (math.isfinite(args.tolerance_ms) and args.tolerance_ms > 0):
            raise UsageError(f"--tolerance-ms must be a positive number, got {args.tolerance_ms}")
        tolerance_ns = round(args.tolerance_ms * 1_000_000)
    config = load_grm(checkpoint or default_checkpoint()).config
    unknown = [view for view in views if view not in config.views]
    if unknown:
        raise UsageError(
            f"--views names {unknown}, which the model does not know; name each topic after "
            f"the model's camera it corresponds to: {', '.join(config.views)}"
        )
    demo, report = read_bag_demo(
        args.demo,
        views,
        tolerance_ns=tolerance_ns,
        task=args.task,
        image_size=config.image_size,
        stamps="receive" if args.receive_time else "header",
    )
    print(report.summary())
    return demo


def _cmd_adapt(args: argparse.Namespace) -> int:
    from robo_reward.config import load_config, preset_path
    from robo_reward.data.rosbag import looks_like_rosbag2
    from robo_reward.grm.adapt import AdaptConfig, adapt

    config_path = preset_path("grm", args.config) if args.config else None
    config = load_config(AdaptConfig, config_path, args.overrides)
    if looks_like_rosbag2(args.demo):
        demo = _load_bag_demo(args, config.checkpoint)
    else:
        for flag, name in _BAG_ONLY_FLAGS:
            if getattr(args, name) not in (None, False):
                raise UsageError(
                    f"{flag} applies to rosbag2 demos only; {args.demo} is not a rosbag2 "
                    "folder (no metadata.yaml)"
                )
        demo = _load_trajectory(args.demo, args.episode)
    result = adapt(demo, args.out, config)
    print(
        f"adapted on one {demo.task} demo of {result.frames} frames ({result.labels} labels) "
        f"in {result.train.seconds:.0f} s: {result.train.checkpoint}"
    )
    return 0


def _cmd_train(args: argparse.Namespace) -> int:
    from robo_reward.config import load_config, preset_path
    from robo_reward.rl.runner import CONFIG_FILE, TrainConfig, train

    # The flags first, so that a --set on a section they choose (reward.checkpoint after
    # --reward perceptual) is checked against the chosen kind.
    overrides = []
    for key, value in (
        ("algo", args.algo),
        ("task", args.task),
        ("reward.kind", args.reward),
        ("steps", args.steps),
        ("seed", args.seed),
    ):
        if value is not None:
            overrides.append(f"{key}={value}")
    overrides += args.overrides
    if args.resume:
        if args.config or [o for o in overrides if not o.startswith("steps=")]:
            raise UsageError("--resume uses the run's own config; only --steps may change")
        config_path: Path | None = Path(args.resume) / CONFIG_FILE
        if not config_path.is_file():
            raise UsageError(f"{args.resume} is not a run folder (no {CONFIG_FILE})")
    else:
        config_path = preset_path("train", args.config) if args.config else None
    config = load_config(TrainConfig, config_path, overrides)
    run_dir, metrics = train(config, args.out, resume=args.resume, progress=not args.no_progress)
    shown = {k: round(v, 4) for k, v in metrics.items() if k.startswith(("eval/", "charts/"))}
    print(f"{config.algo} on {config.task} with the {config.reward.kind} reward: {shown}")
    print(f"run folder: {run_dir} (policy: {run_dir / 'policy.safetensors'})")
    return 0


def _cmd_bench(args: argparse.Namespace) -> int:
    from robo_reward.bench.suites import SUITES, SuiteFailed, run_suite
    from robo_reward.config import preset_path

    if args.suite not in SUITES:
        raise UsageError(f"unknown bench suite {args.suite!r}; suites: {', '.join(SUITES)}")
    config_path = preset_path("bench", args.config) if args.config else None
    try:
        run_dir, markdown = run_suite(args.suite, args.results, config_path, args.overrides)
    except SuiteFailed as error:
        print(f"robo-reward: error: {error}", file=sys.stderr)
        return 1
    print(markdown)
    print(f"results written to {run_dir}")
    return 0


def _cmd_report(args: argparse.Namespace) -> int:
    from robo_reward.bench.report import write_report

    if not Path(args.results).is_dir():
        raise UsageError(
            f"--results {args.results} is not a folder; run `robo-reward bench quick` to make one"
        )
    out = args.out or str(Path(args.results) / "report")
    markdown_path, html_path = write_report(args.results, out)
    print(f"report written to {markdown_path} and {html_path}")
    return 0


def _cmd_reward_compare(args: argparse.Namespace) -> int:
    import json

    from robo_reward.bench.reward_compare import (
        RewardCompareConfig,
        compare_markdown,
        run_compare,
        write_compare,
    )
    from robo_reward.config import config_to_dict, load_config, preset_path

    overrides = list(args.overrides)
    for key in ("task", "episodes", "coverage"):
        value = getattr(args, key)
        if value is not None:
            overrides.append(f"{key}={value}")
    if args.rewards is not None:
        names = [name.strip() for name in args.rewards.split(",")]
        overrides.append(f"rewards={json.dumps(names)}")
    config_path = preset_path("reward", args.config) if args.config else None
    config = load_config(RewardCompareConfig, config_path, overrides)
    results = run_compare(config)
    run_dir = write_compare(results, config_to_dict(config), args.out)
    print(compare_markdown(results))
    print(f"results written to {run_dir}")
    return 0


def _cmd_ros_up(args: argparse.Namespace) -> int:
    from robo_reward.config import preset_path
    from robo_reward.ros_up import check_rclpy, load_ros_config, plan_nodes, run_nodes

    path = preset_path("ros", args.config)
    config = load_ros_config(path, args.overrides)
    launches, env = plan_nodes(config, path.resolve().parent)
    if args.dry_run:
        for name, value in env.items():
            print(f"{name}={value}")
        for launch in launches:
            inline = f"  # parameters: {launch.params}" if launch.params else ""
            print(f"{launch.name}: {launch.command}{inline}")
        return 0
    check_rclpy()
    return run_nodes(launches, env, config.stop_timeout, echo=lambda line: print(line, flush=True))


def main(argv: Sequence[str] | None = None) -> int:
    from robo_reward.config import ConfigError
    from robo_reward.data import DataFormatError

    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.handler(args)
    except (UsageError, ConfigError, DataFormatError, ValueError, OSError) as error:
        print(f"robo-reward: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("robo-reward: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
