pytest_plugins = ["serialtrail_kit.testing.fixtures"]
