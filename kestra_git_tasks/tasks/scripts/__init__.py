"""Kestra's script plugins, ``io.kestra.plugin.scripts.*``: shell and Python Commands."""
