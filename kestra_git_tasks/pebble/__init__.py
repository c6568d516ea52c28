"""Kestra's expression language (Pebble) on Jinja2: the syntax translation
(:mod:`.translate`), Java date formats (:mod:`.dates`) and Kestra's functions, filters and
tests (:mod:`.library`), on the environment of :mod:`.engine`.
:class:`kestra_git_tasks.templating.Renderer` puts them together, loading them when a template
first needs them."""
