"""Write the corpus (seeds and expanded variants) to a folder, and import it into the store.

    from nngpt_core.corpus.builder import write_corpus, import_corpus
    files = write_corpus(Path("corpus"), n=1000, seed=0)     # corpus/seeds/*.py, corpus/expanded/*.py, manifest.json
    report = import_corpus(store, files, on_added=hook)      # origin 'seed', deduplicated by code hash

`nngpt corpus build` runs both with a progress bar. Rebuilding into the same folder first removes
the files its previous manifest lists, so a smaller --n leaves no stale variants behind.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from nngpt_core.corpus.expander import expanded_sources
from nngpt_core.corpus.sources import seed_sources
from nngpt_core.errors import NngptError
from nngpt_core.novelty.normalize import code_hash
from nngpt_core.store.engine import Store
from nngpt_core.store.repo import ArchitectureHook, ImportReport, import_sources

MANIFEST = "manifest.json"


@dataclass(frozen=True)
class CorpusFile:
    name: str
    kind: str  # "seed" (hand-written) or "expanded" (a variant of one)
    path: Path
    code: str


def corpus_items(n: int, seed: int) -> Iterator[tuple[str, str, str]]:
    """(name, kind, code): every hand-written seed, then `n` expanded variants."""
    for name, code in seed_sources():
        yield name, "seed", code
    for name, code in expanded_sources(n, seed):
        yield name, "expanded", code


def _remove_previous_build(out: Path) -> None:
    manifest = out / MANIFEST
    if not manifest.is_file():
        return
    try:
        listed = json.loads(manifest.read_text(encoding="utf-8"))["files"]
    except (ValueError, KeyError, TypeError):
        raise NngptError(f"{manifest}: not a corpus manifest; choose another --out or remove it") from None
    for entry in listed:
        (out / entry["path"]).unlink(missing_ok=True)


def write_corpus(out: Path, n: int, seed: int, on_file: Callable[[CorpusFile], None] | None = None) -> list[CorpusFile]:
    """Write seeds/ and expanded/ under `out` plus a manifest (name, kind, path, code_hash per file)."""
    if out.exists() and not out.is_dir():
        raise NngptError(f"{out}: exists and is not a folder")
    _remove_previous_build(out)
    files = []
    for name, kind, code in corpus_items(n, seed):
        path = out / ("seeds" if kind == "seed" else "expanded") / f"{name}.py"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(code, encoding="utf-8")
        files.append(CorpusFile(name, kind, path, code))
        if on_file is not None:
            on_file(files[-1])
    manifest = {
        "seed": seed,
        "expanded": n,
        "files": [
            {"name": f.name, "kind": f.kind, "path": str(f.path.relative_to(out)), "code_hash": code_hash(f.code)}
            for f in files
        ],
    }
    (out / MANIFEST).write_text(json.dumps(manifest, indent=1) + "\n", encoding="utf-8")
    return files


def import_corpus(store: Store, files: Iterable[CorpusFile], on_added: ArchitectureHook | None = None) -> ImportReport:
    """Store every corpus file as an architecture with origin 'seed' (already stored code is skipped)."""
    with store.session() as session:
        return import_sources(session, ((f.name, f.code, str(f.path)) for f in files), origin="seed", on_added=on_added)
