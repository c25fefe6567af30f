from typing import Any

from django.core.management.base import BaseCommand

from ledger import keys


class Command(BaseCommand):
    help = (
        "Make a new active ES256 signing key in OMADATA_KEYS_DIR. The previous key retires "
        "but stays published at /.well-known/jwks.json, so what it signed keeps verifying."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        key = keys.key_rotate()
        self.stdout.write(f"New active signing key: {key['kid']}")
