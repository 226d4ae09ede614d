"""The fast .inp topology reader gives the same model as the WNTR adapter."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from network import InputFileError, read_inp, read_inp_topology
from tests.network.test_segments import NETWORKS


@pytest.mark.parametrize("name", ["Net1", "Net2", "Net3", "Net6", "ky4", "ky10"])
def test_topology_reader_matches_wntr(name: str) -> None:
    path = NETWORKS / f"{name}.inp"
    fast, ref = read_inp_topology(path), read_inp(path)
    assert sorted(fast.link_ids) == sorted(ref.link_ids)
    assert sorted(fast.node_ids[fast.is_source]) == sorted(ref.node_ids[ref.is_source])
    f = dict(zip(fast.link_ids, zip(fast.node_ids[fast.link_start], fast.node_ids[fast.link_end], fast.link_length_m)))
    r = dict(zip(ref.link_ids, zip(ref.node_ids[ref.link_start], ref.node_ids[ref.link_end], ref.link_length_m)))
    assert {k: v[:2] for k, v in f.items()} == {k: v[:2] for k, v in r.items()}
    assert np.allclose([f[k][2] for k in r], [r[k][2] for k in r])


def test_unreadable_and_garbage_files_raise(tmp_path: Path) -> None:
    with pytest.raises(InputFileError, match="missing.inp"):
        read_inp_topology(tmp_path / "missing.inp")
    junk = tmp_path / "junk.inp"
    junk.write_text("hello world\n")
    with pytest.raises(InputFileError, match="junk.inp"):
        read_inp_topology(junk)
    with pytest.raises(InputFileError, match="missing.inp"):
        read_inp(tmp_path / "missing.inp")
    bad = tmp_path / "bad.inp"
    bad.write_text("[JUNCTIONS]\nJ1 0\n[PIPES]\nP1 J1\n")
    with pytest.raises(InputFileError, match=r"bad.inp:4"):
        read_inp_topology(bad)
    dangling = tmp_path / "dangling.inp"
    dangling.write_text("[JUNCTIONS]\nJ1 0\n[PIPES]\nP1 J1 J9 10 100 100 0\n")
    with pytest.raises(InputFileError, match="J9"):
        read_inp_topology(dangling)
