"""A Griffe extension for the documentation site: Sphinx roles in docstrings become code spans.

The docstrings cross-reference with Sphinx roles (``:class:`AgentSpec```, ``:func:`~asg_benchmark.run_benchmark```),
which Markdown would print as ``:class:`` followed by the name. This keeps the name, as code, and drops the role
(``~`` keeps only the last component, as Sphinx shows it).
"""

from __future__ import annotations

import re
from typing import Any

import griffe

ROLE = re.compile(r":(?:py:)?(?:class|func|meth|mod|data|attr|obj|exc|const):`(~?)([^`]+)`")


def plain(text: str) -> str:
    """``text`` with every Sphinx role replaced by a Markdown code span of its target."""

    def code(match: re.Match[str]) -> str:
        target = match.group(2)
        return f"`{target.rsplit('.', 1)[-1] if match.group(1) else target}`"

    return ROLE.sub(code, text)


class SphinxRoles(griffe.Extension):
    """Rewrite the roles of every docstring Griffe loads, statically or by inspection."""

    def on_object(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        if obj.docstring is not None:
            obj.docstring.value = plain(obj.docstring.value)
