"""The serial scanner reader over real ptys (SimulatedScanner) and pyserial's loop://."""

from __future__ import annotations

import threading
import time

import pytest

from firmware_tools.serial_scanner import (Rejected, Scan, ScannerConfig,
                                           ScannerDisconnectedError,
                                           ScannerUnavailableError, SerialScanner,
                                           SimulatedScanner)

QR = "SSC1:6BFOXN*TS0BI$ZD4N9:9S6RCVN5+O30K3/XIV0W23NTDEPWK G2EP4J0B"


@pytest.fixture
def device(request):
    options = getattr(request, "param", {})
    with SimulatedScanner(**options) as sim:
        yield sim


def reader(sim: SimulatedScanner, **options) -> SerialScanner:
    options.setdefault("terminator", "CR")
    scanner = SerialScanner(ScannerConfig(sim.device, **options))
    scanner.open()
    return scanner


def collect(scanner: SerialScanner, count: int, timeout: float = 3.0) -> list[Scan]:
    got: list[Scan] = []
    deadline = time.monotonic() + timeout
    while len(got) < count and time.monotonic() < deadline:
        scan = scanner.read_scan(deadline - time.monotonic())
        if scan is not None:
            got.append(scan)
    return got


@pytest.mark.parametrize("terminator", ["CR", "CRLF", "LF"])
def test_terminated_scans_are_framed(terminator):
    with SimulatedScanner(terminator=terminator) as sim:
        scanner = reader(sim, terminator=terminator)
        sim.scan(QR)
        sim.scan("second")
        assert collect(scanner, 2) == [QR, "second"]
        scanner.close()


def test_crlf_split_between_reads_and_two_scans_in_one_write():
    with SimulatedScanner(terminator="CRLF") as sim:
        scanner = reader(sim, terminator="CRLF")
        sim.write(b"first\r", delay=0)
        assert scanner.read_scan(0.3) is None      # CR alone does not end a CRLF scan
        sim.write(b"\nsecond\r\nthird\r\n")
        assert collect(scanner, 3) == ["first", "second", "third"]
        scanner.close()


def test_no_terminator_a_pause_ends_the_scan():
    with SimulatedScanner(terminator="none") as sim:
        scanner = reader(sim, terminator="none", idle_timeout=0.3)
        sim.scan(QR, chunk=8, delay=0.005)          # gaps shorter than the idle timeout
        assert collect(scanner, 1) == [QR]
        sim.scan("next")
        assert collect(scanner, 1) == ["next"]
        scanner.close()


def test_chunked_writes_are_joined(device):
    scanner = reader(device)
    device.scan(QR, chunk=3, delay=0.005)
    assert collect(scanner, 1) == [QR]
    scanner.close()


@pytest.mark.parametrize(("aim", "symbology"), [("]Q1", "]Q1"), ("]d2", "]d2"), ("]C0", "]C0")])
def test_aim_symbology_identifier_is_stripped_and_kept(aim, symbology):
    with SimulatedScanner(aim=aim) as sim:
        scanner = reader(sim, strip_aim=True)
        sim.scan(QR)
        (scan,) = collect(scanner, 1)
        assert scan == QR and scan.symbology == symbology
        scanner.close()


def test_aim_identifier_is_left_alone_unless_asked(device):
    with SimulatedScanner(aim="]Q1") as sim:
        scanner = reader(sim)
        sim.scan("abc")
        (scan,) = collect(scanner, 1)
        assert scan == "]Q1abc" and scan.symbology is None
        scanner.close()


def test_prefix_aim_and_suffix_are_stripped():
    with SimulatedScanner(prefix=b"\x02", suffix=b"\x03", aim="]Q1") as sim:
        scanner = reader(sim, prefix=b"\x02", suffix=b"\x03", strip_aim=True)
        sim.scan(QR)
        (scan,) = collect(scanner, 1)
        assert scan == QR and scan.symbology == "]Q1"
        scanner.close()


