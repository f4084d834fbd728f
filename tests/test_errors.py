"""One-line errors, always: no traceback for a bad path, a folder given as a file, a file that is
not a database, a database that cannot be reached or refuses, a full disk or an encoding error;
under --json one object on stdout; REVIEWOPT_DEBUG=1 shows the traceback."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import create_engine, event, text
from sqlalchemy.exc import OperationalError

from models import jobs
from models.db import database_problem, make_engine, upgrade
from scripts.cli import cli
from scripts.context import cli_error

UNITS = "unit_id,name,type,city,province\nU1,江苏恒远集团有限公司,企业,南京,江苏\n"


def invoke(*args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(cli, ["--lang", "en", *args], env=env)


def one_line(result: Result, code: int, start: str) -> None:
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Error: " + start), lines[0]


@pytest.fixture
def db(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'r.db'}"
    eng = make_engine(url)
    upgrade(eng)
    eng.dispose()
    return url


def test_a_folder_given_as_a_file(db: str, tmp_path: Path) -> None:
    folder = tmp_path / "people.csv"
    folder.mkdir()
    result = invoke("--db", db, "import", "people", str(folder))
    assert result.exit_code == 3 and "Traceback" not in result.output
    assert f"{folder}: expected a file (this is a folder; name the file inside it)" in result.stderr


def test_a_missing_folder_or_a_file_for_import_all(db: str, tmp_path: Path) -> None:
    result = invoke("--db", db, "import", "all", str(tmp_path / "nowhere"))
    assert result.exit_code == 3 and "expected an existing folder" in result.stderr
    (tmp_path / "units.csv").write_text(UNITS)
    result = invoke("--db", db, "import", "all", str(tmp_path / "units.csv"))
    assert result.exit_code == 3 and "expected a folder (this is a file" in result.stderr


def test_a_file_that_is_not_a_database(tmp_path: Path) -> None:
    junk = tmp_path / "notes.db"
    junk.write_bytes(b"these are meeting notes, not a database " * 100)
    one_line(
        invoke("--db", f"sqlite:///{junk}", "screen"), 1, f"sqlite:///{junk} is not a reviewopt"
    )


def test_a_sqlite_file_in_a_missing_folder(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'no' / 'such' / 'r.db'}"
    one_line(invoke("--db", url, "init"), 1, "cannot open the SQLite database")


def test_an_unreachable_postgresql() -> None:
    url = "postgresql+psycopg://nobody@127.0.0.1:1/none?connect_timeout=3"
    one_line(invoke("--db", url, "screen"), 1, "cannot reach the database postgresql+psycopg://")


def test_a_url_reviewopt_cannot_use() -> None:
    one_line(invoke("--db", "nosuchdb://x/y", "screen"), 1, "the database URL nosuchdb://x/y")


def test_a_full_disk_while_writing_an_export(db: str) -> None:
    one_line(
        invoke("--db", db, "export", "units", "--out", "/dev/full"),
        1,
        "no space left on the disk while writing /dev/full",
    )


def test_a_full_disk_under_sqlite(tmp_path: Path) -> None:
    """SQLite's own 'database or disk is full', produced for real by a page limit."""
    eng = create_engine(f"sqlite:///{tmp_path / 'small.db'}")
    event.listen(eng, "connect", lambda c, _r: c.execute("PRAGMA max_page_count=2"))
    with pytest.raises(OperationalError) as info, eng.begin() as conn:
        conn.execute(text("CREATE TABLE t (x TEXT)"))
        for _ in range(50):
            conn.execute(text("INSERT INTO t VALUES (:x)"), {"x": "x" * 4000})
    eng.dispose()
    msg = database_problem(info.value, f"sqlite:///{tmp_path / 'small.db'}")
    assert msg is not None and msg.startswith(
        f"the disk of sqlite:///{tmp_path / 'small.db'} is full"
    )
    assert cli_error(info.value).exit_code == 1


def test_an_xlsx_export_into_a_missing_folder(db: str, tmp_path: Path) -> None:
    out = tmp_path / "no" / "units.xlsx"
    one_line(
        invoke("--db", db, "export", "units", "--format", "xlsx", "--out", str(out)),
        1,
        f"{out}: no such file or folder",
    )


def test_errors_under_json_are_one_object_on_stdout(tmp_path: Path) -> None:
    junk = tmp_path / "notes.db"
    junk.write_bytes(b"not a database " * 100)
    result = invoke("--db", f"sqlite:///{junk}", "--lang", "zh", "screen", "--json")
    assert result.exit_code == 1
    assert result.stderr == ""
    out = json.loads(result.stdout)
    assert set(out) == {"error", "exit_code", "problems"}
    assert out["exit_code"] == 1 and out["problems"] == []
    assert out["error"].startswith(f"sqlite:///{junk} is not a reviewopt database")


def test_debug_shows_the_traceback(tmp_path: Path) -> None:
    junk = tmp_path / "notes.db"
    junk.write_bytes(b"not a database " * 100)
    quiet = invoke("--db", f"sqlite:///{junk}", "screen")
    assert "Traceback" not in quiet.output
    loud = invoke("--db", f"sqlite:///{junk}", "screen", env={"REVIEWOPT_DEBUG": "1"})
    assert loud.exit_code == 1
    assert "Traceback (most recent call last)" in loud.stderr
    assert "file is not a database" in loud.stderr
    assert loud.stderr.strip().splitlines()[-1].startswith("Error: ")


def test_an_unexpected_error_is_one_line_too(
    db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("the solver fell over")

    monkeypatch.setattr(jobs, "import_kind", broken)
    (tmp_path / "units.csv").write_text(UNITS)
    one_line(
        invoke("--db", db, "import", "units", str(tmp_path / "units.csv")),
        1,
        "internal error (RuntimeError: the solver fell over); please report it",
    )


@pytest.mark.postgres
def test_a_nul_byte_sent_to_postgresql_is_one_line() -> None:
    pg = os.environ.get("REVIEWOPT_TEST_PG_URL")
    if not pg:
        pytest.skip(
            "REVIEWOPT_TEST_PG_URL is not set (no PostgreSQL server for the database tests)"
        )
    eng = create_engine(pg)
    with pytest.raises(Exception) as info, eng.connect() as conn:
        conn.execute(text("SELECT :x"), {"x": "a\x00b"})
    eng.dispose()
    err = cli_error(info.value)
    assert err.exit_code == 1
    assert "refused a text with a NUL character" in err.format_message()
