"""Thin Prefect tasks over `nngpt_core`: each stage of a cycle is a few lines that call the library.

Installed as nngpt_tasks (this folder is tasks/ in the checkout). Nothing here imports nngpt_flows.
"""
