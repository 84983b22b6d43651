"""Tabular engines behind one protocol; `make_engine(name, params)` builds one by its spec name."""

from schemas.engines import TABLE_ENGINES
from synth.tabular.base import ENGINES, Engine, make_engine

__all__ = ["ENGINES", "Engine", "make_engine"]

# A spec may name only what schemas/engines.py lists, and the factory must build every one of them:
# a name added in one place and not the other would pass validation and fail at fit, or never be
# reachable. Checked at import (cheap: names only), so a drift cannot reach a run.
if tuple(ENGINES) != TABLE_ENGINES:
    raise ImportError(
        "synth.tabular.base.ENGINES and schemas.engines.TABLE_ENGINES name different engines: "
        f"{sorted(set(ENGINES) ^ set(TABLE_ENGINES)) or 'same names, another order'}"
    )
