"""Kestra core tasks: ``io.kestra.plugin.core.*`` (Log, WorkingDirectory)."""
