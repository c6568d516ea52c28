"""Kestra's expression language (Pebble) on Jinja2: the syntax translation
(:mod:`.translate`), Java date formats (:mod:`.dates`) and Kestra's functions, filters and
tests (:mod:`.library`). :class:`kestra_git_tasks.templating.Renderer` puts them together."""
