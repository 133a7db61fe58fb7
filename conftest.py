from hypothesis import settings

pytest_plugins = ["serialtrail_kit.testing.fixtures"]

# Hypothesis' per-example deadline is a timed assertion; on a loaded 2-core CI machine it
# fails for reasons unrelated to correctness, so it is off for the whole suite.
settings.register_profile("serialtrail", deadline=None)
settings.load_profile("serialtrail")
