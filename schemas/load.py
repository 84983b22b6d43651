"""Read a job spec from YAML, apply command-line overrides, and turn every problem into one line."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from schemas.errors import SpecError
from schemas.image_spec import ImageJobSpec
from schemas.linked_spec import LinkedJobSpec
from schemas.spec import JobSpec

AnySpec = JobSpec | ImageJobSpec | LinkedJobSpec

__all__ = [
    "apply_overrides",
    "flag_overrides",
    "json_schema",
    "load_spec",
    "parse_spec_yaml",
    "spec_from_dict",
]

# A spec is a page of settings: these bound what parsing it may cost, whoever wrote it.
MAX_SPEC_BYTES, MAX_SPEC_DEPTH, MAX_SPEC_NODES = 1 << 20, 32, 50_000


class _SpecLoader(yaml.SafeLoader):
    """PyYAML's safe loader without aliases (`*name`, which let a 1 kB file expand to billions of
    nodes), nested at most MAX_SPEC_DEPTH deep and at most MAX_SPEC_NODES nodes."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = self._nodes = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        event = self.peek_event()
        problem = None
        if isinstance(event, yaml.AliasEvent):
            problem = "uses a YAML alias (*name); write the value out instead"
        elif self._depth >= MAX_SPEC_DEPTH:
            problem = f"nests deeper than {MAX_SPEC_DEPTH} levels"
        self._nodes += 1
        if self._nodes > MAX_SPEC_NODES:
            problem = f"holds more than {MAX_SPEC_NODES} values"
        if problem is not None:
            raise yaml.MarkedYAMLError(problem=problem, problem_mark=event.start_mark)
        self._depth += 1
        try:
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


def parse_spec_yaml(text: str, label: str) -> Any:
    """The YAML document in `text`, bounded (no aliases, depth, size); a problem is one SpecError
    naming `label` and the line, never the text."""
    if len(text) > MAX_SPEC_BYTES:
        raise SpecError(f"{label}: a spec is at most {MAX_SPEC_BYTES >> 20} MiB")
    loader = _SpecLoader(text)
    try:
        return loader.get_single_data()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f" at line {mark.line + 1}" if mark else ""
        known = (
            exc.problem
            if isinstance(exc.problem, str)
            and exc.problem.startswith(("uses a YAML alias", "nests deeper", "holds more"))
            else None
        )
        raise SpecError(
            f"{label}: {known}{where}" if known else f"{label}: not valid YAML{where}"
        ) from None
    except yaml.YAMLError:
        raise SpecError(f"{label}: not valid YAML") from None
    finally:
        loader.dispose()


