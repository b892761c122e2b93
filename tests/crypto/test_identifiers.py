import pytest
from hypothesis import given, strategies as st

from crypto.identifiers import (USCC_ALPHABET, mod11_2_check_character, permanent_residence_id_problem,
                                uscc_check_character, uscc_problem, work_permit_number_problem)


def test_published_uscc_examples_are_valid():
    # Codes printed on published business licences.
    for code in ("91350100M000100Y43", "91110000802100433B"):
        assert uscc_problem(code) is None, code


def test_uscc_wrong_check_character_is_named():
    problem = uscc_problem("91350100M000100Y44")
    assert "expected '3'" in problem


@pytest.mark.parametrize("code,fragment", [
    ("91350100M000100Y4", "18 characters"),
    ("91350100M000100IO3", "alphabet"),
    ("913501X0M000100Y43", "administrative division"),
])
def test_uscc_rejections(code, fragment):
    assert fragment in uscc_problem(code)


@given(st.text(alphabet=USCC_ALPHABET, min_size=17, max_size=17).filter(lambda b: b[2:8].isdigit()))
def test_uscc_every_single_character_change_is_caught(body):
    code = body + uscc_check_character(body)
    assert uscc_problem(code) is None
    for pos in range(18):
        for c in USCC_ALPHABET[:5]:
            if c != code[pos]:
                changed = code[:pos] + c + code[pos + 1:]
                if changed[2:8].isdigit():
                    assert uscc_problem(changed) is not None


def test_mod11_2_known_value():
    # The ISO 7064 MOD 11-2 example used on resident identity cards.
    assert mod11_2_check_character("11010519491231002") == "X"


def test_permanent_residence_id():
    body = "93184019850704001"
    good = body + mod11_2_check_character(body)
    assert permanent_residence_id_problem(good) is None
    assert "start with 9" in permanent_residence_id_problem("1" + good[1:])
    assert "check character" in permanent_residence_id_problem(good[:-1] + ("1" if good[-1] != "1" else "2"))
    assert "18 characters" in permanent_residence_id_problem(good[:-1])


def test_work_permit_number():
    assert work_permit_number_problem("156000019880314021") is None
    assert work_permit_number_problem("15600001988031402") is not None
    assert work_permit_number_problem("15600001988031402A") is not None
