"""Pages for people: the end-user app (login, home, and later list views, record pages and
forms) and the admin UI, server-rendered with Jinja2 (autoescaped) and progressively
enhanced with a vendored copy of htmx (``static/``, no CDN: the pages work offline).

Pages read and write through the same services as the API, as the signed-in user; the
host (``rapport.platform.web``) authenticates the session and checks each form's CSRF token
before a page handler runs, and sets ``request.state.org`` / ``.actor`` / ``.csrf_token``.

    rendering.py   the Jinja2 environment and ``page(request, template, ...)``
    home.py        the home page: the objects the user may see, with recent records
"""
