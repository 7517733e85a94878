"""Benchmark of the near-duplicate lookup: brute force vs datasketch's MinHashLSH vs the database index.

    .venv/bin/python bench/novelty.py                 # N = 10^4 and 10^5 (about 4 minutes on 2 cores)
    .venv/bin/python bench/novelty.py --large         # adds N = 10^6 (about 30 minutes more, 11 GB of memory)
    .venv/bin/python bench/novelty.py --quick         # N = 2000, a smoke run
    .venv/bin/python bench/novelty.py --postgres-url postgresql+psycopg2://...   # instead of a throwaway cluster

Signatures are realistic: synthetic architecture token streams (layers, forward calls, blocks)
in the canonical token vocabulary, grouped in clusters of near-duplicate variants (a generated
corpus is full of them), hashed with the real settings (k-shingles, datasketch MinHash). Half the
queries are fresh mutations of stored programs, half are new programs. For each N it prints the
per-query latency (p50, p95) of each method side by side, the speed-up over brute force, and the
recall of near-duplicates (stored neighbours at or above the threshold that brute force finds).
"""

from __future__ import annotations

import argparse
import hashlib
import math
import random
import signal
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import ExitStack
from functools import partial
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script: bench/ is on the path, the checkout is not
    sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
from datasketch import MinHashLSH  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.progress import track  # noqa: E402
from rich.table import Table  # noqa: E402

from nngpt_core.config import NoveltyConfig  # noqa: E402
from nngpt_core.novelty.bulk import bulk_insert  # noqa: E402
from nngpt_core.novelty.index import LshIndex  # noqa: E402
from nngpt_core.novelty.signature import MinHashSignature, lexical_settings, lsh_parameters, token_signature  # noqa: E402
from nngpt_core.store.engine import open_store  # noqa: E402
from nngpt_core.store.migrate import upgrade  # noqa: E402
from nngpt_core.store.models import utcnow  # noqa: E402
from tests.throwaway_pg import ThrowawayPostgres  # noqa: E402

LAYERS = (
    "Conv2d", "BatchNorm2d", "ReLU", "MaxPool2d", "AvgPool2d", "Linear", "Dropout", "GELU", "SiLU", "LayerNorm",
    "Sigmoid", "Flatten", "AdaptiveAvgPool2d", "ConvTranspose2d", "Identity", "Conv1d", "GRU", "LSTM", "ReLU6",
    "MultiheadAttention", "Embedding", "GroupNorm", "InstanceNorm2d", "Hardswish", "Tanh", "LeakyReLU", "Upsample",
)
FUNCTIONS = ("relu", "gelu", "silu", "avg_pool2d", "max_pool2d", "adaptive_avg_pool2d", "dropout", "interpolate", "softmax")
SIZES = ("1", "2", "3", "4", "5", "7", "8", "16", "24", "32", "48", "64", "96", "128", "192", "256", "384", "512")
KEYWORDS = ("kernel_size", "stride", "padding", "bias", "groups", "dim", "inplace", "p", "eps")

Line = tuple[str, ...]


def layer_call(rng: random.Random) -> list[str]:
    args: list[str] = []
    for position in range(rng.randrange(0, 4)):
        args += ([","] if position else []) + [rng.choice(SIZES)]
    if rng.random() < 0.5:
        args += ([","] if args else []) + [rng.choice(KEYWORDS), "=", rng.choice(SIZES + ("False", "True"))]
    return ["nn", ".", rng.choice(LAYERS), "(", *args, ")"]


def layer_line(rng: random.Random, member: int) -> Line:
    """`self.m = nn.Layer(...)`, sometimes a Sequential of a few layers."""
    if rng.random() < 0.25:
        calls: list[str] = []
        for position in range(rng.randrange(2, 5)):
            calls += ([","] if position else []) + layer_call(rng)
        return ("V0", ".", f"M{member}", "=", "nn", ".", "Sequential", "(", *calls, ")", "<NL>")
    return ("V0", ".", f"M{member}", "=", *layer_call(rng), "<NL>")


