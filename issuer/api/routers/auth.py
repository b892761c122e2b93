"""Logging in: an officer's user name and password for a short-lived access token."""

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.security import OAuth2PasswordRequestForm

from issuer import auth
from issuer.api.deps import RuntimeDep, SessionDep, Unauthenticated, current_principal
from issuer.api.schemas import PrincipalOut, Problem, TokenOut

router = APIRouter(prefix="/api/auth", tags=["authentication"])


@router.post("/token", response_model=TokenOut, responses={401: {"model": Problem}, 429: {"model": Problem}})
def login(form: Annotated[OAuth2PasswordRequestForm, Depends()], request: Request, session: SessionDep,
          rt: RuntimeDep):
    """OAuth 2.0 password grant (RFC 6749 §4.3): form fields username and password."""
    s = rt.settings
    client = request.client.host if request.client else "unknown"
    try:
        user = auth.authenticate_password(session, form.username, form.password, client,
                                          max_failures=s.login_max_failures, window=s.login_window_seconds)
    except auth.LoginThrottled:
        session.rollback()
        raise
    except auth.AuthError as exc:
        session.commit()  # keep the failed attempt: it counts towards the throttle
        raise Unauthenticated(str(exc)) from None
    session.commit()
    token, lifetime = auth.issue_token(user, s.token_key, s.token_minutes)
    return TokenOut(access_token=token, expires_in=lifetime)


@router.get("/me", response_model=PrincipalOut, responses={401: {"model": Problem}})
def me(principal: Annotated[auth.Principal, Depends(current_principal)]):
    """Who the credentials belong to, and their roles."""
    return PrincipalOut(kind=principal.kind, name=principal.name, roles=sorted(r.value for r in principal.roles))
