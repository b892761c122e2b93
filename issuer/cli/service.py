"""ssc-issuer db upgrade, serve, users, stations, audit verify, publish: running the service."""

from __future__ import annotations

import argparse
import getpass
import hashlib
import json
import os
import sys
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from pydantic import ValidationError

from firmware_tools.console import ask_secret
from issuer import audit
from issuer.services import publication, users
from issuer.services.inputs import StationIn, UserIn
from issuer.services.runtime import Runtime
from issuer.settings import Settings


def operator() -> str:
    """The audit log's name for whoever runs a command on the server itself."""
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli:unknown"


def db_upgrade(args: argparse.Namespace, settings: Settings) -> int:
    rt = Runtime(settings)
    try:
        rt.db.upgrade()
    finally:
        rt.close()
    print(f"database schema is up to date ({rt.db.engine.url.render_as_string(hide_password=True)})")
    return 0


def serve(args: argparse.Namespace, settings: Settings) -> int:
    import uvicorn

    from issuer.api import create_app

    rt = Runtime(settings)
    rt.db.upgrade()
    rt.keys  # noqa: B018 -- fail now, not at the first request, when the keys cannot be loaded
    host, port = args.host or settings.host, args.port or settings.port
    print(f"ssc-issuer serving on http://{host}:{port} (OpenAPI at /docs), issuing centre {settings.issuer_code}",
          flush=True)
    try:
        uvicorn.run(create_app(rt), host=host, port=port, log_level=args.log_level, access_log=False,
                    workers=1)
    finally:
        rt.close()
    return 0


def _new_password() -> str:
    return ask_secret("password for the new user: ", "SSC_ISSUER_NEW_PASSWORD", confirm=True)


def users_add(args: argparse.Namespace, settings: Settings) -> int:
    try:
        data = UserIn(username=args.username, password=_new_password(), roles=args.role)
    except ValidationError as exc:
        for err in exc.errors(include_url=False):
            print(f"error: {'.'.join(map(str, err['loc']))}: {err['msg']}", file=sys.stderr)
        return 1
    rt = Runtime(settings)
    try:
        rt.db.upgrade()  # the first admin is usually created on a fresh database
        with rt.db.session() as session:
            user = users.create_user(session, operator(), data)
            session.commit()
    finally:
        rt.close()
    print(f"user {user.username} created with roles {user.roles}")
    return 0


def users_disable(args: argparse.Namespace, settings: Settings) -> int:
    rt = Runtime(settings)
    try:
        with rt.db.session() as session:
            users.set_active(session, operator(), args.username, False)
            session.commit()
    finally:
        rt.close()
    print(f"user {args.username} disabled")
    return 0


def stations_add(args: argparse.Namespace, settings: Settings) -> int:
    rt = Runtime(settings)
    try:
        rt.db.upgrade()
        with rt.db.session() as session:
            station, key = users.create_station(session, operator(), StationIn(name=args.name))
            session.commit()
    finally:
        rt.close()
    print(f"station {station.name} created; its API key (shown once, give it to the station):", file=sys.stderr)
    print(key)
    return 0


def terminals_add(args: argparse.Namespace, settings: Settings) -> int:
    from issuer.services import terminal_events

    rt = Runtime(settings)
    try:
        rt.db.upgrade()
        with rt.db.session() as session:
            terminal, key = terminal_events.create_terminal(session, operator(), args.name)
            session.commit()
    finally:
        rt.close()
    print(f"terminal {terminal.name} created; its API key (shown once; the terminal sends it as "
          f"SSC_EVENTS_KEY):", file=sys.stderr)
    print(key)
    return 0


def audit_verify(args: argparse.Namespace, settings: Settings) -> int:
    rt = Runtime(settings)
    try:
        with rt.db.session() as session:
            report = audit.verify(session)
    finally:
        rt.close()
    if report.ok:
        print(f"audit log intact: {report.rows} rows, hash chain and head verified")
        return 0
    print(f"AUDIT LOG TAMPERED: {len(report.problems)} problem(s) in {report.rows} rows")
    for problem in report.problems:
        print(f"  {problem}")
    return 1


