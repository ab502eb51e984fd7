"""Debian's Chromium driven by Playwright for Python: the console as people use it.

Playwright's own browser download cannot be reached from these machines, so the tests launch the system
Chromium (`apt-get install chromium`; `.ci/run` installs it).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
DESKTOP = {"width": 1280, "height": 860}
PHONE = {"width": 360, "height": 760}


@contextmanager
def chromium() -> Iterator[Any]:
    """Start headless Chromium; fail (never skip) when it is not installed."""
    from playwright.sync_api import sync_playwright

    assert CHROMIUM.exists(), "Chromium is missing: apt-get install -y chromium (.ci/run does)"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()


def screenshots_folder(default: Path) -> Path:
    """Return where to write screenshots: $CALLOUT_SCREENSHOTS if set, else default."""
    folder = Path(os.environ.get("CALLOUT_SCREENSHOTS") or default)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def shoot(page: Any, folder: Path, name: str) -> None:
    """Write a full-page screenshot at the desktop and the phone width (then back to the desktop).

    At each width the page must fit: nothing wider than the screen, so nobody scrolls sideways on a phone.
    """
    for label, size in (("desktop", DESKTOP), ("phone", PHONE)):
        page.set_viewport_size(size)
        page.wait_for_timeout(150)
        page.screenshot(path=str(folder / f"{name}-{label}.png"), full_page=True)
        wider = page.evaluate(WIDER_THAN_THE_SCREEN)
        assert not wider, f"{name} at {size['width']} px: wider than the screen: {wider}"
    page.set_viewport_size(DESKTOP)


# The elements reaching past the right edge of the window (a table scrolling in its own box is fine).
WIDER_THAN_THE_SCREEN = """() => {
  const edge = document.documentElement.clientWidth + 1;
  if (document.documentElement.scrollWidth <= edge) return [];
  return [...document.querySelectorAll("body *")]
    .filter((el) => el.getBoundingClientRect().right > edge)
    .slice(0, 5)
    .map((el) => el.tagName.toLowerCase() + (el.id ? "#" + el.id : ""));
}"""
