"""``python -m forecast risk`` as outside checks call it, and every class of bad input."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from apps.cli.forecast import main
from forecast.synth import make_city

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def city(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, list[str]]:
    pipes, breaks = make_city(2500, seed=21)
    pipes = pipes.sample(frac=1.0, random_state=1)   # input order is not id order
    d = tmp_path_factory.mktemp("city")
    pipes.to_csv(d / "pipes.csv", index=False)
    breaks.to_csv(d / "breaks.csv", index=False)
    return d / "pipes.csv", d / "breaks.csv", pipes["id"].tolist()


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "forecast", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=120)


def risk(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["risk", *args])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_output_format_exact(city: tuple[Path, Path, list[str]]) -> None:
    pipes, breaks, ids = city
    res = run("risk", "--pipes", str(pipes), "--breaks", str(breaks), "--as-of", "2022-01-01", "--horizon-days", "365")
    assert res.returncode == 0, res.stderr
    assert res.stderr == ""
    out = json.loads(res.stdout)
    assert isinstance(out, list) and len(out) == len(ids)
    assert [o["pipe"] for o in out] == ids                       # every pipe, in the file's order
    for o in out:
        assert set(o) == {"pipe", "expected_breaks"}
        assert isinstance(o["pipe"], str)
        assert isinstance(o["expected_breaks"], (int, float)) and o["expected_breaks"] >= 0
    assert sum(o["expected_breaks"] for o in out) > 0


def test_default_horizon_is_a_year_and_longer_is_not_less(capsys, city) -> None:
    pipes, breaks, _ = city
    base = ["--pipes", str(pipes), "--breaks", str(breaks), "--as-of", "2022-01-01"]
    c1, o1, _ = risk(capsys, *base)
    c2, o2, _ = risk(capsys, *base, "--horizon-days", "365")
    c3, o3, _ = risk(capsys, *base, "--horizon-days", "730")
    assert c1 == c2 == c3 == 0
    assert o1 == o2
    one, two = json.loads(o2), json.loads(o3)
    assert all(b["expected_breaks"] >= a["expected_breaks"] for a, b in zip(one, two))
    assert sum(b["expected_breaks"] for b in two) > 1.5 * sum(a["expected_breaks"] for a in one)


def test_breaks_after_as_of_are_ignored(capsys, city, tmp_path: Path) -> None:
    pipes, breaks, ids = city
    c1, o1, _ = risk(capsys, "--pipes", str(pipes), "--breaks", str(breaks), "--as-of", "2015-06-01")
    trimmed = tmp_path / "b.csv"
    lines = breaks.read_text().splitlines()
    trimmed.write_text("\n".join([lines[0]] + [ln for ln in lines[1:] if ln.split(",")[1] <= "2015-06-01"]) + "\n")
    c2, o2, _ = risk(capsys, "--pipes", str(pipes), "--breaks", str(trimmed), "--as-of", "2015-06-01")
    assert c1 == c2 == 0 and o1 == o2


def _write(tmp_path: Path, name: str, text: str | bytes) -> str:
    p = tmp_path / name
    p.write_bytes(text if isinstance(text, bytes) else text.encode())
    return str(p)


PIPES = "id,material,diameter_mm,install_year,length_m\nA,CI,150,1950,100\nB,PVC,110,1990,80\n"
BREAKS = "pipe,date\nA,2020-03-01\n"


@pytest.mark.parametrize(("pipes", "breaks", "extra", "needle"), [
    ("id,material,diameter_mm,install_year\nA,CI,150,1950\n", BREAKS, [], "length_m"),
    (PIPES, "pipe,when\nA,2020-01-01\n", [], "'date'"),
    ("id,material,diameter_mm,install_year,length_m\nA,CI,150,1950,100\nA,PVC,110,1990,80\n", BREAKS, [], "duplicate pipe id 'A'"),
    ("id,material,diameter_mm,install_year,length_m\nA,CI,150,1950,-5\n", BREAKS, [], "length_m -5"),
    ("id,material,diameter_mm,install_year,length_m\nA,CI,-150,1950,5\n", BREAKS, [], "diameter_mm -150"),
    ("id,material,diameter_mm,install_year,length_m\nA,CI,big,1950,5\n", BREAKS, [], "diameter_mm 'big'"),
    ("id,material,diameter_mm,install_year,length_m\nA,CI,100,19x0,5\n", BREAKS, [], "install_year"),
    ("id,material,diameter_mm,install_year,length_m\nA,CI,100,1950,\n", BREAKS, [], "length_m is missing"),
    ("id,material,diameter_mm,install_year,length_m\nA,CI,100,1950\n", BREAKS, [], "fields"),
    ("id,material,diameter_mm,install_year,length_m\nA,CI,100,1950,NaN\n", BREAKS, [], "length_m is missing"),
    ("id,material,diameter_mm,install_year,length_m\nA,CI,inf,1950,5\n", BREAKS, [], "diameter_mm 'inf' is not a finite"),
    ("id,diameter_mm,install_year,length_m,soil\nA,100,1950,5,clay\n", BREAKS, [], "'material'"),
    (PIPES, "date\n2020-01-01\n", [], "'pipe'"),
    (PIPES, "pipe,date\nA,2020-13-01\n", [], "2020-13-01"),
    (PIPES, "pipe,date\nA,01/03/2020\n", [], "01/03/2020"),
    (PIPES, "pipe,date\nZ9,2020-03-01\n", [], "'Z9'"),
    (PIPES, "pipe,date\n,2020-03-01\n", [], "empty pipe id"),
    (PIPES, BREAKS, ["--horizon-days", "0"], "--horizon-days"),
    (PIPES, BREAKS, ["--horizon-days", "-30"], "--horizon-days"),
    (PIPES, BREAKS, ["--horizon-days", "abc"], "--horizon-days"),
    (PIPES, BREAKS, ["--as-of", "2020-02-30"], "--as-of"),
    ("", BREAKS, [], "empty"),
    (PIPES.encode() + b"C,CI,1\x0050,1950,5\n", BREAKS, [], "NUL"),
    (b"\xff\xfeid,material\n", BREAKS, [], "cannot read"),
])
def test_bad_input_exits_2_with_one_line(capsys, tmp_path: Path, pipes, breaks, extra, needle) -> None:
    args = ["--pipes", _write(tmp_path, "p.csv", pipes), "--breaks", _write(tmp_path, "b.csv", breaks)]
    if "--as-of" not in extra:
        args += ["--as-of", "2022-01-01"]
    code, out, err = risk(capsys, *args, *extra)
    assert code == 2
    assert out == ""
    assert err.count("\n") == 1 and err.startswith("error: "), err
    assert needle in err, err


def test_missing_file_and_missing_argument_exit_2(tmp_path: Path) -> None:
    res = run("risk", "--pipes", str(tmp_path / "nope.csv"), "--breaks", str(tmp_path / "nope2.csv"),
              "--as-of", "2022-01-01")
    assert res.returncode == 2 and res.stderr.count("\n") == 1 and "nope.csv" in res.stderr
    res = run("risk", "--pipes", "x.csv")
    assert res.returncode == 2 and res.stderr.count("\n") == 1 and "required" in res.stderr


def test_small_and_degenerate_inputs(capsys, tmp_path: Path) -> None:
    pipes = _write(tmp_path, "p.csv", "id,material,diameter_mm,install_year,length_m,street\n"
                                      "7,CI,150,1950,100,Main\n008,mystery,,1990,80,Side\n"
                                      "X,PE,110,2030,50,New\nZ,DI,200,1980,0,Stub\n")
    none = _write(tmp_path, "b0.csv", "pipe,date\n")
    code, out, _ = risk(capsys, "--pipes", pipes, "--breaks", none, "--as-of", "2022-01-01")
    assert code == 0
    res = json.loads(out)
    assert [r["pipe"] for r in res] == ["7", "008", "X", "Z"]         # ids as strings, as in the file
    by = {r["pipe"]: r["expected_breaks"] for r in res}
    assert by["7"] > 0 and by["008"] > 0
    assert by["X"] == 0 and by["Z"] == 0          # installed after the horizon; no length
    few = _write(tmp_path, "b1.csv", "pipe,date\n7,2019-05-01\n7,2020-05-01\n7,2021-05-01T10:00:00\n")
    code, out, _ = risk(capsys, "--pipes", pipes, "--breaks", few, "--as-of", "2022-01-01")
    assert code == 0
    by2 = {r["pipe"]: r["expected_breaks"] for r in json.loads(out)}
    assert by2["7"] > by["7"]
    header_only = _write(tmp_path, "p0.csv", "id,material,diameter_mm,install_year,length_m\n")
    code, out, _ = risk(capsys, "--pipes", header_only, "--breaks", none, "--as-of", "2022-01-01")
    assert code == 0 and json.loads(out) == []


def test_extra_columns_are_covariates_and_never_errors(capsys, city, tmp_path: Path) -> None:
    """Extra PIPES.csv columns (with NaN, text in a numeric column, blanks) change nothing in the
    contract: every pipe, in order, a number each; --info names the covariates used."""
    pipes, breaks, ids = city
    lines = pipes.read_text().splitlines()
    junk = ["clay", "sand", "NaN", "", "rock"]
    out_lines = [lines[0] + ",soil,pressure,note"]
    for i, ln in enumerate(lines[1:]):
        out_lines.append(ln + f",{junk[i % 5]},{'x' if i == 7 else (i % 13) * 1.5},row {i}")
    extra = _write(tmp_path, "p_extra.csv", "\n".join(out_lines) + "\n")
    code, out, err = risk(capsys, "--pipes", extra, "--breaks", str(breaks), "--as-of", "2022-01-01", "--info")
    assert code == 0, err
    res = json.loads(out)
    assert [r["pipe"] for r in res] == ids and all(r["expected_breaks"] >= 0 for r in res)
    info = json.loads(err.strip().splitlines()[-1])
    assert info["model"] == "selected"
    assert "soil (categorical)" in info["backtest"]["covariates"]
    assert "pressure (categorical)" in info["backtest"]["covariates"]     # one text cell: not numeric
    assert not any(c.startswith("note") for c in info["backtest"]["covariates"])   # identifier-like
