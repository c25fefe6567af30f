from typing import Any

from django.core.management.base import BaseCommand, CommandError

from audit.integrity import integrity_check


class Command(BaseCommand):
    help = (
        "Check the whole receipt log now (every leaf, node, checkpoint and receipt), record "
        "the result for the audit pages, and print it. Fails if anything is wrong."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        check = integrity_check()
        for problem in check.problems:
            self.stderr.write(f"{problem['record']}: {problem['reason']}")
        if not check.intact:
            raise CommandError(
                f"{check.problem_count} problems in the receipt log of {check.tree_size}."
            )
        self.stdout.write(f"The receipt log of {check.tree_size} receipts is intact.")