def load_spec(path: str | Path, *, overrides: dict[str, Any] | None = None) -> AnySpec:
    """Load and validate the spec at `path`; relative paths inside it are relative to its folder.

    `overrides` maps dotted field names (`model.engine`, `sample.rows`) to values, as the CLI passes;
    switching the engine drops the spec's `model.params`.
    """
    path = Path(path)
    try:
        with path.open("rb") as handle:  # never more than a spec may hold
            text = handle.read(MAX_SPEC_BYTES + 1).decode("utf-8")
    except FileNotFoundError:
        raise SpecError(f"{path}: spec file does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SpecError(f"{path}: cannot read spec ({type(exc).__name__})") from None
    raw = parse_spec_yaml(text, str(path))
    if not isinstance(raw, dict):
        raise SpecError(f"{path}: a spec must be a YAML mapping")
    return spec_from_dict(apply_overrides(raw, overrides), label=str(path), base_dir=path.parent)


def apply_overrides(raw: dict[str, Any], overrides: dict[str, Any] | None) -> dict[str, Any]:
    """`raw` (a spec mapping, changed in place) with the dotted `overrides` set, as the CLI's
    flags ask: for an image job `sample.rows` is images per class; switching the engine drops
    `model.params`, which would not fit another engine."""
    kind = raw.get("kind", "table")
    model = SPECS.get(kind) if isinstance(kind, str) else None
    if model is None:  # an unknown kind is refused, naming the file, by spec_from_dict
        return raw
    if kind == "linked" and (overrides or {}).get("source.path") is not None:
        raise SpecError("--source: a linked job reads one source per table (tables[].source)")
    section = raw.get("model")
    engine = section.get("engine", model.default_engine) if isinstance(section, dict) else None
    for dotted, value in (overrides or {}).items():
        if value is not None:
            _set_dotted(raw, model.rows_field if dotted == "sample.rows" else dotted, value)
    if (overrides or {}).get("model.engine") not in (None, engine):
        raw["model"]["params"] = {}  # another engine's parameters would not fit it
    return raw


_FLAGS = {
    "source": "source.path",
    "out": "output.path",
    "engine": "model.engine",
    "rows": "sample.rows",
    "seed": "sample.seed",
    "dask_address": "scale.dask_address",
}


def flag_overrides(**flags: Any) -> dict[str, Any]:
    """Command-line flags (`source`, `out`, `engine`, `rows`, `seed`, `dask_address`) as dotted
    spec fields."""
    return {_FLAGS[name]: value for name, value in flags.items() if value is not None}


def spec_from_dict(raw: dict[str, Any], *, label: str, base_dir: Path) -> AnySpec:
    """Validate a spec mapping; `label` names it in errors, `base_dir` anchors relative paths.
    A spec with `kind: images` is an image job; one with `kind: table`, or without `kind`, a table
    job."""
    model = _model(raw.get("kind", "table"), label=label)
    try:
        spec = model.model_validate(raw)
    except ValidationError as exc:
        raise SpecError(f"{label}: {_one_line(exc, model.engines)}") from None
    return _anchor_paths(spec, base_dir)


# kind -> its spec model; a new kind of job adds one line (and its modality, synth/modalities)
SPECS: dict[str, type[AnySpec]] = {
    "table": JobSpec,
    "images": ImageJobSpec,
    "linked": LinkedJobSpec,
}


def _model(kind: Any, *, label: str) -> type[AnySpec]:
    try:
        return SPECS[kind]
    except (KeyError, TypeError):
        raise SpecError(f"{label}: kind: unknown kind; choose one of {', '.join(SPECS)}") from None


def json_schema() -> dict[str, Any]:
    """The JSON Schema of a job spec (table or image job), for editors and
    `schemas/jobspec.schema.json`."""
    from pydantic import TypeAdapter

    schema = TypeAdapter(JobSpec | ImageJobSpec | LinkedJobSpec).json_schema(
        by_alias=True
    )  # SPECS' values
    schema["$id"] = "https://github.com/synth/synth/schemas/jobspec.schema.json"
    schema["title"] = "synth job spec"
    return schema


def _one_line(exc: ValidationError, engines: tuple[str, ...]) -> str:
    errors = exc.errors(include_url=False, include_input=False)
    first = errors[0]
    where = ".".join(str(part) for part in first["loc"])
    message = first["msg"].removeprefix("Value error, ")
    if first["type"] == "extra_forbidden":
        message = "unknown field"
    elif first["type"] == "literal_error" and where.endswith("engine"):
        message = f"unknown engine; choose one of {', '.join(engines)}"
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return f"{where}: {message}{more}" if where else f"{message}{more}"


def _set_dotted(raw: dict[str, Any], dotted: str, value: Any) -> None:
    *parents, leaf = dotted.split(".")
    node = raw
    for part in parents:
        child = node.get(part)
        if not isinstance(child, dict):
            child = {}
            node[part] = child
        node = child
    node[leaf] = value


def _anchored(source: Any, base: Path) -> Any:
    """`source` with its relative paths (`path`, an image set's `extra_csv`) made absolute."""
    fields = ("path", "extra_csv")
    relative = {f: getattr(source, f, None) for f in fields}
    updates = {f: base / v for f, v in relative.items() if v is not None and not v.is_absolute()}
    return source.model_copy(update=updates) if updates else source


def _anchor_paths(spec: AnySpec, base_dir: Path) -> AnySpec:
    """Relative paths become absolute, whatever folder the spec was named from: a spec loaded as
    `examples/adult.yaml` and as `/abs/examples/adult.yaml` must be one spec (its fingerprint,
    which `synth regenerate` compares with the last run's, includes the source path)."""
    base = base_dir.resolve()
    updates: dict[str, Any] = {}
    if not isinstance(spec, LinkedJobSpec):
        updates["source"] = _anchored(spec.source, base)
    else:
        updates["tables"] = [
            t.model_copy(update={"source": _anchored(t.source, base)}) for t in spec.tables
        ]
    if not spec.output.path.is_absolute():
        updates["output"] = spec.output.model_copy(update={"path": base / spec.output.path})
    return spec.model_copy(update=updates) if updates else spec
