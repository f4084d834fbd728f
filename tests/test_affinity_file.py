"""Reading affinity computed elsewhere: every bad row reported, nothing loaded."""

from __future__ import annotations

from pathlib import Path

import pytest

from assign.affinity_file import AffinityFileError, load_affinity_file
from assign.sparse_affinity import SparseAffinity


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "scores.csv"
    path.write_text(text, encoding="utf-8")
    return path


def test_load_affinity_file(tmp_path: Path) -> None:
    path = _write(tmp_path, "proposal,expert,score\nP2,E1,0.5\nP1,E2,1\n\nP1,E1,0\n")
    aff = load_affinity_file(path, proposal_ids=["P1", "P2"], expert_ids=["E1", "E2"])
    assert isinstance(aff, SparseAffinity)
    assert aff.cand_p.tolist() == [0, 0, 1]
    assert aff.cand_e.tolist() == [0, 1, 0]
    assert aff.cand_w.tolist() == [0.0, 1.0, 0.5]


def test_load_affinity_file_reports_every_bad_row(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "proposal,expert,score\nP1,E1,0.5\nP9,E1,0.2\nP1,E7,x\nP2,E2,1.5\nP1,E1,0.3\nP2,E1,\n"
        "P2,E2\n",
    )
    with pytest.raises(AffinityFileError) as err:
        load_affinity_file(path, proposal_ids=["P1", "P2"], expert_ids=["E1", "E2"])
    assert str(err.value) == (
        f"affinity file {path} has 7 problem(s); nothing was loaded. "
        "Fix these rows and load it again:\n"
        "  row 3, column proposal: 'P9' is not a proposal of this batch; "
        "expected one of the batch's proposal ids\n"
        "  row 4, column expert: 'E7' is not an expert of this batch; "
        "expected one of the batch's expert ids\n"
        "  row 4, column score: 'x' is not a number; expected a number in [0, 1]\n"
        "  row 5, column score: '1.5' is outside [0, 1]; expected a number in [0, 1]\n"
        "  row 6, columns proposal+expert: ('P1', 'E1') repeats row 2; expected each pair once\n"
        "  row 7, column score: '' is empty; expected a number in [0, 1]\n"
        "  row 8: 2 cells; expected 3 (proposal, expert, score)"
    )


def test_load_affinity_file_caps_the_list(tmp_path: Path) -> None:
    rows = "".join(f"P1,E1,{2 + i}\n" for i in range(5))
    path = _write(tmp_path, "proposal,expert,score\n" + rows)
    with pytest.raises(AffinityFileError) as err:
        load_affinity_file(path, proposal_ids=["P1"], expert_ids=["E1"], max_problems=2)
    msg = str(err.value)
    assert msg.startswith(f"affinity file {path} has 9 problem(s)")
    assert msg.endswith("\n  ... and 7 more")
    assert msg.count("\n  row ") == 2


def test_load_affinity_file_bad_header(tmp_path: Path) -> None:
    path = _write(tmp_path, "p,e,w\nP1,E1,0.5\n")
    with pytest.raises(AffinityFileError) as err:
        load_affinity_file(path, proposal_ids=["P1"], expert_ids=["E1"])
    assert str(err.value) == (
        f"affinity file {path}: header is p,e,w; expected proposal,expert,score"
    )
