"""The training corpus of a model: every architecture file it was trained on, saved beside the model.

    from nngpt_core.corpus.training import TrainingCorpus
    corpus = TrainingCorpus.build(expanded=150, hybrids_per_pair=2, trained_share=0.5, seed=0)   # minutes: probes
    corpus.save(Path("models/bootstrap"))          # training_corpus.jsonl.gz + the manifest in training_corpus.json
    corpus = TrainingCorpus.load(Path("models/bootstrap"))      # verified against the manifest's hashes

It holds the hand-written seeds (origin `seed`), their expanded variants (`expanded`, with the edits
that made them, for mutation examples) and checked crossover hybrids of the trained family pairs
(`synthetic`). The manifest records the recipe, a sha256 per file and of the whole, and the family
pairs the model saw combined (`trained_pairs`) and never saw (`held_out_pairs`). A run imports the
files into its store before cycle 0, so a memorized training example is never admitted as novel,
and generation asks for held-out combinations; `nngpt corpus build --out DIR` writes them out so
anyone can check a claimed novel architecture against what the model was trained on.
"""

from __future__ import annotations

import gzip
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from nngpt_core.errors import NngptError

ARCHIVE = "training_corpus.jsonl.gz"
MANIFEST = "training_corpus.json"


@dataclass(frozen=True)
class TrainingFile:
    name: str
    origin: str  # seed | expanded | synthetic
    code: str
    parents: tuple[str, ...] = ()  # expanded: (seed,); synthetic: (network, donor)
    edits: tuple[tuple[str, str], ...] = ()  # expanded: (knob, value) pairs
    code_hash: str = ""  # its identity in the store (normalized code); computed when not given

    def __post_init__(self) -> None:
        if not self.code_hash:
            from nngpt_core.novelty.normalize import code_hash

            object.__setattr__(self, "code_hash", code_hash(self.code))

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.code.encode()).hexdigest()


