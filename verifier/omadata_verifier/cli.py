"""`omadata-verify`: the command line.

Exit status: 0 when everything verified; 1 when something did not, with each
record and reason printed; 2 when the input could not be read as what it should
be (a file that is no bundle, an operator that cannot be reached).
"""

import argparse
import json
import math
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from omadata_verifier import __version__, bundle, export, monitor

SHOWN_PROBLEMS = 50
# Parsed, a bundle takes several times its size in memory; the operator's bundles of
# at most 10,000 receipts are a few tens of megabytes.
MAX_BUNDLE_BYTES = 1 << 30
MAX_INTERVAL = 7 * 24 * 3600.0  # a week: far enough apart for any monitor
OK, FAILED, UNUSABLE = 0, 1, 2


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "bundle":
            return check_bundle(args.file)
        if args.command == "export":
            return check_export(args.file)
        return follow(args)
    except KeyboardInterrupt:
        return UNUSABLE


def check_bundle(path: Path) -> int:
    return _check_file(path, kind="audit bundle", check=bundle.check)


def check_export(path: Path) -> int:
    return _check_file(path, kind="export", check=export.check)


def _check_file(path: Path, *, kind: str, check: Callable[[object], bundle.Report]) -> int:
    try:
        with path.open("rb") as file:
            # A regular file is measured before it is read; anything else is read up to the cap.
            too_large = os.fstat(file.fileno()).st_size > MAX_BUNDLE_BYTES
            text = b"" if too_large else file.read(MAX_BUNDLE_BYTES + 1)
    except OSError as error:
        return _unusable(f"cannot read {path}: {error.strerror or error}")
    if too_large or len(text) > MAX_BUNDLE_BYTES:
        return _unusable(
            f"{path} is larger than {MAX_BUNDLE_BYTES >> 30} GiB: "
            "check the log in several bundles of smaller ranges"
        )
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):
        return _unusable(f"{path} is not JSON, so not an Omadata {kind}")
    del text
    try:
        report = check(data)
    except bundle.BundleError as error:
        return _unusable(f"{path}: {error}")
    print(f"Omadata {kind} {path}")
    for line in report.summary():
        print(f"  {line}")
    if report.ok:
        print("OK: every check passed")
        return OK
    print(f"FAILED: {len(report.problems)} problems", file=sys.stderr)
    for problem in report.problems[:SHOWN_PROBLEMS]:
        print(f"  {problem}", file=sys.stderr)
    if len(report.problems) > SHOWN_PROBLEMS:
        print(f"  … and {len(report.problems) - SHOWN_PROBLEMS} more", file=sys.stderr)
    return FAILED


def follow(args: argparse.Namespace) -> int:
    try:
        monitor.follow(args.url, state=args.state, once=args.once, interval=args.interval)
    except monitor.Misbehaviour as error:
        print(f"FAILED: {error}", file=sys.stderr)
        return FAILED
    except (monitor.Unreachable, monitor.StateError) as error:
        return _unusable(str(error))
    return OK


def _unusable(message: str) -> int:
    print(f"omadata-verify: {message}", file=sys.stderr)
    return UNUSABLE


def _seconds(text: str) -> float:
    """Seconds between checks, up to a week (time.sleep refuses NaN, negative and huge
    numbers with a traceback)."""
    try:
        seconds = float(text)
    except ValueError:
        seconds = math.nan
    if not 0 < seconds <= MAX_INTERVAL:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a number of seconds from 0 to {MAX_INTERVAL:.0f}"
        )
    return seconds


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="omadata-verify",
        description="Check an Omadata operator's receipts, checkpoints and proofs without "
        "trusting it. Exit status: 0 verified, 1 a check failed (each record named), "
        "2 unusable input or an unreachable operator.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    check = commands.add_parser(
        "bundle",
        help="check an audit bundle",
        description="Check an audit bundle: every signature against its key history, each "
        "consent's, link's and refused request's receipt chain, every receipt's inclusion "
        "under a signed checkpoint, and the consistency of successive checkpoints.",
    )
    check.add_argument("file", type=Path, metavar="FILE", help="the bundle (JSON)")
    checks = commands.add_parser(
        "export",
        help="check a resident's export",
        description="Check a resident's export file: the operator's signature over it, every "
        "receipt against the key history, each receipt's inclusion proof under the file's "
        "signed checkpoint, and that checkpoint's signature.",
    )
    checks.add_argument("file", type=Path, metavar="FILE", help="the export (JSON)")
    watch = commands.add_parser(
        "follow",
        help="monitor a live operator's receipt log",
        description="Poll the operator's latest signed checkpoint; check its signature and "
        "that it extends the last one verified (kept in the state file). Stops with status 1, "
        "naming it, at a rollback, a fork or a published key gone missing.",
    )
    watch.add_argument("url", metavar="URL", help="the operator's base URL")
    watch.add_argument(
        "--state",
        type=Path,
        default=Path("omadata-follow.json"),
        metavar="FILE",
        help="where the last verified checkpoint is kept (default: %(default)s)",
    )
    watch.add_argument("--once", action="store_true", help="check once, then exit")
    watch.add_argument(
        "--interval",
        type=_seconds,
        default=300.0,
        metavar="SECONDS",
        help="seconds between checks (default: %(default)s, the operator's default "
        "checkpoint interval)",
    )
    return parser
