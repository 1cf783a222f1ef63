"""`taxobench` command line: plugins, protocol, run, probe, assets, report, import-published, leaderboard."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from rich.console import Console, JustifyMethod
from rich.markup import escape
from rich.table import Table

from harness.errors import UserError
from harness.runs.validate import validate_cells

console = Console()
err_console = Console(stderr=True)


def cmd_plugins(args: argparse.Namespace) -> int:
    from harness.plugin.registry import default_registry

    registry = default_registry()
    rows = registry.rows()
    if args.json:
        conflicts = [
            {"kind": kind, "name": name, "packages": [r.package for r in regs]}
            for (kind, name), regs in registry.conflicts.items()
        ]
        print(json.dumps({"plugins": rows, "failures": registry.failures, "conflicts": conflicts}, indent=2))
        return 0
    table = Table(title="taxobench plugins")
    for col in ("kind", "name", "plugin", "package", "version", "conflict"):
        table.add_column(col)
    for row in rows:
        table.add_row(*(row[c] for c in ("kind", "name", "plugin", "package", "version", "conflict")))
    console.print(table)
    for plugin, message in registry.failures.items():
        err_console.print(f"[yellow]plugin {plugin!r} {message}[/yellow]")
    for (kind, name), regs in registry.conflicts.items():
        packages = " and ".join(r.package for r in regs)
        err_console.print(
            f"[yellow]{kind[:-1]} {name!r} is registered by {packages}: using it is an error until "
            f"TAXOBENCH_OVERRIDES={kind}:{name}=<package> picks one[/yellow]"
        )
    return 0


def _load_cells(args: argparse.Namespace):
    from harness.config import load_grid

    sets = list(getattr(args, "set", None) or [])
    if getattr(args, "limit", None) is not None:
        sets.append(f"data.max_leaves={args.limit}")
    grid = load_grid(Path(args.config), sets)
    cells = grid.cells()
    overrides: dict = {}
    if getattr(args, "out", None):
        overrides["output_dir"] = Path(args.out)
    if getattr(args, "images", None):
        cells = [
            c.model_copy(update={"task_options": {**c.task_options, "root": args.images}}) for c in cells
        ]
    return [c.model_copy(update=overrides) for c in cells]


def cmd_protocol_build(args: argparse.Namespace) -> int:
    import pandas as pd

    from harness.runs.cell import build_cell_questions

    cells = _load_cells(args)
    validate_cells(cells)
    out_root = Path(args.out or "questionsets")
    summary = []
    for cfg in cells:
        qs = build_cell_questions(cfg)
        target = out_root / cfg.cell_id()
        qs.save(target)
        console.print(
            f"[bold]{cfg.task}[/bold] seed {cfg.seed}, ablation {cfg.ablation.kind} "
            f"{cfg.ablation.level:g}, shuffle {cfg.shuffle} -> {target}"
        )
        console.print(_frame_table(qs.counts(), "QuestionSet counts"))
        summary.append(_table2_row(cfg, qs.counts()))
    console.print(
        _frame_table(pd.DataFrame(summary), "image-question pairs per split and subset (Tables 2-3)")
    )
    return 0


def _table2_row(cfg, counts) -> dict:
    """One row shaped like the paper's Tables 2-3: train, then val/test pairs per subset."""
    row = {"ablation": cfg.ablation.kind, "level": f"{cfg.ablation.level:g}", "shuffle": cfg.shuffle}
    by = {(r.split, r.subset): int(r.questions) for r in counts.itertuples()}
    row["train"] = sum(v for (split, _), v in by.items() if split == "train")
    for split in ("val", "test"):
        for subset in ("leaf", "seen", "unseen"):
            row[f"{split} {subset}"] = by.get((split, subset), 0)
    return row


def _frame_table(frame, title: str) -> Table:
    table = Table(title=title)
    for col in frame.columns:
        table.add_column(str(col), justify="right" if frame[col].dtype.kind in "iuf" else "left")
    for row in frame.itertuples(index=False):
        table.add_row(*(f"{v:.1f}" if isinstance(v, float) else str(v) for v in row))
    return table


TRUST_REMOTE_CODE = "TAXOBENCH_TRUST_REMOTE_CODE"  # backbone plugins pass trust_remote_code=True when "1"


def _trust_remote_code(args: argparse.Namespace) -> None:
    """``--trust-remote-code``: the only way to let a hub model run its repository's own code (never a
    config file); inherited by local worker processes through the environment."""
    if getattr(args, "trust_remote_code", False):
        os.environ[TRUST_REMOTE_CODE] = "1"


def cmd_run(args: argparse.Namespace) -> int:
    from harness.runs.grid import run_grid

    _trust_remote_code(args)

    cells = _load_cells(args)
    options = _executor_options(args.executor_option)
    return run_grid(
        cells, executor=args.executor, dry_run=args.dry_run, console=console, executor_options=options
    )


