"""The `nngpt` command line (installed as nngpt_cli): one module per command group, assembled in main.py."""
