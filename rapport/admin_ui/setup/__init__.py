"""The admin UI ("Setup"): objects and fields, layouts, list views, validation rules, the plan
preview of every change, revisions and restore, users, API keys, profiles and permission sets."""
