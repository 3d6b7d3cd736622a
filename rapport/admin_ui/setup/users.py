"""Setup › Users: the org's users, a form to create one, and each user's page.

    GET        /admin/users               every user: name, username, email, profile, sets, active, created
    GET, POST  /admin/users/new           create a user (an initial password, or none for API keys only)
    GET, POST  /admin/users/{username}    change name, email, profile, permission sets, active; set a
                                          new password; the user's API keys (see :mod:`.keys`)

Every write goes through the services the API's ``/users`` endpoints use
(``Rapport.create_user`` / ``update_user``, ``UserService.set_password``), so the rules are
theirs: a refused change shows the service's message at the field it is about, with what was
typed kept (never a password).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import Response

from rapport.admin_ui.rendering import page, redirect
from rapport.admin_ui.routing import PageRoute
from rapport.admin_ui.setup._messages import sentence
from rapport.platform.errors import RapportError
from rapport.platform.users import MIN_PASSWORD, Principal, User, check_password
from rapport.runtime.permissions import BUILTIN_PROFILES, permission_set_names, profile_names

if TYPE_CHECKING:
    from rapport.platform.app import Rapport

MANAGE_USERS = "manage_users"
#: the form field a service error is about, by its code (errors with problems say it by pointer)
FIELD_OF_CODE = {
    "users.bad_username": "username", "users.already_exists": "username", "users.bad_name": "name",
    "users.bad_email": "email", "users.bad_profile": "profile", "users.unknown_profile": "profile",
    "users.unknown_permission_set": "permission_sets", "users.weak_password": "password",
    "users.bad_active": "active",
}
PASSWORDS_DIFFER = "The two passwords differ: type the same password in both boxes."


@dataclass
class UserForm:
    """What the user form holds: the values shown (as typed, after an error) and the errors."""

    username: str = ""
    name: str = ""
    email: str = ""
    profile: str = "standard"
    permission_sets: list[str] = field(default_factory=list)
    active: bool = True
    errors: dict[str, str] = field(default_factory=dict)
    #: an error that belongs to no one field
    problem: str | None = None

    @classmethod
    def of(cls, user: User) -> UserForm:
        return cls(user.username, user.name, user.email or "", user.profile, list(user.permission_sets),
                   user.active)

    @classmethod
    def posted(cls, request: Request, username: str | None = None) -> UserForm:
        form = request.state.form
        return cls(username if username is not None else form.get("username", ""), form.get("name", ""),
                   form.get("email", ""), form.get("profile", ""), list(dict.fromkeys(form.getlist("permission_sets"))),
                   form.get("active") == "yes")

    def refused(self, error: RapportError) -> UserForm:
        """This form with ``error`` shown at the field it is about (or above the form)."""
        placed = {name: sentence(p.message) for p in reversed(error.problems)
                  if (name := _field_of(p.pointer)) is not None}
        if placed:
            self.errors.update(placed)
        elif error.code in FIELD_OF_CODE:
            self.errors[FIELD_OF_CODE[error.code]] = sentence(error.message)
        else:
            self.problem = sentence(error.message)
        return self


def user_url(username: str) -> str:
    return f"/admin/users/{quote(username, safe='@+')}"


def rapport_of(request: Request) -> Rapport:
    rapport: Rapport = request.app.state.rapport
    return rapport


def principal_of(request: Request) -> Principal:
    principal: Principal = request.state.principal
    return principal


# -- pages -----------------------------------------------------------------------------------
def list_users(request: Request) -> Response:
    principal = principal_of(request)
    users = rapport_of(request).users.list(principal.org)
    return page(request, "admin/users.html", users=users, profiles=_profile_labels(request),
                sets=_set_labels(request), user_url=user_url)


def new_user(request: Request) -> Response:
    if request.method == "GET":
        return _form_page(request, UserForm(), creating=True)
    form = UserForm.posted(request)
    password, repeated = request.state.form.get("password", ""), request.state.form.get("password_again", "")
    if password != repeated:
        form.errors["password_again"] = PASSWORDS_DIFFER
        return _form_page(request, form, creating=True, status=422)
    rapport, principal = rapport_of(request), principal_of(request)
    try:
        user = rapport.create_user(principal.org.name, form.username, name=form.name, email=form.email,
                                   profile=form.profile, permission_sets=tuple(form.permission_sets),
                                   password=password or None)
    except RapportError as error:
        return _form_page(request, form.refused(error), creating=True, status=error.status)
    return redirect(request, user_url(user.username), f"Created user {user.username}.")


def edit_user(request: Request) -> Response:
    rapport, principal = rapport_of(request), principal_of(request)
    user = rapport.users.get(principal.org, request.path_params["username"])
    if request.method == "GET":
        return user_page(request, user, UserForm.of(user))
    form = UserForm.posted(request, username=user.username)
    password, repeated = request.state.form.get("password", ""), request.state.form.get("password_again", "")
    if password != repeated:
        form.errors["password_again"] = PASSWORDS_DIFFER
        return user_page(request, user, form, status=422)
    try:
        if password:
            check_password(password, user.username)  # before any change: a refused form changes nothing
        changed = rapport.update_user(principal.org.name, user.username, **_changes(user, form))
        if password:
            changed = rapport.users.set_password(principal.org, user.username, password)
    except RapportError as error:
        return user_page(request, user, form.refused(error), status=error.status)
    notice = "Saved; the new password ends the user's sessions." if password else "Saved."
    return redirect(request, user_url(changed.username), notice)


def user_page(request: Request, user: User, form: UserForm, *, key_name: str = "",
              key_error: str | None = None, status: int = 200) -> Response:
    """A user's page: the form to change them and their API keys (a new key's name kept on an error)."""
    principal = principal_of(request)
    keys = rapport_of(request).users.list_keys(principal.org, user.username)
    return _form_page(request, form, creating=False, status=status, subject=user, keys=keys, key_name=key_name,
                      key_error=key_error, yourself=user.id == principal.user.id, url=user_url(user.username))


def _form_page(request: Request, form: UserForm, *, creating: bool, status: int = 200, **context: Any) -> Response:
    return page(request, "admin/users_form.html", status=status, form=form, creating=creating,
                profiles=_profile_labels(request, also=form.profile),
                sets=_set_labels(request, also=form.permission_sets), min_password=MIN_PASSWORD, **context)


def _changes(user: User, form: UserForm) -> dict[str, Any]:
    """The fields the form changes: the others are not passed, so a profile the metadata no
    longer defines does not stop an admin from changing the user's name."""
    wanted: dict[str, Any] = {"name": form.name, "email": form.email or None, "profile": form.profile,
                              "permission_sets": tuple(form.permission_sets), "active": form.active}
    current: dict[str, Any] = {"name": user.name, "email": user.email, "profile": user.profile,
                               "permission_sets": user.permission_sets, "active": user.active}
    return {key: value for key, value in wanted.items() if value != current[key]}


