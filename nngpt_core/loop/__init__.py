"""The closed loop as plain functions over the store: runs, cycle stages, selection, metrics and reports.

Every stage reads what is already stored for (run, cycle, candidate) and does only what is missing,
so a run killed at any point resumes without recomputing or duplicating anything.
"""