def publish(args: argparse.Namespace, settings: Settings) -> int:
    """Publish a fresh trust list and write it, with the root certificate and the revocation
    deltas (docs/spec.md §11.7), to a folder."""
    rt = Runtime(settings)
    try:
        with rt.db.session() as session:
            record = publication.publish(rt, session, operator())
            session.commit()
            deltas = publication.all_deltas(session)
        root_pem = rt.keys.root.public_bytes(serialization.Encoding.PEM)
    finally:
        rt.close()
    out = Path(args.dir)
    for folder in ("trust-list", "deltas"):
        (out / folder).mkdir(parents=True, exist_ok=True)
    delta = next((d for d in deltas if d.new_version == record.version), None)
    meta = {"version": record.version, "issued_at": record.issued_at, "next_update": record.next_update,
            "sha256": record.sha256, "revoked": record.revoked_count, "latest": "trust-list.cose",
            "revocation_format": 2, "delta_from": delta.base_version if delta else None,
            "deltas": "deltas/index.json", "root_sha256": hashlib.sha256(root_pem).hexdigest()}
    index = {"latest": record.version,
             "deltas": [{"from": d.base_version, "to": d.new_version, "file": f"{d.base_version}-{d.new_version}.cose",
                         "size": len(d.data), "sha256": d.sha256} for d in deltas]}
    files = [(f"deltas/{d.base_version}-{d.new_version}.cose", d.data) for d in deltas
             if not _same_file(out / "deltas" / f"{d.base_version}-{d.new_version}.cose", d.data)]
    files += [(f"trust-list/{record.version}", record.data), ("root-ca.pem", root_pem),
              ("deltas/index.json", (json.dumps(index, indent=1) + "\n").encode()),
              ("trust-list.json", (json.dumps(meta, indent=2) + "\n").encode()),
              ("trust-list.cose", record.data)]  # the latest goes last: readers never see it early
    for name, data in files:
        tmp = out / f"{name}.tmp"
        tmp.write_bytes(data)
        os.replace(tmp, out / name)
    print(f"published trust list version {record.version} ({record.revoked_count} revoked serials, "
          f"sha256 {record.sha256[:16]}...) -> {out}")
    print(f"  delta from version {delta.base_version}: {len(delta.data)} bytes; full list {len(record.data)} bytes"
          if delta else f"  no delta (first list, or the issuer certificates changed); full list {len(record.data)} "
          "bytes")
    return 0


def _same_file(path: Path, data: bytes) -> bool:
    try:
        return path.stat().st_size == len(data) and path.read_bytes() == data
    except OSError:
        return False


def add_parsers(sub: argparse._SubParsersAction, settings: Settings) -> None:
    db = sub.add_parser("db", help="the service database")
    db_sub = db.add_subparsers(dest="db_command", required=True, metavar="ACTION")
    db_sub.add_parser("upgrade", help="create or migrate the schema (Alembic); serve does it too").set_defaults(
        func=db_upgrade)

    srv = sub.add_parser("serve", help="run the issuer service (HTTP API, OpenAPI at /docs)")
    srv.add_argument("--host", help=f"listen address (default: {settings.host})")
    srv.add_argument("--port", type=int, help=f"port (default: {settings.port})")
    srv.add_argument("--log-level", default="warning", choices=["critical", "error", "warning", "info", "debug"])
    srv.set_defaults(func=serve)

    usr = sub.add_parser("users", help="officer accounts")
    usr_sub = usr.add_subparsers(dest="users_command", required=True, metavar="ACTION")
    add = usr_sub.add_parser("add", help="create an officer (password from SSC_ISSUER_NEW_PASSWORD or a prompt)")
    add.add_argument("username")
    add.add_argument("--role", action="append", required=True,
                     choices=["enroller", "approver", "station", "auditor", "admin"], help="repeatable")
    add.set_defaults(func=users_add)
    dis = usr_sub.add_parser("disable", help="disable an officer's account")
    dis.add_argument("username")
    dis.set_defaults(func=users_disable)

    st = sub.add_parser("stations", help="issuance stations and their API keys")
    st_sub = st.add_subparsers(dest="stations_command", required=True, metavar="ACTION")
    sadd = st_sub.add_parser("add", help="register a station; prints its API key once")
    sadd.add_argument("name")
    sadd.set_defaults(func=stations_add)

    te = sub.add_parser("terminals", help="verification terminals that forward their event logs")
    te_sub = te.add_subparsers(dest="terminals_command", required=True, metavar="ACTION")
    tadd = te_sub.add_parser("add", help="register a terminal; prints its API key once")
    tadd.add_argument("name")
    tadd.set_defaults(func=terminals_add)

    au = sub.add_parser("audit", help="the audit log")
    au_sub = au.add_subparsers(dest="audit_command", required=True, metavar="ACTION")
    au_sub.add_parser("verify", help="check the hash chain: exit 1 if a row was edited, reordered or deleted"
                      ).set_defaults(func=audit_verify)

    pub = sub.add_parser("publish", help="publish a fresh trust list and write it to DIR for a web server, "
                         "CDN or USB stick")
    pub.add_argument("dir", help="output folder: trust-list.cose (latest), trust-list/VERSION, root-ca.pem, "
                     "trust-list.json, deltas/FROM-TO.cose and deltas/index.json")
    pub.set_defaults(func=publish)
