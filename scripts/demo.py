"""make demo: the main job end to end on embedded defaults, as an operator would run it.

Development keys under var/keys (created on first run), a realistic sample credential
signed into QR text, a QR PNG and chip COSE, a trust list published, and the QR verified
offline from its text and from the PNG. A revoked card is refused.

Then the issuer service: officers and a station are created, `ssc-issuer serve` starts on
127.0.0.1 (SQLite in the var folder), the sample person is enrolled, approved by another
officer, issued, personalised with a chip key, printed and delivered through the API, the
trust list is published (over HTTP and into var/www), and the server is stopped by its pid.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
VAR = Path(os.environ.get("SSC_VAR", ROOT / "var")).resolve()


def _shown(arg: str) -> str:
    """An argument as the demo echoes it: a QR text (hundreds of characters) abbreviated."""
    return arg if len(arg) <= 100 else f"'{arg[:24]}…' ({len(arg)} characters)"


def run(*cmd: str, expect: int = 0, env: dict | None = None) -> str:
    print(f"\n$ {' '.join(_shown(a) for a in cmd)}")
    proc = subprocess.run([str(BIN / cmd[0]), *cmd[1:]], cwd=ROOT, capture_output=True, text=True,
                          env=dict(os.environ, SSC_VAR=str(VAR), **(env or {})))
    sys.stdout.write(proc.stdout)
    if proc.returncode != expect:
        sys.stdout.write(proc.stderr)
        sys.exit(f"demo step failed: exit {proc.returncode}, expected {expect}")
    return proc.stdout


def main() -> None:
    sys.path.insert(0, str(ROOT))
    from crypto import samples

    out = VAR / "out"
    out.mkdir(parents=True, exist_ok=True)
    record = samples.long_record()
    record["holder"]["photo_digest"] = record["holder"]["photo_digest"].hex()
    (out / "sample.json").write_text(json.dumps(record, ensure_ascii=False, indent=2), encoding="utf-8")

    run("ssc-issuer", "keys", "init")
    run("ssc-issuer", "keys", "list")
    run("ssc-issuer", "sign", str(out / "sample.json"))
    run("ssc-issuer", "trust-list")
    text = (out / "sample.qr.txt").read_text().strip()
    run("ssc-terminal", "verify-qr", text)
    run("ssc-terminal", "verify-qr", str(out / "sample.qr.png"))
    serial = str(record["card"]["serial"])
    run("ssc-issuer", "trust-list", "--revoked", serial, "--out", str(VAR / "trust" / "revoked.cose"))
    run("ssc-terminal", "verify-qr", str(out / "sample.qr.png"), "--trust-list", str(VAR / "trust" / "revoked.cose"),
        expect=1)
    service_demo(record)
    terminal_demo()
    ecard_demo(record)
    station_demo()
    print("\ndemo complete: the sample card verified offline from text and image; once revoked it is refused; "
          "the service enrolled, approved (four eyes) and issued it, and published the trust list.")



def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _demo_photo() -> bytes:
    import io

    from PIL import Image, ImageDraw

    image = Image.new("RGB", (360, 480), (214, 226, 240))
    draw = ImageDraw.Draw(image)
    draw.ellipse((110, 70, 250, 230), fill=(224, 188, 160))
    draw.rectangle((80, 260, 280, 480), fill=(40, 60, 110))
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def service_demo(record: dict) -> None:
    """The issuer service on embedded defaults, driven through its HTTP API."""
    import httpx

    from crypto import TrustStore, verify_credential
    from crypto.keys import load_certificate
    from firmware_tools.card import profile

    database = VAR / "demo-issuer.db"  # a fresh service database for every demo run
    for stale in (database, Path(f"{database}-wal"), Path(f"{database}-shm")):
        stale.unlink(missing_ok=True)
    password = "demo-password-1"
    env = {"SSC_ISSUER_DATABASE_URL": f"sqlite:///{database}", "SSC_ISSUER_NEW_PASSWORD": password}
    for name, roles in (("erin", ("enroller", "approver")), ("alan", ("approver",)), ("ada", ("admin",))):
        run("ssc-issuer", "users", "add", name, *(f"--role={r}" for r in roles), env=env)
    station_key = run("ssc-issuer", "stations", "add", "station-1", env=env).strip()
    port = _free_port()
    print(f"\n$ ssc-issuer serve --port {port} &")
    server = subprocess.Popen([str(BIN / "ssc-issuer"), "serve", "--port", str(port)], cwd=ROOT,
                              env=dict(os.environ, SSC_VAR=str(VAR), **env), stdout=subprocess.PIPE, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        with httpx.Client(base_url=base, timeout=30) as api:
            deadline = time.monotonic() + 60
            while True:
                try:
                    if api.get("/health").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if server.poll() is not None or time.monotonic() > deadline:
                    sys.exit("demo step failed: the issuer service did not start")
                time.sleep(0.1)
            print(server.stdout.readline().rstrip())
            _through_the_api(api, record, password, station_key, profile)
            trust_list = api.get("/trust-list")
            again = api.get("/trust-list", headers={"If-None-Match": trust_list.headers["etag"]})
            print(f"GET /trust-list: version {trust_list.headers['x-trust-list-version']}, {len(trust_list.content)} "
                  f"bytes, ETag {trust_list.headers['etag'][:18]}...\"; again with If-None-Match: {again.status_code}")
            store = TrustStore(load_certificate(VAR / "keys" / "root-ca.pem"))
            store.update(trust_list.content)
            verdict = verify_credential(_through_the_api.card["qr_text"], store, now=int(time.time()))
            print(f"service-issued card {_through_the_api.card['card_number']} verified offline: "
                  f"{verdict.outcome.value}")
            if verdict.outcome.value != "VALID":
                sys.exit("demo step failed: the service-issued card does not verify")
    finally:
        os.kill(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
        server.stdout.close()
        print(f"stopped the issuer service (pid {server.pid})")
    run("ssc-issuer", "publish", str(VAR / "www"), env=env)
    run("ssc-issuer", "audit", "verify", env=env)


def _step(response, status: int = 200) -> dict:
    if response.status_code != status:
        sys.exit(f"demo step failed: {response.request.method} {response.request.url.path}: "
                 f"{response.status_code} {response.text}")
    return response.json()


def _through_the_api(api, record: dict, password: str, station_key: str, profile) -> None:
    import base64

    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    def login(name: str) -> dict:
        token = _step(api.post("/api/auth/token", data={"username": name, "password": password}))["access_token"]
        return {"Authorization": f"Bearer {token}"}
    erin, alan, ada, station = login("erin"), login("alan"), login("ada"), {"X-API-Key": station_key}
    permit = record["permit"]
    _step(api.post("/api/employers", json={**permit["employer"], "address": "Zhangjiang, Pudong, Shanghai"},
                   headers=erin), 201)
    holder = {k: v for k, v in record["holder"].items() if k != "photo_digest"}
    person = _step(api.post("/api/persons", json={"holder": holder, "identifiers": record["identifiers"]},
                            headers=erin), 201)
    _step(api.put(f"/api/persons/{person['id']}/photo", files={"photo": ("photo.png", _demo_photo(), "image/png")},
                  headers=erin))
    _step(api.put(f"/api/persons/{person['id']}/insurance", json={"enrolments": record["insurance"]}, headers=erin))
    documents = {d: "verified" for d in ("past_employment", "education", "criminal_record", "medical_examination",
                                         "contract", "passport", "photo")}
    app = _step(api.post("/api/applications", headers={**erin, "Idempotency-Key": "demo-apply-1"}, json={
        "person_id": person["id"], "documents": documents,
        "permit": {"category": permit["category"], "employer_uscc": permit["employer"]["uscc"],
                   "position": permit["position"], "work_location": permit["work_location"],
                   "valid_from": permit["valid_from"], "valid_until": permit["valid_until"]}}), 201)
    print(f"enrolled {holder['family_name']}, {holder['given_names']} (person {person['id']}); "
          f"application {app['id']} entered by {app['created_by']}")
    own = api.post(f"/api/applications/{app['id']}/approve", headers=erin)
    print(f"approval by the officer who entered it: {own.status_code} ({own.json()['detail']})")
    approved = _step(api.post(f"/api/applications/{app['id']}/approve", headers=alan))
    print(f"approved by {approved['decided_by']}")
    card = _step(api.post(f"/api/applications/{app['id']}/issue", headers={**erin, "Idempotency-Key": "demo-issue-1"}),
                 201)
    print(f"issued card {card['card_number']}: serial {card['serial']}, sequence {card['sequence']}, "
          f"expires {card['expiry_date']}, QR {len(card['qr_text'])} characters")
    chip_key = ec.generate_private_key(ec.SECP256R1())  # what the card makes at the station (issue 5)
    point = chip_key.public_key().public_bytes(serialization.Encoding.X962,
                                               serialization.PublicFormat.UncompressedPoint)
    dg5 = profile.DG5.wrap(profile.chip_key_payload(point))
    package = _step(api.post(f"/api/cards/{card['id']}/security-object", headers=station,
                             json={"dg5": base64.b64encode(dg5).decode()}))
    print(f"station: security object signed; files to write: {', '.join(package['files'])}")
    for step in ("personalised", "printed", "delivered"):
        _step(api.post(f"/api/cards/{card['id']}/{step}", headers=station))
    published = _step(api.post("/api/trust-list/publish", headers=ada), 201)
    print(f"card {card['card_number']} delivered; trust list version {published['version']} published")
    _through_the_api.card = card


# ---------------------------------------------------------------- the terminal (issue 6)

def terminal_demo() -> None:
    """A terminal with its own home: the root pinned, the trust list synced from a folder
    (a USB stick), the demo card's QR verified at a pharmacy and at a bureau (different
    fields), a rollback refused, a revocation synced and the card refused; then the chip,
    personalised into the reference card and read through pcscd at both sites."""
    import datetime as dt
    import hashlib
    import shutil

    from crypto import samples

    home = VAR / "terminal"
    (home / "trust").mkdir(parents=True, exist_ok=True)
    shutil.copy(VAR / "keys" / "root-ca.pem", home / "root-ca.pem")  # pinned out of band
    print(f"\n# terminal: root pinned in {home / 'root-ca.pem'}")
    env = {"SSC_TERMINAL_HOME": str(home)}  # run() adds SSC_VAR to the process environment
    for name in ("trustlist.cose", "trustlist.json"):  # a fresh terminal each demo run
        (home / "trust" / name).unlink(missing_ok=True)

    today = dt.datetime.now(dt.timezone(dt.timedelta(hours=8))).date()
    photo = _demo_jpeg()
    record = samples.typical_record()
    record["holder"]["photo_digest"] = hashlib.sha256(photo).hexdigest()
    record["card"].update(card_number="M31A00901", serial=901)
    for entry in record["insurance"]:  # paid through this month: in force at the pharmacy
        entry["paid_through"] = today.replace(day=1).isoformat()
    out = VAR / "out"
    (out / "terminal-card.json").write_text(json.dumps(record, indent=2), encoding="utf-8")
    (out / "terminal-card.jpg").write_bytes(photo)
    run("ssc-issuer", "sign", str(out / "terminal-card.json"), env=env)
    usb = VAR / "usb-stick"
    run("ssc-issuer", "trust-list", "--out", str(usb / "trustlist.cose"), env=env)
    run("ssc-terminal", "sync", str(usb), env=env)
    run("ssc-terminal", "status", "--site", "bureau", env=env)
    run("ssc-terminal", "verify-qr", str(out / "terminal-card.qr.png"), "--site", "pharmacy", env=env)
    run("ssc-terminal", "verify-qr", str(out / "terminal-card.qr.png"), "--site", "bureau", env=env)

    old = (usb / "trustlist.cose").read_bytes()
    run("ssc-issuer", "trust-list", "--revoked", "901", "--out", str(usb / "trustlist.cose"), env=env)
    revoked = (usb / "trustlist.cose").read_bytes()
    (usb / "trustlist.cose").write_bytes(old)
    run("ssc-terminal", "sync", str(usb), env=env)  # the same list again: unchanged
    (usb / "trustlist.cose").write_bytes(revoked)
    run("ssc-terminal", "sync", str(usb), env=env)
    (usb / "trustlist.cose").write_bytes(old)
    run("ssc-terminal", "sync", str(usb), env=env, expect=1)  # an older list: rollback refused
    run("ssc-terminal", "verify-qr", str(out / "terminal-card.qr.png"), "--site", "pharmacy", env=env, expect=1)
    (usb / "trustlist.cose").write_bytes(revoked)
    chip_demo(out / "terminal-card.json", out / "terminal-card.jpg", env)
    print("\nterminal: the card's QR and chip verified at a pharmacy and a bureau, each shown only its fields; "
          "an older trust list refused; once revoked, the card is refused.")


def _demo_jpeg() -> bytes:
    import io

    from PIL import Image, ImageDraw

    image = Image.new("RGB", (240, 320), (214, 226, 240))
    draw = ImageDraw.Draw(image)
    draw.ellipse((75, 45, 165, 150), fill=(224, 188, 160))
    draw.rectangle((50, 175, 190, 320), fill=(40, 60, 110))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=80)
    return out.getvalue()


def chip_demo(record: Path, photo: Path, env: dict) -> None:
    """The card's chip through pcscd: personalise the reference card in the virtual reader,
    then read it at the pharmacy (with the PIN: insurance) and at the bureau. Uses a running
    pcscd, or starts one for the demo and stops it (by its pid) afterwards."""
    import fcntl
    import tempfile

    # The test fixtures' locks (tests/firmware_tools/pcscd_fixtures.py): a shared hold on
    # pcscd, so that a test run that started it does not stop it under us, and slot 0.
    locks = []
    for name, mode in (("pcscd", fcntl.LOCK_SH), ("vpcd-slot0", fcntl.LOCK_EX)):
        fd = os.open(Path(tempfile.gettempdir()) / f"sscard-{name}.lock", os.O_RDWR | os.O_CREAT, 0o666)
        fcntl.flock(fd, mode)
        locks.append(fd)
    started: list[subprocess.Popen] = []
    try:
        _chip_steps(record, photo, env, started)
    finally:
        for pcscd in started:  # ours: stop it unless a test run uses it now (as the fixtures do)
            try:
                fcntl.flock(locks[0], fcntl.LOCK_EX | fcntl.LOCK_NB)
                _stop(pcscd)
                print(f"stopped pcscd (pid {pcscd.pid})")
            except BlockingIOError:
                print(f"left pcscd (pid {pcscd.pid}) running: a test run uses it")
        for fd in locks:
            os.close(fd)


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()


def _chip_steps(record: Path, photo: Path, env: dict, started: list) -> None:
    """`started` receives the pcscd process if this starts one."""
    import shutil

    full_env = dict(os.environ, SSC_VAR=str(VAR), **env)
    if subprocess.run([str(BIN / "ssc-card"), "readers"], capture_output=True, env=full_env).returncode == 3:
        binary = shutil.which("pcscd") or "/usr/sbin/pcscd"
        if not Path(binary).exists():
            print("\n# chip: pcscd is not installed (make deps installs it); chip steps skipped")
            return
        Path("/run/pcscd").mkdir(parents=True, exist_ok=True)
        pcscd = subprocess.Popen([binary, "--foreground"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        started.append(pcscd)
        print(f"\n# chip: started pcscd (pid {pcscd.pid})")
    image = VAR / "out" / "terminal-card.cbor"
    card = subprocess.Popen([str(BIN / "ssc-card"), "vcard", "run", "--blank", "--force", "--image", str(image)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=full_env)
    print(f"$ ssc-card vcard run --blank --image {image} &   (pid {card.pid}: a blank card in the virtual reader)")
    reader = "Virtual PCD 00 00"
    try:
        run("ssc-card", "personalise", "--reader", reader, "--wait", "20", "--record", str(record),
            "--photo", str(photo), "--keys", str(VAR / "keys"), env=env)
        # read with the list from before the revocation (--trust-list), then with the synced one
        run("ssc-terminal", "read-card", "--reader", reader, "--site", "pharmacy", "--pin", "123456",
            "--trust-list", str(VAR / "trust" / "trustlist.cose"), env=env)
        run("ssc-terminal", "read-card", "--reader", reader, "--site", "bureau",
            "--trust-list", str(VAR / "trust" / "trustlist.cose"), env=env)
        run("ssc-terminal", "read-card", "--reader", reader, "--site", "bureau", env=env, expect=1)
    finally:
        _stop(card)



# ---------------------------------------------------------------- the e-card (issue 7)

def ecard_demo(record: dict) -> None:
    """The e-card of the card the service issued: an officer makes a one-time activation
    code, the holder's wallet activates it against the running service (phone key made in
    the wallet, credential bound to it), a bureau terminal synced from the service verifies
    the phone's QR code from its image, refuses the same image scanned again, and accepts
    an answer to its challenge (challenge mode)."""
    import shutil

    card = _through_the_api.card
    database = VAR / "demo-issuer.db"
    password = "demo-password-1"
    env = {"SSC_ISSUER_DATABASE_URL": f"sqlite:///{database}", "SSC_ISSUER_PASSWORD": password,
           "SSC_WALLET_HOME": str(VAR / "wallet"), "SSC_WALLET_PASSPHRASE": "demo-wallet-passphrase",
           "SSC_TERMINAL_HOME": str(VAR / "terminal-ecard")}
    shutil.rmtree(VAR / "wallet", ignore_errors=True)  # a fresh phone and terminal each demo run
    shutil.rmtree(VAR / "terminal-ecard", ignore_errors=True)
    (VAR / "terminal-ecard" / "trust").mkdir(parents=True)
    shutil.copy(VAR / "keys" / "root-ca.pem", VAR / "terminal-ecard" / "root-ca.pem")
    print("\n# e-card: the holder's phone shows a QR code that changes every minute")
    code = json.loads(run("ssc-issuer", "ecard", "code", str(card["id"]), "--user", "erin", env=env))["code"]
    out = VAR / "out"
    with _issuer_service(env) as base:
        run("ssc-card", "wallet", "activate", "--work-permit", record["identifiers"]["work_permit_number"],
            "--code", code, "--issuer", base, env=env)
        run("ssc-terminal", "sync", f"{base}/trust-list", env=env)
        run("ssc-card", "wallet", "show", "--purpose", "permit", "--png", str(out / "ecard.png"), "--no-qr", env=env)
        run("ssc-terminal", "verify-qr", str(out / "ecard.png"), "--site", "bureau", env=env)
        run("ssc-terminal", "verify-qr", str(out / "ecard.png"), "--site", "bureau", env=env, expect=1)  # replayed
        challenge = json.loads(run("ssc-terminal", "challenge", "--site", "bureau", "--png",
                                   str(out / "challenge.png"), "--json", env=env))["challenge"]
        run("ssc-card", "wallet", "respond", challenge, "--png", str(out / "ecard-answer.png"), "--no-qr", env=env)
        run("ssc-terminal", "verify-qr", str(out / "ecard-answer.png"), "--site", "bureau", env=env)
        run("ssc-issuer", "ecard", "list", str(card["id"]), "--user", "erin", env=env)
    print("\ne-card: activated with a one-time code on a new phone key; its QR verified at a bureau, the same "
          "QR refused when scanned again (replay), and a challenge answered.")


@contextlib.contextmanager
def _issuer_service(env: dict):
    """`ssc-issuer serve` on a free port for the duration of the block; stopped by its pid."""
    import httpx

    port = _free_port()
    print(f"\n$ ssc-issuer serve --port {port} &")
    server = subprocess.Popen([str(BIN / "ssc-issuer"), "serve", "--port", str(port)], cwd=ROOT,
                              env=dict(os.environ, SSC_VAR=str(VAR), **env), stdout=subprocess.PIPE, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/health", timeout=5).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                sys.exit("demo step failed: the issuer service did not start")
            time.sleep(0.1)
        yield base
    finally:
        os.kill(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
        server.stdout.close()
        print(f"stopped the issuer service (pid {server.pid})")



# ---------------------------------------------------------------- the issuance station (issue 5)

def station_demo() -> None:
    """The sample holder's card through the issuance station: the service runs again on the
    demo database; the first card (whose chip key was made in software above) is reported
    damaged and replaced; `ssc-issuer station run` takes the replacement's job, personalises
    a blank reference card in the virtual reader through pcscd, reports it to the service
    and writes the card's artwork to var/out; a bureau terminal reads the card with the
    service's trust list. pcscd and slot 0 are held as chip_demo holds them."""
    import fcntl
    import tempfile

    import httpx

    env = {"SSC_ISSUER_DATABASE_URL": f"sqlite:///{VAR / 'demo-issuer.db'}"}
    print("\n# issuance station: the sample card's replacement, personalised through pcscd")
    station = {"SSC_ISSUER_API_KEY": run("ssc-issuer", "stations", "add", "station-2", env=env).strip()}
    locks, started = [], []
    with _issuer_service(env) as base:
        with httpx.Client(base_url=base, timeout=30) as api:
            number = _replacement(api)
        try:
            for name, mode in (("pcscd", fcntl.LOCK_SH), ("vpcd-slot0", fcntl.LOCK_EX)):
                fd = os.open(Path(tempfile.gettempdir()) / f"sscard-{name}.lock", os.O_RDWR | os.O_CREAT, 0o666)
                fcntl.flock(fd, mode)
                locks.append(fd)
            if _pcscd_for_the_station(started):
                _station_steps(base, station, number)
        finally:
            for pcscd in started:  # ours: stop it unless a test run uses it now
                try:
                    fcntl.flock(locks[0], fcntl.LOCK_EX | fcntl.LOCK_NB)
                    _stop(pcscd)
                    print(f"stopped pcscd (pid {pcscd.pid})")
                except BlockingIOError:
                    print(f"left pcscd (pid {pcscd.pid}) running: a test run uses it")
            for fd in locks:
                os.close(fd)


