"""Thin Prefect tasks over `nngpt_core`: each stage of a cycle is a few lines that call the library."""
