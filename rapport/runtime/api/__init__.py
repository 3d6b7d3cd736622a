"""The generated REST API: handlers per operation, resolved against the org's compiled model
on each request; the route table (``routes.py``); the OpenAPI document (``openapi.py``).

    http.py        bodies, query parameters, JSON and problem+json responses, ETags
    records.py     records: list, create, read, update, delete, upsert, related lists
    composite.py   up to 200 record operations in one request
    describe.py    objects as the caller may see them
    metadata.py    bundle, components, plan, apply, revisions, JSON Schemas
    openapi.py     the caller's OpenAPI 3.1 document and its HTML page
"""
