"""The composition root: settings, databases, orgs, the model cache, hooks and jobs.

This module (with the CLI) is the one place allowed to import every area.
"""

from __future__ import annotations

from pathlib import Path

from rapport.platform.db import Database
from rapport.platform.orgs import Org, OrgService
from rapport.platform.settings import Settings
from rapport.runtime.compiled import ModelCache
from rapport.runtime.org import OrgRuntime
from rapport.runtime.records.hooks import Hooks


class Rapport:
    """One Rapport deployment as seen from one process."""

    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings or Settings.from_env()
        self.db = Database(self.settings)
        self.orgs = OrgService(self.db)
        self.cache = ModelCache()
        self.hooks = Hooks()
        self._known: set[str] = set()
        self.orgs.setup()

    def org(self, name: str) -> OrgRuntime:
        """The runtime of org ``name``; ``orgs.not_found`` if there is none."""
        if name not in self._known:
            self.orgs.get(name)
            self._known.add(name)
        return OrgRuntime(self.db.org_location(name), self.settings, self.cache, self.hooks)

    def create_org(self, name: str, label: str | None = None) -> Org:
        org = self.orgs.create(name, label)
        self._known.add(name)
        return org

    def delete_org(self, name: str, export_dir: Path) -> Path:
        self._known.discard(name)
        self.cache.forget(name)
        return self.orgs.delete(name, export_dir)

    def close(self) -> None:
        self.db.dispose()
