"""Long metadata applies run as background jobs with progress an admin can read."""

from __future__ import annotations

from typing import Any

from tests.support.bundles import make_object, minimal


def test_a_type_conversion_runs_as_a_job_with_progress(app: Any, org: Any) -> None:
    text = {"name": "n", "label": "N", "type": "text"}
    org.metadata.apply(minimal(make_object("row", text)), author="t")
    org.records().create_many("row", [{"n": str(i)} for i in range(2500)])
    app.start_embedded_worker()
    job_id = app.jobs.enqueue("metadata.apply", org=org.name, author="admin", message="to numbers",
                              bundle=minimal(make_object("row", {**text, "type": "integer"})))
    status = app.jobs.wait(job_id, timeout=60)
    assert status.status == "finished", status.to_dict()
    assert status.result["revision"] == 2
    assert status.progress == status.total and status.total
    assert org.metadata.revision(2).message == "to numbers"
    from rapport.runtime.query import QuerySpec

    rows = org.query(QuerySpec("row", sort=("-n",), limit=1)).records
    assert rows[0]["n"] == 2499


def test_a_refused_apply_fails_the_job_at_once_with_its_code(app: Any, org: Any) -> None:
    text = {"name": "n", "label": "N", "type": "text"}
    org.metadata.apply(minimal(make_object("row", text)), author="t")
    org.records().create("row", {"n": "not a number"})
    app.start_embedded_worker()
    job_id = app.jobs.enqueue("metadata.apply", org=org.name, author="admin",
                              bundle=minimal(make_object("row", {**text, "type": "integer"})))
    status = app.jobs.wait(job_id, timeout=60)
    assert status.status == "failed" and status.attempts == 1
    assert status.error["code"] == "schema.conversion_refused"
