"""The issuer's domain: enrolment, approval, the card lifecycle, signing, publication.

No HTTP here: the API (issuer.api) and the command line (issuer.cli) both call these
functions with a database session and the caller's name; errors are
:class:`issuer.services.errors.ServiceError` subclasses that each front-end maps.
"""
