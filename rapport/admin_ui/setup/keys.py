"""Setup › API keys: every key of the org, a new key for a user, and revoking one.

    GET        /admin/keys                    every key of the org with its user, last use, revocation
    POST       /admin/users/{username}/keys   a new key for the user: its secret shown once, on this answer
    GET, POST  /admin/keys/{id}/revoke        confirm, then revoke (back to ``back``: the user's page or the list)

The keys are the API's (``UserService.create_key`` / ``list_keys`` / ``revoke_key``): a key's
secret is stored only as its hash, so the page that creates it is the only one that shows it.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from rapport.admin_ui.rendering import page, redirect
from rapport.admin_ui.routing import PageRoute
from rapport.admin_ui.setup._messages import sentence
from rapport.admin_ui.setup.users import (
    MANAGE_USERS, UserForm, principal_of, rapport_of, user_page, user_url,
)
from rapport.platform.credentials import ApiKey
from rapport.platform.errors import NotFound, RapportError

KEYS_URL = "/admin/keys"


def list_keys(request: Request) -> Response:
    keys = rapport_of(request).users.list_keys(principal_of(request).org)
    return page(request, "admin/keys.html", keys=keys, user_url=user_url, back=KEYS_URL)


def create_key(request: Request) -> Response:
    rapport, principal = rapport_of(request), principal_of(request)
    user = rapport.users.get(principal.org, request.path_params["username"])
    name = request.state.form.get("key_name", "")
    try:
        key, secret = rapport.users.create_key(principal.org, user.username, name)
    except RapportError as error:
        return user_page(request, user, UserForm.of(user), key_name=name, key_error=sentence(error.message),
                         status=error.status)
    return page(request, "admin/keys_created.html", status=201, key=key, secret=secret, subject=user,
                back=user_url(user.username))


def revoke_key(request: Request) -> Response:
    rapport, principal = rapport_of(request), principal_of(request)
    key = _key(request, request.path_params["id"])
    source = request.state.form if request.method == "POST" else request.query_params
    back = _local(source.get("back", ""), user_url(key.username))
    if request.method == "GET":
        return page(request, "admin/keys_revoke.html", key=key, back=back, user_url=user_url)
    revoked = rapport.users.revoke_key(principal.org, key.id)
    return redirect(request, back, f"Revoked the API key {revoked.name!r} of {revoked.username}.")


def _key(request: Request, key_id: str) -> ApiKey:
    for key in rapport_of(request).users.list_keys(principal_of(request).org):
        if key.id == key_id:
            return key
    raise NotFound(f"API key {key_id!r} does not exist in this org", code="api_keys.not_found")


def _local(path: str, otherwise: str) -> str:
    """``path`` if it is a page of this site, else ``otherwise`` (no open redirects)."""
    if path.startswith("/") and not path.startswith("//") and "\\" not in path:
        return path
    return otherwise


ROUTES = [
    PageRoute(KEYS_URL, list_keys, needs=MANAGE_USERS),
    PageRoute("/admin/keys/{id}/revoke", revoke_key, methods=("GET", "POST"), needs=MANAGE_USERS),
    PageRoute("/admin/users/{username}/keys", create_key, methods=("POST",), needs=MANAGE_USERS),
]
