"""The job spec `synth init` writes: YAML that `synth run` accepts as it is, each guess explained in
a comment, and the sections left at their defaults shown commented out, ready to edit.

It holds no value of the data (no categories, no observed ranges): specs get committed. What it does
hold of the source (the file's name and path, the column names, a query) is never live YAML: each
such string is written by `quoted` (one double-quoted scalar, on one line) and each comment by
`note` (nothing in it ends the line), and the text is read back and compared with what was meant
before anyone writes it (issue 32 item 3).
"""

from __future__ import annotations

import json
import re
from typing import Any

import yaml

from schemas.errors import InternalError
from schemas.spec import ENGINES, ChecksSpec, OutputSpec, ReportSpec, SampleSpec, SplitSpec
from synth.io.infer import ColumnGuess

__all__ = ["describe", "draft_spec", "job_name", "note", "quoted"]

_HEADER = """\
# Drafted by `synth init` from {origin}.
# The types and roles below are guesses: read them before the first run. Roles: key (regenerated
# unique), pii (never modelled; replaced by fakes), quasi_identifier (the privacy checks link
# records on these), sensitive (the bias checks judge its groups), target (the utility check
# predicts it). Suggested roles are comments: add the ones that fit, as
# `role: quasi_identifier` or `role: [sensitive, quasi_identifier]`.
# Relative paths are relative to this file.
"""
_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t", "\0": "\\0"}
# a word YAML reads as the string it spells: not a bool, null or number in YAML 1.1 or 1.2
_PLAIN = re.compile(r"[a-z][a-z0-9_]*")
_NOT_PLAIN = frozenset({"y", "n", "yes", "no", "true", "false", "on", "off", "null", "nan", "inf"})
_LONGEST_KEY = 1000  # YAML's implicit keys end at 1024 characters; a longer one is written `? key`


def _escaped(text: str, *, quote: bool) -> str:
    """`text` with every character that is not printable (C0 and C1 controls, the line and
    paragraph separators, U+FEFF and the other invisible format characters, lone surrogates) as a
    YAML escape; the backslash (and, for a quoted scalar, the double quote) too."""
    out = []
    for char in text:
        if char in _ESCAPES and (quote or char != '"'):
            out.append(_ESCAPES[char])
        elif char.isprintable():
            out.append(char)
        else:
            code = ord(char)
            out.append(
                f"\\x{code:02x}"
                if code < 0x100
                else f"\\u{code:04x}"
                if code < 0x10000
                else f"\\U{code:08x}"
            )
    return "".join(out)


def quoted(text: str) -> str:
    """`text` as one double-quoted YAML scalar on one line, read back as exactly `text`; it holds
    printable characters only, so a comment may show it too."""
    return f'"{_escaped(str(text), quote=True)}"'


def note(text: str) -> str:
    """`text` fit for a comment: no line break or control, so nothing in it ends the comment."""
    return _escaped(str(text), quote=False)


def job_name(stem: str) -> str:
    """A valid job name ([a-z0-9][a-z0-9_-]*, at most 64) from a file name."""
    name = re.sub(r"[^a-z0-9_-]+", "-", stem.lower()).strip("-_")[:64]
    return name if name else "job"


def draft_spec(
    *,
    name: str,
    source: dict[str, Any],
    columns: list[ColumnGuess],
    origin: str | None,
    split_by: str | None = None,
) -> str:
    """The spec's text: `source` is its source section as written (paths already relative),
    `origin` the source file's name (None: a query), `split_by` the subject column the split keeps
    together. A text that does not read back as meant is an InternalError."""
    left_out = [c for c in columns if not c.spec]
    split = SplitSpec(by=split_by).model_dump(mode="json", exclude_none=True)
    schema: dict[str, Any] = {"undeclared": "drop"} if left_out else {}
    schema["columns"] = {c.name: c.spec for c in columns if c.spec}
    meant = {
        "config_version": 1,
        "name": name,
        "source": source,
        "schema": schema,
        "split": split,
        "model": {"engine": "autoregressive"},
        "sample": {"seed": 0},
        "output": {"path": "out"},
    }
    parts = [
        _HEADER.format(origin=f"the file {quoted(origin)}" if origin else "a query"),
        "config_version: 1\n",
        f"name: {_scalar(name)}\n",
        "source:\n",
        *(f"  {_scalar(key)}: {_value(value)}\n" for key, value in source.items()),
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
    text = "".join(parts)
    _reads_back(text, meant)
    return text


def _reads_back(text: str, meant: dict[str, Any]) -> None:
    """The drafted text, parsed, is the mapping `init` meant, key for key: a difference (a key a
    source smuggled in, a name bound to another column) is synth's own mistake, and nothing is
    written."""
    meant = json.loads(json.dumps(meant))  # tuples as lists, as YAML reads them
    try:
        read = yaml.safe_load(text)
    except yaml.YAMLError:
        read = None
    if not isinstance(read, dict):
        raise InternalError("init drafted a spec that does not parse as a mapping; nothing written")
    differ = [key for key in meant if read.get(key) != meant[key]]
    extra = len(set(read) - set(meant))
    if differ or extra:
        what = ", ".join(differ) + (f"{', ' if differ else ''}{extra} extra keys" if extra else "")
        raise InternalError(f"init drafted a spec that does not read back as drafted ({what})")


def _shareable(engine: str) -> bool:
    # `bootstrap` copies training rows (the privacy gate's negative control): never offer it
    return engine not in ("autoregressive", "bootstrap")


def _column(guess: ColumnGuess) -> str:
    key = quoted(guess.name)
    if not guess.spec:
        return f"    # {key}: {note(guess.why)}\n"
    line = f"    {key}: {_flow(guess.spec)}"
    if len(key) > _LONGEST_KEY:
        line = f"    ? {key}\n    : {_flow(guess.spec)}"
    notes = [guess.why] if guess.why else []
    if guess.suggested:
        notes.append(f"suggested role: {', '.join(guess.suggested)} (by its name)")
    return f"{line}   # {note('; '.join(notes))}\n" if notes else f"{line}\n"


def _scalar(text: str) -> str:
    """A string as YAML: plain where it is a word YAML reads as itself (an engine, a type, a
    role), otherwise quoted."""
    if _PLAIN.fullmatch(text) and text not in _NOT_PLAIN:
        return text
    return quoted(text)


def _value(value: Any) -> str:
    """A spec value as one line of flow YAML; every string through `_scalar`."""
    if isinstance(value, str):
        return _scalar(value)
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    if isinstance(value, int | float):
        return repr(value) if value == value and abs(value) != float("inf") else quoted(value)
    if isinstance(value, list | tuple):
        return f"[{', '.join(_value(v) for v in value)}]"
    if isinstance(value, dict):
        return _flow(value)
    raise InternalError(f"init: cannot draft a value of type {type(value).__name__}")


def _flow(mapping: dict[str, Any]) -> str:
    return "{" + ", ".join(f"{_scalar(str(k))}: {_value(v)}" for k, v in mapping.items()) + "}"


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
