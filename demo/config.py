"""Where the demo services find the operator, their credentials and their own state.

Read from the environment once at start (`Config.from_env`), then passed
explicitly, so that tests can run a demo server against a test operator.
"""

import json
import os
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Config:
    operator_url: str  # the operator's base URL, also the `iss` of its tokens
    demo_url: str  # where the demo server is reached, as registered by demo_seed
    var_dir: Path  # holds demo.json (written by demo_seed) and demo/ (our state)

    @classmethod
    def from_env(cls) -> "Config":
        port = port_from_env()
        return cls(
            operator_url=os.environ.get("OMADATA_BASE_URL", "http://127.0.0.1:8000").rstrip("/"),
            demo_url=os.environ.get("OMADATA_DEMO_BASE_URL", f"http://127.0.0.1:{port}").rstrip(
                "/"
            ),
            var_dir=Path(os.environ.get("OMADATA_VAR_DIR", ROOT / "var")),
        )

    @property
    def state_path(self) -> Path:
        return self.var_dir / "demo" / "state.sqlite3"

    def credentials(self, slug: str) -> tuple[str, str]:
        """The OAuth2 client of demo service `slug`, as demo_seed last wrote it.

        Read on every call: a re-seed may have issued new credentials.
        """
        saved = json.loads((self.var_dir / "demo.json").read_text())["services"][slug]
        return saved["client_id"], saved["client_secret"]


def port_from_env() -> int:
    """OMADATA_DEMO_PORT, or 8001; a malformed value stops the server with its name."""
    raw = os.environ.get("OMADATA_DEMO_PORT", "8001")
    if not raw.isdigit() or not 0 < int(raw) < 65536:
        raise SystemExit(f"OMADATA_DEMO_PORT must be a port number, not {raw!r}")
    return int(raw)
