"""The database-backed MinHash LSH index: band keys in `lsh_bands`, signatures in `signatures`.

    from nngpt_core.novelty.index import LshIndex
    index = LshIndex.open(session, signature.settings, threshold=0.7)
    index.add(session, architecture_id, signature)
    index.query(session, signature, top_k=5)      # [Neighbour(architecture_id, similarity), ...]

Every worker, on any machine, queries the same index through SQL. A query looks up the
architectures sharing at least one band key with the query (at most `bucket_rows` from any one
bucket), then confirms each candidate on its stored signature: the similarity returned is the
estimated Jaccard of the signatures, never a bare band collision. The settings of each
signature kind (num_perm, seed, scheme, shingle size, bands x rows) are fixed in
`index_settings` at first use; a signature made with other settings, given or stored, raises
SignatureMismatchError.
`session` may be an ORM Session or a Core Connection.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from itertools import repeat

import numpy as np
from sqlalchemy import Connection, and_, bindparam, select, union_all
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from nngpt_core.errors import SignatureMismatchError
from nngpt_core.novelty.bulk import bulk_insert
from nngpt_core.novelty.signature import (
    HASH_DTYPE,
    MinHashSignature,
    SignatureSettings,
    band_keys,
    lsh_parameters,
)
from nngpt_core.store.models import IndexSettings, LshBand, Signature, utcnow

Database = Session | Connection


@dataclass(frozen=True)
class Neighbour:
    architecture_id: int
    similarity: float  # estimated Jaccard of the stored signature and the query


def _dialect_name(db: Database) -> str:
    return db.get_bind().dialect.name if isinstance(db, Session) else db.dialect.name


@dataclass(frozen=True)
class LshIndex:
    settings: SignatureSettings
    bands: int
    rows: int

    @classmethod
    def open(cls, db: Database, settings: SignatureSettings, threshold: float, recall_at_threshold: float = 0.95) -> LshIndex:
        """The index of `settings.kind`; created with bands x rows tuned to `threshold` on first use.

        Raises SignatureMismatchError when the stored settings differ from `settings`.
        Later threshold changes keep the stored bands x rows (changing them would need a re-index).
        """
        found = cls._load(db, settings.kind)
        if found is None:
            bands, rows = lsh_parameters(threshold, settings.num_perm, recall_at_threshold)
            values = dict(
                kind=settings.kind, num_perm=settings.num_perm, seed=settings.seed, scheme=settings.scheme,
                shingle_k=settings.shingle_k, bands=bands, rows=rows,
            )
            insert = postgresql_insert if _dialect_name(db) == "postgresql" else sqlite_insert
            db.execute(insert(IndexSettings).values(**values).on_conflict_do_nothing(index_elements=["kind"]))
            found = cls._load(db, settings.kind)  # another worker may have won the race: its settings count
        found.settings.require_same(settings, what=f"a {settings.kind} signature")
        return found

    @classmethod
    def _load(cls, db: Database, kind: str) -> LshIndex | None:
        row = db.execute(select(IndexSettings.__table__).where(IndexSettings.kind == kind)).first()
        if row is None:
            return None
        settings = SignatureSettings(row.kind, row.num_perm, row.seed, row.scheme, row.shingle_k)
        return cls(settings, row.bands, row.rows)

    def _check(self, signature: MinHashSignature) -> None:
        self.settings.require_same(signature.settings, what=f"a {self.settings.kind} signature")

    def add(self, db: Database, architecture_id: int, signature: MinHashSignature) -> None:
        """Store the signature of one architecture and its band keys."""
        self._check(signature)
        s = self.settings
        db.execute(
            Signature.__table__.insert().values(
                architecture_id=architecture_id, kind=s.kind, num_perm=s.num_perm, seed=s.seed, scheme=s.scheme,
                hashvalues=signature.to_bytes(), tokens=signature.size, created_at=utcnow(),
            )
        )
        keys = band_keys(signature.hashvalues, self.bands, self.rows)
        db.execute(
            LshBand.__table__.insert(),
            [dict(kind=s.kind, band=band, key=int(key), architecture_id=architecture_id) for band, key in enumerate(keys)],
        )

    def add_many(self, connection: Connection, architecture_ids: Sequence[int], hashvalues: np.ndarray, sizes: Sequence[int]) -> None:
        """Bulk-store signatures (rows of `hashvalues`, uint32, made with this index's settings) and their band keys."""
        s = self.settings
        if hashvalues.ndim != 2 or hashvalues.shape[1] != s.num_perm:
            raise SignatureMismatchError(f"bulk signatures have shape {hashvalues.shape}, the index needs num_perm={s.num_perm}")
        now = utcnow()
        stored = hashvalues.astype(HASH_DTYPE)
        columns = ["architecture_id", "kind", "num_perm", "seed", "scheme", "hashvalues", "tokens", "created_at"]
        rows = (
            (int(i), s.kind, s.num_perm, s.seed, s.scheme, stored[n].tobytes(), int(sizes[n]), now)
            for n, i in enumerate(architecture_ids)
        )
        bulk_insert(connection, "signatures", columns, rows)
        keys = band_keys(hashvalues, self.bands, self.rows).ravel().tolist()
        bands = list(range(self.bands)) * len(architecture_ids)
        owners = np.repeat(np.asarray(architecture_ids, dtype=np.int64), self.bands).tolist()
        bulk_insert(connection, "lsh_bands", ["kind", "band", "key", "architecture_id"], zip(repeat(s.kind), bands, keys, owners))

    @cached_property
    def _query_statement(self):
        """Signatures of the architectures sharing a band key with the query, built once per index.

        Each band is one index lookup on (kind, band, key). Code that very many files share makes
        a few buckets huge; each bucket contributes at most `bucket_rows` architectures, so the
        work per query stays bounded as the store grows. A near-duplicate collides in several
        bands, so cutting a crowded bucket rarely hides it (docs/novelty.md measures this).
        """
        bands, signatures = LshBand.__table__.c, Signature.__table__.c
        buckets = [
            select(bands.architecture_id)
            .where(bands.kind == bindparam("kind"), bands.band == band, bands.key == bindparam(f"key{band}"))
            .limit(bindparam("bucket_rows"))
            .subquery()
            for band in range(self.bands)
        ]
        colliding = union_all(*(select(bucket.c.architecture_id) for bucket in buckets))
        same_settings = and_(
            signatures.num_perm == bindparam("num_perm"), signatures.seed == bindparam("seed"), signatures.scheme == bindparam("scheme")
        )
        return select(signatures.architecture_id, signatures.hashvalues, same_settings.label("same_settings")).where(
            signatures.kind == bindparam("kind"), signatures.architecture_id.in_(colliding)
        )

    def query(
        self, db: Database, signature: MinHashSignature, top_k: int = 5, min_similarity: float = 0.0, bucket_rows: int = 64
    ) -> list[Neighbour]:
        """Stored architectures nearest to `signature`, best first, each confirmed on its signature."""
        self._check(signature)
        s = self.settings
        keys = band_keys(signature.hashvalues, self.bands, self.rows)
        parameters = {
            "kind": s.kind, "num_perm": s.num_perm, "seed": s.seed, "scheme": s.scheme, "bucket_rows": bucket_rows,
            **{f"key{band}": int(key) for band, key in enumerate(keys)},
        }
        rows = db.execute(self._query_statement, parameters).all()
        if not rows:
            return []
        for architecture_id, _, same_settings in rows:
            if not same_settings:
                raise SignatureMismatchError(
                    f"stored {s.kind} signature of architecture {architecture_id} was made with other settings "
                    "(num_perm, seed or scheme) than the index; re-index it"
                )
        matrix = np.frombuffer(b"".join(row[1] for row in rows), dtype=HASH_DTYPE).reshape(len(rows), s.num_perm)
        similarity = np.count_nonzero(matrix == signature.hashvalues, axis=1) / s.num_perm
        ids = np.array([row[0] for row in rows])
        order = np.lexsort((ids, -similarity))[:top_k]  # best first; ties to the oldest architecture
        return [Neighbour(int(ids[i]), float(similarity[i])) for i in order if similarity[i] >= min_similarity]
