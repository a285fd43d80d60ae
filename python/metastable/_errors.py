"""The exceptions `metastable` raises (the native module builds them)."""

from __future__ import annotations

from typing import List, Optional, Tuple


class MetastableError(Exception):
    """A call failed. ``exit_code`` is the code the ``metastable`` CLI exits with for the same
    failure (1: a failure that is not the input's fault)."""

    def __init__(self, message: str, exit_code: int = 1):
        super().__init__(message)
        self.message = message
        self.exit_code = exit_code


class ScenarioError(MetastableError, ValueError):
    """Bad input: a scenario, sweep or map file (or text) that cannot be read or is invalid, a
    bad override, an unknown variant, … — the CLI's exit code 2.

    ``file``, ``line``, ``column`` and ``field`` locate the first problem (``None`` when it has
    no place, e.g. an unknown variant; ``line`` is ``None`` for an override, which is not in the
    file); ``issues`` lists every problem as ``(line, column, field, message)``; ``message`` is
    the whole text, one ``FILE:LINE:COL: FIELD: MESSAGE`` line per problem, as the CLI prints.
    """

    def __init__(
        self,
        message: str,
        exit_code: int = 2,
        file: Optional[str] = None,
        issues: Optional[List[Tuple[int, int, str, str]]] = None,
    ):
        super().__init__(message, exit_code)
        self.file = file
        self.issues = list(issues or [])
        first = self.issues[0] if self.issues else None
        self.line: Optional[int] = first[0] if first and first[0] > 0 else None
        self.column: Optional[int] = first[1] if first and first[1] > 0 else None
        self.field: Optional[str] = first[2] if first else None
