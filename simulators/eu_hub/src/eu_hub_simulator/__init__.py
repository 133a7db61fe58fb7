"""EU FMD European Hub simulator: see simulators/eu_hub/README.md. `python -m eu_hub_simulator`
serves it; `eu_hub_simulator.testing` runs it as a subprocess for tests."""
