"""Tabular engines behind one protocol; `make_engine(name, params)` builds one by its spec name."""

from synth.tabular.base import ENGINES, Engine, make_engine

__all__ = ["ENGINES", "Engine", "make_engine"]
