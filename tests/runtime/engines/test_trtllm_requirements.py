"""taskseed's declared requirements against tensorrt-llm 1.0.0's published ones.

`pip install 'taskseed[trtllm]'` resolves only if every package both declare has a version
that satisfies both. The release's requirements are recorded in `trtllm_contract.py`
(with a released version that satisfies each); this reads pyproject.toml and checks them
with `packaging`'s version specifiers and markers, as pip evaluates them.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import Version

from taskseed.runtime.engines import trtllm as trtllm_module
from tests.runtime.engines import trtllm_contract as contract

PYPROJECT = Path(__file__).resolve().parents[3] / "pyproject.toml"
PYTHONS = ("3.9", "3.10", "3.11", "3.12", "3.13", "3.14")


def project() -> dict[str, object]:
    data = tomllib.loads(PYPROJECT.read_text())["project"]
    assert isinstance(data, dict)
    return data


def declared(python: str) -> dict[str, list[Requirement]]:
    """Every requirement of the project and its extras that applies on `python`, by name."""
    data = project()
    extras: dict[str, list[str]] = data["optional-dependencies"]  # type: ignore[assignment]
    found: dict[str, list[Requirement]] = {}
    groups = [("", data["dependencies"]), *extras.items()]
    for extra, lines in groups:
        for line in lines:  # type: ignore[union-attr]
            req = Requirement(line)
            env = {"python_version": python, "python_full_version": f"{python}.0", "extra": extra}
            if req.marker is None or req.marker.evaluate(env):
                found.setdefault(canonicalize_name(req.name), []).append(req)
    return found


def trtllm_requirement() -> Requirement:
    extras: dict[str, list[str]] = project()["optional-dependencies"]  # type: ignore[assignment]
    [req] = [r for r in map(Requirement, extras["trtllm"]) if r.name == "tensorrt-llm"]
    return req


def test_the_recorded_witnesses_satisfy_the_release() -> None:
    assert set(contract.WITNESSES) == set(contract.REQUIREMENTS)
    for name, spec in contract.REQUIREMENTS.items():
        assert SpecifierSet(spec).contains(contract.WITNESSES[name]), name


@pytest.mark.parametrize("name", sorted(contract.REQUIREMENTS))
def test_every_shared_package_has_a_version_both_accept(name: str) -> None:
    witness = Version(contract.WITNESSES[name])
    ours = declared("3.12").get(canonicalize_name(name), [])
    assert ours, f"{name} is no longer declared: drop it from the recorded requirements"
    for req in ours:
        assert req.specifier.contains(witness, prereleases=True), (
            f"taskseed declares `{req}`, which excludes {witness}; tensorrt-llm "
            f"{contract.RELEASE} needs {name}{contract.REQUIREMENTS[name]}"
        )


def test_the_numpy_bound_still_admits_numpy_2() -> None:
    """The [trtllm] extra must not hold everyone else back on numpy 1."""
    [numpy] = declared("3.11")["numpy"]
    assert numpy.specifier.contains("2.2.6") and numpy.specifier.contains("1.26.4")


def test_the_extra_installs_tensorrt_llm_where_a_wheel_exists() -> None:
    requires_python = SpecifierSet(str(project()["requires-python"]))
    req = trtllm_requirement()
    assert canonicalize_name(req.name) == "tensorrt-llm"
    assert req.specifier.contains("1.0.0") and not req.specifier.contains("1.1.0")
    served = [v for v in PYTHONS if requires_python.contains(f"{v}.0")]
    assert served, "requires-python admits no Python at all"
    with_wheels = [v for v in served if v in contract.PYTHON_WHEELS]
    assert with_wheels, f"no Python that taskseed supports ({served}) has a 1.0.0 wheel"
    for version in served:
        applies = req.marker is None or req.marker.evaluate({"python_version": version})
        assert applies == (version in contract.PYTHON_WHEELS), version


def test_the_engine_names_the_same_pythons() -> None:
    assert trtllm_module.WHEEL_PYTHONS == contract.PYTHON_WHEELS


@pytest.mark.parametrize("name", sorted(contract.NUMPY2_ONLY_FROM))
def test_the_extra_holds_back_what_needs_numpy_2(name: str) -> None:
    """Under numpy<2, a dependency that silently needs numpy 2 would fail at import."""
    extras: dict[str, list[str]] = project()["optional-dependencies"]  # type: ignore[assignment]
    caps = [Requirement(line) for line in extras["trtllm"]]
    caps = [r for r in caps if canonicalize_name(r.name) == canonicalize_name(name)]
    assert caps, f"the [trtllm] extra does not hold {name} back"
    first = contract.NUMPY2_ONLY_FROM[name]
    for req in caps:
        assert not req.specifier.contains(first), f"`{req}` admits {name} {first}"
        assert req.marker is None or req.marker.evaluate({"python_version": "3.12"})


@pytest.mark.parametrize("name", sorted(contract.NUMPY_OF_RELEASE))
def test_a_dependency_has_a_release_for_the_extras_numpy(name: str) -> None:
    """pip resolves the extra only if the dependency has an allowed release that takes
    the numpy tensorrt-llm 1.0 holds us to (numpy 2 only would make it impossible)."""
    numpy = contract.WITNESSES["numpy"]
    [ours] = declared("3.12")[name]
    fits = [
        release
        for release, needs in contract.NUMPY_OF_RELEASE[name].items()
        if ours.specifier.contains(release) and SpecifierSet(needs).contains(numpy)
    ]
    assert fits, f"no release of {name} allowed by `{ours}` takes numpy {numpy}"
