"""The record service: the only write path, its checks, hooks, deletion and history."""
