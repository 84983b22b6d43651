"""Our own tabular engine: an any-order autoregressive model over the columns, in torch."""

from synth.tabular.autoregressive.engine import AutoregressiveEngine

__all__ = ["AutoregressiveEngine"]
