"""Where the repository and the test fixtures are (relative to this file, never a machine path)."""

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "tests" / "fixtures"
