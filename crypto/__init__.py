"""sscard's trust core: credential schema, CBOR claims, COSE_Sign1, keys and certificates,
trust lists and offline verification. Pure: no network, device, database or web framework.

The safe recipes are re-exported here; the modules below hold the primitives.
"""

from crypto.claims import Claims, Profile, decode_claims, encode_claims
from crypto.cose import Algorithm
from crypto.credential import qr_text_for, sign_credential
from crypto.errors import SscError
from crypto.qrtext import decode_qr_text, encode_qr_text
from crypto.reasons import Reason
from crypto.schema import Credential, parse_credential
from crypto.trustlist import TrustList, build_trust_list, load_trust_list
from crypto.verdict import Check, CheckResult, Outcome, Status, Verdict
from crypto.verify import TrustStore, verify_credential, verify_security_object

__all__ = ["Algorithm", "Check", "CheckResult", "Claims", "Credential", "Outcome", "Profile", "Reason",
           "SscError", "Status", "TrustList", "TrustStore", "Verdict", "build_trust_list", "decode_claims",
           "decode_qr_text", "encode_claims", "encode_qr_text", "load_trust_list", "parse_credential",
           "qr_text_for", "sign_credential", "verify_credential", "verify_security_object"]
