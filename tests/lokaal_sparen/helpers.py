"""What the command-line tests share: the `loyalty` command as a real process."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def run(args: list[str], url: str, stdin: str = "", cwd: Path | None = None,  # type: ignore[no-untyped-def]
        extra_env: dict[str, str] | None = None):
    return subprocess.run(
        [sys.executable, "-m", "lokaal_sparen", *args],
        input=stdin,
        env={**os.environ, "DATABASE_URL": url, "SECRET_KEY": "cli-test", **(extra_env or {})},
        capture_output=True,
        text=True,
        timeout=240,
        cwd=cwd,
    )
