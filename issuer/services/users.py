"""Officer accounts and station API keys (administration)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from issuer import audit, auth
from issuer.db.models import Station, User
from issuer.services.errors import NotFound
from issuer.services.inputs import StationIn, UserIn
from issuer.services.registry import _insert


def create_user(session: Session, actor: str, data: UserIn) -> User:
    user = User(username=data.username, password_hash=auth.hash_password(data.password),
                roles=" ".join(sorted(set(data.roles))), active=True)
    _insert(session, user, f"user {data.username}")
    audit.append(session, actor, "user.create", "user", user.id, {"username": user.username, "roles": user.roles})
    return user


def set_active(session: Session, actor: str, username: str, active: bool) -> User:
    user = session.execute(select(User).where(User.username == username).with_for_update()).scalar_one_or_none()
    if user is None:
        raise NotFound(f"user {username} does not exist")
    user.active = active
    session.flush()
    audit.append(session, actor, "user.enable" if active else "user.disable", "user", user.id)
    return user


def list_users(session: Session) -> list[User]:
    return list(session.execute(select(User).order_by(User.id)).scalars())


def create_station(session: Session, actor: str, data: StationIn) -> tuple[Station, str]:
    """A station and its API key; the key is shown once and only its SHA-256 is kept."""
    key_id, key, digest = auth.new_api_key()
    station = Station(name=data.name, key_id=key_id, key_sha256=digest, active=True)
    _insert(session, station, f"station {data.name}")
    audit.append(session, actor, "station.create", "station", station.id, {"name": data.name, "key_id": key_id})
    return station, key

