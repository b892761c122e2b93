"""The PKCS#11 signer against a real SoftHSM2 token (one fresh token per test)."""

from __future__ import annotations

import datetime as dt
import sys
import threading
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from pkcs11 import Attribute, ObjectClass
from pkcs11.exceptions import AttributeSensitive

sys.path.insert(0, str(Path(__file__).parent))
from hsm_fixtures import create_token, hsm, softhsm_dir, softhsm_token  # noqa: E402,F401

from crypto import certs, cose  # noqa: E402
from crypto.cose import Algorithm  # noqa: E402
from crypto.errors import SignerError  # noqa: E402
from crypto.keys import generate_private_key, kid_for_certificate  # noqa: E402
from crypto.pkcs11_signer import Pkcs11Signer, Pkcs11Token, generate_key_pair  # noqa: E402
from crypto.reasons import Reason  # noqa: E402

pytestmark = pytest.mark.hsm

NOW = dt.datetime(2025, 3, 1, tzinfo=dt.timezone.utc)
PAYLOAD = b"\xa2\x01\x63CN1\x06\x1a\x67\xc2\x4b\x00"  # any bytes: the signer does not look inside
MAX_SIZE = 4096


@pytest.fixture(scope="module")
def root():
    key = generate_private_key(Algorithm.ES256)
    return key, certs.make_root_ca(key, now=NOW)


def issuer_cert(root, public_key):
    root_key, root_cert = root
    return certs.make_issuer_certificate(root_key, root_cert, public_key, issuer_code="SH-01", now=NOW)


def verifies(data: bytes, public_key) -> bool:
    msg = cose.decode_sign1(data, max_size=MAX_SIZE)
    return cose.verify_signature(msg.algorithm, public_key, msg.to_be_signed(), msg.signature)


def private_key_object(token: Pkcs11Token, label: str):
    return token.session.get_key(object_class=ObjectClass.PRIVATE_KEY, label=label)


def test_generated_key_stays_in_the_token(hsm):
    public = generate_key_pair(hsm, "issuer-1", Algorithm.ES256)
    assert isinstance(public, ec.EllipticCurvePublicKey) and public.curve.name == "secp256r1"
    key = private_key_object(hsm, "issuer-1")
    assert key[Attribute.EXTRACTABLE] is False
    assert key[Attribute.SENSITIVE] is True
    assert key[Attribute.NEVER_EXTRACTABLE] is True and key[Attribute.ALWAYS_SENSITIVE] is True
    assert key[Attribute.TOKEN] is True and key[Attribute.PRIVATE] is True
    with pytest.raises(AttributeSensitive):
        key[Attribute.VALUE]


def test_es256_cose_sign1_verifies_and_a_changed_byte_does_not(hsm, root):
    cert = issuer_cert(root, generate_key_pair(hsm, "issuer-1"))
    signer = Pkcs11Signer(hsm, "issuer-1", cert)
    assert signer.algorithm is Algorithm.ES256
    assert signer.kid == kid_for_certificate(cert)

    data = cose.sign1(PAYLOAD, signer)
    msg = cose.decode_sign1(data, max_size=MAX_SIZE)
    assert msg.algorithm is Algorithm.ES256 and msg.kid == signer.kid and msg.payload == PAYLOAD
    assert len(msg.signature) == 64
    assert verifies(data, cert.public_key())

    at = data.index(PAYLOAD) + 3  # one byte inside the payload
    tampered = data[:at] + bytes([data[at] ^ 0x01]) + data[at + 1:]
    assert not verifies(tampered, cert.public_key())
    last = data[:-1] + bytes([data[-1] ^ 0x80])  # one byte of the signature
    assert not verifies(last, cert.public_key())


def test_ecdsa_signatures_are_randomised_but_all_verify(hsm, root):
    cert = issuer_cert(root, generate_key_pair(hsm, "issuer-1"))
    signer = Pkcs11Signer(hsm, "issuer-1", cert)
    first, second = cose.sign1(PAYLOAD, signer), cose.sign1(PAYLOAD, signer)
    assert first != second
    assert verifies(first, cert.public_key()) and verifies(second, cert.public_key())


def test_ed25519(hsm, root):
    if not hsm.supports(Algorithm.EDDSA):
        pytest.skip("this SoftHSM build has no CKM_EC_EDWARDS_KEY_PAIR_GEN / CKM_EDDSA")
    public = generate_key_pair(hsm, "issuer-ed", Algorithm.EDDSA)
    assert isinstance(public, ed25519.Ed25519PublicKey)
    key = private_key_object(hsm, "issuer-ed")
    assert key[Attribute.EXTRACTABLE] is False
    with pytest.raises(AttributeSensitive):
        key[Attribute.VALUE]
    cert = issuer_cert(root, public)
    signer = Pkcs11Signer(hsm, "issuer-ed", cert)
    assert signer.algorithm is Algorithm.EDDSA
    data = cose.sign1(PAYLOAD, signer)
    assert verifies(data, cert.public_key())
    assert cose.sign1(PAYLOAD, signer) == data  # Ed25519 is deterministic
    at = data.index(PAYLOAD)
    assert not verifies(data[:at] + bytes([data[at] ^ 0x01]) + data[at + 1:], cert.public_key())