def test_oversize_scan_is_discarded_and_reported(device):
    seen: list[Rejected] = []
    scanner = SerialScanner(ScannerConfig(device.device, max_length=64),
                            on_rejected=seen.append)
    scanner.open()
    device.scan("x" * 500, chunk=50)
    device.scan("y" * 64)                       # exactly the limit: accepted
    device.scan("z" * 65)
    device.scan("after")
    assert collect(scanner, 2) == ["y" * 64, "after"]
    assert seen == [Rejected("oversize", 500), Rejected("oversize", 65)]
    assert scanner.rejected == seen
    scanner.close()


def test_undecodable_scan_is_rejected(device):
    scanner = reader(device)
    device.write(b"\xff\xfe\r")
    device.scan("ok")
    assert collect(scanner, 1) == ["ok"]
    assert scanner.rejected == [Rejected("undecodable", 2)]
    scanner.close()


def test_unterminated_partial_scan_times_out(device):
    scanner = reader(device, frame_timeout=0.2)
    device.write(b"half a sca")
    assert scanner.read_scan(0.8) is None       # read, then dropped after 0.2 s idle
    device.scan("whole")
    assert collect(scanner, 1) == ["whole"]
    assert scanner.rejected == [Rejected("incomplete", 10)]
    scanner.close()


def test_device_disappears_and_comes_back(tmp_path):
    states: list[str] = []
    with SimulatedScanner(link=tmp_path / "ttyScanner") as sim:
        scanner = SerialScanner(ScannerConfig(sim.device, retry_initial=0.02),
                                on_state=states.append)
        scanner.open()
        sim.scan("before")
        assert collect(scanner, 1) == ["before"]
        sim.unplug()                               # cable pulled
        threading.Timer(0.3, sim.plug).start()     # ... and plugged back (a new pty)
        threading.Timer(0.8, sim.scan, args=("after",)).start()
        assert collect(scanner, 1, timeout=5) == ["after"]
        assert states[:3] == ["connected", "disconnected", "connected"]
        scanner.close()


def test_without_reconnect_a_pulled_device_is_an_error(tmp_path):
    with SimulatedScanner(link=tmp_path / "ttyScanner") as sim:
        scanner = SerialScanner(ScannerConfig(sim.device, reconnect=False))
        scanner.open()
        sim.unplug()
        with pytest.raises(ScannerDisconnectedError):
            scanner.read_scan(2)


def test_absent_device_is_unavailable(tmp_path):
    config = ScannerConfig(str(tmp_path / "nothing"), reconnect=False)
    with pytest.raises(ScannerUnavailableError):
        SerialScanner(config).open()
    limited = SerialScanner(ScannerConfig(str(tmp_path / "nothing"), max_retries=2,
                                          retry_initial=0.01))
    with pytest.raises(ScannerUnavailableError):
        limited.read_scan(2)


def test_loop_url():
    scanner = SerialScanner(ScannerConfig("loop://", terminator="CRLF", strip_aim=True))
    scanner.open()
    scanner.serial.write(b"]Q1" + QR.encode() + b"\r\n")
    (scan,) = collect(scanner, 1)
    assert scan == QR and scan.symbology == "]Q1"
    scanner.close()


def test_callback_api_and_stop_from_another_thread(device):
    scanner = reader(device)
    got: list[str] = []
    worker = threading.Thread(target=scanner.run, args=(got.append,))
    worker.start()
    device.scan("one")
    device.scan("two")
    deadline = time.monotonic() + 3
    while len(got) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    scanner.stop()
    worker.join(2)
    assert not worker.is_alive()
    assert got == ["one", "two"]
    scanner.close()


def test_bad_configuration_is_refused():
    with pytest.raises(ValueError):
        ScannerConfig("loop://", terminator="TAB")
    with pytest.raises(ValueError):
        SimulatedScanner(aim="Q1")
