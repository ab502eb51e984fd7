"""The console's own files: htmx vendored from its npm package (pinned, with its licence), no CDN."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Any

from console.web import HTMX
from tests.conftest import ConsoleClient

CONSOLE = Path(__file__).resolve().parent.parent / "console"
STATIC = CONSOLE / "static"


def test_htmx_is_the_pinned_file_of_its_npm_package_with_its_licence() -> None:
    notes = (STATIC / "README.md").read_text()
    version = re.fullmatch(r"htmx-(\d+\.\d+\.\d+)\.min\.js", HTMX)
    assert version, HTMX
    assert f"`htmx.org@{version.group(1)}`" in notes
    recorded = re.search(r"file sha256 `([0-9a-f]{64})`", notes)
    assert recorded, "static/README.md must record the file's sha256"
    assert hashlib.sha256((STATIC / HTMX).read_bytes()).hexdigest() == recorded.group(1)
    assert (STATIC / "htmx-LICENSE.txt").read_text().startswith("Zero-Clause BSD")
    assert sorted(p.name for p in STATIC.glob("htmx-*.js")) == [HTMX]  # no older copy left behind


def test_no_template_loads_anything_from_another_site() -> None:
    for template in (CONSOLE / "templates").glob("*.html"):
        text = template.read_text()
        assert not re.search(r"""(src|href)=["']?(https?:)?//""", text), template.name
        assert "@import" not in text, template.name
    assert not re.search(r"url\(\s*['\"]?(https?:)?//", (STATIC / "console.css").read_text())


def test_pages_load_htmx_from_the_console_and_scripts_from_nowhere_else(console: ConsoleClient) -> None:
    response = console.get("/console/login")
    assert f'<script src="/console/static/{HTMX}" defer></script>' in response.get_data(as_text=True)
    policy = response.headers["Content-Security-Policy"]
    assert "script-src 'self';" in policy and "default-src 'self'" in policy
    served: Any = console.get(f"/console/static/{HTMX}")
    assert served.status_code == 200 and served.data == (STATIC / HTMX).read_bytes()
    served.close()