@dataclass
class TrainingCorpus:
    files: list[TrainingFile]
    recipe: dict = field(default_factory=dict)
    trained_pairs: list[tuple[str, str]] = field(default_factory=list)
    held_out_pairs: list[tuple[str, str]] = field(default_factory=list)
    # [probed, passed] per trained family pair while the hybrids were made: which families combine well
    pair_outcomes: dict[tuple[str, str], list[int]] = field(default_factory=dict)

    @classmethod
    def build(cls, expanded: int, hybrids_per_pair: int, trained_share: float, seed: int, split: str = "pair",
              on_file: Callable[[TrainingFile], None] | None = None) -> TrainingCorpus:
        """Seeds, `expanded` variants and up to `hybrids_per_pair` hybrids per trained family pair (probed:
        minutes of CPU), the pairs split into trained and held out by `split` (hybrids.split_family_pairs).
        Deterministic given the arguments; `on_file` reports progress."""
        from nngpt_core.corpus.expander import expanded_variants
        from nngpt_core.corpus.hybrids import hybrid_sources, split_family_pairs
        from nngpt_core.corpus.sources import seed_sources
        from nngpt_core.novelty.normalize import code_hash

        files = [TrainingFile(name, "seed", code) for name, code in seed_sources()]
        seeds = [(f.name, f.code) for f in files]
        for variant in expanded_variants(expanded, seed):
            files.append(TrainingFile(variant.name, "expanded", variant.code, (variant.seed,),
                                      tuple((edit.knob, edit.value) for edit in variant.edits)))
            if on_file:
                on_file(files[-1])
        trained, held_out = split_family_pairs(seeds, trained_share, seed, split)
        hashes = {code_hash(f.code) for f in files}
        outcomes: dict[tuple[str, str], list[int]] = {}
        for hybrid in hybrid_sources([(f.name, f.code) for f in files], trained, hybrids_per_pair, seed, hashes, outcomes):
            files.append(TrainingFile(hybrid.name, "synthetic", hybrid.code, (hybrid.network, hybrid.donor)))
            if on_file:
                on_file(files[-1])
        recipe = {"expanded": expanded, "hybrids_per_pair": hybrids_per_pair, "trained_share": trained_share, "seed": seed,
                  "split": split}
        return cls(files, recipe, trained, held_out, outcomes)

    @classmethod
    def from_recipe(cls, recipe: dict, on_file: Callable[[TrainingFile], None] | None = None) -> TrainingCorpus:
        """The corpus a manifest's recipe describes, built again (recipes written before the split
        was configurable split by pair)."""
        return cls.build(recipe["expanded"], recipe["hybrids_per_pair"], recipe["trained_share"], recipe["seed"],
                         recipe.get("split", "pair"), on_file=on_file)

    @property
    def sha256(self) -> str:
        digest = hashlib.sha256()
        for f in self.files:
            digest.update(f"{f.origin}\0{f.name}\0{f.sha256}\0{f.code_hash}\0".encode())
        return digest.hexdigest()

    def code_of(self) -> dict[str, str]:
        return {f.name: f.code for f in self.files}

    def manifest(self) -> dict:
        counts: dict[str, int] = {}
        for f in self.files:
            counts[f.origin] = counts.get(f.origin, 0) + 1
        return {
            "sha256": self.sha256,
            "recipe": self.recipe,
            "counts": counts,
            "trained_pairs": [list(pair) for pair in self.trained_pairs],
            "held_out_pairs": [list(pair) for pair in self.held_out_pairs],
            "pair_outcomes": [[*pair, *counts] for pair, counts in sorted(self.pair_outcomes.items())],
            "files": [{"name": f.name, "origin": f.origin, "sha256": f.sha256, "code_hash": f.code_hash} for f in self.files],
        }

    def save(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        # mtime 0: the archive's bytes depend on its content only
        with gzip.GzipFile(directory / ARCHIVE, "wb", mtime=0) as handle:
            for f in self.files:
                record = {"name": f.name, "origin": f.origin, "code": f.code, "parents": list(f.parents),
                          "edits": [list(edit) for edit in f.edits]}
                handle.write((json.dumps(record) + "\n").encode())
        (directory / MANIFEST).write_text(json.dumps(self.manifest(), indent=1) + "\n", encoding="utf-8")

    @classmethod
    def seeds_only(cls) -> TrainingCorpus:
        """The hand-written seeds: the reference corpus of a model that records no training corpus."""
        from nngpt_core.corpus.sources import seed_sources

        return cls([TrainingFile(name, "seed", code) for name, code in seed_sources()], {"seeds_only": True})

    @classmethod
    def of_model(cls, name_or_path: str) -> TrainingCorpus:
        """The corpus saved beside a local model, or the seeds for a model that has none (e.g. a hub id)."""
        directory = Path(name_or_path)
        if (directory / MANIFEST).is_file() or (directory / ARCHIVE).is_file():
            return cls.load(directory)
        return cls.seeds_only()

    @classmethod
    def load(cls, directory: Path) -> TrainingCorpus:
        """The corpus saved in a model directory; NngptError when it is missing or does not match its manifest."""
        archive, manifest_path = directory / ARCHIVE, directory / MANIFEST
        if not archive.is_file() or not manifest_path.is_file():
            raise NngptError(f"{directory}: no training corpus ({ARCHIVE} and {MANIFEST}); the model does not say what it was trained on")
        try:
            manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
            with gzip.open(archive, "rt", encoding="utf-8") as handle:
                records = [json.loads(line) for line in handle]
        except (OSError, ValueError) as exc:
            raise NngptError(f"{directory}: unreadable training corpus ({type(exc).__name__})") from None
        hashes = {entry["name"]: entry.get("code_hash", "") for entry in manifest.get("files", [])}
        files = [TrainingFile(r["name"], r["origin"], r["code"], tuple(r["parents"]), tuple(tuple(e) for e in r["edits"]),
                              hashes.get(r["name"], "")) for r in records]
        corpus = cls(files, manifest.get("recipe", {}), [tuple(p) for p in manifest.get("trained_pairs", [])],
                     [tuple(p) for p in manifest.get("held_out_pairs", [])],
                     {(a, b): [probed, passed] for a, b, probed, passed in manifest.get("pair_outcomes", [])})
        if corpus.sha256 != manifest.get("sha256"):
            raise NngptError(f"{directory / ARCHIVE}: does not match the sha256 in {MANIFEST}; the training corpus was altered")
        return corpus
