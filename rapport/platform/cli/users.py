"""``rapport user create|list|show|update|set-password`` and ``rapport key create|list|revoke``.

A password is never a command-line argument (it would end up in shell history and in the
process list): it is typed at a prompt, or piped in with ``--password-stdin``.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from typing import Any

from rapport.platform.cli._context import Context
from rapport.platform.cli._output import emit_json, emit_table
from rapport.platform.errors import InvalidRequest
from rapport.platform.users import User

PASSWORD_STDIN = "read the password from the first line of stdin (without prompting)"


def register(commands: Any, common: list[argparse.ArgumentParser]) -> None:
    user = commands.add_parser("user", help="create, list, show and update the users of an org")
    sub = user.add_subparsers(dest="user_command", metavar="ACTION", required=True)

    # allow_abbrev=False: ``--password SECRET`` is an error, not an abbreviated --password-stdin
    create = sub.add_parser("create", parents=common, allow_abbrev=False, help="create a user")
    _org_and_username(create)
    _user_fields(create)
    source = create.add_mutually_exclusive_group()
    source.add_argument("--password-stdin", action="store_true", help=PASSWORD_STDIN)
    source.add_argument("--no-password", action="store_true", help="no password: the user signs in with API keys only")
    create.set_defaults(handler=create_user)

    listing = sub.add_parser("list", parents=common, help="list the users of an org")
    listing.add_argument("--org", required=True, metavar="ORG")
    listing.set_defaults(handler=list_users)

    show = sub.add_parser("show", parents=common, help="one user")
    _org_and_username(show)
    show.set_defaults(handler=show_user)

    update = sub.add_parser("update", parents=common, help="change a user's name, email, profile, sets or status")
    _org_and_username(update)
    _user_fields(update)
    update.add_argument("--no-permission-sets", action="store_true", help="remove all of the user's permission sets")
    status = update.add_mutually_exclusive_group()
    status.add_argument("--active", dest="active", action="store_true", default=None, help="let the user sign in")
    status.add_argument("--inactive", dest="active", action="store_false", help="refuse the user's logins and keys")
    update.set_defaults(handler=update_user)

    password = sub.add_parser("set-password", parents=common, allow_abbrev=False,
                              help="set a user's password (ends their sessions)")
    _org_and_username(password)
    password.add_argument("--password-stdin", action="store_true", help=PASSWORD_STDIN)
    password.set_defaults(handler=set_password)

    key = commands.add_parser("key", help="create, list and revoke API keys")
    keys = key.add_subparsers(dest="key_command", metavar="ACTION", required=True)

    create_key = keys.add_parser("create", parents=common, help="create an API key (its secret is shown once)")
    create_key.add_argument("--org", required=True, metavar="ORG")
    create_key.add_argument("--user", required=True, metavar="USERNAME", help="the user the key acts as")
    create_key.add_argument("name", metavar="NAME", help="a label for the key, e.g. 'ci' or 'zapier'")
    create_key.set_defaults(handler=create_api_key)

    list_keys = keys.add_parser("list", parents=common, help="list an org's API keys (never their secrets)")
    list_keys.add_argument("--org", required=True, metavar="ORG")
    list_keys.add_argument("--user", metavar="USERNAME", help="only this user's keys")
    list_keys.set_defaults(handler=list_api_keys)

    revoke = keys.add_parser("revoke", parents=common, help="revoke an API key for good")
    revoke.add_argument("--org", required=True, metavar="ORG")
    revoke.add_argument("key_id", metavar="KEY_ID")
    revoke.set_defaults(handler=revoke_api_key)


def _org_and_username(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--org", required=True, metavar="ORG")
    parser.add_argument("username", metavar="USERNAME")


def _user_fields(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--name", help="the name people see (default: the username)")
    parser.add_argument("--email", help="the user's email address ('' removes it)")
    parser.add_argument("--profile", help="'admin', 'standard' (the default) or a profile of the org's metadata")
    parser.add_argument("--permission-set", dest="permission_sets", action="append", metavar="NAME",
                        help="a permission set of the org's metadata; repeat for several")


# -- users -----------------------------------------------------------------------------------
def create_user(ctx: Context) -> int:
    args = ctx.args
    password = None if args.no_password else _read_password(ctx, create=True)
    fields = {k: v for k, v in (("name", args.name), ("email", args.email), ("profile", args.profile),
                                ("permission_sets", args.permission_sets)) if v is not None}
    user = ctx.app.create_user(args.org, args.username, password=password, **fields)
    if ctx.json:
        emit_json(user.to_dict())
    else:
        how = "with a password" if user.has_password else "without a password (API keys only)"
        print(f"created user '{user.username}' in org '{args.org}' with profile '{user.profile}', {how}")
        print(f"next: {ctx.command(f'key create --org {args.org} --user {user.username} NAME')}")
    return 0


def list_users(ctx: Context) -> int:
    found = ctx.app.users.list(ctx.app.orgs.get(ctx.args.org))
    if ctx.json:
        emit_json([user.to_dict() for user in found])
    elif not found:
        print(f"org '{ctx.args.org}' has no users yet: "
              f"create one with `{ctx.command(f'user create --org {ctx.args.org} USERNAME')}`")
    else:
        emit_table(["username", "name", "profile", "permission sets", "status", "last login (UTC)"],
                   [(u.username, u.name, u.profile, ", ".join(u.permission_sets), _status(u),
                     f"{u.last_login_at:%Y-%m-%d %H:%M}" if u.last_login_at else "never") for u in found])
    return 0


def show_user(ctx: Context) -> int:
    user = ctx.app.users.get(ctx.app.orgs.get(ctx.args.org), ctx.args.username)
    _print_user(ctx, user)
    return 0


def update_user(ctx: Context) -> int:
    args = ctx.args
    if args.no_permission_sets and args.permission_sets:
        raise InvalidRequest("--no-permission-sets and --permission-set contradict each other: give one",
                             code="cli.conflicting_options")
    changes: dict[str, Any] = {k: v for k, v in (("name", args.name), ("email", args.email),
                                                 ("profile", args.profile), ("permission_sets", args.permission_sets),
                                                 ("active", args.active)) if v is not None}
    if args.no_permission_sets:
        changes["permission_sets"] = []
    if not changes:
        raise InvalidRequest("nothing to change: give --name, --email, --profile, --permission-set, "
                             "--no-permission-sets, --active or --inactive", code="cli.nothing_to_change")
    _print_user(ctx, ctx.app.update_user(args.org, args.username, **changes))
    return 0


def set_password(ctx: Context) -> int:
    org = ctx.app.orgs.get(ctx.args.org)
    ctx.app.users.get(org, ctx.args.username)  # an unknown user fails before the prompt
    user = ctx.app.users.set_password(org, ctx.args.username, _read_password(ctx, create=False))
    if ctx.json:
        emit_json(user.to_dict())
    else:
        print(f"set the password of user '{user.username}'; their login sessions have ended")
    return 0


def _read_password(ctx: Context, *, create: bool) -> str:
    """The password from stdin (``--password-stdin``) or, on a terminal, typed twice."""
    if ctx.args.password_stdin:
        line = sys.stdin.readline().rstrip("\r\n")
        if not line:
            raise InvalidRequest("--password-stdin read no password: stdin was empty", code="cli.password_missing")
        return line
    if not sys.stdin.isatty():
        alternatives = "--password-stdin or --no-password" if create else "--password-stdin"
        raise InvalidRequest(f"no password given and stdin is not a terminal to ask for one: use {alternatives}",
                             code="cli.password_required")
    first = getpass.getpass("password: ")
    if getpass.getpass("password again: ") != first:
        raise InvalidRequest("the two passwords differ; nothing was changed", code="cli.passwords_differ")
    return first


def _status(user: User) -> str:
    return "active" if user.active else "inactive"


def _print_user(ctx: Context, user: User) -> None:
    if ctx.json:
        emit_json(user.to_dict())
        return
    print(f"username:        {user.username}")
    print(f"name:            {user.name}")
    print(f"email:           {user.email or '-'}")
    print(f"profile:         {user.profile}")
    print(f"permission sets: {', '.join(user.permission_sets) or '-'}")
    print(f"status:          {_status(user)}")
    print(f"password:        {'set' if user.has_password else 'none (API keys only)'}")
    print(f"created:         {user.created_at:%Y-%m-%d %H:%M} UTC")
    print(f"last login:      {f'{user.last_login_at:%Y-%m-%d %H:%M} UTC' if user.last_login_at else 'never'}")


# -- API keys --------------------------------------------------------------------------------
def create_api_key(ctx: Context) -> int:
    key, secret = ctx.app.users.create_key(ctx.app.orgs.get(ctx.args.org), ctx.args.user, ctx.args.name)
    if ctx.json:
        emit_json({"id": key.id, "name": key.name, "user": key.username, "key": secret})
    else:
        print(f"created API key '{key.name}' ({key.id}) for user '{key.username}':")
        print(secret)
        print("store it now: it will not be shown again")
    return 0


def list_api_keys(ctx: Context) -> int:
    found = ctx.app.users.list_keys(ctx.app.orgs.get(ctx.args.org), ctx.args.user)
    if ctx.json:
        emit_json([key.to_dict() for key in found])
    elif not found:
        print(f"no API keys: create one with `{ctx.command(f'key create --org {ctx.args.org} --user USERNAME NAME')}`")
    else:
        emit_table(["id", "name", "user", "created (UTC)", "last used (UTC)", "status"],
                   [(k.id, k.name, k.username, f"{k.created_at:%Y-%m-%d %H:%M}",
                     f"{k.last_used_at:%Y-%m-%d %H:%M}" if k.last_used_at else "never",
                     "revoked" if k.revoked else "active") for k in found])
    return 0


def revoke_api_key(ctx: Context) -> int:
    key = ctx.app.users.revoke_key(ctx.app.orgs.get(ctx.args.org), ctx.args.key_id)
    if ctx.json:
        emit_json(key.to_dict())
    else:
        print(f"revoked API key '{key.name}' ({key.id}) of user '{key.username}'")
    return 0
