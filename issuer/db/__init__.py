"""The issuer's database layer: typed models, engine and sessions, migrations."""

from issuer.db.session import Database, upgrade

__all__ = ["Database", "upgrade"]
