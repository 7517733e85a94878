"""The code LLM: prompts, extraction, model loading, batched sampling, the bootstrap model and LoRA SFT.

    from nngpt_core.llm.loading import load_model                 # any causal LM, offline
    from nngpt_core.llm.candidates import generate_candidates     # prompts with references -> code
    from nngpt_core.llm.extract import extract_code               # completion -> code or None (no_code)
    from nngpt_core.llm.finetune import finetune                  # LoRA adapter on a cycle's SFT examples
    from nngpt_core.llm.adapters import load_with_adapter         # base + every adapter of the chain

Commands: `nngpt bootstrap`, `nngpt generate`, `nngpt finetune` (cli/llm.py); see docs/llm.md.
"""
