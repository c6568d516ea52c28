"""Tasks of Kestra's Git plugin: ``io.kestra.plugin.git.*``."""
