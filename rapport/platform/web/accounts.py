"""Login, the caller's own account and API keys, and user administration (``manage_users``).

    POST   /auth/login                 {username, password} → session cookie + csrf_token
    POST   /auth/logout                end the session
    GET    /me                         who you are: user, org, profile, permissions
    GET    /me/keys                    your API keys        POST /me/keys {name} → the key, shown once
    DELETE /me/keys/{id}               revoke one of your keys
    GET    /users   POST /users        the org's users (manage_users)
    GET    /users/{username}   PATCH /users/{username}
    POST   /users/{username}/keys      a key for another user (manage_users)
    GET    /keys   DELETE /keys/{id}   every key of the org (manage_users)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response

from rapport.platform.errors import InvalidRequest, NotFound, TooManyRequests
from rapport.platform.users import UNSET, Principal
from rapport.runtime.api.http import JSONResponse, check_params, json_object
from rapport.runtime.api.routes import ApiRoute
from rapport.platform.web.gate import end_session, set_session_cookie
from rapport.runtime.permissions import access_for

if TYPE_CHECKING:
    from rapport.platform.web.gate import Gate

LOGIN_WINDOW = 15 * 60
#: failed logins from one client may be this many times those for one name
CLIENT_FACTOR = 10
USER_KEYS = ("username", "name", "email", "profile", "permission_sets", "password", "active")


class Accounts:
    def __init__(self, gate: Gate) -> None:
        self.gate = gate
        self.rapport = gate.rapport
        self.users = gate.rapport.users

    def routes(self) -> tuple[ApiRoute, ...]:
        return (
            ApiRoute("/auth/login", "POST", self.login, "Log in with a username and password", public=True),
            ApiRoute("/auth/logout", "POST", self.logout, "End the session", optional_body=True),
            ApiRoute("/me", "GET", self.me, "Who you are: your user, org, profile and permissions"),
            ApiRoute("/me/keys", "GET", self.my_keys, "Your API keys"),
            ApiRoute("/me/keys", "POST", self.create_my_key, "Create an API key (its secret is shown once)"),
            ApiRoute("/me/keys/{id}", "DELETE", self.revoke_my_key, "Revoke one of your API keys"),
            ApiRoute("/users", "GET", self.list_users, "The org's users"),
            ApiRoute("/users", "POST", self.create_user, "Create a user"),
            ApiRoute("/users/{username}", "GET", self.get_user, "One user"),
            ApiRoute("/users/{username}", "PATCH", self.update_user, "Change a user"),
            ApiRoute("/users/{username}/keys", "POST", self.create_user_key, "Create an API key for a user"),
            ApiRoute("/keys", "GET", self.list_keys, "Every API key of the org"),
            ApiRoute("/keys/{id}", "DELETE", self.revoke_key, "Revoke any API key of the org"),
        )

    # -- sessions ------------------------------------------------------------------------
    def sign_in(self, username: str, password: str, client: str) -> tuple[Principal, str, str]:
        """Check a password, within the login rate limits; the principal and a new session's
        token and CSRF token. Used by the API's login and by the login page."""
        limit = self.rapport.settings.login_attempts_per_15_minutes
        # per name (one account guessed at) and, more loosely, per client (many names tried)
        counters = ((f"login:{username.strip().lower()}", limit, f"for {username!r}"),
                    (f"login-client:{client}", limit * CLIENT_FACTOR, "from your address"))
        limiter = self.gate.limiter
        for key, most, whose in counters:
            locked = limiter.peek(key, most, LOGIN_WINDOW)
            if not locked.allowed:
                raise TooManyRequests(f"too many failed logins {whose}; try again in {locked.retry_after} s",
                                      retry_after=locked.retry_after, code="auth.too_many_attempts")
        try:
            principal = self.users.authenticate_password(username, password)
        except Exception:
            for key, most, _ in counters:
                limiter.hit(key, most, LOGIN_WINDOW)
            raise
        limiter.reset(counters[0][0])  # the name's failures are forgiven; the client's stay counted
        token, csrf = self.users.create_session(principal)
        return principal, token, csrf

    def login(self, request: Request, body: Any) -> Response:
        check_params(request, ())
        data = json_object(body, "the login")
        username, password = data.get("username"), data.get("password")
        if set(data) != {"username", "password"} or not isinstance(username, str) or not isinstance(password, str):
            raise InvalidRequest('login takes {"username": "...", "password": "..."}', code="auth.bad_login")
        client = request.client.host if request.client else "unknown"
        principal, token, csrf = self.sign_in(username, password, client)
        response = JSONResponse({**_me(self.rapport, principal), "csrf_token": csrf})
        set_session_cookie(response, request, token)
        return response

    def logout(self, request: Request, body: Any) -> Response:
        check_params(request, ())
        response = Response(status_code=204)
        end_session(self.users, request, response)
        return response

    def me(self, request: Request, body: Any) -> Response:
        check_params(request, ())
        return JSONResponse(_me(self.rapport, request.state.principal))

    # -- your keys -----------------------------------------------------------------------
    def my_keys(self, request: Request, body: Any) -> Response:
        check_params(request, ())
        principal: Principal = request.state.principal
        keys = self.users.list_keys(principal.org, principal.user.username)
        return JSONResponse({"keys": [k.to_dict() for k in keys]})

    def create_my_key(self, request: Request, body: Any) -> Response:
        check_params(request, ())
        principal: Principal = request.state.principal
        return self._new_key(principal, principal.user.username, body)

    def revoke_my_key(self, request: Request, body: Any) -> Response:
        check_params(request, ())
        principal: Principal = request.state.principal
        key_id = request.path_params["id"]
        mine = {k.id for k in self.users.list_keys(principal.org, principal.user.username)}
        if key_id not in mine:
            raise NotFound(f"you have no API key {key_id!r}", code="api_keys.not_found")
        return JSONResponse(self.users.revoke_key(principal.org, key_id).to_dict())

    # -- administration ------------------------------------------------------------------
    def list_users(self, request: Request, body: Any) -> Response:
        principal = self._admin(request)
        return JSONResponse({"users": [u.to_dict() for u in self.users.list(principal.org)]})

    def create_user(self, request: Request, body: Any) -> Response:
        principal = self._admin(request)
        data = _user_input(body, creating=True)
        username = data.pop("username")
        data.pop("active", None)
        user = self.rapport.create_user(principal.org.name, username, **data)
        return JSONResponse(user.to_dict(), status_code=201)

    def get_user(self, request: Request, body: Any) -> Response:
        principal = self._admin(request)
        return JSONResponse(self.users.get(principal.org, request.path_params["username"]).to_dict())

    def update_user(self, request: Request, body: Any) -> Response:
        principal = self._admin(request)
        data = _user_input(body, creating=False)
        username = request.path_params["username"]
        password = data.pop("password", UNSET)
        data.pop("username", None)
        user = self.rapport.update_user(principal.org.name, username, **data)
        if password is not UNSET:
            user = self.users.set_password(principal.org, username, password)
        return JSONResponse(user.to_dict())

    def create_user_key(self, request: Request, body: Any) -> Response:
        principal = self._admin(request)
        return self._new_key(principal, request.path_params["username"], body)

    def list_keys(self, request: Request, body: Any) -> Response:
        principal = self._admin(request)
        return JSONResponse({"keys": [k.to_dict() for k in self.users.list_keys(principal.org)]})

    def revoke_key(self, request: Request, body: Any) -> Response:
        principal = self._admin(request)
        return JSONResponse(self.users.revoke_key(principal.org, request.path_params["id"]).to_dict())

    def _admin(self, request: Request) -> Principal:
        check_params(request, ())
        principal: Principal = request.state.principal
        access_for(request.state.org.model(), principal.actor).require_system("manage_users")
        return principal

    def _new_key(self, principal: Principal, username: str, body: Any) -> Response:
        data = json_object(body, "the key")
        if set(data) != {"name"}:
            raise InvalidRequest('a new API key takes {"name": "..."}', code="api_keys.bad_request")
        key, secret = self.users.create_key(principal.org, username, data["name"])
        return JSONResponse({**key.to_dict(), "key": secret}, status_code=201)


def _me(rapport: Any, principal: Principal) -> dict[str, Any]:
    access = access_for(rapport.runtime_of(principal.org).model(), principal.actor)
    return {"user": principal.user.to_dict(), "org": principal.org.to_dict(),
            "system_permissions": sorted(access.grants.system_permissions)}


def _user_input(body: Any, *, creating: bool) -> dict[str, Any]:
    data = json_object(body, "a user")
    unknown = sorted(set(data) - set(USER_KEYS))
    if unknown:
        raise InvalidRequest(f"a user has {', '.join(USER_KEYS)}; unexpected {', '.join(map(repr, unknown))}",
                             code="users.bad_request")
    if creating and "username" not in data:
        raise InvalidRequest("a new user needs a 'username'", code="users.bad_request")
    if "permission_sets" in data:
        sets = data["permission_sets"]
        if not isinstance(sets, list) or not all(isinstance(s, str) for s in sets):
            raise InvalidRequest("'permission_sets' is a list of names", code="users.bad_request")
        data["permission_sets"] = tuple(sets)
    if "active" in data and not isinstance(data["active"], bool):
        raise InvalidRequest("'active' is true or false", code="users.bad_request")
    return data
