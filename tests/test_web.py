"""The web workbench's rules, checked over HTTP: logins and their limit, the session cookie,
CSRF, roles (403 whatever the page showed), viewers' pseudonyms, escaping, uploads, jobs and
the queue. The pages read a copy of the small batch the CLI took through every stage."""

from __future__ import annotations

import json
import re
import shutil
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from click.testing import CliRunner
from sqlalchemy import Engine, select, update
from starlette.testclient import TestClient

from models import queue
from models.db import audit, make_engine, session
from models.i18n import using
from models.schema import Assignment, Expert, Person
from models.server_tables import Job, Upload
from models.users import add_user
from scripts.cli import cli
from tests.conftest import BatchRun
from web.app import create_app

PASSWORD = "correct horse battery"
ROLES = ("officer", "chair", "viewer", "admin")
HOSTILE = "<script>alert(1)</script>"


def csrf(page: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found, page[:500]
    return found.group(1)


def login(client: TestClient, name: str, password: str = PASSWORD) -> str:
    """Log ``name`` in; returns the CSRF token of the session."""
    token = csrf(client.get("/login").text)
    r = client.post("/login", data={"username": name, "password": password, "csrf_token": token})
    assert r.status_code == 200 and r.url.path == "/", r.text[:300]
    return csrf(client.get("/").text)


def wait_job(client: TestClient, job_id: str, timeout: float = 240) -> str:
    """The job's state once it is done or failed (the page's ``data-state``)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = re.search(r'data-state="(\w+)"', client.get(f"/jobs/{job_id}/state").text)
        assert state
        if state.group(1) in ("done", "failed"):
            return state.group(1)
        time.sleep(0.5)
    raise AssertionError(f"job {job_id} did not end in {timeout} s")


@pytest.fixture(scope="module")
def site(sqlite_batch_run: BatchRun, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple]:
    """The app over a copy of the finalised small batch (SQLite), with one user per role."""
    batch_run = sqlite_batch_run
    db = tmp_path_factory.mktemp("web") / "web.db"
    shutil.copy(batch_run.url.removeprefix("sqlite:///"), db)
    url = f"sqlite:///{db}"
    engine = make_engine(url)
    for role in ROLES:
        add_user(engine, role, role=role, password=PASSWORD, actor="test")
    yield create_app(url), engine, "2024", batch_run
    engine.dispose()


def client(site: tuple) -> TestClient:
    return TestClient(site[0], base_url="http://testserver")


def test_healthz_answers_without_a_login(site: tuple) -> None:
    with client(site) as c:
        r = c.get("/healthz")
    assert r.status_code == 200 and r.json() == {"status": "ok"}


def test_pages_need_a_login(site: tuple) -> None:
    with client(site) as c:
        r = c.get("/batches/2024", follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"] == "/login?next=/batches/2024"
        token = csrf(c.get("/login").text)
        r = c.post("/batches/2024/run/screen", data={"csrf_token": token})
        assert r.status_code == 403


def test_the_session_cookie_is_signed_httponly_and_samesite_lax(site: tuple) -> None:
    with client(site) as c:
        login(c, "officer")
        raw = c.cookies.get("reviewopt_session")
        assert raw
        c.cookies.clear()
        c.cookies.set("reviewopt_session", raw[:-4] + "AAAA")
        assert c.get("/", follow_redirects=False).status_code == 303  # tampered: no session
    with client(site) as c:
        token = csrf(c.get("/login").text)
        r = c.post(
            "/login",
            data={"username": "officer", "password": PASSWORD, "csrf_token": token},
            follow_redirects=False,
        )
        cookie = r.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie


def test_wrong_passwords_are_limited_per_user_and_address(site: tuple) -> None:
    with client(site) as c:
        token = csrf(c.get("/login").text)
        codes = [
            c.post(
                "/login", data={"username": "chair", "password": "wrong!", "csrf_token": token}
            ).status_code
            for _i in range(5)
        ]
        assert codes == [401] * 5
        r = c.post("/login", data={"username": "chair", "password": PASSWORD, "csrf_token": token})
        assert r.status_code == 429
    engine = site[1]
    from models.server_tables import LoginAttempt

    with session(engine) as s, s.begin():  # let the other tests log the chair in
        s.execute(LoginAttempt.__table__.delete())


def test_a_post_without_the_csrf_token_is_refused_and_changes_nothing(site: tuple) -> None:
    with client(site) as c:
        login(c, "officer")
        before = _jobs(site[1])
        r = c.post("/batches/2024/run/screen", data={})
        assert r.status_code == 403
        r = c.post("/batches/2024/run/screen", data={"csrf_token": "forged"})
        assert r.status_code == 403
        assert _jobs(site[1]) == before


def _jobs(engine: Engine) -> int:
    with session(engine) as s:
        return len(list(s.scalars(select(Job.id))))


@pytest.mark.parametrize(
    ("role", "path", "data"),
    [
        ("viewer", "/batches/2024/run/screen", {}),
        ("viewer", "/batches/2024/run/override", {"proposal": "x", "action": "clear"}),
        ("viewer", "/users", {"action": "add", "name": "x", "role": "admin"}),
        ("chair", "/batches/2024/run/assign", {}),
        ("chair", "/upload", {"kind": "people"}),
        ("officer", "/batches/2024/run/finalize", {}),
        ("officer", "/batches/2024/run/unlock", {"reason": "x"}),
        ("admin", "/batches/2024/run/select", {}),
    ],
)
def test_a_role_is_refused_outside_its_rights(
    site: tuple, role: str, path: str, data: dict
) -> None:
    with client(site) as c:
        token = login(c, role)
        before = _jobs(site[1])
        r = c.post(path, data={**data, "csrf_token": token})
        assert r.status_code == 403
        assert _jobs(site[1]) == before


def test_only_officers_download_the_invitations(site: tuple) -> None:
    for role, code in (("officer", 200), ("chair", 403), ("viewer", 403)):
        with client(site) as c:
            login(c, role)
            r = c.get("/batches/2024/export/invitations.xlsx")
            assert r.status_code == code, role
    with client(site) as c:
        login(c, "admin")
        assert c.get("/users").status_code == 200
        login(c, "officer")
        assert c.get("/users").status_code == 403


def _expert_names(engine: Engine) -> dict[str, str]:
    with session(engine) as s:
        rows = s.execute(
            select(Expert.expert_id, Person.name).join(Person, Person.person_id == Expert.expert_id)
        ).all()
    return {e: n for e, n in rows}


@pytest.mark.parametrize(
    "path",
    [
        "/batches/2024/assign",
        "/batches/2024/assign?view=experts",
        "/batches/2024/pool",
        "/batches/2024/declines",
        "/audit",
    ],
)
def test_a_viewer_sees_no_expert_name_or_id(site: tuple, path: str) -> None:
    experts = _expert_names(site[1])
    with client(site) as c:
        login(c, "officer")
        officer_page = c.get(path).text
        login(c, "viewer")
        page = c.get(path).text
    shown = [e for e in experts if e in officer_page]
    assert shown or path == "/audit"  # the officer's page names experts
    leaks = [e for e in experts if e in page] + [
        n for n in experts.values() if len(n) > 1 and n in page
    ]
    assert leaks == []
    if shown:
        assert re.search(r"(专家|Expert )[A-Z]+", page)


def test_the_same_expert_has_the_same_pseudonym_on_every_page(site: tuple) -> None:
    with client(site) as c:
        login(c, "viewer")
        per_expert = c.get("/batches/2024/assign?view=experts").text
        per_proposal = c.get("/batches/2024/assign").text
    first = re.findall(r"(?:专家|Expert )[A-Z]+", per_expert)
    assert first and set(first[:5]) <= set(re.findall(r"(?:专家|Expert )[A-Z]+", per_proposal))


def test_an_invalid_upload_fails_with_every_row_named_and_writes_nothing(site: tuple) -> None:
    bad = "person_id,name,title\nR9000001,新人,professor\nR9000002,,senior\n".encode()
    with client(site) as c:
        token = login(c, "officer")
        r = c.post(
            "/upload",
            data={"csrf_token": token, "kind": "people"},
            files=[("files", ("人员.csv", bad, "text/csv"))],
        )
        job_id = r.url.path.rsplit("/", 1)[1]
        assert wait_job(c, job_id) == "failed"
        page = c.get(f"/jobs/{job_id}").text
    assert "人员.csv" in page and "professor" in page
    assert page.count("<tr>") >= 3  # header and a row per problem
    with session(site[1]) as s:
        assert s.get(Person, "R9000001") is None
        assert s.scalar(select(Upload.name).where(Upload.job_id == int(job_id))) == "人员.csv"


@pytest.mark.parametrize(
    ("name", "data", "kind", "said"),
    [
        ("batch.exe", b"MZ\x00\x00", "auto", ".csv"),
        ("units.csv", b"unit_id\x00,name", "auto", "CSV"),
        ("data.csv", b"a,b\n1,2\n", "auto", "proposals.csv"),
        ("book.xlsx", b"PK\x03\x04 not a zip", "units", "XLSX"),
    ],
)
def test_uploads_of_the_wrong_type_are_refused(
    site: tuple, name: str, data: bytes, kind: str, said: str
) -> None:
    with client(site) as c:
        token = login(c, "officer")
        before = _jobs(site[1])
        r = c.post(
            "/upload",
            data={"csrf_token": token, "kind": kind},
            files=[("files", (name, data, "application/octet-stream"))],
        )
    assert r.status_code == 400 and said in r.text
    assert _jobs(site[1]) == before


def test_an_upload_over_the_limit_is_refused(site: tuple) -> None:
    small = create_app(
        site[1].url.render_as_string(hide_password=False), worker=False, max_upload_mb=1
    )
    with TestClient(small) as c:
        token = login(c, "officer")
        r = c.post(
            "/upload",
            data={"csrf_token": token, "kind": "people"},
            files=[("files", ("people.csv", b"x" * (3 * 2**20), "text/csv"))],
        )
    assert r.status_code == 413


def test_hostile_names_render_as_text(site: tuple) -> None:
    engine = site[1]
    experts = sorted(_expert_names(engine))
    hostile = {experts[0]: HOSTILE, experts[1]: '=HYPERLINK("x")', experts[2]: "王\x07五"}
    with session(engine) as s, s.begin():  # as an import would: the change and its audit event
        for pid, name in hostile.items():
            s.execute(update(Person).where(Person.person_id == pid).values(name=name))
        audit(s, actor="test", command="import", params={"kind": "people"})
    with client(site) as c:
        login(c, "officer")
        page = c.get("/batches/2024/pool").text + c.get("/batches/2024/declines").text
        page += c.get("/batches/2024/conflicts?q=" + experts[0]).text
    assert HOSTILE not in page
    assert "\x07" not in page
    if experts[0] in page:
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_a_second_run_on_a_busy_batch_is_refused(site: tuple) -> None:
    engine = site[1]
    job_id = queue.enqueue(engine, "rank", params={"args": []}, actor="officer", batch_id="busy")
    with pytest.raises(queue.BatchBusy) as caught:
        queue.enqueue(engine, "rank", params={"args": []}, actor="officer", batch_id="busy")
    assert caught.value.job_id == job_id
    queue.finish(engine, job_id, error="stopped by the test")


def test_no_stack_trace_reaches_a_page(site: tuple) -> None:
    with client(site) as c:
        login(c, "officer")
        r = c.get("/batches/no-such-batch/assign")
        assert r.status_code == 404 and "Traceback" not in r.text
        r = c.get("/jobs/not-a-number")
        assert r.status_code == 404 and "Traceback" not in r.text


def test_user_add_and_list(site: tuple) -> None:
    url = site[1].url.render_as_string(hide_password=False)
    runner = CliRunner()
    r = runner.invoke(
        cli,
        ["--db", url, "user", "add", "lin", "--role", "chair", "--password-stdin", "--json"],
        input="a long secret\n",
    )
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout) == {"user": "lin", "role": "chair", "created": True}
    r = runner.invoke(cli, ["--db", url, "user", "list", "--json"])
    users = {u["name"]: u for u in json.loads(r.stdout)["users"]}
    assert users["lin"]["role"] == "chair" and "password_hash" not in users["lin"]
    r = runner.invoke(cli, ["--db", url, "user", "add", "x", "--role", "chair"])
    assert r.exit_code == 2
    r = runner.invoke(
        cli,
        ["--db", url, "user", "add", "y", "--role", "viewer", "--password-stdin"],
        input="short\n",
    )
    assert r.exit_code == 3 and "at least 8" in r.stderr


def test_jobs_are_claimed_once_and_lost_ones_fail(engine: Engine) -> None:
    a = queue.enqueue(engine, "screen", params={}, actor="t", batch_id="A")
    b = queue.enqueue(engine, "screen", params={}, actor="t", batch_id="B")
    first = queue.claim(engine, "w1")
    second = queue.claim(engine, "w2")
    assert first is not None and second is not None
    assert {first.id, second.id} == {a, b} and queue.claim(engine, "w3") is None
    with session(engine) as s, s.begin():
        s.execute(
            update(Job)
            .where(Job.id == a)
            .values(heartbeat_at=first.heartbeat_at - 2 * queue.STALE_AFTER)  # type: ignore[operator]
        )
    assert queue.reap(engine) == [a]
    assert queue.get_job(engine, a).state == "failed"  # type: ignore[union-attr]
    assert queue.get_job(engine, b).state == "running"  # type: ignore[union-attr]


def test_a_batch_with_a_running_job_waits_in_the_queue(engine: Engine) -> None:
    a = queue.enqueue(engine, "screen", params={}, actor="t", batch_id="A")
    assert queue.claim(engine, "w1").id == a  # type: ignore[union-attr]
    with session(engine) as s, s.begin():  # queued beside it (by a run from elsewhere)
        s.add(Job(kind="pool", batch_id="A", params={}, state="queued", progress=0.0,
                  created_by="t", created_at=queue.now()))  # fmt: skip
    assert queue.claim(engine, "w2") is None
    queue.finish(engine, a, result={})
    assert queue.claim(engine, "w2") is not None


def test_an_officer_logs_in_and_reads_the_pages_on_each_backend(engine: Engine) -> None:
    """The same app over a fresh database of each backend (PostgreSQL by its URL): log in,
    see the empty list of batches, and log out."""
    add_user(engine, "officer", role="officer", password=PASSWORD, actor="test")
    app = create_app(engine.url.render_as_string(hide_password=False))
    with TestClient(app, base_url="http://testserver") as c:
        token = login(c, "officer")
        assert c.get("/").status_code == 200
        assert c.get("/audit").status_code == 200
        r = c.post("/logout", data={"csrf_token": token})
        assert r.status_code == 200 and r.url.path == "/login"


def test_pages_show_a_change_once_it_is_committed_with_its_audit_event(site: tuple) -> None:
    """Views are kept per version of the data; an audited change moves the version."""
    engine = site[1]
    with session(engine) as s:
        expert = s.scalar(
            select(Assignment.expert_id).where(Assignment.status == "invited").limit(1)
        )
    page = f"/batches/2024/declines?q={expert}"
    with client(site) as c:
        login(c, "officer")
        before = c.get(page).text
        with session(engine) as s, s.begin():
            s.execute(update(Person).where(Person.person_id == expert).values(name="改名专家"))
            audit(s, actor="test", command="import", params={"kind": "people"})
        after = c.get(page).text
    assert "改名专家" not in before and "改名专家" in after


def test_every_role_reads_the_batch_report_linked_from_the_batch_page(site: tuple) -> None:
    with client(site) as c:
        for role in ROLES:
            login(c, role)
            assert 'href="/batches/2024/report"' in c.get("/batches/2024").text
            r = c.get("/batches/2024/report?lang=en")
            assert r.status_code == 200, (role, r.text[:300])
            for heading in ("Overview", "Screening (形式审查)", "Per direction", "Audit"):
                assert f"<h2>{heading}</h2>" in r.text
        assert c.get("/batches/nope/report").status_code == 404


def test_a_viewer_reads_the_report_with_pseudonyms_only(site: tuple) -> None:
    experts = _expert_names(site[1])
    with client(site) as c:
        login(c, "chair")
        chair_page = c.get("/batches/2024/report").text
        login(c, "viewer")
        page = c.get("/batches/2024/report").text
    shown = [e for e in experts if e in chair_page]
    assert shown  # the reviewers' section names experts
    leaks = [e for e in experts if e in page] + [
        n for n in experts.values() if len(n) > 1 and n in page
    ]
    assert leaks == []
    assert re.search(r"专家[A-Z]+", page)


def test_the_ranking_page_shows_each_directions_chart(site: tuple) -> None:
    with client(site) as c:
        login(c, "chair")
        page = c.get("/batches/2024/ranking").text
    codes = re.findall(r'<h2 id="d(\d+)">', page)
    assert codes
    assert page.count('class="chart" role="img"') == len(codes)


def test_users_asking_for_the_report_at_once_all_get_it(site: tuple) -> None:
    """The report is drawn once per version of the data, one drawing at a time: readers who
    ask while it is drawn wait for it (the charts' settings are process-wide)."""
    engine = site[1]
    with session(engine) as s, s.begin():  # a new version: the next request draws again
        audit(s, actor="test", command="import", params={"kind": "people"})
    with client(site) as c:
        login(c, "officer")
        with ThreadPoolExecutor(4) as pool:
            pages = list(pool.map(lambda _i: c.get("/batches/2024/report"), range(4)))
    assert [p.status_code for p in pages] == [200] * 4
    assert len({p.text for p in pages}) == 1


def test_every_field_of_every_run_form_has_a_label_for_people() -> None:
    """Run forms come from the commands' options: each field a page shows has a label in the
    catalogue (not the option's name), and its choices read as words."""
    from web import forms
    from web.roles import CHAIR_ACTIONS, OFFICER_RUNS

    unlabelled = [
        (name, f.name)
        for name in sorted(set(OFFICER_RUNS) | set(CHAIR_ACTIONS))
        if name in cli.commands
        for f in forms.fields(name)
        if f.name not in forms.LABELS
    ]
    assert unlabelled == []
    with using("zh"):
        assert forms.choice_label("merit-sum") != "merit-sum"
        assert forms.choice_label("bayes") != "bayes"