def forward_line(rng: random.Random, members: int) -> Line:
    """One statement of forward(): a member call, an activation, a residual, a concatenation or a reshape."""
    target, source, other = (f"V{rng.randrange(1, 5)}" for _ in range(3))
    call = ("V0", ".", f"M{rng.randrange(0, members)}", "(", source, ")")
    template = rng.random()
    if template < 0.35:
        return (target, "=", *call, "<NL>")
    if template < 0.6:
        return (target, "=", "F", ".", rng.choice(FUNCTIONS), "(", *call, ")", "<NL>")
    if template < 0.75:
        return (target, "=", *call, "+", other, "<NL>")
    if template < 0.85:
        return (target, "=", "torch", ".", "cat", "(", "[", source, ",", other, "]", ",", "dim", "=", "1", ")", "<NL>")
    return (target, "=", source, ".", "view", "(", source, ".", "size", "(", "0", ")", ",", "-", "1", ")", "<NL>")


def random_program(rng: random.Random) -> list[Line]:
    """Blocks of layer definitions and forward statements, in the canonical token vocabulary."""
    lines: list[Line] = []
    member = 0
    for block in range(rng.randrange(1, 4)):
        name = "Net" if block == 0 else f"C{block}"
        depth = rng.randrange(3, 10)
        lines += [("class", name, "(", "nn", ".", "Module", ")", ":", "<NL>", "<IN>"),
                  ("def", "__init__", "(", "V0", ",", "V1", ")", ":", "<NL>", "<IN>", "super", "(", ")", ".", "__init__", "(", ")", "<NL>")]
        lines += [layer_line(rng, member + i) for i in range(depth)]
        lines += [("<DE>", "def", "forward", "(", "V0", ",", "V1", ")", ":", "<NL>", "<IN>")]
        lines += [forward_line(rng, member + depth) for _ in range(depth)]
        lines += [("return", f"V{rng.randrange(1, 5)}", "<NL>", "<DE>", "<DE>")]
        member += depth
    return lines


def mutate(rng: random.Random, program: list[Line], strength: float) -> list[Line]:
    """A near-duplicate: each layer or forward statement is kept, re-drawn, dropped or followed by a new one."""
    out: list[Line] = []
    for line in program:
        roll = rng.random()
        if not line[0].startswith("V") or roll >= strength:
            out.append(line)
        elif roll < strength / 2:
            out.append(layer_line(rng, rng.randrange(0, 30)) if line[0] == "V0" else forward_line(rng, 30))
        if line[0].startswith("V") and rng.random() < strength / 4:
            out.append(forward_line(rng, 30))
    return out


def geometric(rng: random.Random, p: float) -> int:
    """Trials until the first success, each succeeding with probability p (1, 2, ...)."""
    return 1 + int(math.log(1.0 - rng.random()) / math.log(1.0 - p))


def tokens_of(program: list[Line]) -> list[str]:
    return [token for line in program for token in line]


def corpus(rng: random.Random, n: int) -> Iterator[list[Line]]:
    """n programs in clusters of 1-30 near-duplicate variants (geometric sizes, mean about 4), streamed."""
    made = 0
    while made < n:
        base = random_program(rng)
        cluster = [base] + [mutate(rng, base, rng.uniform(0.02, 0.4)) for _ in range(min(geometric(rng, 0.25) - 1, 29))]
        for program in cluster[: n - made]:
            yield program
        made += len(cluster)


def signatures_of(programs: Iterable[list[Line]], n: int, cfg: NoveltyConfig, keep: set[int]) -> tuple[np.ndarray, list[int], dict]:
    """Signature matrix and set sizes of n programs, and the programs whose index is in `keep`."""
    settings = lexical_settings(cfg)
    matrix = np.empty((n, cfg.num_perm), dtype=np.uint32)
    sizes, kept = [], {}
    for row, program in enumerate(track(programs, total=n, description=f"signatures N={n}", transient=True)):
        signature = token_signature(tokens_of(program), settings)
        matrix[row] = signature.hashvalues
        sizes.append(signature.size)
        if row in keep:
            kept[row] = program
    return matrix, sizes, kept


def top_k(matrix: np.ndarray, ids: np.ndarray, query: np.ndarray, k: int) -> list[tuple[int, float]]:
    """The k rows of `matrix` (named by `ids`) most similar to `query`, best first."""
    similarity = np.count_nonzero(matrix == query, axis=1) / matrix.shape[1]
    best = np.argpartition(-similarity, k)[:k] if len(similarity) > k else np.arange(len(similarity))
    best = best[np.lexsort((ids[best], -similarity[best]))]
    return [(int(ids[i]), float(similarity[i])) for i in best]


Query = Callable[[MinHashSignature, int], list[tuple[int, float]]]


