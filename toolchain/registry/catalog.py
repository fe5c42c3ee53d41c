"""The catalog of record: versions, which version each channel serves, every promotion, and an audit log
of every action, in SQL through SQLAlchemy Core. SQLite by default (a file beside a local registry);
a team shares one PostgreSQL database by passing its URL (`--catalog postgresql+psycopg://...`)."""

from __future__ import annotations

import datetime as _dt
import json
from dataclasses import dataclass
from typing import Any

from ...runtime.errors import UsageError


def utc_now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat()


def _tables() -> tuple[Any, dict[str, Any]]:
    import sqlalchemy as sa

    meta = sa.MetaData()
    tables = {
        "versions": sa.Table(
            "edgepack_versions", meta,
            sa.Column("model", sa.String(128), primary_key=True),
            sa.Column("version", sa.String(128), primary_key=True),
            sa.Column("sha256", sa.String(64), nullable=False),
            sa.Column("archive", sa.String(512), nullable=False),
            sa.Column("size", sa.BigInteger, nullable=False),
            sa.Column("published_at", sa.String(32), nullable=False),
            sa.Column("published_by", sa.String(128), nullable=False),
            sa.Column("parity_passed", sa.Boolean, nullable=True),
            sa.Column("summary", sa.Text, nullable=False),  # JSON: parity per artifact, signers, drift when known
            sa.Column("retired_at", sa.String(32), nullable=True),
        ),
        "stages": sa.Table(
            "edgepack_stages", meta,
            sa.Column("model", sa.String(128), primary_key=True),
            sa.Column("channel", sa.String(128), primary_key=True),
            sa.Column("version", sa.String(128), nullable=False),
            sa.Column("promoted_at", sa.String(32), nullable=False),
            sa.Column("promoted_by", sa.String(128), nullable=False),
        ),
        "promotions": sa.Table(
            "edgepack_promotions", meta,
            sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
            sa.Column("model", sa.String(128), nullable=False),
            sa.Column("channel", sa.String(128), nullable=False),
            sa.Column("version", sa.String(128), nullable=False),
            sa.Column("previous", sa.String(128), nullable=True),
            sa.Column("at", sa.String(32), nullable=False),
            sa.Column("by", sa.String(128), nullable=False),
            sa.Column("note", sa.Text, nullable=False),
        ),
        "audit": sa.Table(
            "edgepack_audit", meta,
            sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
            sa.Column("at", sa.String(32), nullable=False),
            sa.Column("actor", sa.String(128), nullable=False),
            sa.Column("action", sa.String(32), nullable=False),
            sa.Column("model", sa.String(128), nullable=False),
            sa.Column("version", sa.String(128), nullable=True),
            sa.Column("channel", sa.String(128), nullable=True),
            sa.Column("detail", sa.Text, nullable=False),
        ),
    }
    return meta, tables


@dataclass
class Catalog:
    """One catalog database. Every write happens in one transaction with its audit row."""

    url: str

    def __post_init__(self) -> None:
        import sqlalchemy as sa

        try:
            self.engine = sa.create_engine(self.url, future=True)
            self.meta, self.t = _tables()
            self.meta.create_all(self.engine)
        except (sa.exc.ArgumentError, sa.exc.OperationalError, ImportError) as exc:
            raise UsageError(f"cannot open the catalog {self._safe_url()}: {str(exc).splitlines()[0]}",
                             fix="pass --catalog sqlite:///PATH or a reachable postgresql+psycopg:// URL") from None

    def _safe_url(self) -> str:
        import sqlalchemy as sa

        try:
            return sa.engine.make_url(self.url).render_as_string(hide_password=True)
        except sa.exc.ArgumentError:
            return "(unparsable URL)"

    def _audit(self, conn: Any, actor: str, action: str, model: str, version: str | None = None,
               channel: str | None = None, **detail: Any) -> None:
        conn.execute(self.t["audit"].insert().values(at=utc_now(), actor=actor, action=action, model=model,
                                                     version=version, channel=channel, detail=json.dumps(detail)))

    def version(self, model: str, version: str) -> dict[str, Any] | None:
        v = self.t["versions"]
        with self.engine.connect() as conn:
            row = conn.execute(v.select().where(v.c.model == model, v.c.version == version)).mappings().first()
        return _version_dict(row) if row else None

    def add_version(self, row: dict[str, Any], actor: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(self.t["versions"].insert().values(**{**row, "summary": json.dumps(row["summary"])}))
            self._audit(conn, actor, "publish", row["model"], row["version"], sha256=row["sha256"])

    def promote(self, model: str, version: str, channel: str, actor: str, note: str) -> str | None:
        """Point `channel` at `version`; returns the version it pointed at before (None for a new channel)."""
        s = self.t["stages"]
        now = utc_now()
        with self.engine.begin() as conn:
            before = conn.execute(s.select().where(s.c.model == model, s.c.channel == channel)).mappings().first()
            previous = before["version"] if before else None
            if before:
                conn.execute(s.update().where(s.c.model == model, s.c.channel == channel)
                             .values(version=version, promoted_at=now, promoted_by=actor))
            else:
                conn.execute(s.insert().values(model=model, channel=channel, version=version, promoted_at=now,
                                               promoted_by=actor))
            conn.execute(self.t["promotions"].insert().values(model=model, channel=channel, version=version,
                                                              previous=previous, at=now, by=actor, note=note))
            self._audit(conn, actor, "promote", model, version, channel, previous=previous, note=note)
        return previous

    def retire(self, model: str, version: str, actor: str, note: str) -> None:
        v = self.t["versions"]
        with self.engine.begin() as conn:
            conn.execute(v.update().where(v.c.model == model, v.c.version == version).values(retired_at=utc_now()))
            self._audit(conn, actor, "retire", model, version, note=note)

    def channels_of(self, model: str) -> dict[str, dict[str, Any]]:
        s = self.t["stages"]
        with self.engine.connect() as conn:
            rows = conn.execute(s.select().where(s.c.model == model)).mappings().all()
        return {r["channel"]: dict(r) for r in rows}

    def versions(self, model: str | None = None) -> list[dict[str, Any]]:
        v = self.t["versions"]
        query = v.select().order_by(v.c.model, v.c.published_at, v.c.version)
        if model is not None:
            query = query.where(v.c.model == model)
        with self.engine.connect() as conn:
            return [_version_dict(r) for r in conn.execute(query).mappings().all()]

    def history(self, model: str, version: str | None = None) -> list[dict[str, Any]]:
        a = self.t["audit"]
        query = a.select().where(a.c.model == model).order_by(a.c.id)
        if version is not None:
            query = query.where(a.c.version == version)
        with self.engine.connect() as conn:
            return [{**dict(r), "detail": json.loads(r["detail"])} for r in conn.execute(query).mappings().all()]


def _version_dict(row: Any) -> dict[str, Any]:
    out = dict(row)
    out["summary"] = json.loads(out["summary"])
    return out
