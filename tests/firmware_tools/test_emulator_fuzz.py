"""Random APDUs against the reference card (hypothesis).

Properties: `process_apdu` never raises (no removal fault is planned here), always answers
at least SW1 SW2, the status word is in the table of firmware_tools.iso7816.sw, is not
6F00 (which would mean an unexpected error inside the card) and is one docs/card.md lists
for the command; an issued card's image on disk keeps its files, key, lifecycle and codes:
only the try counters may move.
"""

import tempfile
from pathlib import Path

from hypothesis import given, settings, strategies as st

from firmware_tools.card import apdus
from firmware_tools.card import profile as p
from firmware_tools.card.emulator import CardImage, ReferenceCard
from firmware_tools.card.traces import example_image
from firmware_tools.iso7816.apdu import CommandApdu
from firmware_tools.iso7816.sw import SW, is_known

KNOWN_INS = sorted({ins for c in p.COMMANDS for ins in c.ins} | {0xB1, 0xD7, 0x0F, 0x21, 0x87, 0xCB})
INTERESTING_P = [0x00, 0x01, 0x02, 0x04, 0x0C, 0x80, 0x81, 0x85, 0x8A, 0x9E, 0xFF, 0x60, 0x7F]

states = st.sampled_from(list(p.Lifecycle))
byte = st.integers(0, 255)


def _mostly(common, rare=byte):
    """`common` about three times in four, anything from `rare` otherwise."""
    return st.one_of(common, common, common, rare)


@st.composite
def structured_apdus(draw):
    cla = draw(_mostly(st.sampled_from([0x00, 0x00, 0x00, 0x80])))
    ins = draw(_mostly(st.sampled_from(KNOWN_INS)))
    p1 = draw(_mostly(st.sampled_from(INTERESTING_P)))
    p2 = draw(_mostly(st.sampled_from(INTERESTING_P)))
    data = draw(st.one_of(
        st.just(b""), st.just(b""),
        st.sampled_from([p.AID, p.AID[:7], b"\x01\x01", b"\x01\x04", b"\x01\x1e", b"\x3f\x00",
                         p.pin_block("123456"), p.pin_block("000000"), b"12345678" + p.pin_block("654321")]),
        st.binary(min_size=1, max_size=80),
        st.binary(min_size=256, max_size=600)))
    ne = draw(st.sampled_from([0, 1, 8, 64, 255, 256, 256, 257, 65536]))
    extended = draw(st.booleans())
    return CommandApdu(cla, ins, p1, p2, data, ne, extended).encode()


files = st.sampled_from(p.FILES)
offsets = st.one_of(st.integers(0, 300), st.integers(0, 0x7FFF))
les = st.sampled_from([1, 8, 100, 256, 257, 4096, 65536])
pins = st.sampled_from(["123456", "000000", "654321", "12345678", "99999999"])

# Well-formed commands with random arguments: they get past the header checks and reach
# the handlers' own checks and state (selection, PIN, pending responses, file contents).
builder_apdus = st.one_of(
    st.builds(apdus.select_application, fci=st.booleans()),
    st.builds(apdus.select_file, files, fcp=st.booleans()),
    st.builds(lambda o, n: apdus.read_binary(o, n), offsets, les),
    st.builds(lambda ef, o, n: apdus.read_binary(o, n, ef=ef), files, st.integers(0, 255), les),
    st.builds(apdus.update_binary, offsets, st.binary(min_size=1, max_size=300)),
    st.builds(apdus.erase_binary, offsets),
    st.builds(apdus.get_data, st.sampled_from([0x8A, 0x60, 0x5F20, 0x0000]), les),
    st.builds(apdus.get_response, les),
    st.builds(apdus.verify, pins), st.just(apdus.verify_status()), st.just(apdus.forget_pin()),
    st.builds(apdus.change_pin, pins, pins), st.builds(apdus.unblock_pin, pins, st.none() | pins),
    st.just(apdus.generate_key_pair()), st.just(apdus.read_public_key()),
    st.builds(apdus.internal_authenticate, st.binary(max_size=70)),
    st.just(apdus.start_personalisation()), st.just(apdus.activate()), st.just(apdus.terminate()),
).map(lambda command: command.encode())

apdu_bytes = st.one_of(st.binary(max_size=300), structured_apdus(), builder_apdus, builder_apdus)


# What any command may answer besides its own list in the profile (docs/card.md "Commands").
SHARED = {SW.OK, SW.WRONG_LENGTH, SW.CONDITIONS_NOT_SATISFIED, SW.MEMORY_FAILURE, SW.INS_NOT_SUPPORTED,
          SW.CLA_NOT_SUPPORTED, SW.CHANNEL_NOT_SUPPORTED, SW.SM_NOT_SUPPORTED, SW.CHAINING_NOT_SUPPORTED}


def _declared(raw: bytes, status: int) -> bool:
    """The status word is one the profile documents for this command."""
    try:
        command = CommandApdu.decode(raw)
    except ValueError:
        return status == SW.WRONG_LENGTH
    spec = p.BY_HEADER.get((command.cla, command.ins))
    if spec is None or status in SHARED or status >> 8 == 0x61:
        return True
    if status & 0xFFF0 == p.TRIES_LEFT:
        return p.TRIES_LEFT in spec.status_words
    return status in spec.status_words


def _check(raw: bytes, response: bytes) -> None:
    assert len(response) >= 2
    status = int.from_bytes(response[-2:], "big")
    assert is_known(status), f"{status:04X}"
    assert status != SW.NO_DIAGNOSIS, "the card hit an unexpected error"
    assert _declared(raw, status), f"{raw.hex()} answered {status:04X}, not in the profile's list"


def _durable(image: CardImage) -> dict:
    plain = image.to_plain(text=True)
    del plain["pin_tries"], plain["puk_tries"]
    return plain


@settings(max_examples=300)
@given(states, st.lists(apdu_bytes, max_size=25))
def test_random_apdus_never_break_the_card(state, sequence):
    card = ReferenceCard(example_image(state))
    card.power_on()
    for raw in sequence:
        _check(raw, card.process_apdu(raw))


@settings(max_examples=200)
@given(st.lists(apdu_bytes, min_size=1, max_size=25))
def test_random_apdus_after_select(sequence):
    card = ReferenceCard(example_image(p.Lifecycle.PERSONALISING))
    card.power_on()
    select = CommandApdu(0, 0xA4, 0x04, 0x0C, p.AID).encode()
    _check(select, card.process_apdu(select))
    for raw in sequence:
        _check(raw, card.process_apdu(raw))
    card.image.check()  # what the commands left behind is still a valid image


@settings(max_examples=150)
@given(st.lists(apdu_bytes, min_size=1, max_size=20))
def test_locked_card_image_on_disk_is_unchanged(sequence):
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "issued.cbor"
        image = example_image(p.Lifecycle.ISSUED)
        image.pin, image.puk = "975318", "86420864"  # codes the strategies never send
        card = ReferenceCard(image, path=path)
        card.save()
        before = CardImage.load(path)
        card.power_on()
        select = CommandApdu(0, 0xA4, 0x04, 0x0C, p.AID).encode()
        _check(select, card.process_apdu(select))
        for raw in sequence:
            _check(raw, card.process_apdu(raw))
        after = CardImage.load(path)
        assert _durable(after) == _durable(before)
        assert after.lifecycle is p.Lifecycle.ISSUED