def _executor_options(pairs: Sequence[str]) -> dict:
    """``KEY=VALUE`` pairs; VALUE is read as TOML (``4``, ``true``, ``["0"]``, ``{a="x"}``), else as text."""
    from harness.config import parse_assignment

    return dict(parse_assignment(pair, "--executor-option") for pair in pairs)


def cmd_probe(args: argparse.Namespace) -> int:
    from harness.runs.probe import run_probe

    _trust_remote_code(args)
    cells = _dedupe_backbones(_load_cells(args))
    validate_cells(cells, load_data=False)  # a probe needs the task's taxonomy, not its images
    if args.dry_run:
        return _probe_dry_run(cells, args.json)
    for cfg in cells:
        path = run_probe(cfg, console=console)
        console.print(f"probe written to {path}")
    return 0


def _probe_dry_run(cells, as_json: bool) -> int:
    """The probes' question counts per task, without loading a model."""
    from harness.protocol.probe_questions import counts
    from harness.runs.cell import create_plugin
    from harness.runs.probe import paper_probe_frame, probe_data, probe_variants
    from harness.training.probe import probe_questions

    seen, out = set(), []
    for cfg in cells:
        key = (cfg.task, json.dumps(cfg.task_options, sort_keys=True), cfg.data.max_leaves, cfg.data_seed)
        if key in seen:
            continue
        seen.add(key)
        task = create_plugin(cfg, "tasks")
        data = probe_data(cfg, task)
        entry: dict = {"task": cfg.task, "leaves": len(data.leaves), "variants": {}}
        variants = probe_variants(cfg, task)
        if "paper" in variants:
            paper = counts(paper_probe_frame(cfg, task, data))
            entry.update(paper)
            entry["variants"]["paper"] = paper
        if "yes_no" in variants:
            q = probe_questions(data, cfg.data_seed, template=task.probe_template)
            yes = int(q["answer"].sum())
            entry["variants"]["yes_no"] = {"questions": len(q), "yes": yes, "no": len(q) - yes}
        if "cloze" in variants:
            n = sum(1 for leaf in data.leaves if data.relations.get(leaf))
            entry["variants"]["cloze"] = {"leaves": n, "continuations": n * len(data.derived)}
        out.append(entry)
    if as_json:
        print(json.dumps(out[0] if len(out) == 1 else out, indent=2))
        return 0
    for entry in out:
        table = Table(title=f"probe questions: {entry['task']} ({entry['leaves']} leaves)")
        for col in ("variant", "questions", "yes", "no", "phrasings"):
            table.add_column(col, justify="left" if col == "variant" else "right")
        for name, c in entry["variants"].items():
            questions = c.get("questions", c.get("continuations"))
            table.add_row(
                name,
                *(str(v) for v in (questions, c.get("yes", ""), c.get("no", ""))),
                str(c.get("phrasings", "")),
            )
        console.print(table)
    return 0


def _dedupe_backbones(cells):
    seen, out = set(), []
    for cfg in cells:
        key = (cfg.task, cfg.backbone, cfg.init, json.dumps(cfg.backbone_options, sort_keys=True))
        if key not in seen:
            seen.add(key)
            out.append(cfg)
    return out


def cmd_task_show(args: argparse.Namespace) -> int:
    from collections import Counter

    from harness.plugin.registry import default_registry

    registry = default_registry()
    options = {"profile": args.preset} if registry.accepts("tasks", args.task, "profile") else {}
    task = registry.create("tasks", args.task, **options)
    describe = getattr(task, "taxonomy_data", None)
    data = describe() if describe is not None else task.load()
    under = Counter(h for leaf in data.leaves for h in data.relations.get(leaf, ()))
    hypernyms = [{"name": h, "depth": data.depths[h], "leaves": under[h]} for h in data.derived]
    by_depth = dict(sorted(Counter(h["depth"] for h in hypernyms).items()))
    if args.json:
        payload = {
            "task": task.name,
            "leaves": len(data.leaves),
            "hypernyms": hypernyms,
            "depths": {str(k): v for k, v in by_depth.items()},
        }
        print(json.dumps(payload, indent=2))
        return 0
    table = Table(title=f"{task.name}: {len(data.leaves)} leaves, {len(hypernyms)} derived labels")
    columns: tuple[tuple[str, JustifyMethod], ...] = (
        ("label", "left"),
        ("depth", "right"),
        ("leaves", "right"),
    )
    for col, justify in columns:
        table.add_column(col, justify=justify)
    for h in hypernyms:
        table.add_row(escape(data.surface(h["name"])), str(h["depth"]), str(h["leaves"]))
    console.print(table)
    console.print("by depth: " + ", ".join(f"{d}: {n}" for d, n in by_depth.items()))
    return 0


