"""Public, unauthenticated: the trust list at stable URLs, the root certificate, health.

Terminals poll these. Each answer carries a strong ETag (the SHA-256 of the bytes); a
request with a matching If-None-Match gets 304 and no body. A numbered version never
changes, so it is cacheable forever; /trust-list (the latest) is revalidated.
"""

from fastapi import APIRouter, Header, Request
from fastapi.responses import Response
from cryptography.hazmat.primitives import serialization

from issuer.api.deps import RuntimeDep, SessionDep
from issuer.services import publication
from issuer.services.errors import NotFound

router = APIRouter(tags=["publication"])
COSE = "application/cose"


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


@router.get("/trust-list/{version}", response_class=Response,
            responses={200: {"content": {COSE: {}}}, 304: {}, 404: {}})
def trust_list_version(version: int, session: SessionDep, if_none_match: str | None = Header(None)):
    """One published version; it never changes."""
    record = publication.by_version(session, version)
    if record is None:
        raise NotFound(f"trust list version {version} does not exist")
    return _conditional(record.data, record.sha256, if_none_match, "public, max-age=31536000, immutable", COSE)


@router.get("/root-ca.pem", response_class=Response, responses={200: {"content": {"application/x-pem-file": {}}}})
def root_certificate(rt: RuntimeDep, if_none_match: str | None = Header(None)):
    """The root CA certificate that terminals pin (compare its fingerprint out of band)."""
    import hashlib

    pem = rt.keys.root.public_bytes(serialization.Encoding.PEM)
    return _conditional(pem, hashlib.sha256(pem).hexdigest(), if_none_match, "no-cache", "application/x-pem-file")


@router.get("/health")
def health(request: Request) -> dict:
    return {"status": "ok"}
