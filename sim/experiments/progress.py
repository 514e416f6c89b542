"""A progress bar of runs (tqdm), or nothing."""

from __future__ import annotations

from typing import Any

__all__ = ["progress_bar"]


class _NoBar:
    def update(self, n: int) -> None: ...
    def set_postfix(self, **kw: Any) -> None: ...
    def close(self) -> None: ...


def progress_bar(total: int, enabled: bool) -> Any:
    """A tqdm bar of ``total`` runs when ``enabled`` (and tqdm is installed), else a no-op
    with the same ``update``, ``set_postfix`` and ``close``."""
    if not enabled:
        return _NoBar()
    try:
        from tqdm.auto import tqdm
    except ImportError:  # pragma: no cover
        return _NoBar()
    return tqdm(total=total, unit="run", dynamic_ncols=True, smoothing=0.1)
