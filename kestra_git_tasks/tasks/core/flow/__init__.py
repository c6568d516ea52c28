"""Kestra's core flow tasks (``io.kestra.plugin.core.flow.*`` and their neighbours)."""
