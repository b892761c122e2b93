"""The repository stands on its own (issue 11 item 1): nothing it runs reads a path outside it.

Two proofs, besides the guard in tests/conftest.py that fails any test of this run opening a
file outside the repository:
- the whole suite collects in a copy of the repository placed in an empty temporary folder
  (no ``../shared`` beside it), with that copy's own guard watching the collection;
- no tracked source file names the folder that used to sit beside the repository.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parents[1]


def _repository_files() -> list[str]:
    """What a commit of the working tree would hold: tracked files plus new, unignored ones."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                            cwd=REPOSITORY, capture_output=True, check=True).stdout
    return [name for name in listed.decode().split("\0") if name and (REPOSITORY / name).is_file()]


def test_the_suite_collects_in_a_copy_with_nothing_beside_it(tmp_path):
    copy = tmp_path / "alone" / "sscard"
    for name in _repository_files():
        (copy / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPOSITORY / name, copy / name)
    assert sorted(p.name for p in copy.parent.parent.iterdir()) == ["alone"]
    assert not (copy.parent / "shared").exists()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "SSCARD_CLOCK"))}

    # The copy's own packages are the ones imported there, not this checkout's.
    where = subprocess.run([sys.executable, "-c", "import crypto, issuer; print(crypto.__file__, issuer.__file__)"],
                           cwd=copy, env=env, capture_output=True, text=True, check=True).stdout.split()
    assert all(Path(path).is_relative_to(copy) for path in where), where

    run = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:randomly"],
                         cwd=copy, env=env, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert "tests/crypto/test_wycheproof.py::test_wycheproof[ES256-1]" in run.stdout
    assert " tests collected" in run.stdout.splitlines()[-1]

    # The copy's guard is live: a test that reads a file beside the repository fails.
    (copy.parent / "shared").mkdir()
    (copy.parent / "shared" / "vector.json").write_text("{}")
    (copy / "tests" / "test_reads_beside.py").write_text(
        "from pathlib import Path\n\n"
        "def test_reads_beside():\n"
        "    assert (Path(__file__).resolve().parents[2] / 'shared' / 'vector.json').read_text() == '{}'\n")
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:randomly", "tests/test_reads_beside.py"],
                         cwd=copy, env=env, capture_output=True, text=True, timeout=600)
    assert run.returncode == 1, run.stdout[-3000:] + run.stderr[-3000:]
    assert "opened files outside the repository" in run.stdout and "shared/vector.json" in run.stdout


def test_no_source_names_a_folder_beside_the_repository():
    suspicious = ('"shared" / "vectors"', "../shared", "/work/shared", "/work/main")
    found = []
    for name in _repository_files():
        if name.startswith("docs/") or not name.endswith((".py", ".toml", ".sh", "Makefile", ".cfg", ".ini", ".json")):
            continue
        if name == "tests/test_self_contained.py":
            continue
        text = (REPOSITORY / name).read_text(errors="replace")
        found += [(name, needle) for needle in suspicious if needle in text]
    found += [(".ci/run", needle) for needle in suspicious
              if (REPOSITORY / ".ci" / "run").is_file() and needle in (REPOSITORY / ".ci" / "run").read_text()]
    assert not found
