"""What can be checked of docker/ without a Docker engine (none runs on these machines): the
Dockerfile installs what the Makefile installs, pinned (base image by digest, packages by hash),
and the compose file wires its services together."""

import re
from pathlib import Path

import yaml
from packaging.requirements import Requirement
from packaging.version import Version

from schemas import load_spec
from tests.builders import REPO

DOCKER = REPO / "docker"


def _dockerfile() -> str:
    return (DOCKER / "Dockerfile").read_text()


def _make_var(name: str) -> str:
    match = re.search(rf"^{name} \?= (.+)$", (REPO / "Makefile").read_text(), re.MULTILINE)
    assert match, name
    return match.group(1).strip()


def _lock(name: str) -> dict[str, Version]:
    """A pip-compile lock as {name: version}; every pin must carry at least one sha256 hash."""
    text = (DOCKER / name).read_text().replace("\\\n", " ")
    pins = {}
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        match = re.fullmatch(r"([A-Za-z0-9_.-]+)==(\S+)((?:\s+--hash=sha256:[0-9a-f]{64})+)", line)
        assert match, f"{name}: not a hashed pin: {line.strip()[:80]}"
        pins[match.group(1).lower().replace("_", "-").replace(".", "-")] = Version(match.group(2))
    return pins


def test_the_dockerfile_pins_what_the_makefile_pins() -> None:
    text = _dockerfile()
    torch = Requirement(_make_var("TORCH"))  # the CPU build, installed with the project's locks
    assert _lock("requirements.lock")["torch"] == Version(
        f"{next(iter(torch.specifier)).version}+cpu"
    )
    assert text.index("requirements.lock") < text.index("RUN pip install --no-deps")
    anonymeter = _lock("anonymeter.lock")["anonymeter"]
    assert anonymeter == Version(_make_var("ANONYMETER_VERSION"))
    assert "SYNTH_ANONYMETER_PYTHON=/opt/anonymeter/bin/python" in text


def test_the_base_image_is_pinned_by_digest() -> None:
    images = re.findall(r"^FROM\s+(\S+)", _dockerfile(), re.MULTILINE)
    assert images and all(re.fullmatch(r"[\w./:-]+@sha256:[0-9a-f]{64}", i) for i in images)


def test_every_package_comes_from_a_lock_with_hashes() -> None:
    joined = _dockerfile().replace("\\\n", " ")  # continuation lines as one
    installs = re.findall(r"pip install ([^&\n]*)", joined)
    assert len(installs) == 3, installs
    for command in installs:
        flags = command.split()
        # a lock, checked hash by hash, or the project itself, whose dependencies a lock installed
        assert "--no-deps" in flags, command
        assert ("--require-hashes" in flags and "-r" in flags) or flags[-1] == ".", command
        if flags[-1] == ".":
            assert "--no-build-isolation" in flags  # no unhashed build backend from an index


def test_the_lock_holds_every_dependency_of_pyproject_in_range() -> None:
    import tomllib

    pins = _lock("requirements.lock")
    project = tomllib.loads((REPO / "pyproject.toml").read_text())
    build = project["build-system"]["requires"]
    for line in [*project["project"]["dependencies"], *build]:
        wanted = Requirement(line)
        name = wanted.name.lower().replace("_", "-").replace(".", "-")
        assert name in pins, f"{name} is not in docker/requirements.lock: re-lock"
        assert wanted.specifier.contains(pins[name], prereleases=True), (name, pins[name])


def test_the_dockerfile_copies_every_package_the_project_installs() -> None:
    pyproject = (REPO / "pyproject.toml").read_text()
    packages = re.findall(r'"(\w+)\*"', pyproject.split("[tool.setuptools.packages.find]")[1])
    copied = re.findall(r"^COPY (\w+) \./\1$", _dockerfile(), re.MULTILINE)
    assert set(packages) <= set(copied), (packages, copied)


def test_compose_wires_postgres_server_and_worker() -> None:
    compose = yaml.safe_load((DOCKER / "compose.yaml").read_text())
    services = compose["services"]
    assert set(services) == {"postgres", "prefect-server", "worker"}
    db = services["postgres"]["environment"]
    url = services["prefect-server"]["environment"]["PREFECT_API_DATABASE_CONNECTION_URL"]
    assert url == (
        f"postgresql+asyncpg://{db['POSTGRES_USER']}:{db['POSTGRES_PASSWORD']}"
        f"@postgres:5432/{db['POSTGRES_DB']}"
    )
    server_port = services["prefect-server"]["command"][-1]
    api = services["worker"]["environment"]["PREFECT_API_URL"]
    assert api == f"http://prefect-server:{server_port}/api"
    assert services["prefect-server"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert services["worker"]["depends_on"]["prefect-server"]["condition"] == "service_healthy"
    assert services["worker"]["image"] == services["prefect-server"]["image"]
    assert set(compose["volumes"]) >= {"pgdata", "out"}


def test_the_worker_serves_a_spec_that_exists_and_writes_to_its_volume() -> None:
    worker = yaml.safe_load((DOCKER / "compose.yaml").read_text())["services"]["worker"]
    command = worker["command"]
    assert command[0] == "serve"
    mounts = dict(v.split(":")[:2] for v in worker["volumes"])
    host = {inside: (DOCKER / outside).resolve() for outside, inside in mounts.items()}
    spec_path = Path(command[1])
    on_host = host[str(spec_path.parent)] / spec_path.name
    spec = load_spec(on_host)
    # the spec's output folder, seen from inside the container, is the `out` volume
    inside = (spec_path.parent / Path(spec.output.path).relative_to(on_host.parent)).resolve()
    assert mounts["out"] == str(inside)
    assert "mkdir -p /out" in _dockerfile() and "chown -R synth /out" in _dockerfile()
