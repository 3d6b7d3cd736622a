"""One org's runtime: its compiled model, transactions, records, queries and metadata.

Every operation reads the org's current revision number inside its own transaction and
takes the compiled model for it from the per-process cache, so a revision applied by
another process is seen on the next operation, and no request parses metadata.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from collections.abc import Callable, Iterator

from sqlalchemy.engine import Connection

from rapport.metadata import Bundle
from rapport.metadata.revisions import get_revision
from rapport.platform.actor import SYSTEM, Actor
from rapport.platform.db import OrgLocation
from rapport.platform.settings import Settings
from rapport.platform.sqltypes import utcnow
from rapport.runtime.compiled import CompiledOrg, ModelCache
from rapport.runtime.formula import Env
from rapport.runtime.loading import load_stored
from rapport.runtime.metadata_service import MetadataService
from rapport.runtime.permissions import access_for
from rapport.runtime.query import QueryResult, QuerySpec, run_query
from rapport.runtime.records.hooks import Hooks
from rapport.runtime.records.service import RecordService
from rapport.runtime.revision_lock import revision_in_use


@dataclass
class Tx:
    """An open transaction on one org, with the compiled model it runs against."""

    conn: Connection
    model: CompiledOrg
    schema: str | None
    after_commit: list[Callable[[], None]] = field(default_factory=list)
    #: the org runtime the transaction belongs to (hooks reach the org through it)
    runtime: OrgRuntime | None = None
    #: what later areas keep per transaction (the sandbox's governor)
    state: dict[str, Any] = field(default_factory=dict)


class OrgRuntime:
    def __init__(self, location: OrgLocation, settings: Settings, cache: ModelCache,
                 hooks: Hooks | None = None, scripts: Any = None) -> None:
        self.location = location
        self.settings = settings
        self.cache = cache
        self.hooks = hooks or Hooks()
        #: runs action and endpoint scripts (``rapport.sandbox.runner.ScriptRunner``); None: no sandbox
        self.scripts = scripts

    @property
    def name(self) -> str:
        return self.location.org_name

    def model_for(self, conn: Connection) -> CompiledOrg:
        number = revision_in_use(conn, self.location.schema)
        return self.cache.get(self.location.org_id, number, lambda: _bundle_at(conn, number), self.name)

    @contextmanager
    def transaction(self, tx: Tx | None = None) -> Iterator[Tx]:
        """A write transaction, or the caller's own when ``tx`` is given."""
        if tx is not None:
            yield tx
            return
        with self.location.begin() as conn:
            tx = Tx(conn, self.model_for(conn), self.location.schema, runtime=self)
            yield tx
        for callback in tx.after_commit:
            callback()

    @contextmanager
    def reading(self, tx: Tx | None = None) -> Iterator[Tx]:
        if tx is not None:
            yield tx
            return
        with self.location.read() as conn:
            yield Tx(conn, self.model_for(conn), self.location.schema, runtime=self)

    def model(self) -> CompiledOrg:
        with self.reading() as tx:
            return tx.model

    def records(self, actor: Actor = SYSTEM, tx: Tx | None = None) -> RecordService:
        return RecordService(self, actor, tx)

    def query(self, spec: QuerySpec, tx: Tx | None = None, actor: Actor = SYSTEM) -> QueryResult:
        """One page of ``spec``, holding what ``actor`` may see."""
        with self.reading(tx) as current:
            return run_query(current.conn, current.model, spec,
                             page_size_default=self.settings.page_size_default,
                             page_size_max=self.settings.page_size_max, env=self.formula_env(actor),
                             access=access_for(current.model, actor))

    def formula_env(self, actor: Actor) -> Env:
        """What ``$User``, ``$Org``, TODAY() and NOW() are for ``actor``, now."""
        return Env(user_id=actor.id, user_name=actor.name, org_id=self.location.org_id, org_name=self.name,
                   now=utcnow())

    @property
    def metadata(self) -> MetadataService:
        return MetadataService(self)


def _bundle_at(conn: Connection, number: int) -> Bundle:
    if number == 0:
        return Bundle()
    return load_stored(get_revision(conn, number).bundle)
