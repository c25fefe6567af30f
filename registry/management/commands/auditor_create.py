import secrets
from argparse import ArgumentParser
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import IntegrityError, transaction

from common.errors import ServiceError
from registry import services


class Command(BaseCommand):
    help = (
        "Create an auditor: a user who signs in to the audit pages and, with --client, "
        "OAuth2 client credentials (scope audit:read) for the auditor's tools. Or give an "
        "existing user the role with --existing. Prints the password and client secret once."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--username", required=True)
        parser.add_argument("--email", default="", help="the auditor's email")
        parser.add_argument(
            "--existing", action="store_true", help="give an existing user the auditor role"
        )
        parser.add_argument(
            "--client", metavar="NAME", help="also create API client credentials named NAME"
        )

    def handle(
        self, *args: Any, username: str, email: str, existing: bool, client: str | None,
        **options: Any,
    ) -> None:  # fmt: skip
        user_model = get_user_model()
        password = None
        try:
            with transaction.atomic():
                if existing:
                    user = user_model.objects.filter(username=username).first()
                    if user is None:
                        raise CommandError(f"No user is called {username}.")
                else:
                    if user_model.objects.filter(username=username).exists():
                        raise CommandError(
                            f"{username} exists already: give them the role with --existing."
                        )
                    password = secrets.token_urlsafe(12)
                    user = user_model.objects.create_user(
                        username=username, email=email, password=password
                    )
                services.auditor_grant(user=user, actor=None)
                credentials = None
                if client:
                    credentials = services.auditor_credential_create(
                        auditor=user, name=client, actor=None
                    )
        except ServiceError as error:
            raise CommandError(error.message) from None
        except IntegrityError:  # another run created the same user meanwhile
            raise CommandError("The user name exists already.") from None
        lines = [f"Auditor: {username}"]
        if password:
            lines.append(f"Password: {password}")
        if credentials:
            application, secret = credentials
            lines += [f"client_id: {application.client_id}", f"client_secret: {secret}"]
        if password or credentials:
            lines.append(
                "The password and the client secret are shown only now; store them safely."
            )
        self.stdout.write("\n".join(lines))
