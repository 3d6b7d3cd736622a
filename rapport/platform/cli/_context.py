"""What every command handler gets: the parsed arguments, the settings and a lazy app."""

from __future__ import annotations

import argparse
import shlex
from collections.abc import Callable
from dataclasses import dataclass, field

from rapport.platform.actor import Actor
from rapport.platform.app import Rapport
from rapport.platform.settings import Settings
from rapport.runtime.org import OrgRuntime

CLI_AUTHOR = "cli"
CLI_ACTOR = Actor("cli", "Command line")


@dataclass
class Context:
    args: argparse.Namespace
    settings: Settings
    _app: Rapport | None = field(default=None, repr=False)

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> Context:
        settings = Settings.from_env()
        if getattr(args, "data_dir", None) is not None:
            settings = settings.with_(data_dir=args.data_dir)
        return cls(args, settings)

    @property
    def app(self) -> Rapport:
        """The app, opened on first use (``metadata validate`` never touches the database)."""
        if self._app is None:
            self._app = Rapport(self.settings)
        return self._app

    @property
    def json(self) -> bool:
        return bool(getattr(self.args, "json", False))

    def org(self) -> OrgRuntime:
        """The runtime of ``--org``; ``orgs.not_found`` when there is no such org."""
        return self.app.org(self.args.org)

    def command(self, rest: str) -> str:
        """``rapport <rest>``, with the ``--data-dir`` this run used, ready to copy."""
        data_dir = getattr(self.args, "data_dir", None)
        prefix = f"rapport --data-dir {shlex.quote(str(data_dir))}" if data_dir is not None else "rapport"
        return f"{prefix} {rest}"

    def close(self) -> None:
        if self._app is not None:
            self._app.close()
            self._app = None


Handler = Callable[[Context], int]
