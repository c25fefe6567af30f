import json
import os
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand

# The demo services of each journey: what the banner calls them, and their page.
RESIDENT = [
    ("wellbeing service (sink)", "/wellbeing/"),
    ("Askel smartwatch (source)", "/wearable/"),
    ("Espoo sports services (source)", "/sports/"),
]
MOVING = [
    ("Espoo newcomer service (sink)", "/newcomer/"),
    ("Helsinki resident records (source)", "/helsinki/"),
]


def _listed(demo_base: str, services: list[tuple[str, str]]) -> list[str]:
    return [f"  {name:<35} {demo_base}{path}" for name, path in services]


class Command(BaseCommand):
    help = "Print where the running demo is and how to log in to it."

    def handle(self, *args: Any, **options: Any) -> None:
        path = Path(settings.VAR_DIR) / "demo.json"
        demo = json.loads(path.read_text())
        base = settings.BASE_URL
        demo_base = os.environ.get("OMADATA_DEMO_BASE_URL", "http://127.0.0.1:8001").rstrip("/")
        lines = [
            "",
            f"Omadata is starting at {base}/",
            "",
            "Start here, as a resident of Espoo (the demo services):",
            *_listed(demo_base, RESIDENT),
            "Or as a resident moving from Helsinki to Espoo:",
            *_listed(demo_base, MOVING),
            "",
            "The operator:",
            f"  public registry  {base}/api/v1/services",
            f"  API docs         {base}/api/docs/",
            f"  health           {base}/health",
            f"  administration   {base}/admin/",
            "",
            "Demo logins (also in var/demo.json):",
        ]
        for role in ("resident", "auditor", "staff"):
            login = demo[role]
            lines.append(f"  {role:<9} {login['username']:<10} password {login['password']}")
        for slug, credential in demo["services"].items():
            lines.append(f"  service {slug}: client_id {credential['client_id']}")
        lines += ["", "Press Ctrl-C to stop everything.", ""]
        self.stdout.write("\n".join(lines))
