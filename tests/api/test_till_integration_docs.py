"""The API reference page lists every operation of the OpenAPI description, and the
Python example of docs/till-integration.md works against a real server."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import requests
from flask.testing import FlaskClient

from loyalty.infra.db import make_engine, make_session_factory
from tests.conftest import LiveServer
from tests.factories import make_merchant, make_scheme, make_till_key

DOCS = Path(__file__).resolve().parents[2] / "docs" / "till-integration.md"


def test_the_reference_page_lists_every_operation(client: FlaskClient) -> None:
    client.set_cookie("lang", "en")
    page = client.get("/api/v1/docs")
    assert page.status_code == 200 and page.mimetype == "text/html"
    html = page.get_data(as_text=True)
    spec = client.get("/api/v1/openapi.json").json
    for path, item in spec["paths"].items():  # type: ignore[index]
        for method in item:
            if method in ("get", "post", "put", "patch", "delete"):
                assert f"<code>{method.upper()} {path}</code>" in html, (method, path)
    assert "<script" not in html
    # Nothing from another host: every link and stylesheet is on this site.
    assert not re.findall(r'(?:href|src)="https?://', html)


def test_the_python_example_of_the_till_guide_runs(
    live_server: LiveServer, tmp_path: Path
) -> None:
    engine = make_engine(live_server.database_url)
    with make_session_factory(engine)() as session:
        shop = make_merchant(session, make_scheme(session))
        key = make_till_key(session, shop)
    engine.dispose()
    example = re.search(r"```python\n(.*?)```", DOCS.read_text(), re.S)
    assert example, "no Python example in the guide"
    script = tmp_path / "till.py"
    script.write_text(example.group(1))
    done = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=60,
        env={**os.environ, "LOKAAL_SPAREN_URL": live_server.url,
             "LOKAAL_SPAREN_TILL_KEY": key},
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert re.fullmatch(rf"201 \d+ points; show {re.escape(live_server.url)}/c/\S+", lines[0])
    assert lines[1:] == ["same sale again: True", "status: open", lines[3]]
    status, code = lines[3].split()
    assert status in ("400", "404") and code
    # What the example printed is what the API says.
    answer = requests.post(f"{live_server.url}/api/v1/redemptions/NOSUCHCO/confirm",
                           headers={"Authorization": f"Bearer {key}"}, timeout=10)
    assert (str(answer.status_code), answer.json()["error"]["code"]) == (status, code)
    assert json.loads(answer.text)["error"]["message"]
