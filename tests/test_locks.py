"""Batch locks that outlive no one: a run killed with SIGKILL or SIGTERM leaves no lock that
stops the next run; a holder on another host is gone once its heartbeat is old; takeovers and
`unlock --stale` are audited; and a live holder is never pushed aside."""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import Engine, select, update

from models.db import batch_lock, gone, session
from models.schema import AuditEvent, BatchLock
from scripts.cli import cli

ROOT = Path(__file__).resolve().parents[1]
FILES = {
    "batches": "batch_id,name,year,batch_date,deadline\n"
    "2024,2024年度,2024,2024-09-01,2024-08-05 17:30\n",
    "guide": "code,programme,title\n3001,人工智能,垂直领域大模型关键技术研发与场景应用\n",
    "units": "unit_id,name,type,city,province\nU1,江苏恒远集团有限公司,企业,南京,江苏\n",
    "people": "person_id,name,unit_id\nP1,张伟,U1\n",
    "proposals": "proposal_id,batch_id,direction_code,title,lead_unit_id,pi_id,total_budget_wan,"
    "requested_wan\nX1,2024,3001,大模型,U1,P1,3000,900\n",
}

# Runs the real CLI with the job's body replaced by a wait, so that the process is surely
# inside its run (holding the batch lock) when it is killed.
HOLDING_RUN = """
import sys, time
import models.jobs as jobs

def held(*args, **kwargs):
    print("holding", flush=True)
    time.sleep(120)

jobs.calibrate_batch = held
from scripts.cli import main
sys.argv = ["reviewopt", "--db", sys.argv[1], "rank"]
main()
"""


def url(engine: Engine) -> str:
    return engine.url.render_as_string(hide_password=False)


def run(engine: Engine, *args: str) -> Result:
    return CliRunner().invoke(
        cli, ["--db", url(engine), "--actor", "officer", "--lang", "en", *args]
    )


@pytest.fixture
def batch(engine: Engine, tmp_path: Path) -> Engine:
    for kind, text in FILES.items():
        (tmp_path / f"{kind}.csv").write_text(text)
    assert run(engine, "import", "all", str(tmp_path)).exit_code == 0
    return engine


def _start_holding_run(engine: Engine) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLDING_RUN, url(engine)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "REVIEWOPT_LANG": "en"},
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "holding"
    with session(engine) as s:
        lock = s.get(BatchLock, "2024")
        assert lock is not None and lock.pid == proc.pid and lock.command == "rank"
    return proc


def test_a_run_killed_with_sigkill_does_not_block_the_next(batch: Engine) -> None:
    proc = _start_holding_run(batch)
    proc.kill()
    proc.communicate(timeout=30)
    with session(batch) as s:
        assert s.get(BatchLock, "2024") is not None  # nothing could release it
    again = run(batch, "screen", "--json")  # no manual step: the dead holder's lock is taken over
    assert again.exit_code == 0, again.output
    with session(batch) as s:
        assert s.get(BatchLock, "2024") is None
        takeover = s.scalars(select(AuditEvent).where(AuditEvent.command == "lock takeover")).one()
        assert takeover.params["stale"]["pid"] == proc.pid
        assert f"process {proc.pid}" in (takeover.message or "")
        assert "is no longer running" in (takeover.message or "")


def test_a_run_stopped_with_sigterm_releases_its_lock(batch: Engine) -> None:
    proc = _start_holding_run(batch)
    proc.send_signal(signal.SIGTERM)
    _out, err = proc.communicate(timeout=30)
    assert proc.returncode == 143
    assert "stopped by SIGTERM; nothing of this run was written" in err
    assert "Traceback" not in err
    with session(batch) as s:
        assert s.get(BatchLock, "2024") is None
    assert run(batch, "screen").exit_code == 0


def test_a_live_holder_keeps_the_lock(batch: Engine) -> None:
    with batch_lock(batch, "2024", holder="this-process"):
        result = run(batch, "screen")
        assert result.exit_code == 5
        assert "batch 2024 is locked by another run: this-process (process" in result.stderr
        assert "`reviewopt unlock --stale` clears the lock" in result.stderr
        stale = run(batch, "unlock", "--stale")
        assert stale.exit_code == 5
        assert "is held by a run that is still alive" in stale.stderr
    with session(batch) as s:
        assert s.get(BatchLock, "2024") is None


def _plant_lock(engine: Engine, **values: object) -> None:
    row = {
        "batch_id": "2024",
        "holder": "elsewhere:4242:abcd",
        "acquired_at": dt.datetime(2024, 9, 1, 9, 0),
        "host": "another-host.example",
        "pid": 4242,
        "process_started_at": 1.0,
        "heartbeat_at": dt.datetime.now(dt.UTC).replace(tzinfo=None),
        "command": "assign",
        **values,
    }
    with session(engine) as s, s.begin():
        s.add(BatchLock(**row))


def test_another_hosts_lock_is_stale_once_its_heartbeat_is_old(batch: Engine) -> None:
    _plant_lock(batch)
    with session(batch) as s:
        lock = s.get(BatchLock, "2024")
        assert lock is not None and gone(lock) is None
    result = run(batch, "screen")
    assert result.exit_code == 5
    assert "`assign` (process 4242 on another-host.example, since 2024-09-01 09:00:00" in (
        result.stderr
    )
    old = dt.datetime.now(dt.UTC).replace(tzinfo=None) - dt.timedelta(minutes=10)
    with session(batch) as s, s.begin():
        s.execute(update(BatchLock).values(heartbeat_at=old))
    assert run(batch, "screen").exit_code == 0
    with session(batch) as s:
        ev = s.scalars(select(AuditEvent).where(AuditEvent.command == "lock takeover")).one()
        assert ev.actor == "officer"
        assert "its last heartbeat is 600 s old" in (ev.message or "")


def test_unlock_stale_clears_a_dead_holders_lock_by_hand(batch: Engine) -> None:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    _plant_lock(batch, host=socket.gethostname(), pid=proc.pid, holder=f"here:{proc.pid}:x")
    result = run(batch, "unlock", "--stale", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["pid"] == proc.pid
    with session(batch) as s:
        assert s.get(BatchLock, "2024") is None
        ev = s.scalars(select(AuditEvent).where(AuditEvent.command == "unlock --stale")).one()
        assert ev.actor == "officer" and ev.params["pid"] == proc.pid
    again = run(batch, "unlock", "--stale")
    assert again.exit_code == 1 and "batch 2024 is not locked" in again.stderr


def test_a_reused_pid_is_not_its_old_holder(batch: Engine) -> None:
    _plant_lock(batch, host=socket.gethostname(), pid=os.getpid(), process_started_at=1.0)
    with session(batch) as s:
        lock = s.get(BatchLock, "2024")
        assert lock is not None
        why = gone(lock)
        assert why is not None and "now belongs to another process" in why.render("en")


def test_unlock_without_stale_still_needs_a_reason(batch: Engine) -> None:
    result = run(batch, "unlock")
    assert result.exit_code == 2
    assert "give --reason TEXT" in result.stderr
