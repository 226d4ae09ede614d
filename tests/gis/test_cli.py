"""``python -m gis``'s bad input: one line on stderr, ``error: …``, exit 2, no traceback (apps.cli.common)."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

from settings import ROOT


@pytest.mark.parametrize("args, says", [
    (["serve-tiles", "--port", "0"], "error: --port must be 1..65535, got 0"),
    (["serve-tiles", "--port", "x"], "error: argument --port: invalid int value: 'x'"),
    ([], "error: the following arguments are required: command"),
])
def test_a_bad_command_line_is_one_line_and_exit_2(args: list[str], says: str) -> None:
    r = subprocess.run([sys.executable, "-m", "gis", *args], cwd=ROOT, env=dict(os.environ), capture_output=True,
                       text=True, timeout=60)
    assert (r.returncode, r.stderr.strip(), r.stdout) == (2, says, "")
