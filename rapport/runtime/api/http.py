"""The HTTP edge of the generated API: reading JSON bodies and query parameters, answering
JSON, problem+json and ETags. Handlers parse, authorise, call a service and serialise —
everything they need for the first and the last of those is here.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any
from collections.abc import Iterable, Mapping

from starlette.requests import Request
from starlette.responses import Response

from rapport.platform.actor import Actor
from rapport.platform.errors import InvalidRequest, PayloadTooLarge, RapportError, StaleVersion

JSON_TYPE = "application/json"
PROBLEM_TYPE = "application/problem+json"
#: what request bodies may be, when the deployment sets no other limit
DEFAULT_MAX_BODY = 5_000_000


class UnsupportedMediaType(RapportError):
    code = "api.unsupported_media_type"
    status = 415
    title = "Unsupported media type"


def _default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON")


def dumps(data: Any) -> bytes:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"), default=_default).encode("utf-8")


class JSONResponse(Response):
    media_type = JSON_TYPE

    def render(self, content: Any) -> bytes:
        return dumps(content)


def problem_response(error: RapportError, request_id: str | None = None) -> Response:
    body = error.to_problem()
    if request_id:
        body["request_id"] = request_id
    headers = {}
    retry_after = body.get("retry_after")
    if error.status == 429 and retry_after is not None:
        headers["Retry-After"] = str(retry_after)
    if error.status == 401:
        headers["WWW-Authenticate"] = 'Bearer realm="rapport"'
    return Response(dumps(body), status_code=error.status, media_type=PROBLEM_TYPE, headers=headers)


def actor(request: Request) -> Actor:
    return request.state.actor  # type: ignore[no-any-return]


def org(request: Request) -> Any:
    """The caller's :class:`~rapport.runtime.org.OrgRuntime` (the credential decided it)."""
    return request.state.org


async def read_json(request: Request, *, max_bytes: int | None = None) -> Any:
    """The request's JSON body; refused with a clear problem if it is not JSON, too large or malformed."""
    limit = max_bytes or DEFAULT_MAX_BODY
    content_type = request.headers.get("content-type", "")
    media = content_type.split(";")[0].strip().lower()
    if media != JSON_TYPE and not (media.startswith("application/") and media.endswith("+json")):
        raise UnsupportedMediaType(f"the request body must be JSON (Content-Type: {JSON_TYPE}), "
                                   f"got {content_type or 'no Content-Type'}")
    declared = request.headers.get("content-length")
    if declared is not None and declared.isascii() and declared.isdigit() and int(declared) > limit:
        raise _too_large(limit)
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise _too_large(limit)
    if not body:
        raise InvalidRequest("the request body is empty; send a JSON document", code="api.malformed_json")
    try:
        return json.loads(body.decode("utf-8"), parse_float=Decimal)
    except UnicodeDecodeError as error:
        raise InvalidRequest(f"the request body is not UTF-8 (byte {error.start})", code="api.malformed_json") from None
    except json.JSONDecodeError as error:
        raise InvalidRequest(f"the request body is not valid JSON: {error.msg} at line {error.lineno}, "
                             f"column {error.colno}", code="api.malformed_json") from None
    except RecursionError:
        raise InvalidRequest("the request body nests too deeply", code="api.malformed_json") from None


def _too_large(limit: int) -> PayloadTooLarge:
    return PayloadTooLarge(f"the request body is larger than the limit of {limit:,} bytes",
                           details={"limit": limit})


def json_object(data: Any, what: str) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise InvalidRequest(f"{what} must be a JSON object, got {type(data).__name__ if data is not None else 'null'}",
                             code="api.bad_body")
    return data


# -- query parameters ----------------------------------------------------------------------

def check_params(request: Request, allowed: Iterable[str]) -> Mapping[str, str]:
    """The query parameters, each given at most once and all of them known."""
    params = request.query_params
    known = tuple(allowed)
    for name in params.keys():
        if name not in known:
            raise InvalidRequest(f"unknown query parameter {name!r}; this endpoint takes "
                                 f"{', '.join(repr(k) for k in known) or 'none'}", code="api.unknown_parameter")
        if len(params.getlist(name)) > 1:
            raise InvalidRequest(f"query parameter {name!r} is given more than once", code="api.bad_parameter")
    return params


def int_param(params: Mapping[str, str], name: str) -> int | None:
    raw = params.get(name)
    if raw is None:
        return None
    digits = raw.strip().lstrip("-")
    if not (digits.isascii() and digits.isdigit()) or len(raw) > 12:  # '²' is a digit int() refuses
        raise InvalidRequest(f"query parameter {name!r} must be a whole number, got {raw!r}", code="api.bad_parameter")
    return int(raw)


def bool_param(params: Mapping[str, str], name: str) -> bool:
    raw = params.get(name)
    if raw is None:
        return False
    if raw.lower() in ("true", "1", "yes", ""):
        return True
    if raw.lower() in ("false", "0", "no"):
        return False
    raise InvalidRequest(f"query parameter {name!r} must be true or false, got {raw!r}", code="api.bad_parameter")


def list_param(params: Mapping[str, str], name: str) -> tuple[str, ...] | None:
    raw = params.get(name)
    if raw is None:
        return None
    return tuple(part.strip() for part in raw.split(",") if part.strip())


def json_param(params: Mapping[str, str], name: str) -> Any:
    raw = params.get(name)
    if raw is None:
        return None
    try:
        return json.loads(raw, parse_float=Decimal)
    except (json.JSONDecodeError, RecursionError) as error:
        message = error.msg if isinstance(error, json.JSONDecodeError) else "it nests too deeply"
        raise InvalidRequest(f"query parameter {name!r} is not valid JSON: {message}",
                             code="query.bad_filter") from None


# -- ETags and versions --------------------------------------------------------------------

def etag(version: int) -> str:
    return f'"{version}"'


def expected_version(request: Request, body_version: Any = None) -> int | None:
    """The version the caller expects, from ``If-Match`` (``"3"``, ``W/"3"`` or ``*``) or the body."""
    header = request.headers.get("if-match")
    if header is None or header.strip() == "*":
        return body_version if body_version is not None else None
    tag = header.strip()
    if tag.startswith("W/"):
        tag = tag[2:]
    tag = tag.strip('"')
    if not (tag.isascii() and tag.isdigit()) or len(tag) > 12:
        raise StaleVersion(f"If-Match {header!r} is not an ETag this API issued (they look like \"3\"); "
                           "read the record again to get its ETag", code="records.stale_version")
    return int(tag)
