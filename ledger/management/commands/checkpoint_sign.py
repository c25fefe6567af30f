from typing import Any

from django.core.management.base import BaseCommand

from ledger import checkpoints


class Command(BaseCommand):
    help = (
        "Sign a checkpoint of the receipt log as it is now (or name the latest, if the log has "
        "not grown since): what the scheduler does every OMADATA_CHECKPOINT_INTERVAL, at once."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        checkpoint = checkpoints.checkpoint_sign()
        self.stdout.write(
            f"Checkpoint of {checkpoint.tree_size} receipts, root {checkpoint.root}, "
            f"signed {checkpoint.created_at:%Y-%m-%d %H:%M:%S %Z}."
        )
