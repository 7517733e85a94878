"""Novelty: is a piece of code new, or a copy of an architecture already in the store?

    normalize   code_hash: identity of the normalized code (exact duplicates)
    lexical     canonical token stream: blind to renaming, formatting, comments, import order
    signature   MinHash signatures with their settings; LSH bands x rows; band keys
    index       the database-backed LSH index shared by all workers (LshIndex)
    compare     similarity signals between two sources and the verdict rule
    admission   admit(): lock, look up, insert or refuse, in one transaction
    bulk        COPY / executemany for filling the index fast

See docs/novelty.md for the measurements behind the defaults.
"""
