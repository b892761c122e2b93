"""Who is calling: officers (argon2id password → short-lived signed token), stations (API
key), their roles, and login throttling.

- Passwords are hashed with argon2id (RFC 9106) through argon2-cffi's defaults.
- An access token is a JWT (RFC 7519), HS256, holding the user id, a random token id and
  an expiry of a few minutes. Roles are NOT taken from the token: every request reloads the
  user, so a deactivated officer or a removed role takes effect at once.
- A station API key is ``ssk_<key id>_<secret>`` with 256 random bits; only the SHA-256 of
  the key is stored (a slow hash adds nothing to a random 256-bit secret, and stations call
  often).
- Throttling: after `login_max_failures` failed logins for one account, or ten times as many
  from one client address, within `login_window_seconds`, logins are refused with
  :class:`LoginThrottled` until the window has passed. Attempts are kept in the database so
  that every instance of the service sees them.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from issuer.db.models import LoginAttempt, Role, Station, Terminal, User, utcnow

TOKEN_ALGORITHM = "HS256"
TOKEN_AUDIENCE = "sscard-issuer"
API_KEY_PREFIX = "ssk_"
_hasher = PasswordHasher()
# A hash to verify against when the user does not exist, so that the answer takes as long.
_DUMMY_HASH = _hasher.hash(secrets.token_hex(16))


class AuthError(Exception):
    """The credentials are missing, wrong or expired."""


class LoginThrottled(AuthError):
    """Too many failed logins: wait before trying again."""

    def __init__(self, retry_after: int):
        super().__init__(f"too many failed logins: try again in {retry_after} s")
        self.retry_after = retry_after


@dataclass(frozen=True)
class Principal:
    """An authenticated caller: an officer or a station."""

    kind: str  # "user" or "station"
    id: int
    name: str
    roles: frozenset[Role]

    @property
    def actor(self) -> str:
        """How the audit log and the four-eyes rule name the caller."""
        return f"{self.kind}:{self.name}"

    def has(self, *roles: Role) -> bool:
        return bool(self.roles & set(roles))


def hash_password(password: str) -> str:
    if len(password) < 10:
        raise ValueError("a password must have at least 10 characters")
    return _hasher.hash(password)


def parse_roles(text: str) -> frozenset[Role]:
    return frozenset(Role(r) for r in text.split())


def check_throttle(session: Session, username: str, client: str, *, max_failures: int, window: int) -> None:
    since = utcnow() - dt.timedelta(seconds=window)
    for column, value, limit in ((LoginAttempt.username, username, max_failures),
                                 (LoginAttempt.client, client, max_failures * 10)):
        count, first = session.execute(
            select(func.count(), func.min(LoginAttempt.at))
            .where(column == value, LoginAttempt.success.is_(False), LoginAttempt.at >= since)).one()
        if count >= limit:
            first = first if first.tzinfo else first.replace(tzinfo=dt.timezone.utc)  # SQLite drops the zone
            raise LoginThrottled(max(1, int((first + dt.timedelta(seconds=window) - utcnow()).total_seconds()) + 1))


def authenticate_password(session: Session, username: str, password: str, client: str, *,
                          max_failures: int, window: int) -> User:
    """The user whose password this is; records the attempt. Raises AuthError or LoginThrottled."""
    check_throttle(session, username, client, max_failures=max_failures, window=window)
    user = session.execute(select(User).where(User.username == username)).scalar_one_or_none()
    try:
        _hasher.verify(user.password_hash if user else _DUMMY_HASH, password)
        ok = user is not None and user.active
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        ok = False
    session.add(LoginAttempt(username=username[:64], client=client[:64], success=ok))
    if ok and _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
    session.flush()
    if not ok:
        raise AuthError("wrong user name or password")
    return user


def issue_token(user: User, key: bytes, minutes: int) -> tuple[str, int]:
    now = int(utcnow().timestamp())
    claims = {"sub": str(user.id), "aud": TOKEN_AUDIENCE, "iat": now, "exp": now + minutes * 60,
              "jti": uuid.uuid4().hex}
    return jwt.encode(claims, key, algorithm=TOKEN_ALGORITHM), minutes * 60


def principal_from_token(session: Session, token: str, key: bytes) -> Principal:
    try:
        claims = jwt.decode(token, key, algorithms=[TOKEN_ALGORITHM], audience=TOKEN_AUDIENCE,
                            options={"require": ["sub", "exp", "iat"]})
        user_id = int(claims["sub"])
    except (jwt.ExpiredSignatureError,):
        raise AuthError("the access token has expired: log in again") from None
    except (jwt.InvalidTokenError, ValueError):
        raise AuthError("the access token is not valid") from None
    user = session.get(User, user_id)
    if user is None or not user.active:
        raise AuthError("the account is disabled")
    return Principal("user", user.id, user.username, parse_roles(user.roles))


def new_api_key() -> tuple[str, str, bytes]:
    """(key id, the key to hand to the station once, its SHA-256 to store)."""
    key_id = secrets.token_hex(8)
    key = f"{API_KEY_PREFIX}{key_id}_{secrets.token_urlsafe(32)}"
    return key_id, key, hashlib.sha256(key.encode()).digest()


def principal_from_api_key(session: Session, key: str) -> Principal:
    parts = key.split("_")
    if not key.startswith(API_KEY_PREFIX) or len(parts) < 3:
        raise AuthError("the API key is not valid")
    digest = hashlib.sha256(key.encode()).digest()
    # Stations and terminals share the key format; the key id says which one it is.
    for model, kind, role in ((Station, "station", Role.STATION), (Terminal, "terminal", Role.TERMINAL)):
        holder = session.execute(select(model).where(model.key_id == parts[1])).scalar_one_or_none()
        if holder is not None:
            if not holder.active or not hmac.compare_digest(holder.key_sha256, digest):
                break
            return Principal(kind, holder.id, holder.name, frozenset({role}))
    raise AuthError("the API key is not valid")
