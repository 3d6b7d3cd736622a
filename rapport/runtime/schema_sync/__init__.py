"""Schema sync: metadata changes planned as steps and applied with the revision in one transaction."""