def cmd_assets_fetch(args: argparse.Namespace) -> int:
    from harness.plugin.registry import default_registry

    task = default_registry().create("tasks", args.task)
    fetch = getattr(task, "fetch_assets", None)
    if fetch is None:
        raise UserError(f"task {args.task!r} has no assets to fetch")
    path = fetch(Path(args.dest) if args.dest else None)
    console.print(f"{args.task} assets ready in {path}")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from harness.report.build import report

    notes = Path(args.notes).read_text() if args.notes else None
    report([Path(p) for p in args.runs], Path(args.out), console, notes=notes, strict=args.strict)
    return 0


def cmd_table(args: argparse.Namespace) -> int:
    from harness.common.files import write_text
    from harness.report.compact_table import board_rows, markdown_table, replace_between_markers

    table = markdown_table(board_rows(Path(args.leaderboard)))
    if not args.into:
        print(table)
        return 0
    doc = Path(args.into)
    if not doc.is_file():
        raise UserError(f"document not found: {doc}")
    write_text(doc, replace_between_markers(doc.read_text(), table))
    console.print(f"table from {args.leaderboard} written into {doc}")
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    from harness.report.compare import choose_reference, compare_boards, same_numerics

    new, references = Path(args.new), [Path(r) for r in args.reference]
    # every board read before any output: an unreadable one is a UserError (exit 2)
    by_reference = {reference: compare_boards(new, reference) for reference in references}
    reference = choose_reference(new, references)
    if reference != references[0]:
        first = by_reference[references[0]]
        over = sum(d.delta > args.tolerance for d in first)
        console.print(
            f"against {references[0]} (another numerics path): {over} of {len(first)} values differ by more "
            f"than {args.tolerance:g}, largest {max((d.delta for d in first), default=0.0):.2f}; held to "
            f"{reference}, made on the new board's path",
            highlight=False,
        )
    differences = by_reference[reference]
    console.print(same_numerics(new, reference)[1], highlight=False)
    beyond = [d for d in differences if d.delta > args.tolerance]
    for d in differences[: max(len(beyond), 5)]:
        style = "red" if d.delta > args.tolerance else "dim"
        console.print(f"[{style}]{d.describe()}[/{style}]", highlight=False)
    largest = max((d.delta for d in differences), default=0.0)
    if beyond:
        console.print(
            f"[red]{len(beyond)} of {len(differences)} values differ by more than {args.tolerance:g}[/red]"
        )
        return 1
    console.print(
        f"all {len(differences)} values within {args.tolerance:g} (largest difference {largest:.2f})"
    )
    return 0


def cmd_import_published(args: argparse.Namespace) -> int:
    from harness.report.published import import_published

    n = import_published(Path(args.src), Path(args.out))
    console.print(f"imported {n} published runs into {args.out}")
    return 0


def cmd_leaderboard_validate(args: argparse.Namespace) -> int:
    from leaderboard.board import validate_submission

    errors = validate_submission(Path(args.file))
    for line in errors:
        err_console.print(f"[red]{escape(line)}[/red]")
    if not errors:
        console.print(f"{args.file}: valid submission")
    return 1 if errors else 0


def cmd_leaderboard_build(args: argparse.Namespace) -> int:
    from leaderboard.board import build_leaderboard

    build_leaderboard(Path(args.root))
    return 0


def _config_arguments(p: argparse.ArgumentParser) -> None:
    """CONFIG and what changes it from the command line (run, protocol build, probe)."""
    p.add_argument("config")
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="set a config field in every cell, repeatable; dotted keys, VALUE read as TOML "
        "(e.g. --set training.lr=1e-3 --set seed=7 --set shuffle=across_category)",
    )
    p.add_argument("--limit", type=int, metavar="N", help="a quick check on N leaves (data.max_leaves = N)")
    p.add_argument("--images", help="image root for the task (sets task_options.root)")


def _version() -> str:
    from harness.runs.manifest import git_commit, package_versions

    commit = git_commit()
    return f"taxobench {package_versions()['taxobench']}" + (f" (commit {commit})" if commit else "")