class Method:
    """A lookup method: `fill` indexes the matrix (timed); each variant's query returns [(row, similarity)] best first."""

    name = ""

    def fill(self, matrix: np.ndarray, sizes: list[int]) -> None: ...

    def query(self, signature: MinHashSignature, k: int) -> list[tuple[int, float]]: ...

    def variants(self) -> list[tuple[str, Query]]:
        return [(self.name, self.query)]

    def close(self) -> None: ...


class BruteForce(Method):
    name = "brute force (numpy)"

    def fill(self, matrix, sizes):
        self.matrix, self.ids = matrix, np.arange(len(matrix))

    def query(self, signature, k):
        return top_k(self.matrix, self.ids, signature.hashvalues, k)


class InMemoryLsh(Method):
    name = "datasketch MinHashLSH (memory)"

    def __init__(self, bands: int, rows: int, num_perm: int):
        self.lsh = MinHashLSH(num_perm=num_perm, params=(bands, rows))

    def fill(self, matrix, sizes):
        self.matrix = matrix
        settings = lexical_settings(NoveltyConfig(num_perm=matrix.shape[1]))
        with self.lsh.insertion_session() as session:
            for row in range(len(matrix)):
                session.insert(row, MinHashSignature(settings, matrix[row], 0).to_datasketch(), check_duplication=False)

    def query(self, signature, k):
        candidates = np.array(self.lsh.query(signature.to_datasketch()), dtype=np.int64)
        return top_k(self.matrix[candidates], candidates, signature.hashvalues, k) if len(candidates) else []


class DatabaseIndex(Method):
    """The LshIndex of nngpt_core in an empty database (no runs, no architectures), emptied again on close."""

    def __init__(self, name: str, url: str, cfg: NoveltyConfig, bucket_rows: list[int]):
        self.name, self.cfg, self.bucket_rows = name, cfg, bucket_rows
        self.store = open_store(url)
        upgrade(self.store)
        with self.store.engine.connect() as conn:
            if conn.exec_driver_sql("SELECT (SELECT count(*) FROM runs) + (SELECT count(*) FROM architectures)").scalar():
                raise SystemExit(f"{self.store.masked_url} is not empty: give the benchmark a database of its own")

    def fill(self, matrix, sizes):
        ids = list(range(1, len(matrix) + 1))  # architecture id = row + 1
        now = utcnow()
        with self.store.engine.begin() as conn:
            bulk_insert(
                conn, "architectures", ["id", "code_hash", "code", "name", "origin", "in_corpus", "created_at"],
                ((i, hashlib.sha256(str(i).encode()).hexdigest(), f"# bench {i}", f"bench-{i}", "generated", True, now) for i in ids),
            )
            self.index = LshIndex.open(conn, lexical_settings(self.cfg), self.cfg.lexical_threshold, self.cfg.lsh_recall_at_threshold)
            self.index.add_many(conn, ids, matrix, sizes)
        with self.store.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            # as autovacuum would: statistics, and PostgreSQL's visibility map for index-only scans
            conn.exec_driver_sql("VACUUM ANALYZE" if self.store.dialect == "postgresql" else "ANALYZE")
        self.conn = self.store.engine.connect()  # one long-lived connection, as a worker holds

    def query(self, signature, k, bucket_rows: int):
        neighbours = self.index.query(self.conn, signature, top_k=k, bucket_rows=bucket_rows)
        return [(n.architecture_id - 1, n.similarity) for n in neighbours]

    def variants(self):
        if len(self.bucket_rows) == 1:
            return [(self.name, partial(self.query, bucket_rows=self.bucket_rows[0]))]
        return [(f"{self.name}, bucket_rows={rows}", partial(self.query, bucket_rows=rows)) for rows in self.bucket_rows]

    def close(self):
        self.conn.close()
        if self.store.dialect == "postgresql":  # SQLite lives in a temporary directory
            with self.store.engine.begin() as conn:  # only benchmark rows: the database was empty
                conn.exec_driver_sql("TRUNCATE lsh_bands, signatures, index_settings, architectures CASCADE")
        self.store.dispose()


def measure(method: Method, matrix, sizes, queries: list[MinHashSignature], k: int) -> dict[str, tuple]:
    """{variant name: (fill seconds, per-query milliseconds, results)} for one method, filled once."""
    started = time.perf_counter()
    method.fill(matrix, sizes)
    fill_s = time.perf_counter() - started
    measured = {}
    for name, query in method.variants():
        latencies, results = [], []
        for signature in track(queries, description=f"queries: {name}", transient=True):
            started = time.perf_counter()
            results.append(query(signature, k))
            latencies.append((time.perf_counter() - started) * 1000)
        measured[name] = (fill_s, latencies, results)
    return measured


