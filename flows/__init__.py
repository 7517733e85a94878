"""Prefect flows: compositions of the stage tasks, one file per flow (evolve, cycle, bootstrap, evaluate, report)."""
