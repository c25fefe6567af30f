from typing import Any

from django.core.management.base import BaseCommand

from ledger import keys


class Command(BaseCommand):
    help = (
        "Publish the active signing key (OMADATA_SIGNING_KEY, or the keys directory's) at "
        "/.well-known/jwks.json; the keys published before it retire but stay published. Run "
        "as the database owner role: the application role may not write signing keys."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        key, new = keys.key_publish()
        if new:
            self.stdout.write(f"Published signing key: {key['kid']}")
        else:
            self.stdout.write(f"Signing key already published: {key['kid']}")
