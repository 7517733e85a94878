"""Reading LEMUR's source archive: model files and their recorded training results.

    from nngpt_core.lemur.archive import read_archive
    archive = read_archive(path, version="2.1.2", task="img-classification")
    archive.models["AlexNet"]                      # the code of ab/nn/nn/AlexNet.py
    archive.tasks["AlexNet"]                       # {"img-classification"}: the tasks its record folders name
    archive.records["AlexNet"][0]                  # Record(dataset="cifar-10", epoch=1, accuracy=0.60, ...)

The archive holds `ab/nn/nn/<model>.py` (every task's models) and
`ab/nn/stat/train/<task>_<dataset>_<metric>_<model>/<epoch>.json`, each a list of trials with the
accuracy, the hyperparameters, the transform, the duration (ns) and a uid. A model's task is known
only from the names of its record folders (2,540 classification models have only empty epoch files). Records of other tasks are not kept (only their task names, for counting);
epoch files that do not parse are listed in `unreadable`, trials without a numeric accuracy are
counted in `malformed`. The tar file is read once, as a stream.
"""

from __future__ import annotations

import hashlib
import json
import math
import tarfile
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

MODELS_DIR = ("ab", "nn", "nn")
RECORDS_DIR = ("ab", "nn", "stat", "train")
RECORD_FIELDS = ("accuracy", "duration", "transform", "uid")  # the rest of a trial are hyperparameters


@dataclass(frozen=True, slots=True)
class Record:
    """One trial of one epoch file: LEMUR's measurement, not ours (hundreds of thousands are held at once)."""

    dataset: str
    metric: str
    epoch: int
    accuracy: float
    duration_s: float | None
    transform: str | None
    uid: str | None
    hyperparameters_json: str  # the trial's other fields (lr, momentum, batch, ...), as JSON
    key: str  # stable identity: model, task, dataset, metric, epoch and the trial's content

    @property
    def hyperparameters(self) -> dict[str, object]:
        return json.loads(self.hyperparameters_json)

    @property
    def recipe(self) -> str:
        """Evaluation.recipe of this record (unique per model file and trial)."""
        return f"lemur-{self.key[:16]}"


@dataclass
class LemurArchive:
    version: str
    task: str
    models: dict[str, str] = field(default_factory=dict)  # name -> code
    undecodable: list[str] = field(default_factory=list)  # model files that are not UTF-8
    tasks: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))  # model -> tasks of its records
    datasets: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))  # model -> datasets of its `task` folders
    records: dict[str, list[Record]] = field(default_factory=lambda: defaultdict(list))  # model -> records of `task`
    epoch_files: int = 0  # epoch files of `task` read
    unreadable: list[tuple[str, str]] = field(default_factory=list)  # (epoch file, why)
    malformed: int = 0  # trials of `task` without a numeric accuracy


def relative_parts(name: str) -> tuple[str, ...]:
    """Path parts below the archive's top folder (nn_dataset-<version>/)."""
    return PurePosixPath(name).parts[1:]


def _canonical(value: object) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)


def _record_key(model: str, directory: str, epoch: int, trial: dict) -> str:
    return hashlib.sha256(f"{model}|{directory}|{epoch}|{_canonical(trial)}".encode()).hexdigest()


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None


def parse_trials(model: str, directory: str, dataset: str, metric: str, epoch: int, trials: Iterable[object]) -> tuple[list[Record], int]:
    """Records of one epoch file's trials, and how many trials were malformed."""
    records, malformed = [], 0
    for trial in trials:
        accuracy = _number(trial.get("accuracy")) if isinstance(trial, dict) else None
        if accuracy is None:
            malformed += 1
            continue
        duration = _number(trial.get("duration"))
        transform, uid = trial.get("transform"), trial.get("uid")
        records.append(Record(
            dataset=dataset, metric=metric, epoch=epoch, accuracy=accuracy,
            duration_s=duration / 1e9 if duration is not None else None,
            transform=str(transform)[:200] if transform is not None else None, uid=str(uid) if uid is not None else None,
            hyperparameters_json=_canonical({key: value for key, value in trial.items() if key not in RECORD_FIELDS}),
            key=_record_key(model, directory, epoch, trial),
        ))
    return records, malformed


def read_archive(
    path: Path, version: str, task: str, on_member: Callable[[], None] = lambda: None, with_records: bool = True,
) -> LemurArchive:
    """Every model file, and the records of `task`, of the archive at `path` (only their tasks without `with_records`)."""
    archive = LemurArchive(version=version, task=task)
    with tarfile.open(path, "r:gz") as tar:
        for member in tar:
            on_member()
            if not member.isfile():
                continue
            parts = relative_parts(member.name)
            if parts[:-1] == MODELS_DIR and parts[-1].endswith(".py") and parts[-1] != "__init__.py":
                data = tar.extractfile(member).read()
                name = parts[-1][:-3]
                try:
                    archive.models[name] = data.decode("utf-8")
                except UnicodeDecodeError:
                    archive.undecodable.append(name)
            elif parts[:-2] == RECORDS_DIR and parts[-1].endswith(".json"):
                _read_epoch_file(archive, tar, member, parts[-2], parts[-1], with_records)
    return archive


def _read_epoch_file(
    archive: LemurArchive, tar: tarfile.TarFile, member: tarfile.TarInfo, directory: str, filename: str, with_records: bool,
) -> None:
    pieces = directory.split("_", 3)
    if len(pieces) != 4:
        archive.unreadable.append((f"{directory}/{filename}", "folder is not <task>_<dataset>_<metric>_<model>"))
        return
    record_task, dataset, metric, model = pieces
    archive.tasks[model].add(record_task)
    if record_task != archive.task:
        return
    archive.datasets[model].add(dataset)
    if not with_records:
        return
    archive.epoch_files += 1
    label = f"{directory}/{filename}"
    try:
        epoch = int(filename[:-5])
        trials = json.loads(tar.extractfile(member).read())
    except (ValueError, UnicodeDecodeError) as exc:
        archive.unreadable.append((label, f"not an epoch file: {type(exc).__name__}"))
        return
    if isinstance(trials, dict):
        trials = [trials]
    if not isinstance(trials, list):
        archive.unreadable.append((label, f"holds a {type(trials).__name__}, not a list of trials"))
        return
    records, malformed = parse_trials(model, directory, dataset, metric, epoch, trials)
    if records:  # a model whose epoch files hold no trials has no records, not an empty list of them
        archive.records[model].extend(records)
    archive.malformed += malformed


def best_record(records: Iterable[Record], dataset: str, epoch: int = 1) -> Record | None:
    """The record with the highest accuracy on `dataset` after `epoch` (the first of equals), or None."""
    chosen = None
    for record in records:
        if record.dataset == dataset and record.epoch == epoch and (chosen is None or record.accuracy > chosen.accuracy):
            chosen = record
    return chosen


def numeric_hyperparameters(record: Record) -> dict[str, float]:
    """A record's numeric hyperparameters (lr, momentum, batch, ...), as the evaluator takes them."""
    return {key: float(value) for key, value in record.hyperparameters.items() if _number(value) is not None}
