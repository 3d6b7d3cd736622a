"""The composition root: settings, databases, orgs, the model cache, hooks, jobs and the
sandbox (scripts' worker pool, runs log, and their triggers registered on the hooks).

This module (with the CLI) is the one place allowed to import every area.
"""

from __future__ import annotations

from pathlib import Path

from typing import Any

from rapport.platform.db import Database
from rapport.platform.jobs import METADATA, EmbeddedWorker, JobContext, JobRegistry, JobService
from rapport.platform.orgs import Org, OrgService
from rapport.platform.settings import Settings
from rapport.platform.users import User, UserService, check_assignment_names
from rapport.runtime.compiled import ModelCache
from rapport.runtime.org import OrgRuntime
from rapport.runtime.permissions import check_assignment
from rapport.runtime.records.hooks import HookPoint, Hooks
from rapport.runtime.script_host import Bridge
from rapport.sandbox.host import Sandbox
from rapport.sandbox.triggers import Triggers


class Rapport:
    """One Rapport deployment as seen from one process."""

    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings or Settings.from_env()
        self.db = Database(self.settings)
        self.orgs = OrgService(self.db)
        self.users = UserService(self.db)
        self.cache = ModelCache()
        self.hooks = Hooks()
        self.orgs.setup()
        self.sandbox = Sandbox(self.settings, self.db)  # its workers start with the first script run
        for point, hook in Triggers(self.sandbox.runner, Bridge()).hooks().items():
            self.hooks.register_batch(HookPoint(point), hook)
        self.job_kinds = JobRegistry()
        self.job_kinds.register("metadata.apply", self._apply_metadata_job, queue=METADATA)
        self.jobs = JobService(self.db, self.settings, self.job_kinds)
        self._worker: EmbeddedWorker | None = None

    def start_embedded_worker(self) -> None:
        """Run jobs in a thread of this process (embedded mode: no Redis configured)."""
        if self._worker is None and self.settings.redis_url is None:
            self._worker = EmbeddedWorker(self.jobs)
            self._worker.start()

    def _apply_metadata_job(self, ctx: JobContext, *, bundle: dict[str, Any], author: str, message: str = "",
                            confirm_data_loss: bool = False) -> dict[str, Any]:
        """Apply a bundle as a background job, reporting progress (idempotent: a second run of
        the same bundle finds nothing to change)."""
        if ctx.org is None:
            raise ValueError("metadata.apply needs an org")
        applied = self.org(ctx.org).metadata.apply(
            bundle, author=author, message=message, confirm_data_loss=confirm_data_loss,
            progress=lambda text, done, total: ctx.progress(done, total, text))
        return {"revision": applied.revision.number if applied.revision else None,
                "steps": applied.plan.step_dicts()}

    def org(self, name: str) -> OrgRuntime:
        """The runtime of org ``name``; ``orgs.not_found`` if there is none."""
        return self.runtime_of(self.orgs.get(name))  # every call: an org deleted and re-created is a new org

    def runtime_of(self, org: Org) -> OrgRuntime:
        """The runtime of an org already looked up (by the credential of a request)."""
        return OrgRuntime(self.db.org_location(org.name, org.id), self.settings, self.cache, self.hooks,
                          self.sandbox.runner)

    def create_org(self, name: str, label: str | None = None) -> Org:
        return self.orgs.create(name, label)

    def create_user(self, org_name: str, username: str, **kw: Any) -> User:
        """A user of the org, whose profile and permission sets its metadata must define
        (keywords as :meth:`UserService.create`)."""
        org = self.orgs.get(org_name)
        self._check_assignment(org_name, kw.get("profile", "standard"), kw.get("permission_sets", ()))
        return self.users.create(org, username, **kw)

    def update_user(self, org_name: str, username: str, **kw: Any) -> User:
        """Change the given fields (as :meth:`UserService.update`); a new profile or permission
        sets must exist in the org's metadata."""
        org = self.orgs.get(org_name)
        if "profile" in kw or "permission_sets" in kw:
            user = self.users.get(org, username)
            self._check_assignment(org_name, kw.get("profile", user.profile),
                                   kw.get("permission_sets", user.permission_sets))
        return self.users.update(org, username, **kw)

    def _check_assignment(self, org_name: str, profile: str, permission_sets: Any) -> None:
        profile, names = check_assignment_names(profile, permission_sets)  # bad names first: users.bad_profile
        check_assignment(self.org(org_name).model(), profile, names)

    def delete_org(self, name: str, export_dir: Path) -> Path:
        org = self.orgs.get(name)
        export = self.orgs.delete(name, export_dir)
        self.users.keys.recent.forget(org_id=org.id)
        self.cache.forget(org.id)
        self.sandbox.runs.forget(org.id)
        return export

    def close(self) -> None:
        if self._worker is not None:
            self._worker.stop()
            self._worker = None
        self.sandbox.close()
        self.db.dispose()
