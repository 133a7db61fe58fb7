import sys
from pathlib import Path

from hypothesis import settings

# Each service's (and simulator's) tests/ holds its helpers and fixtures in modules with distinct
# names (several conftest.py would clash for mypy); they are found here, so adding one edits nothing.
ROOT = Path(__file__).parent
SERVICE_TESTS = sorted([*ROOT.glob("services/*/tests"), *ROOT.glob("simulators/*/tests")])
sys.path[:0] = [str(folder) for folder in SERVICE_TESTS]
pytest_plugins = [
    "serialtrail_kit.testing.fixtures",
    *sorted(fixtures.stem for folder in SERVICE_TESTS for fixtures in folder.glob("*_fixtures.py")),
]

# Hypothesis' per-example deadline is a timed assertion; on a loaded 2-core CI machine it
# fails for reasons unrelated to correctness, so it is off for the whole suite.
settings.register_profile("serialtrail", deadline=None)
settings.load_profile("serialtrail")
