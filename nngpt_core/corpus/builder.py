"""Write a model's training corpus to a folder, and import it into the store with its origins.

    from nngpt_core.corpus.builder import write_corpus, import_corpus
    corpus = TrainingCorpus.load(Path("models/bootstrap"))
    files = write_corpus(Path("corpus"), corpus)          # corpus/{seed,expanded,synthetic}/*.py + manifest.json
    report = import_corpus(store, files, on_added=hook)   # origins seed / expanded / synthetic, by code hash

`nngpt corpus build` runs both with a progress bar, so anyone can check a claimed novel architecture
against every file the model was trained on. Rebuilding into the same folder first removes the files
its previous manifest lists, so a smaller corpus leaves no stale files behind.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from nngpt_core.corpus.training import TrainingCorpus
from nngpt_core.errors import NngptError
from nngpt_core.novelty.normalize import code_hash
from nngpt_core.store.engine import Store
from nngpt_core.store.repo import ArchitectureHook, ImportReport, import_sources

MANIFEST = "manifest.json"


@dataclass(frozen=True)
class CorpusFile:
    name: str
    origin: str  # seed | expanded | synthetic
    path: Path
    code: str


def _remove_previous_build(out: Path) -> None:
    manifest = out / MANIFEST
    if not manifest.is_file():
        return
    try:
        listed = json.loads(manifest.read_text(encoding="utf-8"))["files"]
        paths = [entry["path"] for entry in listed]
    except (ValueError, KeyError, TypeError):
        raise NngptError(f"{manifest}: not a corpus manifest; choose another --out or remove it") from None
    for path in paths:
        (out / path).unlink(missing_ok=True)


def write_corpus(out: Path, corpus: TrainingCorpus, on_file: Callable[[CorpusFile], None] | None = None) -> list[CorpusFile]:
    """Write every file of `corpus` to out/<origin>/<name>.py plus a manifest (name, origin, path,
    sha256, code_hash per file, and the corpus's own sha256 and recipe)."""
    if out.exists() and not out.is_dir():
        raise NngptError(f"{out}: exists and is not a folder")
    _remove_previous_build(out)
    files = []
    for item in corpus.files:
        path = out / item.origin / f"{item.name}.py"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(item.code, encoding="utf-8")
        files.append(CorpusFile(item.name, item.origin, path, item.code))
        if on_file is not None:
            on_file(files[-1])
    manifest = {
        "sha256": corpus.sha256,
        "recipe": corpus.recipe,
        "files": [
            {"name": f.name, "origin": f.origin, "path": str(f.path.relative_to(out)), "sha256": item.sha256,
             "code_hash": code_hash(f.code)}
            for f, item in zip(files, corpus.files)
        ],
    }
    (out / MANIFEST).write_text(json.dumps(manifest, indent=1) + "\n", encoding="utf-8")
    return files


def import_corpus(store: Store, files: Iterable[CorpusFile], on_added: ArchitectureHook | None = None) -> ImportReport:
    """Store every corpus file as an architecture with its origin (code already stored is skipped)."""
    report = ImportReport()
    by_origin: dict[str, list[CorpusFile]] = {}
    for f in files:
        by_origin.setdefault(f.origin, []).append(f)
    with store.session() as session:
        for origin, group in by_origin.items():
            part = import_sources(session, ((f.name, f.code, str(f.path)) for f in group), origin=origin, on_added=on_added)
            report.added += part.added
            report.already_stored += part.already_stored
            report.skipped += part.skipped
    return report
