"""``python -m network`` as planners and outside checks call it (subprocess, repo root as cwd)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from network import compute_segments, isolate, read_inp_topology
from network.valves_csv import read_valves_csv
from tests.network.test_segments import NETWORKS

ROOT = Path(__file__).resolve().parents[2]
NET1 = str(NETWORKS / "Net1.inp")
VALVES = "id,link,node,status\nA,10,10,open\nB,11,11,\nC,12,12,inoperable\nD,21,21,closed\nE,111,11,open\n"


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "network", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)


@pytest.fixture()
def valves(tmp_path: Path) -> Path:
    path = tmp_path / "valves.csv"
    path.write_text(VALVES)
    return path


def test_segments_output_and_timings(valves: Path) -> None:
    res = run("segments", "--inp", NET1, "--valves", str(valves), "--timings")
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    model = read_valves_csv(valves, read_inp_topology(NET1))
    seg = compute_segments(model)
    assert out["links"] == dict(zip(model.link_ids.tolist(), seg.link_segment.tolist()))
    assert out["nodes"] == dict(zip(model.node_ids.tolist(), seg.node_segment.tolist()))
    assert {"read_inp", "read_valves", "segments"} <= set(json.loads(res.stderr))


def test_isolate_in_given_order_with_pipes_file_and_inoperable(valves: Path, tmp_path: Path) -> None:
    pipes = tmp_path / "pipes.txt"
    pipes.write_text("111\n\n10\n")
    res = run("isolate", "--inp", NET1, "--valves", str(valves), "--pipe", "22", "--pipes-file", str(pipes),
              "--inoperable", "E")
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    assert [o["pipe"] for o in out] == ["22", "111", "10"]
    model = read_valves_csv(valves, read_inp_topology(NET1))
    from network.model import with_valve_status

    model = with_valve_status(model, {"E": "inoperable"})
    assert out[1] == isolate(model, "111").to_dict()
    assert set(out[0]) == {"pipe", "valves_to_close", "optional_valves", "isolated_links", "isolated_nodes",
                           "unintended_links", "unintended_nodes"}
    assert all(v == sorted(v) for o in out for k, v in o.items() if k != "pipe")


def test_default_valve_ids_are_row_numbers(tmp_path: Path) -> None:
    path = tmp_path / "v.csv"
    path.write_text("link,node\n10,10\n11,11\n")
    res = run("isolate", "--inp", NET1, "--valves", str(path), "--pipe", "11")
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout)[0]["valves_to_close"] == ["0"]


def test_criticality_subcommand(valves: Path) -> None:
    res = run("criticality", "--inp", NET1, "--valves", str(valves), "--top", "3")
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    assert 0 < len(out["segments"]) <= 3 and len(out["valves"]) <= 3
    assert out["segments"][0]["shutoff_links"] >= out["segments"][-1]["shutoff_links"]


BAD = {
    "unknown_pipe": (["--pipe", "NOPE"], VALVES, "NOPE"),
    "unknown_inoperable_valve": (["--pipe", "10", "--inoperable", "ZZ"], VALVES, "ZZ"),
    "node_not_end_of_link": (["--pipe", "10"], "link,node\n10,31\n", "31"),
    "unknown_link_in_csv": (["--pipe", "10"], "link,node\nQQ,10\n", "QQ"),
    "unknown_node_in_csv": (["--pipe", "10"], "link,node\n10,NN\n", "NN"),
    "missing_column": (["--pipe", "10"], "link,id\n10,1\n", "valves.csv"),
    "malformed_row": (["--pipe", "10"], "link,node\n10,10,extra\n", "valves.csv"),
    "bad_status": (["--pipe", "10"], "link,node,status\n10,10,broken\n", "broken"),
    "duplicate_valve_id": (["--pipe", "10"], "id,link,node\nA,10,10\nA,11,11\n", "'A'"),
    "empty_csv": (["--pipe", "10"], "", "valves.csv"),
    "no_pipes": ([], VALVES, "pipe"),
    "missing_pipes_file": (["--pipes-file", "/nonexistent/pipes.txt"], VALVES, "pipes.txt"),
    "usage_error": (["--pipe", "10", "--bogus"], VALVES, "--bogus"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_input_exits_2_with_one_line(case: str, tmp_path: Path) -> None:
    extra, csv_text, named = BAD[case]
    path = tmp_path / "valves.csv"
    path.write_text(csv_text)
    res = run("isolate", "--inp", NET1, "--valves", str(path), *extra)
    assert res.returncode == 2
    assert "Traceback" not in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1
    assert named in res.stderr
    assert res.stdout == ""


@pytest.mark.parametrize("inp", ["missing", "garbage"])
def test_unreadable_inp_exits_2(inp: str, valves: Path, tmp_path: Path) -> None:
    path = tmp_path / f"{inp}.inp"
    if inp == "garbage":
        path.write_bytes(b"\x00\xff not an inp file")
    res = run("segments", "--inp", str(path), "--valves", str(valves))
    assert res.returncode == 2
    assert "Traceback" not in res.stderr and len(res.stderr.strip().splitlines()) == 1
    assert f"{inp}.inp" in res.stderr


def test_unreadable_valves_exits_2() -> None:
    res = run("segments", "--inp", NET1, "--valves", "/nonexistent/valves.csv")
    assert res.returncode == 2 and "valves.csv" in res.stderr and "Traceback" not in res.stderr
