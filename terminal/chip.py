"""Chip reading at the counter (issue 6 item 1), on firmware_tools.reader.read_card.

- :func:`groups_for`: the data groups a site needs (data minimisation starts at the
  card: a pharmacy never reads the work permit, a bureau never the insurance group);
- :func:`card_data_from_groups`: authenticated group items -> :class:`CardData`;
- :func:`verify_chip`: one read on a connected link -> a TerminalResult (a read that did
  not finish gives "insert the card again", never a verdict on partial data);
- :class:`CardWatcher`: the agent's PC/SC watcher: several readers, cards inserted and
  removed, readers plugged and unplugged, pcscd restarted (it reconnects with backoff).
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time

from smartcard import scard

from crypto.chip import Group
from crypto.claims import (C_EXPIRY, C_ISSUED, C_KIND, C_NUMBER, C_SEQUENCE, C_SERIAL, H_BIRTH, H_CHINESE,
                           H_FAMILY, H_GIVEN, H_NATIONALITY, H_SEX, I_SSN, I_WORK_PERMIT, K_CARD, K_HOLDER,
                           K_IDS, K_INSURANCE, K_PERMIT, P_CATEGORY, P_EMPLOYER, P_FROM, P_LOCATION, P_POSITION,
                           P_STATUS, P_UNTIL, P_USCC, from_month_index)
from crypto.schema import CardKind, InsuranceStatus, InsuranceType, PermitCategory, PermitStatus, Sex
from crypto.verdict import Check, Status
from firmware_tools.link import CardLink, LinkError, PcscUnavailableError, ReaderGoneError
from firmware_tools.pcsc import PcscLink, establish_context
from firmware_tools.reader import ReadStatus, read_card
from terminal.card_data import CardData
from terminal.policy import Field, Requirement, SitePolicy
from terminal.reasons import TerminalReason
from terminal.verifier import TerminalResult, Verifier

log = logging.getLogger(__name__)
PNP = r"\\?PnP?\Notification"  # pcsc-lite's pseudo reader: its state changes when readers come and go
EPOCH = dt.date(1970, 1, 1)

_HOLDER_FIELDS = {Field.NAME, Field.NATIONALITY, Field.WORK_PERMIT_NUMBER}
_PERMIT_FIELDS = {Field.PERMIT_CATEGORY, Field.EMPLOYER, Field.POSITION, Field.WORK_LOCATION, Field.PERMIT_VALIDITY}
_NOTICES = {
    ReadStatus.CARD_REMOVED: (TerminalReason.CARD_REMOVED, "Card removed — insert it again. 卡片已拔出，请重新插入。"),
    ReadStatus.NO_CARD: (TerminalReason.CARD_REMOVED, "No card in the reader — insert it. 读卡器中无卡，请插卡。"),
    ReadStatus.READ_FAILED: (TerminalReason.CARD_UNREADABLE, "The card could not be read — insert it again. "
                                                             "无法读卡，请重新插入。"),
    ReadStatus.PIN_REQUIRED: (TerminalReason.POLICY_DATA_MISSING, "The holder's PIN is needed. 需要持卡人输入密码。"),
    ReadStatus.PIN_WRONG: (TerminalReason.POLICY_DATA_MISSING, "Wrong PIN. 密码错误。"),
    ReadStatus.PIN_BLOCKED: (TerminalReason.POLICY_DATA_MISSING, "The PIN is blocked: the holder must have it "
                                                                 "unblocked at an issuance centre. 密码已锁定。"),
}


def groups_for(policy: SitePolicy) -> tuple[Group, ...]:
    """The groups the site's requirements and shown fields need (the card info always:
    it names the card and its expiry)."""
    shown, required = set(policy.shown_fields), set(policy.requirements)
    groups = [Group.CARD_INFO]
    if shown & _HOLDER_FIELDS:
        groups.append(Group.HOLDER)
    if Field.PHOTO in shown:
        groups.append(Group.PHOTO)
    if shown & _PERMIT_FIELDS or Requirement.WORK_PERMIT_VALID in required:
        groups.append(Group.PERMIT)
    if Field.MEDICAL_INSURANCE in shown or Requirement.MEDICAL_INSURANCE_IN_FORCE in required:
        groups.append(Group.INSURANCE)
    return tuple(groups)


# ---------------------------------------------------------------- data groups -> CardData

def _day(value: object) -> dt.date:
    if type(value) is not int:
        raise ValueError("a date must be an integer (days since 1970-01-01)")
    return EPOCH + dt.timedelta(days=value)


def _text(m: dict, key: int, required: bool = True) -> str | None:
    value = m.get(key)
    if value is None and not required:
        return None
    if type(value) is not str:
        raise ValueError(f"field {key} must be text")
    return value


def card_data_from_groups(groups: dict) -> CardData:
    """Spec §10.1 group items (already digest-checked) in the dictionaries of crypto.claims.
    ValueError/KeyError/TypeError on an item that does not have the documented shape."""
    holder = identifiers = permit = insurance = card = None
    if Group.CARD_INFO in groups:
        info = groups[Group.CARD_INFO]
        c = info[K_CARD]
        card = {"card_number": _text(c, C_NUMBER), "serial": int(c[C_SERIAL]), "kind": CardKind(c[C_KIND]),
                "sequence": int(c[C_SEQUENCE]), "issue_date": _day(c[C_ISSUED]) if C_ISSUED in c else None,
                "expiry_date": _day(c[C_EXPIRY]), "issuing_centre": _text(info, 0)}
    if Group.HOLDER in groups:
        h, i = groups[Group.HOLDER][K_HOLDER], groups[Group.HOLDER][K_IDS]
        holder = {"family_name": _text(h, H_FAMILY), "given_names": _text(h, H_GIVEN),
                  "chinese_name": _text(h, H_CHINESE, False), "nationality": _text(h, H_NATIONALITY),
                  "birth_date": _day(h[H_BIRTH]), "sex": Sex(h[H_SEX])}
        identifiers = {"social_security_number": _text(i, I_SSN), "work_permit_number": f"{int(i[I_WORK_PERMIT]):018d}"}
    if Group.PERMIT in groups:
        p = groups[Group.PERMIT][K_PERMIT]
        permit = {"category": PermitCategory(p[P_CATEGORY]),
                  "employer": {"name": _text(p, P_EMPLOYER), "uscc": _text(p, P_USCC)},
                  "position": _text(p, P_POSITION), "work_location": f"{int(p[P_LOCATION]):06d}",
                  "valid_from": _day(p[P_FROM]), "valid_until": _day(p[P_UNTIL]), "status": PermitStatus(p[P_STATUS])}
    if Group.INSURANCE in groups:
        items = groups[Group.INSURANCE][K_INSURANCE]
        if not isinstance(items, list) or len(items) != 5:
            raise ValueError("the insurance group holds five entries")
        insurance = []
        for kind, item in zip(InsuranceType, items):
            months = [from_month_index(m) for m in item[1:]]
            insurance.append({"type": kind, "status": InsuranceStatus(item[0]),
                              "since": months[0] if months else None,
                              "paid_through": months[1] if len(months) > 1 else None})
    photo = groups.get(Group.PHOTO)
    if photo is not None and not isinstance(photo, bytes):
        raise ValueError("the photo group holds a byte string")
    return CardData("chip", holder, identifiers, permit, insurance, card, photo)


# ---------------------------------------------------------------- one read

def verify_chip(verifier: Verifier, link: CardLink, source: str, pin: str | None = None) -> TerminalResult:
    """Read the connected card for the verifier's site and verify it."""
    policy = verifier.policy
    now = int(verifier.clock())
    store = verifier.store()
    read = read_card(link, groups_for(policy), store, now, pin, leeway=policy.clock_leeway,
                     revocation_max_age=policy.revocation_max_age)
    timings = {"read_ms": round(read.seconds * 1000, 2), **read.traffic.to_dict()}
    if read.status is not ReadStatus.COMPLETE or read.verdict is None:
        reason, action = _NOTICES.get(read.status, (TerminalReason.CARD_UNREADABLE, read.message))
        if read.status is ReadStatus.NOT_SSCARD:
            return verifier.input_failure(TerminalReason.CARD_UNREADABLE, read.message, source, kind="chip")
        if read.status is ReadStatus.PIN_WRONG and read.tries_left is not None:
            action = f"Wrong PIN, {read.tries_left} tries left. 密码错误，剩余 {read.tries_left} 次。"
        return verifier.notice(reason, action, source)
    data = None
    chip_data = read.verdict.result(Check.CHIP_DATA)
    if chip_data is not None and chip_data.status is Status.PASSED:
        try:
            data = card_data_from_groups(dict(read.groups))
        except (ValueError, KeyError, TypeError, IndexError) as exc:
            log.warning("chip data groups of an authenticated card do not have their shape: %s", exc)
            data = CardData("chip")  # no data: the site policy fails closed (POLICY_DATA_MISSING)
    return verifier.finish(read.verdict, data, "chip", source, now, timings=timings)


