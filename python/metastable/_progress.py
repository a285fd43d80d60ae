"""Progress for long calls: a bar in Jupyter, nothing elsewhere unless asked.

``progress=None`` (the default) shows progress only inside a Jupyter kernel; ``True`` always
(on stderr outside a notebook); ``False`` never; a callable is called as
``callback(done, total, stage)`` about ten times a second (``done``: runs finished, fractions
of runs in progress included; ``total``: runs planned; ``stage``: ``"runs"``,
``"bisection round 2: 3 row(s)"``, finally ``"done"``). Progress never changes a result.
"""

from __future__ import annotations

import sys
from typing import Any, Callable, Optional, Union

Callback = Callable[[float, int, str], Any]


def in_notebook() -> bool:
    """Whether we run inside a Jupyter (ipykernel) kernel."""
    if "ipykernel" not in sys.modules:
        return False
    try:
        from IPython import get_ipython  # type: ignore
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and shell.__class__.__name__ == "ZMQInteractiveShell"


class _Bar:
    """tqdm (``tqdm.auto``: a widget in Jupyter) when installed, else a text line updated in
    place (an IPython display handle in a notebook, ``\\r`` on stderr elsewhere)."""

    def __init__(self, label: str, notebook: bool):
        self.label = label
        self.notebook = notebook
        self.tqdm = None
        self.handle = None
        self.last = ""

    def __call__(self, done: float, total: int, stage: str) -> None:
        if self.tqdm is None and self.handle is None and not self.last:
            self._open(total)
        if self.tqdm is not None:
            if total and self.tqdm.total != total:
                self.tqdm.total = total
            self.tqdm.n = round(done, 2)
            if stage not in ("runs", "done"):
                self.tqdm.set_postfix_str(stage, refresh=False)
            self.tqdm.refresh()
            if stage == "done":
                self.tqdm.close()
            return
        pct = f"{100.0 * done / total:5.1f} %" if total else "     "
        text = f"{self.label}: {pct} · {done:.0f}/{total} runs" + (
            f" · {stage}" if stage not in ("runs", "done") else ""
        )
        if stage == "done":
            text += " · done"
        if text == self.last:
            return
        self.last = text
        if self.handle is not None:
            self.handle.update(_Text(text))
        else:
            end = "\n" if stage == "done" else ""
            sys.stderr.write("\r" + text + end)
            sys.stderr.flush()

    def _open(self, total: int) -> None:
        try:
            if self.notebook:
                from tqdm.auto import tqdm  # type: ignore
            else:
                from tqdm import tqdm  # type: ignore
            self.tqdm = tqdm(
                total=total or None,
                desc=self.label,
                leave=True,
                # runs advance by fractions: no rate, which would be nonsense early on
                bar_format="{desc}: {percentage:3.0f}%|{bar}| {n:.1f}/{total} runs [{elapsed}<{remaining}]{postfix}",
            )
            return
        except ImportError:
            pass
        if self.notebook:
            try:
                from IPython.display import display  # type: ignore

                self.handle = display(_Text(f"{self.label}: starting"), display_id=True)
            except ImportError:
                self.handle = None


class _Text:
    """Plain text for an IPython display handle."""

    def __init__(self, text: str):
        self.text = text

    def __repr__(self) -> str:
        return self.text


def make(progress: Union[None, bool, Callback], label: str) -> Optional[Callback]:
    """The callback for ``progress`` (see the module's doc), or None for no progress."""
    if progress is False:
        return None
    if callable(progress) and progress is not True:
        return progress
    notebook = in_notebook()
    if progress is None and not notebook:
        return None
    return _Bar(label, notebook)
