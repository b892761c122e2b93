"""Certificates (docs/spec.md §6) and the trust list: chain to the pinned root, usage,
private key usage period, rollback."""

from __future__ import annotations

import datetime as dt

import pytest
from cryptography import x509

from crypto import TrustStore, build_trust_list, certs, keys, load_trust_list
from crypto.certs import EKU_CREDENTIAL_SIGNING, EKU_TRUST_LIST_SIGNING, IssuerCertificate
from crypto.errors import CertificateError, TrustListError
from crypto.keys import SoftwareSigner
from crypto.reasons import Reason

from crypto_support import utc



@pytest.fixture(scope="module")
def root_key(pki):
    return keys.load_private_key(pki.folder / "root-ca.key.pem", b"test-passphrase")


def test_issuer_certificate_profile(pki):
    cert = pki.issuer.certificate
    info = IssuerCertificate.from_certificate(cert, pki.root)
    assert info.issuer_code == "SH01"
    assert info.kid == pki.issuer.kid and len(info.kid) == 8
    eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(eku) == [EKU_CREDENTIAL_SIGNING]
    assert info.not_before <= info.usage_not_before < info.usage_not_after < info.not_after
    assert not cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca


def test_certificate_from_another_root_is_refused(pki, tmp_path):
    from crypto.pki import DevelopmentPki
    other = DevelopmentPki.create(tmp_path, b"test-passphrase")
    with pytest.raises(CertificateError) as err:
        IssuerCertificate.from_certificate(other.issuer.certificate, pki.root)
    assert err.value.reason is Reason.CERT_NOT_CHAINED


def test_trust_list_signer_cannot_sign_credentials(pki):
    with pytest.raises(CertificateError) as err:
        IssuerCertificate.from_certificate(pki.trust_list_signer.certificate, pki.root)
    assert err.value.reason is Reason.CERT_WRONG_USAGE


def test_issuer_cannot_sign_trust_lists(pki, now):
    data = build_trust_list(version=1, issued_at=now, next_update=now + 10,
                            issuer_certificates=[pki.issuer.certificate], signer=pki.issuer)
    with pytest.raises(TrustListError) as err:
        load_trust_list(data, pki.root)
    assert err.value.reason is Reason.TL_SIGNER


def test_root_as_issuer_is_refused(pki):
    with pytest.raises(CertificateError):
        IssuerCertificate.from_certificate(pki.root, pki.root)


def test_signing_period_must_be_shorter_than_validity(pki, root_key, clock):
    now = clock.utc()
    key = keys.generate_private_key()
    with pytest.raises(CertificateError):
        certs.make_issuer_certificate(root_key, pki.root, key.public_key(), issuer_code="SH01", now=now,
                                      signing_days=365 * 13, certificate_years=12)
    with pytest.raises(CertificateError):
        certs.make_issuer_certificate(root_key, pki.root, key.public_key(), issuer_code="sh 01", now=now)


def test_certificate_without_usage_period_is_refused(pki, root_key, clock):
    now = clock.utc()
    key = keys.generate_private_key()
    cert = (x509.CertificateBuilder().subject_name(certs._name("x", "SH09")).issuer_name(pki.root.subject)
            .public_key(key.public_key()).serial_number(1).not_valid_before(now)
            .not_valid_after(now + dt.timedelta(days=30))
            .add_extension(x509.KeyUsage(True, False, False, False, False, False, False, False, False), True)
            .add_extension(x509.ExtendedKeyUsage([EKU_CREDENTIAL_SIGNING]), False)
            .sign(root_key, certs._hash_for(root_key)))
    with pytest.raises(CertificateError) as err:
        IssuerCertificate.from_certificate(cert, pki.root)
    assert "private key usage period" in err.value.message


def test_trust_list_round_trip_and_revocation(pki, now):
    data = build_trust_list(version=3, issued_at=now, next_update=now + 3600,
                            issuer_certificates=[pki.issuer.certificate], revoked={"SH01": [5, 1, 5]},
                            signer=pki.trust_list_signer)
    tl = load_trust_list(data, pki.root)
    assert (tl.version, tl.issued_at, tl.next_update) == (3, now, now + 3600)
    assert tl.is_revoked("SH01", 5) and tl.is_revoked("SH01", 1) and not tl.is_revoked("SH01", 2)
    assert [i.issuer_code for i in tl.issuers] == ["SH01"]


def test_rollback_is_refused_and_the_held_list_kept(pki, now):
    def tl(version):
        return build_trust_list(version=version, issued_at=now, next_update=now + 3600,
                                issuer_certificates=[pki.issuer.certificate], signer=pki.trust_list_signer)
    store = TrustStore(pki.root)
    store.update(tl(5))
    with pytest.raises(TrustListError) as err:
        store.update(tl(4))
    assert err.value.reason is Reason.TL_ROLLBACK
    assert store.trust_list.version == 5
    with pytest.raises(TrustListError):
        store.update(tl(5))  # same version, other bytes (another signature)
    same = store.trust_list.encoded
    store.update(same)  # the very same list again is fine
    store.update(tl(6))
    assert store.trust_list.version == 6


def test_trust_list_signed_under_another_root_is_refused(pki, tmp_path, now):
    from crypto.pki import DevelopmentPki
    other = DevelopmentPki.create(tmp_path, b"test-passphrase")
    data = build_trust_list(version=9, issued_at=now, next_update=now + 10,
                            issuer_certificates=[other.issuer.certificate], signer=other.trust_list_signer)
    store = TrustStore(pki.root)
    with pytest.raises(TrustListError) as err:
        store.update(data)
    assert err.value.reason is Reason.TL_SIGNER
    assert store.trust_list is None


def test_tampered_trust_list_is_refused(pki, now):
    data = bytearray(build_trust_list(version=1, issued_at=now, next_update=now + 10,
                                      issuer_certificates=[pki.issuer.certificate], revoked={"SH01": [77]},
                                      signer=pki.trust_list_signer))
    idx = data.index(b"\x18\x4d")  # the serial 77 in the revocation list
    data[idx + 1] = 78
    with pytest.raises(TrustListError) as err:
        load_trust_list(bytes(data), pki.root)
    assert err.value.reason is Reason.TL_SIGNATURE


def test_trust_list_with_a_foreign_issuer_is_refused_whole(pki, tmp_path, now):
    from crypto.pki import DevelopmentPki
    other = DevelopmentPki.create(tmp_path, b"test-passphrase")
    data = build_trust_list(version=2, issued_at=now, next_update=now + 10,
                            issuer_certificates=[pki.issuer.certificate, other.issuer.certificate],
                            signer=pki.trust_list_signer)
    with pytest.raises(TrustListError):
        load_trust_list(data, pki.root)


def test_garbage_trust_list(pki):
    for bad in (b"", b"\x00", b"\xd2\x84" + b"\x40" * 4, bytes(100)):
        with pytest.raises(TrustListError):
            load_trust_list(bad, pki.root)


def test_issuer_certificate_valid_at_iat_window(pki, clock):
    info = IssuerCertificate.from_certificate(pki.issuer.certificate, pki.root)
    assert utc(info.not_before) <= clock.utc() <= utc(info.not_after)


def test_signer_must_match_certificate(pki):
    with pytest.raises(Exception):
        SoftwareSigner(keys.generate_private_key(), pki.issuer.certificate)
