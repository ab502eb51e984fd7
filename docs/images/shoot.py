"""Remake docs/images/poster.png and card.png, and check that each paper prints on one Letter and one A4 page.

Needs Playwright for Python (`pip install playwright`) and Debian's Chromium (`apt-get install chromium`);
`playwright install` is not needed. Run from the repository root:

    .venv/bin/callout --config config.example.toml print poster --output /tmp/poster.html
    .venv/bin/callout --config config.example.toml print card --output /tmp/card.html
    .venv/bin/python docs/images/shoot.py /tmp docs/images
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from playwright.sync_api import sync_playwright

ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def pages_in(pdf: bytes) -> int:
    """Count the pages of a PDF Chromium printed."""
    return len(re.findall(rb"/Type\s*/Page(?![a-z])", pdf))


def main(folder: Path, images: Path) -> int:
    """Screenshot poster.html and card.html in folder into images; print each to PDF at Letter and A4."""
    failures = 0
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
        page = browser.new_page(viewport={"width": 900, "height": 1100}, device_scale_factor=1.5)
        for name in ("poster", "card"):
            page.goto((folder / f"{name}.html").resolve().as_uri())
            page.locator(".sheet").screenshot(path=str(images / f"{name}.png"))
            for paper in ("Letter", "A4"):
                count = pages_in(page.pdf(format=paper, print_background=True))
                print(f"{name} on {paper}: {count} page(s)")
                failures += count != 1
        browser.close()
    return failures


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]), Path(sys.argv[2])))
