"""The stubs (`_native.pyi`), the package and a typed usage file pass `mypy --strict`, both
from the sources and as installed (py.typed shipped)."""

from __future__ import annotations

import pathlib

from mypy import api

HERE = pathlib.Path(__file__).parent
PACKAGE = HERE.parent / "python" / "mailoauth"


def run_mypy(*args: str) -> None:
    stdout, stderr, status = api.run(["--strict", "--no-incremental", "--python-version", "3.9", *args])
    assert status == 0, stdout + stderr


def test_sources_and_usage_pass_mypy_strict() -> None:
    run_mypy(str(PACKAGE), str(HERE / "typed_usage.py"))


def test_installed_package_is_typed() -> None:
    # Only the usage file: mailoauth resolves to the installed package (site-packages).
    run_mypy(str(HERE / "typed_usage.py"))


def test_mypy_catches_misuse(tmp_path: pathlib.Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text(
        "import mailoauth\n"
        "t: mailoauth.Token = mailoauth.PublicClient('id').acquire_token_silent('not a list', 42)\n"
        "n: int = t.expires_at\n"
    )
    stdout, _, status = api.run(["--strict", "--no-incremental", str(bad)])
    assert status == 1, stdout
    assert 'Argument 2 to "acquire_token_silent"' in stdout, stdout
    assert 'expression has type "datetime", variable has type "int"' in stdout, stdout
