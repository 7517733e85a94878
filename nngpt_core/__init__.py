"""nngpt_core: the domain logic of the NNGPT closed loop (generate, evaluate, filter, admit, fine-tune).

Everything here is plain Python, importable and testable without Prefect; `tasks/` and `flows/`
(installed as nngpt_tasks and nngpt_flows) wrap it for orchestration, and `cli/` (nngpt_cli) is the
`nngpt` command. This package imports none of them (tests/test_layers.py).
"""

__version__ = "0.1.0"
