import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from ledger import checkpoints
from ledger.bundles import BundleRangeError, audit_bundle


class Command(BaseCommand):
    help = (
        "Write the audit bundle of a range of the receipt log (receipts, checkpoints, proofs "
        "and key history) to a file, for `omadata-verify bundle FILE`."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--start", type=int, default=0, help="first log index (default: 0)")
        parser.add_argument(
            "--end",
            type=int,
            help="the log index after the last one (default: the latest checkpoint's size)",
        )
        parser.add_argument("--output", type=Path, required=True, help="the file to write")

    def handle(self, *args: Any, **options: Any) -> None:
        end = options["end"]
        if end is None:
            latest = checkpoints.checkpoint_latest()
            end = latest.tree_size if latest else 0
        try:
            bundle = audit_bundle(start=options["start"], end=end)
        except BundleRangeError as error:
            raise CommandError(str(error)) from None
        with options["output"].open("w") as output:
            json.dump(bundle, output, separators=(",", ":"))
        self.stdout.write(
            f"Wrote the receipts at log indexes {options['start']} to {end - 1}, "
            f"{len(bundle['checkpoints'])} checkpoints and {len(bundle['keys'])} keys "
            f"to {options['output']}"
        )
