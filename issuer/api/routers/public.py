"""Public, unauthenticated: the trust list and its revocation deltas at stable URLs, the
root certificate, health.

Terminals poll these. Each answer carries a strong ETag (the SHA-256 of the bytes); a
request with a matching If-None-Match gets 304 and no body. A numbered version and a
numbered delta never change, so they are cacheable forever; /trust-list (the latest) and
/trust-list/deltas?since=V (the chain to the latest) are revalidated.
"""

import hashlib
from typing import Annotated

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import Response
from cryptography.hazmat.primitives import serialization

from crypto import cbor
from issuer.api.deps import RuntimeDep, SessionDep
from issuer.services import publication
from issuer.services.errors import NotFound

router = APIRouter(tags=["publication"])
COSE = "application/cose"
CBOR = "application/cbor"
IMMUTABLE = "public, max-age=31536000, immutable"


def _conditional(data: bytes, etag: str, if_none_match: str | None, cache: str, media: str) -> Response:
    quoted = f'"{etag}"'
    headers = {"ETag": quoted, "Cache-Control": cache}
    if if_none_match is not None:
        tags = {t.strip().removeprefix("W/") for t in if_none_match.split(",")}
        if quoted in tags or "*" in tags:
            return Response(status_code=304, headers=headers)
    return Response(data, media_type=media, headers=headers)


@router.get("/trust-list", response_class=Response, responses={200: {"content": {COSE: {}}}, 304: {}, 404: {}})
def latest_trust_list(session: SessionDep, if_none_match: str | None = Header(None)):
    """The latest signed trust list (COSE_Sign1, docs/spec.md §6)."""
    record = publication.latest(session)
    if record is None:
        raise NotFound("no trust list has been published yet")
    response = _conditional(record.data, record.sha256, if_none_match, "no-cache", COSE)
    response.headers["X-Trust-List-Version"] = str(record.version)
    return response


@router.get("/trust-list/deltas", response_class=Response,
            responses={200: {"content": {CBOR: {}}}, 304: {}, 404: {}})
def trust_list_deltas(session: SessionDep, since: Annotated[int, Query(ge=0, description="the version held")],
                      if_none_match: str | None = Header(None)):
    """The signed revocation deltas (docs/spec.md §11.4) from version `since` to the latest,
    in order: a CBOR array of COSE_Sign1 byte strings, empty when `since` is the latest.
    X-Trust-List-Version names the latest. 404 when there is no such chain (an unknown
    version, one before the issuer certificates changed, or more than 400 deltas behind):
    fetch /trust-list."""
    found = publication.delta_chain(session, since)
    if found is None:
        raise NotFound(f"no delta chain from trust list version {since}: fetch the full list")
    chain, latest = found
    body = cbor.dumps([d.data for d in chain])
    response = _conditional(body, hashlib.sha256(body).hexdigest(), if_none_match, "no-cache", CBOR)
    response.headers["X-Trust-List-Version"] = str(latest)
    return response


@router.get("/trust-list/delta/{base_version}", response_class=Response,
            responses={200: {"content": {COSE: {}}}, 304: {}, 404: {}})
def trust_list_delta(base_version: int, session: SessionDep, if_none_match: str | None = Header(None)):
    """The signed delta from `base_version` to the version published after it; it never changes."""
    delta = publication.delta_from(session, base_version)
    if delta is None:
        raise NotFound(f"no delta from trust list version {base_version}")
    response = _conditional(delta.data, delta.sha256, if_none_match, IMMUTABLE, COSE)
    response.headers["X-Trust-List-Version"] = str(delta.new_version)
    return response


@router.get("/trust-list/{version}", response_class=Response,
            responses={200: {"content": {COSE: {}}}, 304: {}, 404: {}})
def trust_list_version(version: int, session: SessionDep, if_none_match: str | None = Header(None)):
    """One published version; it never changes."""
    record = publication.by_version(session, version)
    if record is None:
        raise NotFound(f"trust list version {version} does not exist")
    return _conditional(record.data, record.sha256, if_none_match, IMMUTABLE, COSE)


@router.get("/root-ca.pem", response_class=Response, responses={200: {"content": {"application/x-pem-file": {}}}})
def root_certificate(rt: RuntimeDep, if_none_match: str | None = Header(None)):
    """The root CA certificate that terminals pin (compare its fingerprint out of band)."""
    pem = rt.keys.root.public_bytes(serialization.Encoding.PEM)
    return _conditional(pem, hashlib.sha256(pem).hexdigest(), if_none_match, "no-cache", "application/x-pem-file")


@router.get("/health")
def health(request: Request) -> dict:
    return {"status": "ok"}
