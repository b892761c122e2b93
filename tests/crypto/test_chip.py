"""Chip data groups and the security object (docs/spec.md §10)."""

from __future__ import annotations

import hashlib

import pytest

from crypto import Check, Outcome, Reason, Status, samples, verify_security_object
from crypto.chip import Group, build_security_object, decode_group, group_payloads
from crypto.claims import K_HOLDER, end_of_day
from crypto.errors import ClaimsError

from crypto_support import make_store

PHOTO = b"\xff\xd8\xff\xe0 a tiny jpeg"


def credential():
    record = samples.typical_record()
    record["holder"]["photo_digest"] = hashlib.sha256(PHOTO).digest()
    from crypto import parse_credential
    return parse_credential(record)


def files_for(cred):
    files = dict(group_payloads(cred, PHOTO))
    files[Group.CHIP_KEY] = b"\xa4\x01\x02 chip key"
    return files


def so_for(pki, now, files, **over):
    cred = credential()
    args = dict(card_number=cred.card.card_number, serial=cred.card.serial, issuer_code="SH01", iat=now - 60,
                exp=end_of_day(cred.card.expiry_date), files=files, signer=pki.issuer)
    args.update(over)
    return build_security_object(**args)


def test_groups_decode_to_the_chip_profile():
    cred = credential()
    payloads = group_payloads(cred, PHOTO)
    holder = decode_group(Group.HOLDER, payloads[Group.HOLDER])
    assert holder[K_HOLDER][1] == cred.holder.family_name
    assert decode_group(Group.PHOTO, payloads[Group.PHOTO]) == PHOTO


def test_photo_must_match_its_digest():
    with pytest.raises(ClaimsError):
        group_payloads(credential(), PHOTO + b"x")


def test_security_object_verifies_and_checks_digests(pki, now):
    files = files_for(credential())
    store = make_store(pki, now)
    verdict = verify_security_object(so_for(pki, now, files), store, now=now)
    assert verdict.outcome is Outcome.VALID, verdict.to_dict()
    so = verdict.claims
    for group, data in files.items():
        assert so.digest_matches(group, data)
    assert not so.digest_matches(Group.HOLDER, files[Group.HOLDER] + b"\x00")
    assert not so.digest_matches(Group.INSURANCE, files[Group.HOLDER])


def test_revoked_card_security_object(pki, now):
    files = files_for(credential())
    store = make_store(pki, now, revoked={"SH01": [credential().card.serial]})
    verdict = verify_security_object(so_for(pki, now, files), store, now=now)
    assert verdict.outcome is Outcome.INVALID
    assert verdict.result(Check.REVOCATION).reason is Reason.REVOKED


def test_issuer_named_in_the_security_object_must_be_the_signer(pki, now):
    verdict = verify_security_object(so_for(pki, now, files_for(credential()), issuer_code="BJ01"),
                                     make_store(pki, now), now=now)
    assert verdict.result(Check.CLAIMS).status is Status.FAILED


def test_required_groups(pki, now):
    files = files_for(credential())
    del files[Group.CHIP_KEY]
    with pytest.raises(ClaimsError):
        so_for(pki, now, files)


def test_garbage_security_object_is_invalid(pki, now):
    store = make_store(pki, now)
    for bad in (b"", b"\x00" * 10, "text", so_for(pki, now, files_for(credential()))[:-1]):
        assert verify_security_object(bad, store, now=now).outcome is Outcome.INVALID
