"""What can be checked of docker/ without a Docker engine (none runs on these machines): the
Dockerfile installs what the Makefile installs, and the compose file wires its services together."""

import re
from pathlib import Path

import yaml

from schemas import load_spec
from tests.builders import REPO

DOCKER = REPO / "docker"


def _dockerfile() -> str:
    return (DOCKER / "Dockerfile").read_text()


def _make_var(name: str) -> str:
    match = re.search(rf"^{name} \?= (.+)$", (REPO / "Makefile").read_text(), re.MULTILINE)
    assert match, name
    return match.group(1).strip()


def test_the_dockerfile_pins_what_the_makefile_pins() -> None:
    text = _dockerfile()
    assert f'"{_make_var("TORCH")}"' in text  # the CPU torch build, installed before the project
    assert text.index("torch==") < text.index("RUN pip install .")
    assert f'"anonymeter=={_make_var("ANONYMETER_VERSION")}"' in text
    assert "SYNTH_ANONYMETER_PYTHON=/opt/anonymeter/bin/python" in text


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
