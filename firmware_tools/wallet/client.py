"""Activating the e-card with the issuer over HTTP (``POST /api/ecard/activate``, docs/spec.md
§12.6): the holder's identifier and one-time code, the phone's public key, and the proof
that the phone holds the private key."""

from __future__ import annotations

import base64
import datetime as dt
import time

import httpx
from cryptography.hazmat.primitives.asymmetric import ec

from crypto.ecard import activation_to_be_signed, compress_device_key
from crypto.keys import raw_signature
from firmware_tools.wallet.store import WalletError, WalletStore, decode_ecard


class ActivationFailed(WalletError):
    """The issuer refused the activation (`status` is its HTTP status) or did not answer."""

    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        self.status = status


def activation_request(key: ec.EllipticCurvePrivateKey, code: str, *, work_permit: str | None = None,
                       ssn: str | None = None) -> dict:
    device_key = compress_device_key(key.public_key())
    proof = raw_signature(key, activation_to_be_signed(code, device_key))
    body = {"code": code, "device_key": base64.b64encode(device_key).decode(),
            "proof": base64.b64encode(proof).decode()}
    if work_permit is not None:
        body["work_permit_number"] = work_permit
    if ssn is not None:
        body["social_security_number"] = ssn
    return body


def activate(store: WalletStore, issuer_url: str, key: ec.EllipticCurvePrivateKey, passphrase: bytes, *,
             code: str, work_permit: str | None = None, ssn: str | None = None,
             client: httpx.Client | None = None, timeout: float = 20.0) -> dict:
    """Register `key`'s public half with the issuer; store the key and the credential it
    returns. Returns the wallet's metadata. `client` (tests) replaces the HTTP client."""
    body = activation_request(key, code, work_permit=work_permit, ssn=ssn)
    own = client is None
    client = client or httpx.Client(timeout=timeout)
    url = issuer_url.rstrip("/") + "/api/ecard/activate"
    try:
        response = client.post(url, json=body)
    except httpx.HTTPError as exc:
        raise ActivationFailed(f"the issuer at {issuer_url} cannot be reached: {type(exc).__name__}: {exc}") from None
    finally:
        if own:
            client.close()
    if response.status_code != 201:
        try:
            detail = response.json().get("detail", response.text)
        except ValueError:
            detail = response.text[:200]
        retry = response.headers.get("retry-after")
        raise ActivationFailed(f"the issuer refused the activation ({response.status_code}): {detail}"
                               + (f" (retry after {retry} s)" if retry else ""), response.status_code)
    answer = response.json()
    credential = base64.b64decode(answer["credential"])
    ecard = answer["ecard"]
    meta = {"issuer_url": issuer_url, "issuer_code": ecard["issuer_code"], "card_number": ecard["card_number"],
            "serial": ecard["serial"], "ecard_id": ecard["id"], "exp": ecard["exp"],
            "activated_at": dt.datetime.fromtimestamp(time.time(), dt.timezone.utc).isoformat(timespec="seconds")}
    claims = decode_ecard(credential, meta["issuer_code"])
    holder = claims.data["holder"]
    meta["holder"] = f"{holder['family_name']}, {holder['given_names']}".rstrip(", ")
    store.save(key, credential, meta, passphrase)
    return meta
