"""nngpt_core: the domain logic of the NNGPT closed loop (generate, evaluate, filter, admit, fine-tune).

Everything here is plain Python, importable and testable without Prefect; `tasks/` and `flows/`
wrap it for orchestration.
"""

__version__ = "0.1.0"
