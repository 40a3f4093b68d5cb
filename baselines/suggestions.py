"""``did_you_mean``: the closest known name to a misspelt one, for one-line errors (standard library only)."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


def did_you_mean(name: str, choices: Iterable[str], *, quote: bool = False) -> str:
    """`` (did you mean X?)`` with the choice closest to ``name`` (case ignored), or "" when none is close; ``quote``
    writes X as ``repr`` does, for messages that quote the names."""
    by_lower = {choice.lower(): choice for choice in choices}
    match = difflib.get_close_matches(name.lower(), by_lower, n=1, cutoff=0.6)
    if not match:
        return ""
    closest = by_lower[match[0]]
    return f" (did you mean {closest!r}?)" if quote else f" (did you mean {closest}?)"
