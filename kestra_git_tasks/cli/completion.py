"""``kestra-git completion SHELL``: the shell completion script (click's) for bash, zsh or fish.

The script calls ``kestra-git`` back with ``_KESTRA_GIT_COMPLETE`` set; commands, options and
choices complete, and flow names (``NAMESPACE/ID``) come from the instance the command would
open (``--home`` / ``--server`` given earlier on the line, else the defaults).
"""

from __future__ import annotations

import click

__all__ = ["COMPLETE_VAR", "completion"]

#: The environment variable click's completion scripts set when they call the program back.
COMPLETE_VAR = "_KESTRA_GIT_COMPLETE"

_INSTALL = {
    "bash": 'eval "$(kestra-git completion bash)"  # in ~/.bashrc',
    "zsh": 'eval "$(kestra-git completion zsh)"  # in ~/.zshrc',
    "fish": "kestra-git completion fish > ~/.config/fish/completions/kestra-git.fish",
}


@click.command()
@click.argument("shell", type=click.Choice(sorted(_INSTALL)))
@click.pass_context
def completion(ctx: click.Context, shell: str) -> None:
    """Print the completion script for SHELL (bash, zsh or fish).

    \b
    bash: eval "$(kestra-git completion bash)"   (in ~/.bashrc)
    zsh:  eval "$(kestra-git completion zsh)"    (in ~/.zshrc)
    fish: kestra-git completion fish > ~/.config/fish/completions/kestra-git.fish

    Example: kestra-git completion bash >> ~/.bashrc
    """
    from click.shell_completion import get_completion_class

    shell_class = get_completion_class(shell)
    if shell_class is None:  # click knows the three shells offered
        raise click.BadParameter(f"no completion for {shell}", param_hint="SHELL")
    root = ctx.find_root().command
    click.echo(shell_class(root, {}, "kestra-git", COMPLETE_VAR).source())
