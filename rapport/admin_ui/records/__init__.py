"""The end-user app: list views, record pages, create and edit forms, lookups and search,
generated from the org's objects, layouts and list views, as the signed-in user."""
