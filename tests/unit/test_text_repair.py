import pytest

from tasks.records.text_repair import repair_mojibake
from tasks.sample_lake import _mojibake


@pytest.mark.parametrize("text", ["Café Tacuba", "Niño Soldado", "Björk", "São Paulo À Belém"])
def test_double_encoded_text_is_restored(text: str) -> None:
    assert _mojibake(text) != text
    assert repair_mojibake(_mojibake(text)) == text


def test_the_public_samples_escape_decodes_to_the_right_letter() -> None:
    # As the raw log line carries it: "No Hay Nadie Como T\u00c3\u0083\u00c2\u00ba"
    assert repair_mojibake("No Hay Nadie Como T\u00c3\u0083\u00c2\u00ba") == "No Hay Nadie Como Tú"


@pytest.mark.parametrize("text", [None, "", "plain ascii", "Café", "Ã la carte", "naïve ✓ 日本"])
def test_genuine_text_is_left_alone(text: str | None) -> None:
    assert repair_mojibake(text) == text
