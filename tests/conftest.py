pytest_plugins = ["tests.fixtures.prometheus", "tests.fixtures.prefect_server", "tests.fixtures.redis"]
