"""On PostgreSQL a record write never runs against tables that a metadata apply is changing."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from tests.support.bundles import make_object, minimal

TEXT = {"name": "x", "label": "X", "type": "text"}


@pytest.mark.postgres
@pytest.mark.parametrize("backend", ["postgres"], indirect=True)
def test_a_write_waits_for_an_apply_and_then_uses_the_new_revision(org: Any) -> None:
    org.metadata.apply(minimal(make_object("thing", TEXT, {**TEXT, "name": "y"})), author="t")
    record = org.records().create("thing", {"x": "1", "y": "2"})
    results: dict[str, Any] = {}
    with org.location.begin() as conn:  # an apply in progress: it holds the metadata lock
        from rapport.runtime.revision_lock import lock_for_change

        lock_for_change(conn, org.location.schema)

        def write() -> None:
            try:
                results["record"] = org.records().update("thing", record["id"], {"x": "changed"})
            except Exception as error:  # pragma: no cover - reported below
                results["error"] = error

        writer = threading.Thread(target=write)
        writer.start()
        time.sleep(0.5)
        assert writer.is_alive()  # waiting for the apply
    writer.join(10)
    assert "error" not in results and results["record"]["x"] == "changed"


@pytest.mark.postgres
@pytest.mark.parametrize("backend", ["postgres"], indirect=True)
def test_two_writers_racing_for_a_unique_value_get_a_coded_error(org: Any) -> None:
    from rapport.platform.errors import ValidationFailed

    org.metadata.apply(minimal(make_object("person", {"name": "email", "label": "E", "type": "email",
                                                      "unique": True})), author="t")
    results: dict[str, Any] = {}
    with org.transaction() as tx:  # the first writer has checked and inserted, not yet committed
        org.records(tx=tx).create("person", {"email": "a@example.com"})

        def second() -> None:
            try:
                org.records().create("person", {"email": "a@example.com"})
            except Exception as error:
                results["error"] = error

        writer = threading.Thread(target=second)
        writer.start()
        time.sleep(0.5)
    writer.join(10)
    error = results["error"]
    assert isinstance(error, ValidationFailed) and error.code == "records.duplicate_value"