def _add_inspect_commands(sub: argparse._SubParsersAction) -> None:
    """plugins, protocol build, task show, assets fetch."""
    p = sub.add_parser("plugins", help="list installed plugins of every kind")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(func=cmd_plugins)

    p = sub.add_parser("protocol", help="build and inspect QuestionSets")
    psub = p.add_subparsers(dest="action", required=True)
    b = psub.add_parser("build", help="write the QuestionSet of each cell and print its counts")
    _config_arguments(b)
    b.add_argument("--out", help="output directory (default ./questionsets)")
    b.set_defaults(func=cmd_protocol_build)

    p = sub.add_parser("task", help="inspect a task plugin")
    tsub = p.add_subparsers(dest="action", required=True)
    t = tsub.add_parser("show", help="a task's leaves and derived labels with their depth and leaf counts")
    t.add_argument("task", help="task plugin, NAME[:ARG]")
    t.add_argument("--preset", default="paper-code", choices=["paper-code", "paper-text"])
    t.add_argument("--json", action="store_true", help="print JSON instead of a table")
    t.set_defaults(func=cmd_task_show)

    p = sub.add_parser("assets", help="fetch a task's data files")
    asub = p.add_subparsers(dest="action", required=True)
    f = asub.add_parser("fetch", help="download a task's assets once into the cache")
    f.add_argument("task")
    f.add_argument("--dest", help="target directory (default: the user cache)")
    f.set_defaults(func=cmd_assets_fetch)


def _add_run_commands(sub: argparse._SubParsersAction) -> None:
    """run and probe."""
    p = sub.add_parser("run", help="run every unfinished cell of a config or grid")
    _config_arguments(p)
    p.add_argument("--out", help="output root (overrides output_dir)")
    p.add_argument("--executor", default="local", help="executor plugin, NAME[:ARG] (default local)")
    p.add_argument(
        "-E",
        "--executor-option",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="executor option, repeatable (see docs/grids.md), e.g. -E workers=4 -E partition=gpu",
    )
    p.add_argument("--dry-run", action="store_true", help="validate and list cells without running")
    p.add_argument(
        "--trust-remote-code",
        action="store_true",
        help="let hub models run their repository's own Python code (never enabled by a config file)",
    )
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("probe", help="text-only hypernymy probe of each backbone in a config")
    _config_arguments(p)
    p.add_argument("--dry-run", action="store_true", help="count the probe questions without loading a model")
    p.add_argument("--json", action="store_true", help="with --dry-run: print JSON")
    p.add_argument("--trust-remote-code", action="store_true", help="see taxobench run --help")
    p.add_argument("--out", help="output root (overrides output_dir)")
    p.set_defaults(func=cmd_probe)


def _add_report_commands(sub: argparse._SubParsersAction) -> None:
    """report, table, import-published, leaderboard validate/build."""
    p = sub.add_parser("report", help="aggregate run directories into a leaderboard")
    p.add_argument("runs", nargs="+")
    p.add_argument("--out", required=True)
    p.add_argument("--notes", help="a Markdown file shown at the top of the report (e.g. deviations)")
    p.add_argument(
        "--strict",
        action="store_true",
        help="a run record that does not hold up (damaged, unreadable, out of range) is an error (exit 2) "
        "instead of skipped with a warning",
    )
    p.set_defaults(func=cmd_report)

    p = sub.add_parser("table", help="a compact Markdown table of a leaderboard.json (e.g. for the README)")
    p.add_argument("leaderboard", help="a leaderboard.json written by taxobench report")
    p.add_argument("--into", help="a document whose taxobench-table markers receive the table")
    p.set_defaults(func=cmd_table)

    p = sub.add_parser("compare", help="check that a leaderboard.json reproduces a reference one")
    p.add_argument("new", help="the leaderboard.json of a rerun")
    p.add_argument(
        "reference",
        nargs="+",
        help="the leaderboard.json it should reproduce; given several (the published board, then boards of "
        "the same runs on other machine types), the first made on the new board's numerics path, else the "
        "first",
    )
    p.add_argument("--tolerance", type=float, default=1.0, help="largest allowed difference, F1 points")
    p.set_defaults(func=cmd_compare)

    p = sub.add_parser("import-published", help="convert the paper's published CSVs into run records")
    p.add_argument("src")
    p.add_argument("--out", required=True)
    p.set_defaults(func=cmd_import_published)

    p = sub.add_parser("leaderboard", help="validate submissions and build the board")
    lsub = p.add_subparsers(dest="action", required=True)
    v = lsub.add_parser("validate", help="check one submission file")
    v.add_argument("file")
    v.set_defaults(func=cmd_leaderboard_validate)
    bl = lsub.add_parser("build", help="regenerate leaderboard/README.md from accepted submissions")
    bl.add_argument("--root", default="leaderboard")
    bl.set_defaults(func=cmd_leaderboard_build)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="taxobench", description=__doc__)
    parser.add_argument("--version", action="version", version=_version())
    sub = parser.add_subparsers(dest="command", required=True)
    _add_inspect_commands(sub)
    _add_run_commands(sub)
    _add_report_commands(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except UserError as exc:
        err_console.print(f"[red]error:[/red] {escape(str(exc))}", highlight=False)
        return 2
    except KeyboardInterrupt:
        err_console.print("interrupted")
        return 130


if __name__ == "__main__":
    sys.exit(main())
