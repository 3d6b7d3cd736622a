"""The demo org: a small sales bundle and deterministic sample records."""