def _replacement(api) -> str:
    """The sample card reported damaged: revoked; its replacement applied for, approved by
    another officer and issued, so it waits in the stations' queue. Its card number."""
    def login(name: str) -> dict:
        token = _step(api.post("/api/auth/token", data={"username": name, "password": "demo-password-1"}))
        return {"Authorization": f"Bearer {token['access_token']}"}
    erin, alan = login("erin"), login("alan")
    old = _through_the_api.card
    app = _step(api.post(f"/api/cards/{old['id']}/replace", headers=erin, json={
        "reason": "damaged", "documents": {"passport": "verified", "photo": "verified"}}), 201)["application"]
    _step(api.post(f"/api/applications/{app['id']}/approve", headers=alan))
    card = _step(api.post(f"/api/applications/{app['id']}/issue", headers=erin), 201)
    print(f"card {old['card_number']} reported damaged and revoked; its replacement {card['card_number']} "
          f"(serial {card['serial']}) is issued and waits for an issuance station")
    return card["card_number"]


def _pcscd_for_the_station(started: list) -> bool:
    """pcscd answers (started here if not: `started` receives it); False when not installed."""
    import shutil

    if subprocess.run([str(BIN / "ssc-card"), "readers"], capture_output=True,
                      env=dict(os.environ, SSC_VAR=str(VAR))).returncode != 3:
        return True
    binary = shutil.which("pcscd") or "/usr/sbin/pcscd"
    if not Path(binary).exists():
        print("# station: pcscd is not installed (make deps installs it); station steps skipped")
        return False
    Path("/run/pcscd").mkdir(parents=True, exist_ok=True)
    started.append(subprocess.Popen([binary, "--foreground"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    print(f"# station: started pcscd (pid {started[-1].pid})")
    return True


def _station_steps(base: str, station: dict, number: str) -> None:
    import httpx

    image, reader, out = VAR / "out" / "station-card.cbor", "Virtual PCD 00 00", VAR / "out"
    card = subprocess.Popen([str(BIN / "ssc-card"), "vcard", "run", "--blank", "--force", "--image", str(image)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=dict(os.environ, SSC_VAR=str(VAR)))
    print(f"$ ssc-card vcard run --blank --image {image} &   (pid {card.pid}: a blank card in the encoder)")
    try:
        run("ssc-issuer", "station", "run", "--reader", reader, "--issuer", base, "--once", "--wait", "20",
            "--out", str(out), env=station)
        run("ssc-issuer", "station", "jobs", "--issuer", base, env=station)
        trust_list = out / "station-trust-list.cose"  # the service's list: the damaged card is revoked
        trust_list.write_bytes(httpx.get(f"{base}/trust-list", timeout=30).content)
        run("ssc-terminal", "read-card", "--reader", reader, "--site", "bureau", "--trust-list", str(trust_list),
            env={"SSC_TERMINAL_HOME": str(VAR / "terminal")})
    finally:
        _stop(card)
    files = ", ".join(sorted(p.name for p in out.glob(f"{number}*")))
    print(f"\nstation: card {number} personalised into a blank reference card through pcscd, locked, reported "
          f"to the service and read VALID at a bureau; its artwork in {out}: {files}")


if __name__ == "__main__":
    main()
