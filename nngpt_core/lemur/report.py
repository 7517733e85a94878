"""`nngpt lemur report`: how many distinct architectures LEMUR holds, under the project's and the paper's criterion.

    from nngpt_core.lemur.report import dedup_report, plot_report
    report = dedup_report(store, version="2.1.2", novelty=cfg.novelty, workers=2)
    report.files, report.distinct_code, report.project.distinct, report.paper.distinct
    plot_report(report, Path("reports/lemur_dedup.png"))

Reads the imported LEMUR files from the store (lemur_models, architectures, lexical signatures):
exact copies are files whose normalized code another file already has; the project's criterion is
the lexical MinHash at `novelty.lexical_threshold` (what admission applies to generated code; the
structural fingerprint needs a sandboxed forward pass of every file and is left out); the paper's
is the exact Jaccard of abstracted-token 10-shingles at tau = 0.90 (nngpt_core.novelty.paper).
Architectures are taken in import order (file name order), as admission would see them.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from sqlalchemy import select

from nngpt_core.config import NoveltyConfig
from nngpt_core.errors import NngptError
from nngpt_core.lemur.analysis import map_files
from nngpt_core.lemur.families import Families, lexical_families, paper_families, shingle_hashes
from nngpt_core.novelty.signature import HASH_DTYPE, lexical_settings
from nngpt_core.store.engine import Store
from nngpt_core.store.models import Architecture, LemurModel, Signature

_GENERATED_SUFFIX = re.compile(r"-([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|[0-9a-f]{32}|\d+)$")


@dataclass
class DedupReport:
    version: str
    files: int  # LEMUR files imported
    distinct_code: int  # architectures (distinct normalized code)
    names: dict[int, list[str]]  # architecture -> its LEMUR file names
    project: Families
    paper: Families
    copies: list[tuple[int, int]] = field(default_factory=list)  # (architecture, files) for code shared by several files

    @property
    def exact_copies(self) -> int:
        return self.files - self.distinct_code


def family_label(names: list[str]) -> str:
    """A family's files summarized by name stem: 'ga (412), alt (30), AlexNet (1)'."""
    stems = Counter(_GENERATED_SUFFIX.sub("", name) for name in names)
    return ", ".join(f"{stem} ({count})" for stem, count in stems.most_common(4)) + (" ..." if len(stems) > 4 else "")


def dedup_report(
    store: Store, version: str, novelty: NoveltyConfig, workers: int = 1,
    progress: Callable[[str, int | None], Callable[[int], None]] = lambda _stage, _total: (lambda _steps: None),
) -> DedupReport:
    settings = lexical_settings(novelty)
    with store.session() as session:
        rows = session.execute(
            select(LemurModel.name, LemurModel.architecture_id).where(LemurModel.version == version).order_by(LemurModel.architecture_id, LemurModel.name)
        ).all()
        if not rows:
            raise NngptError(f"no LEMUR files of nn-dataset {version} in the store: run `nngpt lemur import` first")
        names: dict[int, list[str]] = {}
        for name, architecture_id in rows:
            names.setdefault(architecture_id, []).append(name)
        ids = sorted(names)
        codes = dict(session.execute(select(Architecture.id, Architecture.code).where(Architecture.id.in_(ids))).all())
        stored = dict(session.execute(
            select(Signature.architecture_id, Signature.hashvalues).where(
                Signature.kind == "lexical", Signature.num_perm == settings.num_perm, Signature.seed == settings.seed,
                Signature.scheme == settings.scheme, Signature.architecture_id.in_(ids))
        ).all())
    missing = [i for i in ids if i not in stored]
    if missing:
        raise NngptError(f"{len(missing)} LEMUR architectures have no lexical signature with the configured settings (e.g. {missing[0]})")
    hashvalues = np.stack([np.frombuffer(stored[i], dtype=HASH_DTYPE) for i in ids])
    project = lexical_families(ids, hashvalues, novelty.lexical_threshold)
    sets = list(map_files(shingle_hashes, [(str(i), codes[i]) for i in ids], workers=workers,
                          on_done=progress("paper shingles", len(ids))))
    parsed = [(i, values) for i, values in zip(ids, sets) if values is not None]
    paper = paper_families([i for i, _ in parsed], [values for _, values in parsed])
    copies = sorted(((i, len(n)) for i, n in names.items() if len(n) > 1), key=lambda item: -item[1])
    return DedupReport(version, len(rows), len(ids), names, project, paper, copies)


def plot_report(report: DedupReport, path: Path) -> Path:
    """Family sizes by rank (log-log) under both criteria, and the counts of files, codes and families."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, (sizes_axis, counts_axis) = plt.subplots(1, 2, figsize=(11, 4.2))
    for families, colour in ((report.project, "tab:blue"), (report.paper, "tab:orange")):
        sizes = families.sizes()
        sizes_axis.loglog(range(1, len(sizes) + 1), sizes, marker=".", linestyle="none", color=colour,
                          label=f"{families.criterion}: {families.distinct:,} families")
    sizes_axis.set_xlabel("family rank")
    sizes_axis.set_ylabel("architectures in the family")
    sizes_axis.set_title("near-duplicate families of LEMUR")
    sizes_axis.legend(fontsize=8)
    labels = ["files", "distinct code", "project\n(lexical)", "paper\n(tau 0.90)"]
    values = [sum(len(n) for n in report.names.values()), report.distinct_code, report.project.distinct, report.paper.distinct]
    bars = counts_axis.bar(labels, values, color=["grey", "grey", "tab:blue", "tab:orange"])
    counts_axis.bar_label(bars, labels=[f"{v:,}" for v in values])
    counts_axis.set_title(f"nn-dataset {report.version}: distinct architectures")
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=120)
    plt.close(figure)
    return path
