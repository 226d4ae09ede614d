"""``python -m billing recalc FILE.json``: the exact JSON contract and one-line errors (exit 2)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from apps.cli.billing import main
from settings import ROOT

HELSINKI = ROOT / "billing" / "rules" / "helsinki.yaml"
KEYS = ["id", "interruption_h", "allowance_h", "excess_h", "reduction_pct", "reduction_rub"]


def item(**over: Any) -> dict[str, Any]:
    base = {"id": "acc-1", "service": "cold_water", "period": "2024-01", "charge_rub": 1000,
            "interruptions": [{"start": "2024-01-10T08:00:00+03:00", "end": "2024-01-10T22:30:00+03:00"}]}
    base.update(over)
    return base


def run_main(tmp_path: Path, capsys: pytest.CaptureFixture[str], payload: Any, *extra: str,
             raw: bytes | None = None) -> tuple[int, str, str]:
    path = tmp_path / "in.json"
    path.write_bytes(raw if raw is not None else json.dumps(payload, ensure_ascii=False).encode("utf-8"))
    code = main(["recalc", str(path), *extra])
    out, err = capsys.readouterr()
    return code, out, err


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "billing", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=60, env={**os.environ, **(env or {})})


# ---- the output contract, through the real command

def test_cli_prints_a_json_list_of_numbers_in_input_order(tmp_path: Path) -> None:
    items = [
        item(id="b", service="heating", period="2024-02", charge_rub=29,
             interruptions=[{"start": "2024-02-01T00:00:00+03:00", "end": "2024-02-02T03:20:00+03:00"}]),
        item(id=7, service="electricity", electricity_sources=1,
             interruptions=[{"start": "2024-01-31T19:00:00Z", "end": "2024-02-01T01:00:00Z"}]),
        item(id="a"),
        item(id="gas", service="gas", charge_rub=1200.5,
             interruptions=[{"start": "2024-01-02T10:00+03:00", "end": "2024-01-02T15:07+03:00"}]),
    ]
    path = tmp_path / "items.json"
    path.write_text(json.dumps(items), encoding="utf-8")
    proc = run_cli("recalc", str(path))
    assert proc.returncode == 0 and proc.stderr == ""
    out = json.loads(proc.stdout, parse_float=Decimal)
    assert [list(row) for row in out] == [KEYS] * 4
    assert out == [
        # 27 h 20 min − 24 h = 3.3333 h; 0.5 %; 29 × 0.005 = 0.145 → 0.15 (half-up)
        {"id": "b", "interruption_h": Decimal("27.3333"), "allowance_h": Decimal("24.0"),
         "excess_h": Decimal("3.3333"), "reduction_pct": Decimal("0.5"), "reduction_rub": Decimal("0.15")},
        # Jan 31 22:00–24:00 Moscow only; one source → 24 h allowance
        {"id": 7, "interruption_h": Decimal("2.0"), "allowance_h": Decimal("24.0"), "excess_h": Decimal("0.0"),
         "reduction_pct": Decimal("0.0"), "reduction_rub": Decimal("0.0")},
        {"id": "a", "interruption_h": Decimal("14.5"), "allowance_h": Decimal("8.0"), "excess_h": Decimal("6.5"),
         "reduction_pct": Decimal("0.975"), "reduction_rub": Decimal("9.75")},
        # 1 h 7 min excess: 0.1675 %; 1200.5 × 0.001675 = 2.0108375 → 2.01
        {"id": "gas", "interruption_h": Decimal("5.1167"), "allowance_h": Decimal("4.0"),
         "excess_h": Decimal("1.1167"), "reduction_pct": Decimal("0.1675"), "reduction_rub": Decimal("2.01")},
    ]
    # numbers, never strings
    assert '"reduction_rub": 0.15' in proc.stdout and '"14.5"' not in proc.stdout


def test_cli_empty_list_gives_an_empty_list(tmp_path: Path) -> None:
    path = tmp_path / "empty.json"
    path.write_text("[]", encoding="utf-8")
    proc = run_cli("recalc", str(path))
    assert proc.returncode == 0 and proc.stdout.strip() == "[]"


def test_cli_takes_the_region_from_ZHKH_BILLING_RULES_FILE(tmp_path: Path) -> None:
    # 23:30–23:50 on Jan 31 in Helsinki (+02:00) is February in Moscow
    path = tmp_path / "items.json"
    path.write_text(json.dumps([item(service="gas", interruptions=[
        {"start": "2024-01-31T23:30:00+02:00", "end": "2024-01-31T23:50:00+02:00"}])]), encoding="utf-8")
    helsinki = json.loads(run_cli("recalc", str(path), env={"ZHKH_BILLING_RULES_FILE": str(HELSINKI)}).stdout)
    assert helsinki[0]["interruption_h"] == 0.3333
    # a relative path is found from the project root too
    relative = json.loads(run_cli("recalc", str(path), env={"ZHKH_BILLING_RULES_FILE": "billing/rules/default.yaml"}).stdout)
    assert relative[0]["interruption_h"] == 0.0


def test_cli_bad_input_exits_2_with_one_line_naming_the_item(tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    path.write_text(json.dumps([item(), item(id="x-9", service="water")]), encoding="utf-8")
    proc = run_cli("recalc", str(path))
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr
    assert 'item [1] (id "x-9")' in proc.stderr and 'unknown service "water"' in proc.stderr


def test_cli_a_broken_rules_file_exits_2(tmp_path: Path) -> None:
    rules = tmp_path / "r.yaml"
    rules.write_text("region: x\ntime_zone: Nowhere/Else\n", encoding="utf-8")
    (tmp_path / "in.json").write_text("[]", encoding="utf-8")
    proc = run_cli("recalc", str(tmp_path / "in.json"), env={"ZHKH_BILLING_RULES_FILE": str(rules)})
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1 and "r.yaml" in proc.stderr


# ---- in-process: the same entry point, many cases

def test_services_and_aliases(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    span = [{"start": "2024-04-10T00:00+03:00", "end": "2024-04-11T06:00+03:00"}]  # 30 h
    items = [item(id=s, service=s, period="2024-04", interruptions=span)
             for s in ("cold_water", "hot_water", "sewer", "sewerage", "wastewater", "heating", "gas")]
    items += [item(id="e2", service="electricity", period="2024-04", interruptions=span, electricity_sources=2),
              item(id="e1", service="electricity", period="2024-04", interruptions=span, electricity_sources=1),
              item(id="e?", service="electricity", period="2024-04", interruptions=span),
              item(id="e-null", service="electricity", period="2024-04", interruptions=span, electricity_sources=None),
              item(id="gas-src", service="gas", period="2024-04", interruptions=span, electricity_sources="many")]
    code, out, err = run_main(tmp_path, capsys, items)
    assert code == 0, err
    rows = {r["id"]: r for r in json.loads(out)}
    assert [r["id"] for r in json.loads(out)] == [i["id"] for i in items]
    expect = {"cold_water": 8, "hot_water": 8, "sewer": 8, "sewerage": 8, "wastewater": 8, "heating": 24,
              "gas": 4, "e2": 2, "e1": 24, "e?": 2, "e-null": 2, "gas-src": 4}
    for key, allowance in expect.items():
        assert rows[key]["allowance_h"] == allowance
        assert rows[key]["excess_h"] == 30 - allowance
        assert rows[key]["reduction_rub"] == float(Decimal(1000 * 15 * (30 - allowance)) / 10000)


def test_overlaps_and_month_clipping_through_the_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ivs = [{"start": "2024-01-31T22:00:00+03:00", "end": "2024-02-01T04:00:00+03:00"},
           {"start": "2024-01-31T20:00:00+01:00", "end": "2024-02-01T01:00:00+01:00"},  # the same span, +01:00
           {"start": "2024-02-01T03:00:00+03:00", "end": "2024-02-01T03:00:00+03:00"}]
    code, out, _ = run_main(tmp_path, capsys, [item(id="jan", interruptions=ivs),
                                               item(id="feb", period="2024-02", interruptions=ivs)])
    assert code == 0
    jan, feb = json.loads(out)
    assert (jan["interruption_h"], feb["interruption_h"]) == (2.0, 4.0)


def test_cap_at_the_whole_charge_and_decimal_charges(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    month = [{"start": "2023-12-20T00:00Z", "end": "2024-02-10T00:00Z"}]
    code, out, _ = run_main(tmp_path, capsys, [item(charge_rub=1234.56, interruptions=month)])
    (row,) = json.loads(out)
    assert code == 0 and row["interruption_h"] == 744.0 and row["excess_h"] == 736.0
    assert row["reduction_pct"] == 100.0 and row["reduction_rub"] == 1234.56


def test_whole_hours_through_a_rules_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rules = tmp_path / "whole.yaml"
    rules.write_text(f"extends: {ROOT / 'billing' / 'rules' / 'default.yaml'}\nregion: w\nexcess_whole_hours: true\n",
                     encoding="utf-8")
    code, out, err = run_main(tmp_path, capsys, [item()], "--rules", str(rules))
    assert code == 0, err
    (row,) = json.loads(out)
    assert row["interruption_h"] == 14.5 and row["excess_h"] == 6.0
    assert row["reduction_pct"] == 0.9 and row["reduction_rub"] == 9.0


def test_dst_month_in_helsinki(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    whole = [{"start": "2024-02-20T00:00Z", "end": "2024-11-20T00:00Z"}]
    code, out, _ = run_main(tmp_path, capsys, [item(id="mar", period="2024-03", interruptions=whole),
                                               item(id="oct", period="2024-10", interruptions=whole)],
                            "--rules", str(HELSINKI))
    mar, oct_ = json.loads(out)
    assert code == 0 and mar["interruption_h"] == 743.0 and oct_["interruption_h"] == 745.0


def test_output_carries_the_id_as_given(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_main(tmp_path, capsys, [item(id="лс-001"), item(id=42), item(id="lс-001")])
    assert code == 0 and [r["id"] for r in json.loads(out)] == ["лс-001", 42, "lс-001"]


BAD: list[tuple[str, Any, str]] = [
    ("object at the top", {"items": []}, "expected a JSON list"),
    ("string at the top", "x", "expected a JSON list"),
    ("item not an object", [item(), [1, 2]], "item [1]: must be a JSON object"),
    ("missing id", [{k: v for k, v in item().items() if k != "id"}], "item [0]: missing field id"),
    ("missing service", [{k: v for k, v in item().items() if k != "service"}], "missing field service"),
    ("missing interruptions", [{k: v for k, v in item().items() if k != "interruptions"}], "missing field interruptions"),
    ("missing charge", [{k: v for k, v in item().items() if k != "charge_rub"}], "missing field charge_rub"),
    ("id null", [item(id=None)], "id must be a string or an integer"),
    ("id NUL", [item(id="a\u0000b")], "NUL"),
    ("unknown service", [item(id="u1", service="water")], 'item [0] (id "u1"): unknown service "water"'),
    ("service not a string", [item(service=5)], "unknown service 5"),
    ("bad period", [item(period="2024-13")], "period"),
    ("period format", [item(period="01.2024")], "period must be YYYY-MM"),
    ("negative charge", [item(id="neg", charge_rub=-0.01)], 'item [0] (id "neg"): charge_rub must not be negative'),
    ("string charge", [item(charge_rub="100")], "charge_rub must be a number"),
    ("bool charge", [item(charge_rub=True)], "charge_rub must be a number"),
    ("null charge", [item(charge_rub=None)], "charge_rub must be a number"),
    ("time without offset", [item(interruptions=[{"start": "2024-01-10T08:00:00", "end": "2024-01-10T09:00:00+03:00"}])],
     "interruptions[0].start: \"2024-01-10T08:00:00\" has no offset"),
    ("date only", [item(interruptions=[{"start": "2024-01-10", "end": "2024-01-11T00:00Z"}])], "has no offset"),
    ("not a time", [item(interruptions=[{"start": "yesterday", "end": "2024-01-11T00:00Z"}])], "not an ISO 8601 time"),
    ("end before start", [item(id=3, interruptions=[{"start": "2024-01-10T09:00Z", "end": "2024-01-10T08:59Z"}])],
     "item [0] (id 3): interruptions[0]: end 2024-01-10T08:59:00+00:00 is before start"),
    ("end missing", [item(interruptions=[{"start": "2024-01-10T09:00Z"}])], "interruptions[0].end: missing"),
    ("end null", [item(interruptions=[{"start": "2024-01-10T09:00Z", "end": None}])], "interruptions[0].end: missing"),
    ("interruption not an object", [item(interruptions=["2024-01-10T09:00Z"])], "must be an object"),
    ("interruptions not a list", [item(interruptions={"start": "2024-01-10T09:00Z"})], "must be a list"),
    ("electricity sources 3", [item(service="electricity", electricity_sources=3)], "electricity_sources must be 1 or 2"),
    ("electricity sources string", [item(service="electricity", electricity_sources="2")], "electricity_sources"),
    ("electricity sources bool", [item(service="electricity", electricity_sources=True)], "electricity_sources"),
]


@pytest.mark.parametrize(("payload", "message"), [(p, m) for _, p, m in BAD], ids=[n for n, _, _ in BAD])
def test_bad_input_exits_2_one_line(payload: Any, message: str, tmp_path: Path,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_main(tmp_path, capsys, payload)
    assert code == 2 and out == ""
    assert err.startswith("error: ") and err.endswith("\n") and err.count("\n") == 1
    assert message in err


@pytest.mark.parametrize(("raw", "message"), [
    (b'[{"id": "a", "charge_rub": NaN}]', "finite"),
    (b'[{"id": "a", "service": "gas", "period": "2024-01", "charge_rub": Infinity, "interruptions": []}]',
     'item [0] (id "a"): charge_rub must be a finite number'),
    (b'[{"id": "a", "service": "gas", "period": "2024-01", "charge_rub": -Infinity, "interruptions": []}]', "finite"),
    (b'[{"id": "a", "service": "gas", "period": "2024-01", "charge_rub": 1e999, "interruptions": []}]',
     "implausibly large"),
    (b'[{"id": "a"\x00}]', "NUL byte (line 1"),
    (b'[{"id": "\xff"}]', "not UTF-8"),
    (b'[{"id": "a",}]', "not valid JSON"),
    (b"", "empty file"),
    (b"\xef\xbb\xbf[1]", "item [0]: must be a JSON object"),  # a BOM is fine, the content is not
    (b"[" * 100000 + b"]" * 100000, "not valid JSON"),
])
def test_bad_files_exit_2_one_line(raw: bytes, message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_main(tmp_path, capsys, None, raw=raw)
    assert code == 2 and out == "" and err.count("\n") == 1 and message in err


def test_every_problem_of_the_first_bad_item_on_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run_main(tmp_path, capsys, [item(), item(id="z", service="x", charge_rub=-1), item(period="x")])
    assert code == 2 and err.count("\n") == 1
    assert 'item [1] (id "z")' in err and "unknown service" in err and "negative" in err
    assert "(and 1 more invalid item)" in err


def test_missing_and_unreadable_files_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for target in (tmp_path / "nope.json", tmp_path):
        assert main(["recalc", str(target)]) == 2
        _, err = capsys.readouterr()
        assert err.count("\n") == 1 and "cannot read" in err and str(target) in err


def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    for argv in ([], ["recalc"], ["nonsense"]):
        with pytest.raises(SystemExit) as exc:
            main(argv)
        assert exc.value.code == 2
        _, err = capsys.readouterr()
        assert "error:" in err and "Traceback" not in err
