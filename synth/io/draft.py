"""The job spec `synth init` writes: YAML that `synth run` accepts as it is, each guess explained in
a comment, and the sections left at their defaults shown commented out, ready to edit.

It holds no value of the data (no categories, no observed ranges): specs get committed.
"""

from __future__ import annotations

import re
from typing import Any

import yaml

from schemas.spec import ENGINES, ChecksSpec, OutputSpec, ReportSpec, SampleSpec, SplitSpec
from synth.io.infer import ColumnGuess

__all__ = ["describe", "draft_spec", "job_name"]

_HEADER = """\
# Drafted by `synth init` from {origin}.
# The types and roles below are guesses: read them before the first run. Roles: key (regenerated
# unique), pii (never modelled; replaced by fakes), quasi_identifier (the privacy checks link
# records on these), sensitive (the bias checks judge its groups), target (the utility check
# predicts it). Suggested roles are comments: add the ones that fit, as
# `role: quasi_identifier` or `role: [sensitive, quasi_identifier]`.
# Relative paths are relative to this file.
"""


def job_name(stem: str) -> str:
    """A valid job name ([a-z0-9][a-z0-9_-]*, at most 64) from a file name."""
    name = re.sub(r"[^a-z0-9_-]+", "-", stem.lower()).strip("-_")[:64]
    return name if name else "job"


def draft_spec(
    *,
    name: str,
    source: dict[str, Any],
    columns: list[ColumnGuess],
    origin: str,
    split_by: str | None = None,
) -> str:
    """The spec's text: `source` is its source section as written (paths already relative);
    `split_by` the subject column the split keeps together."""
    left_out = [c for c in columns if not c.spec]
    split = SplitSpec(by=split_by).model_dump(mode="json", exclude_none=True)
    parts = [
        _HEADER.format(origin=origin),
        "config_version: 1\n",
        f"name: {name}\n",
        _block({"source": source}),
        "schema:\n",
        "  undeclared: drop   # the columns commented out below are left out\n" if left_out else "",
        "  columns:\n",
        *(_column(c) for c in columns),
        f"split: {_flow(split)}   # the holdout is only for checks"
        + ("; whole subjects on each side\n" if split_by else "\n"),
        "model:\n",
        f"  engine: autoregressive   # or {', '.join(e for e in ENGINES if _shareable(e))}\n",
        "sample:\n",
        "  seed: 0\n",
        "  # rows: 10000   # default: as many rows as the source has\n",
        _commented(
            SampleSpec().model_dump(mode="json", include={"batch_size", "privacy_filter"}), 2
        ),
        "# The gate's thresholds at their defaults: to change one, uncomment its line and the\n",
        "# `checks:` line (and `privacy:` for the privacy lines). `enabled: false` turns a check off.\n",
        _commented({"checks": ChecksSpec().model_dump(mode="json")}, 0),
        _commented({"report": ReportSpec().model_dump(mode="json")}, 0),
        "output:\n",
        "  path: out   # OUT/<name>/<run_id>/ holds the Parquet data, report.html and metrics.json\n",
        _commented(OutputSpec().model_dump(mode="json", exclude={"path"}), 2),
    ]
    return "".join(parts)


def _shareable(engine: str) -> bool:
    # `bootstrap` copies training rows (the privacy gate's negative control): never offer it
    return engine not in ("autoregressive", "bootstrap")


def _column(guess: ColumnGuess) -> str:
    if not guess.spec:
        return f"    # {_key(guess.name)}: {guess.why}\n"
    line = f"    {_key(guess.name)}: {_flow(guess.spec)}"
    notes = [guess.why] if guess.why else []
    if guess.suggested:
        notes.append(f"suggested role: {', '.join(guess.suggested)} (by its name)")
    return f"{line}   # {'; '.join(notes)}\n" if notes else f"{line}\n"


def _key(name: str) -> str:
    """The column name as a YAML key, quoted where YAML would read it otherwise."""
    return _flow({name: 0})[1:-1].rsplit(":", 1)[0]


def _flow(mapping: dict[str, Any]) -> str:
    text = yaml.safe_dump(mapping, default_flow_style=True, sort_keys=False, width=1 << 20)
    return text.strip()


def _block(mapping: dict[str, Any]) -> str:
    return yaml.safe_dump(mapping, default_flow_style=False, sort_keys=False, width=1 << 20)


def _commented(mapping: dict[str, Any], indent: int) -> str:
    """`mapping` as YAML, each line commented out at `indent`: uncommented, it is valid there."""
    # flow style for the innermost mappings, one line each, so each line can be uncommented alone
    text = yaml.safe_dump(mapping, default_flow_style=None, sort_keys=False, width=1 << 20)
    return "".join(f"{' ' * indent}# {line}\n" for line in text.splitlines())


def describe(guesses: list[ColumnGuess]) -> str:
    """What `init` decided, in counts: '18 columns (1 key, 2 pii, 9 with suggested roles)'."""
    roles = [g.spec.get("role") for g in guesses]
    counts = {
        "key": roles.count("key"),
        "pii": roles.count("pii"),
        "free text": sum(g.spec.get("type") == "text" and not g.spec.get("role") for g in guesses),
        "empty, left out": sum(not g.spec for g in guesses),
        "with suggested roles": sum(bool(g.suggested) for g in guesses),
    }
    detail = ", ".join(f"{n} {what}" for what, n in counts.items() if n)
    return f"{len(guesses)} columns" + (f" ({detail})" if detail else "")
