"""Injected dependencies: the runtime, a database session per request, the caller and its
roles, and the idempotent unit of work of a mutating request."""


import hashlib
import json
from collections.abc import Callable, Iterator
from typing import Annotated, Any

from fastapi import Depends, Header, Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from issuer import auth
from issuer.auth import Principal
from issuer.db.models import Role
from issuer.services import idempotency
from issuer.services.runtime import Runtime


class Unauthenticated(Exception):
    """No credentials, or credentials that are not valid (HTTP 401)."""


class Forbidden(Exception):
    """The caller lacks the role the endpoint needs (HTTP 403)."""


def get_runtime(request: Request) -> Runtime:
    return request.app.state.runtime


def get_session(rt: Annotated[Runtime, Depends(get_runtime)]) -> Iterator[Session]:
    session = rt.db.session()
    try:
        yield session
    finally:
        session.rollback()
        session.close()


_bearer = HTTPBearer(auto_error=False, description="an officer's access token from POST /api/auth/token")
_api_key = APIKeyHeader(name="X-API-Key", auto_error=False, description="a station's API key")

SessionDep = Annotated[Session, Depends(get_session)]
RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


def current_principal(session: SessionDep, rt: RuntimeDep,
                      bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
                      api_key: Annotated[str | None, Depends(_api_key)]) -> Principal:
    try:
        if api_key:
            return auth.principal_from_api_key(session, api_key)
        if bearer is not None:
            return auth.principal_from_token(session, bearer.credentials, rt.settings.token_key)
    except auth.AuthError as exc:
        raise Unauthenticated(str(exc)) from None
    raise Unauthenticated("log in (Authorization: Bearer <token>) or send a station API key (X-API-Key)")


def require(*roles: Role) -> Callable[..., Principal]:
    """A dependency that admits a caller holding any of `roles`."""

    def check(principal: Annotated[Principal, Depends(current_principal)]) -> Principal:
        if not principal.has(*roles):
            raise Forbidden(f"this needs the role {' or '.join(r.value for r in roles)}")
        return principal
    check.roles = frozenset(roles)  # read by the test that every endpoint checks a role
    return check


class Mutation:
    """The unit of work of a mutating request: run the service call, store the answer under
    the Idempotency-Key (if any) and commit, all in one transaction."""

    def __init__(self, session: Session, principal: Principal, rt: Runtime, key: str | None, fingerprint: str):
        self.session, self.principal, self.rt = session, principal, rt
        self.key, self.fingerprint = key, fingerprint

    @property
    def actor(self) -> str:
        return self.principal.actor

    def run(self, work: Callable[[], Any], status_code: int = 200) -> JSONResponse:
        record = None
        if self.key is not None:
            record = idempotency.claim(self.session, self.actor, self.key, self.fingerprint,
                                       hours=self.rt.settings.idempotency_hours)
            if record.status_code is not None:
                self.session.rollback()
                return JSONResponse(json.loads(record.body), status_code=record.status_code,
                                    headers={"Idempotent-Replayed": "true"})
        try:
            body = jsonable_encoder(work())
            if record is not None:
                idempotency.complete(self.session, record, status_code, json.dumps(body))
            self.session.commit()
        except BaseException:
            self.session.rollback()
            raise
        return JSONResponse(body, status_code=status_code)


def mutation(*roles: Role) -> Callable[..., Any]:
    checker = require(*roles)

    async def fingerprint(request: Request) -> str:
        digest = hashlib.sha256(f"{request.method} {request.url.path}\n".encode())
        try:
            digest.update(await request.body())
        except RuntimeError:  # a multipart form was parsed from the stream already: hash its parts
            for name, value in (await request.form()).multi_items():
                digest.update(f"{name}=".encode())
                if isinstance(value, str):
                    digest.update(value.encode())
                else:
                    digest.update(await value.read())
                    await value.seek(0)
        return digest.hexdigest()

    def build(session: SessionDep, rt: RuntimeDep, principal: Annotated[Principal, Depends(checker)],
              digest: Annotated[str, Depends(fingerprint)],
              idempotency_key: Annotated[str | None, Header(description="makes a retry safe: the same key "
                                                                           "gets the same answer, done once")] = None,
              ) -> Mutation:
        return Mutation(session, principal, rt, idempotency_key, digest)
    build.roles = checker.roles
    return build


READERS = (Role.ENROLLER, Role.APPROVER, Role.AUDITOR)
