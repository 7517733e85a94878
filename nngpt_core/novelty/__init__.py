"""Novelty: code normalization, MinHash signatures and the database-backed LSH index."""
