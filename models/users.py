"""Users of the web workbench: adding them (argon2id password hashes), listing them, and
checking a login under a rate limit (failed attempts per user name and client address).

argon2-cffi's ``PasswordHasher`` gives salted argon2id hashes with its recommended cost and
tells when a stored hash should be renewed; nothing here stores or logs a password.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Engine, delete, func, select

from models.db import audit, check_schema, now, session
from models.i18n import _
from models.server_tables import ROLES, LoginAttempt, User

LOGIN_LIMIT = 5
"""Failed logins allowed per user name and address within :data:`LOGIN_WINDOW`."""
LOGIN_WINDOW = dt.timedelta(minutes=1)
MIN_PASSWORD = 8

_HASHER = PasswordHasher()
_DUMMY = _HASHER.hash("not a password of anyone")  # spends the same time on unknown names


class TooManyAttempts(RuntimeError):
    """Too many failed logins from this address for this user name; wait and retry."""


@dataclass(frozen=True)
class UserInfo:
    """A user as shown to people (never the hash)."""

    name: str
    role: str
    active: bool
    created_at: dt.datetime
    created_by: str

    def as_dict(self) -> dict[str, object]:
        return {
            "name": self.name,
            "role": self.role,
            "active": self.active,
            "created_at": f"{self.created_at:%Y-%m-%d %H:%M:%S}",
            "created_by": self.created_by,
        }


def _info(u: User) -> UserInfo:
    return UserInfo(u.name, u.role, u.active, u.created_at, u.created_by)


def _check(name: str, role: str, password: str | None) -> None:
    if not name or len(name) > 64 or not name.isprintable() or name != name.strip():
        raise ValueError(
            _("a user name is 1 to 64 printable characters without spaces at either end")
        )
    if role not in ROLES:
        raise ValueError(
            _("role {role!r} is not one of: {roles}", role=role, roles=", ".join(ROLES))
        )
    if password is not None and len(password) < MIN_PASSWORD:
        raise ValueError(_("a password has at least {n} characters", n=MIN_PASSWORD))


def add_user(engine: Engine, name: str, *, role: str, password: str, actor: str) -> bool:
    """Create ``name`` with ``role`` and ``password``, or give an existing user that role and
    password (and make them active again). Audited; returns True when the user is new."""
    check_schema(engine)
    _check(name, role, password)
    with session(engine) as s, s.begin():
        user = s.get(User, name)
        created = user is None
        if user is None:
            user = User(name=name, created_at=now(), created_by=actor)
            s.add(user)
        user.role, user.password_hash, user.active = role, _HASHER.hash(password), True
        audit(
            s,
            actor=actor,
            command="user add" if created else "user update",
            params={"user": name, "role": role},
            message=f"{'added' if created else 'updated'} {name} as {role}",
        )
    return created


def change_user(
    engine: Engine,
    name: str,
    *,
    actor: str,
    role: str | None = None,
    active: bool | None = None,
    password: str | None = None,
) -> UserInfo:
    """Change a user's role, activity or password (audited; the password is not recorded)."""
    check_schema(engine)
    with session(engine) as s, s.begin():
        user = s.get(User, name)
        if user is None:
            raise LookupError(_("no user {name!r}", name=name))
        _check(name, role or user.role, password)
        if name == actor and (active is False or (role is not None and role != "admin")):
            raise ValueError(_("you cannot take your own administration rights away"))
        changed: dict[str, object] = {}
        if role is not None and role != user.role:
            user.role = changed["role"] = role
        if active is not None and active != user.active:
            user.active = changed["active"] = active
        if password:
            user.password_hash = _HASHER.hash(password)
            changed["password"] = "changed"
        if changed:
            audit(s, actor=actor, command="user update", params={"user": name, **changed})
        return _info(user)


def list_users(engine: Engine) -> list[UserInfo]:
    """Every user, by name."""
    check_schema(engine)
    with session(engine) as s:
        return [_info(u) for u in s.scalars(select(User).order_by(User.name))]


def stamp(password_hash: str) -> str:
    """A short fingerprint of a password hash: a session carries it, so that changing the
    password ends the sessions opened with the old one."""
    return hashlib.sha256(password_hash.encode()).hexdigest()[:16]


def session_user(engine: Engine, name: str, password_stamp: str) -> UserInfo | None:
    """The active user ``name`` if ``password_stamp`` is their current password's, or None."""
    with session(engine) as s:
        user = s.get(User, name)
        if user is None or not user.active or stamp(user.password_hash) != password_stamp:
            return None
        return _info(user)


def password_stamp(engine: Engine, name: str) -> str:
    """The :func:`stamp` of ``name``'s current password."""
    with session(engine) as s:
        user = s.get(User, name)
        if user is None:
            raise LookupError(_("no user {name!r}", name=name))
        return stamp(user.password_hash)


def authenticate(engine: Engine, name: str, password: str, *, address: str) -> UserInfo | None:
    """The user when ``password`` is theirs (and they are active), else None (the attempt is
    counted). Raises :class:`TooManyAttempts` after :data:`LOGIN_LIMIT` failures for this
    name from ``address`` within :data:`LOGIN_WINDOW`, before looking at the password."""
    name, address = name[:64], address[:64]
    with session(engine) as s, s.begin():
        since = now() - LOGIN_WINDOW
        s.execute(delete(LoginAttempt).where(LoginAttempt.at < now() - 10 * LOGIN_WINDOW))
        failures = s.scalar(
            select(func.count()).where(
                LoginAttempt.username == name,
                LoginAttempt.address == address,
                LoginAttempt.at >= since,
            )
        )
        if (failures or 0) >= LOGIN_LIMIT:
            raise TooManyAttempts(
                _("too many failed logins for this user from this address; try again in a minute")
            )
        user = s.get(User, name)
        ok = _verify(None if user is None else user.password_hash, password)
        if user is not None and ok and user.active:
            if _HASHER.check_needs_rehash(user.password_hash):
                user.password_hash = _HASHER.hash(password)
            return _info(user)
        s.add(LoginAttempt(username=name, address=address, at=now()))
    return None


def _verify(stored: str | None, password: str) -> bool:
    try:
        return _HASHER.verify(stored or _DUMMY, password) and stored is not None
    except (VerificationError, InvalidHashError):
        return False
