from hypothesis import settings

# Service fixtures live in modules with distinct names (several conftest.py would clash for mypy).
pytest_plugins = ["serialtrail_kit.testing.fixtures", "aggregation_fixtures"]

# Hypothesis' per-example deadline is a timed assertion; on a loaded 2-core CI machine it
# fails for reasons unrelated to correctness, so it is off for the whole suite.
settings.register_profile("serialtrail", deadline=None)
settings.load_profile("serialtrail")
