"""The station's side of the issuer API (issuer/api/routers/station.py): a station is a
separate machine, it reaches the issuer over HTTP with its API key (``X-API-Key``).

Every mutating call carries an Idempotency-Key, and is retried with the same key when the
connection fails: a retry never claims a second job nor completes twice.
"""

from __future__ import annotations

import base64
import time
import uuid
from dataclasses import dataclass, field

import httpx

from crypto.chip import Group
from firmware_tools.card.profile import SECURITY_OBJECT
from firmware_tools.card_io import EF_FOR_GROUP

GROUP_FOR_NAME = {ef.name: group for group, ef in EF_FOR_GROUP.items()}
RETRIES = (0.5, 1.0, 2.0)  # seconds to wait before each retry of a failed connection


class StationClientError(Exception):
    """The issuer could not be asked, or refused."""


class IssuerUnreachable(StationClientError):
    """No answer from the issuer service (network, server down)."""


class IssuerRefused(StationClientError):
    """The issuer answered with an error status (`status`, its `detail`)."""

    def __init__(self, status: int, detail: str):
        super().__init__(f"the issuer refused ({status}): {detail}")
        self.status, self.detail = status, detail


class NotAuthorised(IssuerRefused):
    """The API key is missing, wrong, disabled, or lacks the station role (401/403)."""


@dataclass
class Job:
    """A claimed job: the card, the files to write, and the lease that goes with every call."""

    id: int
    lease: str | None
    state: str
    resumed: bool
    card_id: int
    card_number: str
    serial: int | None
    chip_id: str | None
    files: dict[Group, bytes]
    security_object: bytes | None     # EF.SO's file bytes, once signed
    qr_text: str | None
    record: dict
    photo: bytes | None
    attempts: int = 0
    raw: dict = field(default_factory=dict, repr=False)

    @classmethod
    def of(cls, data: dict) -> Job:
        files, so = {}, None
        for name, value in data["files"].items():
            raw = base64.b64decode(value)
            if name == SECURITY_OBJECT.name:
                so = raw
            else:
                files[GROUP_FOR_NAME[name]] = raw
        card = data["card"]
        return cls(id=data["id"], lease=data.get("lease"), state=data["state"], resumed=data["resumed"],
                   card_id=card["id"], card_number=card["card_number"], serial=card["serial"],
                   chip_id=data["chip_id"], files=files, security_object=so, qr_text=card.get("qr_text"),
                   record=data["record"], photo=base64.b64decode(data["photo"]) if data.get("photo") else None,
                   attempts=data.get("attempts", 0), raw=data)


class IssuerClient:
    """The station's calls; `http` is an httpx.Client with the base URL and the API key."""

    def __init__(self, http: httpx.Client):
        self.http = http

    @classmethod
    def connect(cls, url: str, api_key: str, *, timeout: float = 30.0) -> IssuerClient:
        return cls(httpx.Client(base_url=url, headers={"X-API-Key": api_key}, timeout=timeout))

    def close(self) -> None:
        self.http.close()

    def _call(self, method: str, path: str, body: dict | None = None) -> object:
        headers = {"Idempotency-Key": uuid.uuid4().hex} if method == "POST" else {}
        for attempt, pause in enumerate((0.0, *RETRIES)):
            time.sleep(pause)
            try:
                response = self.http.request(method, path, json=body, headers=headers)
                break
            except httpx.TransportError as exc:
                if attempt == len(RETRIES):
                    raise IssuerUnreachable(f"the issuer at {self.http.base_url} does not answer: {exc}") from None
        if response.status_code >= 400:
            try:
                detail = response.json().get("detail", response.text)
            except ValueError:
                detail = response.text
            error = NotAuthorised if response.status_code in (401, 403) else IssuerRefused
            raise error(response.status_code, str(detail))
        return response.json()

    def whoami(self) -> str:
        return self._call("GET", "/api/auth/me")["name"]

    def claim(self, *, chip_id: str | None = None, locked: bool = False) -> Job | None:
        """The next job, or the job of the chip in the reader; None when there is none."""
        answer = self._call("POST", "/api/station/jobs/claim", {"chip_id": chip_id, "locked": locked})
        return None if answer["job"] is None else Job.of(answer["job"])

    def sign_security_object(self, job: Job, dg5: bytes) -> bytes:
        """EF.SO's file bytes, signed for the chip whose EF.DG5 this is."""
        answer = self._call("POST", f"/api/station/jobs/{job.id}/security-object",
                            {"lease": job.lease, "dg5": base64.b64encode(dg5).decode()})
        signed = Job.of(answer)
        job.chip_id, job.security_object = signed.chip_id, signed.security_object
        return signed.security_object

    def complete(self, job: Job, *, chip_id: str, atr: bytes) -> dict:
        return self._call("POST", f"/api/station/jobs/{job.id}/complete",
                          {"lease": job.lease, "chip_id": chip_id, "atr": atr.hex()})

    def release(self, job: Job, error: str) -> dict:
        return self._call("POST", f"/api/station/jobs/{job.id}/release", {"lease": job.lease, "error": error[:300]})

    def spoil(self, job_id: int, *, lease: str | None, chip_id: str | None, reason: str, terminated: bool) -> dict:
        return self._call("POST", f"/api/station/jobs/{job_id}/spoil",
                          {"lease": lease, "chip_id": chip_id, "reason": reason, "terminated": terminated})

    def printed(self, card_id: int) -> dict:
        return self._call("POST", f"/api/cards/{card_id}/printed")

    def jobs(self, state: str | None = None, limit: int = 100) -> list[dict]:
        params = f"?limit={limit}" + (f"&state={state}" if state else "")
        return self._call("GET", f"/api/station/jobs{params}")