def _profile_labels(request: Request, also: str = "") -> dict[str, str]:
    """Profile name → label: the built-in profiles, the org's, and ``also`` (a user's profile
    the metadata no longer defines, so a form shows it as it is)."""
    model = request.state.org.model()
    labels = {name: _label(name) for name in BUILTIN_PROFILES}
    labels.update({p.name: p.get("label") or _label(p.name) for p in model.bundle.profiles})
    names = profile_names(model)
    if also and also not in names:
        labels[also] = f"{also} (not defined)"
    return labels


def _set_labels(request: Request, also: list[str] | None = None) -> dict[str, str]:
    model = request.state.org.model()
    labels = {p.name: p.get("label") or _label(p.name) for p in model.bundle.permission_sets}
    known = set(permission_set_names(model))
    labels.update({name: f"{name} (not defined)" for name in also or () if name not in known})
    return labels


def _label(name: str) -> str:
    return name.replace("_", " ").capitalize()


def _field_of(pointer: str) -> str | None:
    """The form field a problem's pointer (``/profile``, ``/permission_sets/0``) is about."""
    head = pointer.strip("/").split("/")[0]
    return head if head in {"username", "name", "email", "profile", "permission_sets", "password", "active"} else None


ROUTES = [
    PageRoute("/admin/users", list_users, needs=MANAGE_USERS),
    PageRoute("/admin/users/new", new_user, methods=("GET", "POST"), needs=MANAGE_USERS),
    PageRoute("/admin/users/{username}", edit_user, methods=("GET", "POST"), needs=MANAGE_USERS),
]
