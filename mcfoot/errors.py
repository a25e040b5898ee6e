"""Errors for bad input: each names the file, the entry and what to change."""

from __future__ import annotations

__all__ = ["CatalogueError", "InputError", "PriorsError"]


class InputError(ValueError):
    """Bad user input (a priors file, a catalogue, an argument). The CLI exits 2 on it."""

    def __init__(self, problems: list[str] | str, source: str = ""):
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        self.source = source
        head = f"{source}: " if source else ""
        if len(self.problems) == 1:
            msg = head + self.problems[0]
        else:
            msg = head + f"{len(self.problems)} problems:\n" + "\n".join(
                f"  - {p}" for p in self.problems
            )
        super().__init__(msg)


class PriorsError(InputError):
    """A priors (scenario) TOML file is invalid."""


class CatalogueError(InputError):
    """A catalogue CSV is invalid."""
