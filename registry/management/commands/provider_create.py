import secrets
from argparse import ArgumentParser
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db import IntegrityError, transaction

from registry import services


class Command(BaseCommand):
    help = (
        "Create a service provider: its organisation, a user who signs in for it, and "
        "OAuth2 client credentials. Prints the password and client secret once."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--organisation", required=True, help="organisation name")
        parser.add_argument("--business-id", required=True, help="Y-tunnus, e.g. 0101263-6")
        parser.add_argument("--email", required=True, help="contact email, also the user's")
        parser.add_argument("--username", required=True)

    def handle(
        self,
        *args: Any,
        organisation: str,
        business_id: str,
        email: str,
        username: str,
        **options: Any,
    ) -> None:
        password = secrets.token_urlsafe(12)
        try:
            with transaction.atomic():
                org = services.organisation_create(
                    name=organisation, business_id=business_id, contact_email=email
                )
                provider = services.provider_create(
                    organisation=org, username=username, email=email, password=password
                )
                application, secret = services.credential_create(
                    provider=provider, name=f"{organisation} API"
                )
        except ValidationError as error:
            problems = "; ".join(f"{k}: {' '.join(v)}" for k, v in error.message_dict.items())
            raise CommandError(problems) from None
        except IntegrityError:  # another run created the same organisation or user meanwhile
            raise CommandError("The organisation or the user name exists already.") from None
        self.stdout.write(
            f"Organisation: {org.name} ({org.business_id}), id {org.id}\n"
            f"Provider user: {username}\n"
            f"Password: {password}\n"
            f"client_id: {application.client_id}\n"
            f"client_secret: {secret}\n"
            "The password and the client secret are shown only now; store them safely."
        )
