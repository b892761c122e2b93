"""Terminals forward their event logs here (role terminal, an API key); auditors read them."""

from __future__ import annotations

import json
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict, Field

from issuer.api.deps import Mutation, SessionDep, mutation, require
from issuer.api.schemas import Problem
from issuer.db.models import Role
from issuer.services import terminal_events
from issuer.services.errors import Invalid

router = APIRouter(prefix="/api/terminal-events", tags=["terminal events"],
                   responses={401: {"model": Problem}, 403: {"model": Problem}, 422: {"model": Problem}})
TerminalTx = Annotated[Mutation, Depends(mutation(Role.TERMINAL))]
Code = Annotated[str, Field(pattern=r"^[A-Z][A-Z0-9_]{1,63}$")]


class EventIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    event_id: Annotated[str, Field(min_length=8, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]
    at: Annotated[int, Field(ge=0, lt=2**40)]
    terminal: Annotated[str, Field(max_length=64)] | None = None
    site: Annotated[str, Field(min_length=1, max_length=64)]
    input: Annotated[str, Field(min_length=1, max_length=16)]
    outcome: Literal["VALID", "INVALID", "INDETERMINATE", "NO_VERDICT"]
    reasons: Annotated[list[Code], Field(max_length=32)]
    fields: dict = Field(default_factory=dict, description="only what the site policy lets the terminal log")


class BatchIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    terminal: Annotated[str, Field(max_length=64)] | None = None
    events: Annotated[list[EventIn], Field(min_length=1, max_length=terminal_events.MAX_BATCH)]


class BatchOut(BaseModel):
    received: int
    stored: int
    duplicates: int


class EventOut(BaseModel):
    event_id: str
    terminal_id: int
    site: str
    at: int
    input: str
    outcome: str
    reasons: list[str]
    fields: dict


@router.post("", response_model=BatchOut)
def forward(body: BatchIn, tx: TerminalTx):
    """Store a batch of events (an event id already stored is counted as a duplicate)."""
    for event in body.events:
        if len(json.dumps(event.fields)) > 4096:
            raise Invalid(f"event {event.event_id}: its fields exceed 4096 bytes")
    events = [e.model_dump() for e in body.events]
    return tx.run(lambda: BatchOut(**vars(terminal_events.store_events(tx.session, tx.principal.id, events))))


@router.get("", response_model=list[EventOut], dependencies=[Depends(require(Role.AUDITOR, Role.ADMIN))])
def recent(session: SessionDep, limit: Annotated[int, Query(ge=1, le=1000)] = 100):
    return [EventOut(event_id=e.event_id, terminal_id=e.terminal_id, site=e.site, at=e.at, input=e.input,
                     outcome=e.outcome, reasons=json.loads(e.reasons), fields=json.loads(e.fields))
            for e in terminal_events.list_events(session, limit=limit)]
