"""The suite's own plugin (conftest.py at the repository root): its leak check judges only
what the run made, and nbval compares floats at the precision that carries meaning.

The leak check is run for real, in a sandboxed pytest session with the repository's
conftest.py: a file another program puts in the system temp folder while the run goes on
must not fail it; a file the run leaves in its own temporary folder must.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

FOREIGN = """
import os
from pathlib import Path

def test_another_program_writes_to_the_system_temp_folder():
    Path(os.environ["CC_FAKE_SYSTEM_TMP"], "editor-swap-file").write_text("not ours")
"""

LEAKY = """
import tempfile
from pathlib import Path

def test_leaves_a_file_in_its_own_temp_folder():
    Path(tempfile.gettempdir(), "forgotten.dat").write_text("ours")
"""


def _root_plugin():
    """The repository's root conftest.py, loaded by path: tests/conftest.py shares its name."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("cc_root_conftest", ROOT / "conftest.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _sandbox(pytester, monkeypatch, body: str):
    shutil.copy(ROOT / "conftest.py", pytester.path / "conftest.py")
    pytester.makepyfile(test_inner=body)
    system_tmp = pytester.mkdir("system_tmp")
    monkeypatch.setenv("TMPDIR", str(system_tmp))
    monkeypatch.setenv("CC_FAKE_SYSTEM_TMP", str(system_tmp))
    monkeypatch.setenv("CC_LEAK_CHECK", "1")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-q")
    return result, system_tmp


def test_foreign_files_in_the_system_temp_folder_do_not_fail_the_run(pytester, monkeypatch):
    result, system_tmp = _sandbox(pytester, monkeypatch, FOREIGN)
    assert (system_tmp / "editor-swap-file").exists()
    assert result.ret == 0, result.stdout.str()
    assert "leak check FAILED" not in result.stdout.str()
    # the run's own folder was removed at the end
    assert [p.name for p in system_tmp.iterdir()] == ["editor-swap-file"]


def test_a_file_left_in_the_runs_own_folder_fails_the_run(pytester, monkeypatch):
    result, system_tmp = _sandbox(pytester, monkeypatch, LEAKY)
    out = result.stdout.str()
    assert result.ret != 0, out
    assert "leak check FAILED" in out and "temporary file left behind: forgotten.dat" in out
    assert list(system_tmp.iterdir()) == [], "the run's own temporary folder must be removed"


def test_the_run_has_its_own_temp_folder():
    import os
    import tempfile

    own = Path(tempfile.gettempdir())
    assert own.name.startswith("cc-tests-") and os.environ["TMPDIR"] == str(own)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        # the four cells that failed on a CPU with AVX-512 (issue 15)
        ("10.427885734290449", "10.427885734290447"),
        ("-0.5513922643355811", "-0.5513922643355794"),
        ("2.0055836689800444", "2.005583668980044"),
        ("7.075321072784249", "7.07532107278425"),
        ("speedup 1.9999999999999998 on 2 cores", "speedup 2.0 on 2 cores"),
    ],
)
def test_last_bits_of_a_float_are_not_compared(a, b):
    round_floats = _root_plugin().round_floats

    assert round_floats(a) == round_floats(b)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("10.42788573", "10.42798573"),  # a change in the 5th significant digit
        ("0.5513922", "-0.5513922"),
        ("2.0e-05", "2.0e-06"),
        ("3 cores", "4 cores"),  # integers are compared exactly
        ("Python 3.11.7", "Python 3.11.8"),
    ],
)
def test_a_real_change_is_still_seen(a, b):
    round_floats = _root_plugin().round_floats

    assert round_floats(a) != round_floats(b)


def test_nbval_uses_the_rounding():
    from nbval.plugin import IPyNbCell

    assert getattr(IPyNbCell.sanitize, "_cc_rounds", False)
