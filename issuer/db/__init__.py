"""The issuer's database layer: typed models, engine and sessions, migrations."""

from issuer.db import production_models  # noqa: F401 -- registers the station queue and batch tables on Base
from issuer.db import ecard_models  # noqa: F401 -- registers the e-card tables on Base
from issuer.db.session import Database, upgrade

__all__ = ["Database", "upgrade"]
