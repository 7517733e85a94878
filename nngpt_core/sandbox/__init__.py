"""The sandbox that runs untrusted candidate code: static checks, warm workers, confinement, scrubbing.

    from nngpt_core.sandbox.static import check_source          # filter before anything runs
    from nngpt_core.sandbox.pool import SandboxPool             # warm workers, one confined process per request
    from nngpt_core.sandbox.scrub import Scrubber               # error texts without host paths or secrets

Modules here import nothing heavy at package level: the warm worker (zygote.py) must create its
namespaces while it is still single-threaded, before torch is imported. See docs/evaluation.md.
"""
