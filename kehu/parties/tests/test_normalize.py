import pytest
from django.core.exceptions import ValidationError

from kehu.parties import normalize


def test_pinyin_and_initials_of_a_person() -> None:
    assert normalize.pinyin_full("张三") == "zhangsan"
    assert normalize.pinyin_initials("张三") == "zs"


def test_pinyin_reads_characters_in_context() -> None:
    assert normalize.pinyin_full("重庆") == "chongqing"


def test_full_width_input_becomes_ascii() -> None:
    assert normalize.text("  ＡＢＣ　科技  ") == "ABC 科技"
    assert normalize.search_text("ＡＢＣ 科技") == "abc科技"


def test_core_name_drops_place_and_legal_form() -> None:
    assert normalize.core_name("北京字节跳动科技有限公司") == "字节跳动科技"
    assert normalize.core_name("上海市浦东新区某某股份有限公司") == "浦东新区某某"
    assert normalize.core_name("有限公司") == "有限公司"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("13812345678", "+8613812345678"),
        ("+86 138-1234-5678", "+8613812345678"),
        ("１３８１２３４５６７８", "+8613812345678"),
    ],
)
def test_valid_mobiles_normalise_to_e164(raw: str, expected: str) -> None:
    assert normalize.phone(raw, mobile=True) == expected


@pytest.mark.parametrize("raw", ["12345678901", "1381234567", "abc", "010-62345678"])
def test_invalid_mobiles_are_refused_with_the_value(raw: str) -> None:
    with pytest.raises(ValidationError) as exc:
        normalize.phone(raw, mobile=True)
    assert raw in exc.value.messages[0]


def test_landline_is_a_valid_phone() -> None:
    assert normalize.phone("010-62345678", mobile=False) == "+861062345678"
    assert normalize.phone_display("+861062345678") == "010 6234 5678"


def test_phone_search_key_is_the_national_number() -> None:
    assert normalize.phone_search_key("+8613812345678") == "13812345678"
    assert normalize.phone_search_key("+14155550123") == "14155550123"


def test_uscc_check_digit_accepts_a_real_code() -> None:
    assert normalize.uscc("91350100m000100y43") == "91350100M000100Y43"


@pytest.mark.parametrize("raw", ["91350100M000100Y44", "91350100M000100Y4", "9135010OM000100Y43"])
def test_uscc_with_wrong_check_digit_length_or_letters_is_refused(raw: str) -> None:
    with pytest.raises(ValidationError):
        normalize.uscc(raw)


def test_generated_uscc_passes_the_check() -> None:
    code = normalize.uscc_with_check_digit("91110108MA01ABCDE")
    assert normalize.uscc(code) == code