def test_unsupported_algorithm_is_a_clear_error(hsm, monkeypatch):
    monkeypatch.setattr(Pkcs11Token, "supports", lambda self, algorithm: False)
    with pytest.raises(SignerError) as err:
        generate_key_pair(hsm, "issuer-ed", Algorithm.EDDSA)
    assert err.value.reason is Reason.KEY_TYPE and "EC_EDWARDS_KEY_PAIR_GEN" in err.value.message


def test_wrong_pin(softhsm_token):
    with pytest.raises(SignerError) as err:
        Pkcs11Token(softhsm_token.label, "999999", module=softhsm_token.module)
    assert err.value.reason is Reason.HSM_UNAVAILABLE
    assert "wrong user PIN" in err.value.message and "999999" not in str(err.value)
    # the right PIN still works afterwards
    Pkcs11Token(softhsm_token.label, softhsm_token.pin, module=softhsm_token.module).close()


def test_unknown_token_label(softhsm_token):
    with pytest.raises(SignerError) as err:
        Pkcs11Token("no-such-token", softhsm_token.pin, module=softhsm_token.module)
    assert err.value.reason is Reason.HSM_UNAVAILABLE
    assert "no-such-token" in err.value.message and "SOFTHSM2_CONF" in err.value.message


@pytest.mark.parametrize("module", ["/nonexistent/libpkcs11.so", "/etc/hostname"])
def test_missing_or_broken_module(softhsm_token, module):
    with pytest.raises(SignerError) as err:
        Pkcs11Token(softhsm_token.label, softhsm_token.pin, module=module)
    assert err.value.reason is Reason.HSM_UNAVAILABLE and module in err.value.message


def test_second_open_of_the_same_token_is_refused(hsm):
    with pytest.raises(SignerError) as err:
        Pkcs11Token(hsm.label, "246810", module=hsm.module)
    assert err.value.reason is Reason.HSM_UNAVAILABLE and "already open" in err.value.message


def test_certificate_for_another_key_is_refused(hsm, root):
    generate_key_pair(hsm, "issuer-1")
    other_hsm_key = generate_key_pair(hsm, "issuer-2")
    software_key = generate_private_key(Algorithm.ES256).public_key()
    for public in (other_hsm_key, software_key):
        with pytest.raises(SignerError) as err:
            Pkcs11Signer(hsm, "issuer-1", issuer_cert(root, public))
        assert err.value.reason is Reason.KEY_TYPE and "does not belong" in err.value.message


def test_unknown_key_label(hsm, root):
    cert = issuer_cert(root, generate_key_pair(hsm, "issuer-1"))
    with pytest.raises(SignerError) as err:
        Pkcs11Signer(hsm, "issuer-9", cert)
    assert "issuer-9" in err.value.message


def test_a_label_is_used_once(hsm):
    generate_key_pair(hsm, "issuer-1")
    with pytest.raises(SignerError, match="already holds"):
        generate_key_pair(hsm, "issuer-1")


def test_generation_needs_a_read_write_session(softhsm_token):
    with Pkcs11Token(softhsm_token.label, softhsm_token.pin, module=softhsm_token.module) as token:
        with pytest.raises(SignerError, match="read-write"):
            generate_key_pair(token, "issuer-1")


def test_key_survives_a_new_login(softhsm_token, root):
    info = softhsm_token
    with Pkcs11Token(info.label, info.pin, module=info.module, rw=True) as token:
        cert = issuer_cert(root, generate_key_pair(token, "issuer-1"))
    with Pkcs11Token(info.label, info.pin, module=info.module) as token:  # read-only is enough to sign
        assert verifies(cose.sign1(PAYLOAD, Pkcs11Signer(token, "issuer-1", cert)), cert.public_key())


def test_signing_after_close_is_a_typed_error(hsm, root):
    cert = issuer_cert(root, generate_key_pair(hsm, "issuer-1"))
    signer = Pkcs11Signer(hsm, "issuer-1", cert)
    hsm.close()
    with pytest.raises(SignerError) as err:
        signer.sign(b"data")
    assert err.value.reason is Reason.HSM_UNAVAILABLE


def test_repr_never_shows_the_pin(hsm, root):
    cert = issuer_cert(root, generate_key_pair(hsm, "issuer-1"))
    signer = Pkcs11Signer(hsm, "issuer-1", cert)
    for text in (repr(hsm), repr(signer), str(vars(hsm)), str(vars(signer))):
        assert "246810" not in text
    assert "issuer-1" in repr(signer) and hsm.label in repr(signer)


def test_concurrent_signing_from_four_threads(hsm, root):
    cert = issuer_cert(root, generate_key_pair(hsm, "issuer-1"))
    signer = Pkcs11Signer(hsm, "issuer-1", cert)
    results: list[tuple[bytes, bytes]] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(4)

    def work(n: int) -> None:
        try:
            barrier.wait()
            for i in range(50):
                payload = PAYLOAD + bytes([n, i])
                results.append((payload, cose.sign1(payload, signer)))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors
    assert len(results) == 200
    for payload, data in results:
        assert cose.decode_sign1(data, max_size=MAX_SIZE).payload == payload
        assert verifies(data, cert.public_key())


def test_tokens_made_later_are_seen(softhsm_dir, softhsm_token):
    """The fixture's re-initialisation makes tokens created after the library loaded visible."""
    first = softhsm_token
    second = create_token(softhsm_dir)
    for info in (first, second):
        Pkcs11Token(info.label, info.pin, module=info.module).close()
