"""The holder's wallet: the e-card on the phone (docs/spec.md §12, issue 7).

It makes the phone's key pair (the private key stays in the wallet's store, encrypted),
activates the e-card with the issuer (work permit or social security number, a one-time
activation code, the public key and a proof that it holds the private key), keeps the
e-card credential the issuer returns, and makes presentations: a fresh QR code on demand
or every N seconds, or an answer to a terminal's challenge. It talks to the issuer over
HTTP only (never imports the issuer or the terminal).
"""

from firmware_tools.wallet.store import Wallet, WalletError, WalletStore

__all__ = ["Wallet", "WalletError", "WalletStore"]