def recall(results, reference, threshold: float) -> tuple[int, int]:
    """Queries whose best stored neighbour is at or above the threshold, and how many of them the method found."""
    needed = found = 0
    for mine, truth in zip(results, reference):
        if truth and truth[0][1] >= threshold:
            needed += 1
            found += bool(mine) and abs(mine[0][1] - truth[0][1]) < 1e-9
    return needed, found


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(values, q))


def run_size(
    console: Console, n: int, n_queries: int, cfg: NoveltyConfig, postgres_url: str, bucket_rows: list[int], seed: int
) -> None:
    rng = random.Random(seed)
    sources = [rng.randrange(0, n) for _ in range(n_queries // 2)]  # stored programs that queries are variants of
    matrix, sizes, kept = signatures_of(corpus(rng, n), n, cfg, set(sources))
    query_programs = [mutate(rng, kept[i], rng.uniform(0.02, 0.4)) for i in sources]
    query_programs += [random_program(rng) for _ in range(n_queries - len(query_programs))]
    settings = lexical_settings(cfg)
    queries = [token_signature(tokens_of(p), settings) for p in query_programs]
    bands, rows = lsh_parameters(cfg.lexical_threshold, cfg.num_perm, cfg.lsh_recall_at_threshold)
    measured = {}
    with tempfile.TemporaryDirectory() as tmp:
        makers = [
            BruteForce,
            lambda: InMemoryLsh(bands, rows, cfg.num_perm),
            lambda: DatabaseIndex("database index, SQLite", f"sqlite:///{Path(tmp) / 'bench.db'}", cfg, bucket_rows),
            lambda: DatabaseIndex("database index, PostgreSQL", postgres_url, cfg, bucket_rows),
        ]
        for make in makers:
            method = make()
            try:
                measured.update(measure(method, matrix, sizes, queries, cfg.top_k))
            finally:
                method.close()
    reference = measured[BruteForce.name][2]
    brute_p50 = percentile(measured[BruteForce.name][1], 50)
    table = Table(
        title=f"N = {n:,} signatures, {len(queries)} queries (half near-duplicates of stored ones), k={cfg.shingle_k}, "
        f"num_perm={cfg.num_perm}, threshold={cfg.lexical_threshold}, LSH {bands} bands x {rows} rows, top {cfg.top_k}"
    )
    for column in ("method", "fill s", "p50 ms", "p95 ms", "p50 speed-up vs brute force", "near-duplicates found"):
        table.add_column(column, justify="right")
    for name, (fill_s, latencies, results) in measured.items():
        needed, found = recall(results, reference, cfg.lexical_threshold)
        p50 = percentile(latencies, 50)
        table.add_row(
            name, f"{fill_s:.1f}", f"{p50:.2f}", f"{percentile(latencies, 95):.2f}", f"{brute_p50 / p50:.1f}x", f"{found}/{needed}"
        )
    console.print(table)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000], help="index sizes N")
    parser.add_argument("--large", action="store_true", help="also N = 10^6")
    parser.add_argument("--quick", action="store_true", help="smoke run: N = 2000, 40 queries")
    parser.add_argument("--queries", type=int, default=400, help="queries per size")
    parser.add_argument("--postgres-url", help="an empty PostgreSQL database to use instead of a throwaway cluster")
    parser.add_argument("--num-perm", type=int, help="MinHash permutations (default: the config's)")
    parser.add_argument("--bucket-rows", type=int, nargs="+", help="database query cut(s) per LSH bucket (default: the config's)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # still stop the throwaway PostgreSQL
    sizes = [2000] if args.quick else args.sizes + ([1_000_000] if args.large else [])
    queries = 40 if args.quick else args.queries
    cfg = NoveltyConfig(**({"num_perm": args.num_perm} if args.num_perm else {}))
    console = Console(width=200)
    with ExitStack() as stack:
        url = args.postgres_url
        if url is None:
            url = stack.enter_context(ThrowawayPostgres()).create_database("nngpt_bench")
        for n in sizes:
            run_size(console, n, queries, cfg, url, args.bucket_rows or [cfg.bucket_rows], args.seed)


if __name__ == "__main__":
    main()
