"""synth: synthetic stand-ins for sensitive tables and image sets, gated on quality, privacy and
fairness.

The Python API (synth/api.py) is `synth.init`, `synth.load_spec`, `synth.run` and `synth.Run`;
they load on first use, so `import synth` stays light. The subpackages hold the data I/O, the
generative models and the modalities the one `synthesize` flow runs.
"""

from __future__ import annotations

from typing import Any

__all__ = ["Run", "init", "load_spec", "run"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from synth import api

        return getattr(api, name)
    raise AttributeError(f"module 'synth' has no attribute {name!r}")
