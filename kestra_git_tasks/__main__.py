"""``python -m kestra_git_tasks`` runs the ``kestra-git`` command line."""

from .cli import main

main()
