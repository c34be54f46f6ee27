"""The built wheel, installed into a clean virtual environment, provides every command the README names.

The wheel is built from this checkout and installed without dependencies into a new venv that sees the
development venv's packages (torch, gymnasium, ...) through a ``.pth`` line, so nothing of the checkout is
importable there: a command that needs a module the wheel lacks (``experiments``) fails here.
"""

from __future__ import annotations

import re
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SUBCOMMANDS = ("run", "report", "compare", "migrate", "train", "ship", "demo")


@pytest.fixture(scope="module")
def clean_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("wheel")
    dist = root / "dist"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(dist),
                    str(REPO)], check=True, capture_output=True, timeout=300, cwd=root)
    wheel = next(dist.glob("asg_gym-*.whl"))
    venv = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    site = next((venv / "lib").glob("python*/site-packages"))
    (site / "dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")  # torch & co., not asg_gym
    subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "--no-deps", "--ignore-installed", "-q",
                    str(wheel)], check=True, capture_output=True, timeout=300, cwd=root)
    return venv


def _commands_in_readme() -> set[str]:
    readme = (REPO / "README.md").read_text()
    return set(re.findall(r"asg-benchmark (\w+)", readme))


def test_the_readme_names_only_commands_that_exist() -> None:
    named = _commands_in_readme()
    assert named and named <= set(SUBCOMMANDS), named - set(SUBCOMMANDS)


def test_the_installed_wheel_provides_every_command(clean_venv: Path, tmp_path: Path) -> None:
    python, script = clean_venv / "bin" / "python", clean_venv / "bin" / "asg-benchmark"
    where = subprocess.run([str(python), "-c", "import asg_gym, asg_benchmark; print(asg_gym.__file__)"],
                           capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert where.returncode == 0 and str(clean_venv) in where.stdout, where.stderr  # the wheel's copy
    lab = subprocess.run([str(python), "-c", "import experiments"], capture_output=True, cwd=tmp_path, timeout=60)
    assert lab.returncode != 0  # the lab is not installed
    for command in SUBCOMMANDS:
        shown = subprocess.run([str(script), command, "--help"], capture_output=True, text=True, cwd=tmp_path,
                               timeout=120)
        assert shown.returncode == 0 and "--" in shown.stdout, (command, shown.stderr[-2000:])
