"""Tasks of Kestra's GitHub plugin: ``io.kestra.plugin.github.*``."""
