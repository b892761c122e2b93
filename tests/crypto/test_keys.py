"""Software key files: encrypted PKCS#8, owner-only, never printed."""

from __future__ import annotations

import stat

import pytest

from crypto import keys
from crypto.cose import Algorithm
from crypto.errors import KeyFileError
from crypto.reasons import Reason


def test_key_file_is_encrypted_and_private(tmp_path):
    key = keys.generate_private_key()
    path = tmp_path / "k.pem"
    keys.save_private_key(path, key, b"correct horse")
    data = path.read_bytes()
    assert b"ENCRYPTED PRIVATE KEY" in data
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    loaded = keys.load_private_key(path, b"correct horse")
    assert loaded.private_numbers() == key.private_numbers()


def test_wrong_passphrase(tmp_path):
    path = tmp_path / "k.pem"
    keys.save_private_key(path, keys.generate_private_key(Algorithm.EDDSA), b"correct horse")
    with pytest.raises(KeyFileError) as err:
        keys.load_private_key(path, b"wrong horse")
    assert err.value.reason is Reason.KEY_PASSPHRASE


def test_short_passphrase_and_missing_or_plain_files(tmp_path):
    with pytest.raises(KeyFileError):
        keys.save_private_key(tmp_path / "k.pem", keys.generate_private_key(), b"short")
    with pytest.raises(KeyFileError) as err:
        keys.load_private_key(tmp_path / "missing.pem", b"whatever1")
    assert err.value.reason is Reason.KEY_FILE
    plain = tmp_path / "plain.pem"
    from cryptography.hazmat.primitives import serialization
    plain.write_bytes(keys.generate_private_key().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    with pytest.raises(KeyFileError) as err:
        keys.load_private_key(plain, b"whatever1")
    assert "not an encrypted" in err.value.message


def test_signer_repr_and_attributes_do_not_expose_the_key(pki):
    signer = pki.issuer
    secret = keys.load_private_key(pki.folder / "issuer-SH01.key.pem", b"test-passphrase").private_numbers().private_value
    text = repr(signer) + str(signer) + str(vars(signer))
    assert "kid=" in repr(signer)
    for form in (str(secret), f"{secret:x}", f"{secret:X}"):
        assert form not in text
    assert "BEGIN" not in text


def test_raw_signature_lengths(pki, eddsa_pki):
    assert len(pki.issuer.sign(b"m")) == 64
    assert len(eddsa_pki.issuer.sign(b"m")) == 64


def test_kid_is_sha256_prefix_of_certificate_der(pki):
    import hashlib
    from cryptography.hazmat.primitives import serialization
    der = pki.issuer.certificate.public_bytes(serialization.Encoding.DER)
    assert pki.issuer.kid == hashlib.sha256(der).digest()[:8]
