"""The benchmark's quick run: it completes and prints every row of its table (timings are never asserted)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.report import DEBRIEF, LABELS, SMALL_DEBRIEF

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.timeout(300)
def test_the_quick_benchmark_prints_every_measurement(tmp_path: Path) -> None:
    output = tmp_path / "results.txt"
    command = [sys.executable, "-m", "benchmarks", "--quick", "--output", str(output)]
    database_url = os.environ.get("CALLOUT_TEST_DATABASE_URL", "")
    if database_url.startswith("postgresql"):
        # The benchmark drops and creates its own database on that server, never the test database; one
        # named for this run, so two runs on one server (two checkouts, CI beside a developer) never collide.
        name = f"callout_bench_smoke_{os.getpid()}"
        command += ["--postgres", database_url, "--database-name", name]
    else:
        command.append("--sqlite")
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=280)
    assert result.returncode == 0, result.stdout + result.stderr[-4000:]
    rows = [line for line in result.stdout.splitlines() if line.startswith(LABELS)]
    assert [row.split("  ")[0] for row in rows] == list(LABELS)
    targets = {row.split("  ")[0]: row for row in rows}
    assert "pages" in targets[SMALL_DEBRIEF] and "< 2 s" in targets[SMALL_DEBRIEF]  # issue 5's target
    assert "pages" in targets[DEBRIEF] and "< 3 s" in targets[DEBRIEF]  # issue 7's
    assert "FAILED" not in result.stdout
    assert output.read_text() == result.stdout
