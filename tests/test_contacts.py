"""People's phone and e-mail: validated on import with file, row, column and value; present in
the invitations and nowhere else (other exports, the audit log, any --json output)."""

from __future__ import annotations

import io
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
from click.testing import CliRunner
from conftest import BatchRun
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from models import jobs
from models.checks import email_ok, phone_ok
from models.schema import Person
from models.views import VIEWS
from scripts.cli import cli as reviewopt

UNITS = "unit_id,name,type,province\nU1,江苏恒远集团有限公司,企业,江苏\n"
HEAD = "person_id,name,unit_id,phone,email\n"


def contacts(run: BatchRun) -> set[str]:
    people = pd.read_csv(run.batch_dir / "people.csv", dtype=str)
    values = set(people["phone"].dropna()) | set(people["email"].dropna())
    assert len(values) > 100
    return values


def out(url: str, *args: str) -> str:
    result = CliRunner().invoke(reviewopt, ["--db", url, *args])
    assert result.exit_code == 0, result.output
    return result.stdout


@pytest.mark.parametrize(
    "good",
    [
        "13812345678",
        "+86 138 1234 5678",
        "025-83791234转123",
        "(0512)6789-1234",
        "+44 20 7946 0958",
    ],
)
def test_phone_numbers_accepted(good: str) -> None:
    assert phone_ok(good)


@pytest.mark.parametrize("bad", ["12345", "1381234567", "13812345678;13912345678", "电话", "+0 12"])
def test_phone_numbers_refused(bad: str) -> None:
    assert not phone_ok(bad)


def test_email_forms() -> None:
    assert email_ok("zhang.wei@nju.edu.cn") and email_ok("a+b@example.org")
    for bad in ("张伟 <a@b.cn>", "a@b", "a@@b.cn", "a b@c.cn", ".a@b.cn", "a@b.cn;c@d.cn"):
        assert not email_ok(bad), bad


def _url(engine: Engine) -> str:
    return engine.url.render_as_string(hide_password=False)


def test_bad_contacts_are_refused_with_where_and_what(engine: Engine, tmp_path: Path) -> None:
    (tmp_path / "units.csv").write_text(UNITS, encoding="utf-8")
    jobs.import_kind(engine, "units", tmp_path / "units.csv", actor="t")
    path = tmp_path / "people.csv"
    path.write_text(
        HEAD + "P1,张伟,U1,13812345678,zhang@example.org\nP2,李娜,U1,8379,li at example\n",
        encoding="utf-8",
    )
    result = CliRunner().invoke(reviewopt, ["--db", _url(engine), "import", "people", str(path)])
    assert result.exit_code == 3
    err = result.stderr.replace(str(tmp_path) + "/", "")
    assert "people.csv, row 3, column phone: got '8379'; expected one phone number" in err
    assert "people.csv, row 3, column email: got 'li at example'; expected one e-mail" in err
    with Session(engine) as s:
        assert s.get(Person, "P1") is None  # nothing written


def test_a_file_without_contact_columns_keeps_them(engine: Engine, tmp_path: Path) -> None:
    (tmp_path / "units.csv").write_text(UNITS, encoding="utf-8")
    jobs.import_kind(engine, "units", tmp_path / "units.csv", actor="t")
    full = tmp_path / "people.csv"
    full.write_text(HEAD + "P1,张伟,U1,13812345678,zhang@example.org\n", encoding="utf-8")
    jobs.import_kind(engine, "people", full, actor="t")
    exported = tmp_path / "people_out.csv"
    exported.write_bytes(out(_url(engine), "export", "people").encode("utf-8"))
    assert "13812345678" not in exported.read_text(encoding="utf-8")
    renamed = exported.read_text(encoding="utf-8").replace("张伟", "张伟伟")
    exported.write_text(renamed, encoding="utf-8")
    counts = jobs.import_kind(engine, "people", exported, actor="t")
    assert (counts.updated, counts.unchanged) == (1, 0)
    with Session(engine) as s:
        person = s.get(Person, "P1")
        assert person is not None and person.name == "张伟伟"
        assert (person.phone, person.email) == ("13812345678", "zhang@example.org")
    withheld = out(_url(engine), "export", "people", "--with-contacts")
    assert "13812345678" in withheld and "zhang@example.org" in withheld


def test_contacts_only_in_the_invitations(batch_run: BatchRun, tmp_path: Path) -> None:
    secret = contacts(batch_run)
    invitations = out(batch_run.url, "export", "invitations")
    assert sum(v in invitations for v in secret) > 10  # they are there to send invitations
    for view in VIEWS:
        if view != "invitations":
            text = out(batch_run.url, "export", view)
            assert not [v for v in secret if v in text], view
    people = pd.read_csv(io.StringIO(out(batch_run.url, "export", "people").lstrip("\ufeff")))
    assert not {"phone", "email"} & set(people.columns)
    path = tmp_path / "assignments.xlsx"
    out(batch_run.url, "--lang", "zh", "export", "assignments", "--format", "xlsx", "--out",
        str(path))  # fmt: skip
    cells = {str(v) for row in openpyxl.load_workbook(path).active.iter_rows(values_only=True)
             for v in row}  # fmt: skip
    assert not cells & secret


def test_contacts_stay_out_of_the_audit_log_and_json(batch_run: BatchRun) -> None:
    secret = contacts(batch_run)
    assert '"events"' in batch_run.outputs["audit"]
    for step, text in batch_run.outputs.items():
        if step.startswith("invited"):
            continue  # CSV exports, checked above
        assert not [v for v in secret if v in text], step
    audit = out(batch_run.url, "export", "audit")
    assert not [v for v in secret if v in audit]