def read_once(verifier: Verifier, *, reader: str | None = None, pin: str | None = None,
              wait: float = 30.0) -> TerminalResult:
    """`ssc-terminal read-card`: wait for a card, read it once."""
    link = PcscLink(reader, exclusive=True)  # no other client may interleave APDUs with the read
    source = f"chip, reader {reader or 'any'}"
    try:
        if not link.wait_for_card(wait):
            return verifier.notice(TerminalReason.CARD_REMOVED, "No card was inserted. 未插卡。", source)
        link.connect()
        return verify_chip(verifier, link, f"chip, reader {link.reader}", pin)
    except (PcscUnavailableError, ReaderGoneError) as exc:
        return verifier.notice(TerminalReason.READER_UNAVAILABLE, f"{exc}", source)
    except LinkError as exc:
        return verifier.notice(TerminalReason.CARD_UNREADABLE, f"The card could not be read ({exc}).", source)
    finally:
        link.disconnect()


# ---------------------------------------------------------------- the watcher

class CardWatcher(threading.Thread):
    """Watches every PC/SC reader (or one, by name prefix); reads each card inserted."""

    def __init__(self, verifier: Verifier, store=None, *, reader: str | None = None, pin: str | None = None,
                 poll_ms: int = 500) -> None:
        super().__init__(name="card watcher", daemon=True)
        self.verifier, self.only, self.pin, self.poll_ms = verifier, reader, pin, poll_ms
        self._stop_event = threading.Event()
        self._readers: list[str] = []
        self.state = "starting"
        self.reads = 0

    def readers(self) -> list[str]:
        return list(self._readers)

    def stop(self) -> None:
        self._stop_event.set()

    def run(self) -> None:
        delay = 0.2
        while not self._stop_event.is_set():
            try:
                self._watch()
                delay = 0.2
            except (PcscUnavailableError, LinkError) as exc:
                self.state = f"pcscd unavailable: {exc}"
                self._readers = []
                log.warning("PC/SC: %s; retrying in %.1f s", exc, delay)
            except Exception:  # keep watching whatever happened
                log.exception("card watcher failed; restarting")
            self._stop_event.wait(delay)
            delay = min(delay * 2, 5.0)

    def _list(self, context: int) -> list[str]:
        hresult, names = scard.SCardListReaders(context, [])
        if hresult != scard.SCARD_S_SUCCESS:
            return []
        return [n for n in names if self.only is None or n.startswith(self.only)]

    def _watch(self) -> None:
        """One PC/SC context: until pcscd goes away (then the caller reconnects)."""
        context = establish_context()
        self.state = "watching"
        try:
            present: dict[str, bool] = {}
            states: list = []
            known: list[str] | None = None
            while not self._stop_event.is_set():
                names = self._list(context)
                if names != known:
                    known = names
                    self._readers = names
                    states = [(PNP, scard.SCARD_STATE_UNAWARE)] + [(n, scard.SCARD_STATE_UNAWARE) for n in names]
                    present = {n: present.get(n, False) for n in names}
                hresult, new_states = scard.SCardGetStatusChange(context, self.poll_ms, states)
                if hresult in (scard.SCARD_E_TIMEOUT, scard.SCARD_S_SUCCESS) or \
                        hresult & 0xFFFFFFFF == scard.SCARD_E_TIMEOUT & 0xFFFFFFFF:
                    if hresult == scard.SCARD_S_SUCCESS:
                        states = [(n, e & ~scard.SCARD_STATE_CHANGED) for n, e, _ in new_states]
                        self._events(new_states, present)
                    continue
                if hresult & 0xFFFFFFFF == scard.SCARD_E_UNKNOWN_READER & 0xFFFFFFFF:
                    known = None  # a reader went away between listing and waiting
                    continue
                raise PcscUnavailableError(scard.SCardGetErrorMessage(hresult))
        finally:
            scard.SCardReleaseContext(context)

    def _events(self, states, present: dict[str, bool]) -> None:
        for name, event, _atr in states:
            if name == PNP:
                continue
            if event & (scard.SCARD_STATE_UNKNOWN | scard.SCARD_STATE_UNAVAILABLE):
                present[name] = False
                continue
            now_present = bool(event & scard.SCARD_STATE_PRESENT) and not event & scard.SCARD_STATE_MUTE
            if now_present and not present.get(name):
                present[name] = True
                self._read(name)
            elif not now_present:
                present[name] = False

    def _read(self, reader: str) -> None:
        link = PcscLink(reader, exclusive=True)  # no other client may interleave APDUs with the read
        source = f"chip, reader {reader}"
        try:
            link.connect()
            verify_chip(self.verifier, link, source, self.pin)
        except (PcscUnavailableError, ReaderGoneError):
            raise
        except LinkError as exc:
            self.verifier.notice(TerminalReason.CARD_UNREADABLE,
                                 f"The card could not be read ({exc}) — insert it again. 请重新插卡。", source)
        finally:
            self.reads += 1
            link.disconnect()
