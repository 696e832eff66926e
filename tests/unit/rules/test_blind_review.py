"""R11: a material's title must not identify the applicant (rules/blind_review.py)."""

from __future__ import annotations

import pytest

from models.declaration import Applicant, Employer, Material
from models.masked_check import CheckFinding, CheckStatus, MaskedCheck
from rules.blind_review import (
    IdentityKind,
    Word,
    first_identifying_title,
    identifying_title,
    masked_check_refusal,
    page_findings,
    place_on_page,
    trade_name,
)
from tests.helpers.samples import SAMPLE_ID_CARD, SAMPLE_MOBILE, SAMPLE_USCC

APPLICANT = Applicant(
    name="瞿翾翀",
    id_card=SAMPLE_ID_CARD,  # 11010519491231002X
    mobile=SAMPLE_MOBILE,  # 13800138000
    email="qxc@example.com",
    employer=Employer(name="新疆协鑫新能源材料科技有限公司", uscc=SAMPLE_USCC),
)


def applicant(name: str, employer: str = "新疆协鑫新能源材料科技有限公司") -> Applicant:
    return APPLICANT.model_copy(
        update={"name": name, "employer": Employer(name=employer, uscc=SAMPLE_USCC)}
    )


@pytest.mark.parametrize(
    "title",
    [
        "瞿翾翀学历证书",
        "瞿 翾翀",  # a space
        "瞿　翾翀的业绩",  # a full-width space
        "瞿·翾-翀",  # punctuation between the characters
        "瞿\u200b翾翀",  # a zero-width space
    ],
)
def test_the_name_in_chinese_characters(title: str) -> None:
    assert identifying_title(title, APPLICANT) is IdentityKind.name


@pytest.mark.parametrize(
    "title",
    [
        "Qu Xuanchong 学历证书",
        "QU XUAN CHONG",
        "quxuanchong.pdf",
        "QuXuanChong简历",  # CamelCase
        "Xuanchong Qu",  # given name first
        "qu-xuan-chong",
        "Qú Xuānchōng",  # tone marks
        "qu2 xuan1 chong1",  # tone numbers
        "ＱＵ　ＸＵＡＮＣＨＯＮＧ",  # full-width letters
        "CVQuXuanchong",
    ],
)
def test_the_name_in_pinyin(title: str) -> None:
    assert identifying_title(title, APPLICANT) is IdentityKind.name


def test_pinyin_takes_every_reading_compound_surnames_and_u_umlaut() -> None:
    assert identifying_title("Zeng Zhiwei", applicant("曾志伟")) is IdentityKind.name  # 曾 zēng
    assert identifying_title("Ceng Zhiwei", applicant("曾志伟")) is IdentityKind.name
    assert identifying_title("Ming Ouyang", applicant("欧阳明")) is IdentityKind.name
    assert identifying_title("OUYANG Ming", applicant("欧阳明")) is IdentityKind.name
    for written in ("Lv Ming", "Lyu Ming", "Lü Ming", "Lu Ming"):
        assert identifying_title(written, applicant("吕明")) is IdentityKind.name, written
    both_parts = applicant("买买提·艾力")
    assert identifying_title("买买提艾力", both_parts) is IdentityKind.name
    assert identifying_title("Aili Maimaiti", both_parts) is IdentityKind.name


def test_pinyin_only_on_word_boundaries() -> None:
    li_ming = applicant("李明")
    assert identifying_title("Preliminary report", li_ming) is None
    assert identifying_title("Li Ming", li_ming) is IdentityKind.name
    assert identifying_title("Limingsheng", li_ming) is None


@pytest.mark.parametrize(
    "title",
    [
        "身份证11010519491231002X",
        "身份证 110105 19491231 002x",  # spaces, lower-case x
        "110105-19491231-002X",
        "１１０１０５１９４９１２３１００２Ｘ",  # full-width
        "身份证后六位31002X",  # the last six, standing alone
        "尾号1231002X",
    ],
)
def test_the_id_card_number(title: str) -> None:
    assert identifying_title(title, APPLICANT) is IdentityKind.id_card


@pytest.mark.parametrize(
    "title",
    ["联系电话13800138000", "+86 138 0013 8000", "+86-138-0013-8000", "0086 13800138000"],
)
def test_the_mobile(title: str) -> None:
    assert identifying_title(title, APPLICANT) is IdentityKind.mobile


def test_the_email() -> None:
    assert identifying_title("QXC@Example.com 来信", APPLICANT) is IdentityKind.email


@pytest.mark.parametrize(
    "title",
    [
        "新疆协鑫新能源材料科技有限公司业绩证明",  # the full name
        "新疆 协鑫新能源材料科技（有限公司）",  # spaced and bracketed
        "协鑫新能源材料科技有限公司",  # without the region
        "协鑫科技工作证明",  # a short form with the trade name
        "协鑫业绩",
        "新疆协鑫",
        "信用代码 9111 0000 8021 0043 3B",  # the unified social credit code
    ],
)
def test_the_employer_full_and_short(title: str) -> None:
    assert identifying_title(title, APPLICANT) is IdentityKind.employer


def test_trade_names() -> None:
    assert trade_name("新疆协鑫新能源材料科技有限公司") == "协鑫"
    assert trade_name("新疆示例硅业有限公司") == "示例"
    assert trade_name("特变电工股份有限公司新疆变压器厂") == "特变"
    assert trade_name("协鑫（新疆）硅材料有限公司") == "协鑫"
    assert trade_name("东方希望集团") == "东方希望"
    # nothing distinctive left: only the full name is looked for
    assert trade_name("新疆大学") is None
    assert trade_name("乌鲁木齐市第一中学") is None
    assert identifying_title("新疆大学毕业证书", applicant("李明", "新疆大学")) is (
        IdentityKind.employer
    )
    assert identifying_title("大学毕业证书", applicant("李明", "新疆大学")) is None
    assert identifying_title("第一学历证书", applicant("李明", "乌鲁木齐市第一中学")) is None


TYPICAL_TITLES = [
    "学历证书",
    "学位证书",
    "毕业证书（已遮盖姓名和单位）.pdf",
    "业绩证明 (专利)",
    "业绩证明（专利）",
    "继续教育证明",
    "继续教育学时证明（2024年度）",
    "职称证书",
    "初级职称资格证书",
    "专业技术职务聘任证书",
    "劳动合同",
    "社保缴费证明",
    "年度考核表（2022-2024）",
    "驻村工作证明",
    "专利证书 ZL202110000000.0",
    "发明专利：多晶硅还原炉尾气余热回收装置",
    "论文：高纯多晶硅生产工艺优化",
    "技术标准 GB/T 12963-2014",
    "成果转化证明",
    "新能源材料专业技术总结",
    "能源材料科技成果鉴定",
    "光伏硅材料工艺流程",
    "X射线检测报告",
    "身份证复印件",
    "Patent certificate",
    "Preliminary design report",
    "English CV",
    "荣誉证书 2019",
    "证书编号 20231234",
]


@pytest.mark.parametrize("title", TYPICAL_TITLES)
def test_typical_titles_pass(title: str) -> None:
    assert identifying_title(title, APPLICANT) is None
    assert identifying_title(title, applicant("李明", "新疆示例硅业有限公司")) is None
    assert identifying_title(title, applicant("欧阳明", "特变电工股份有限公司")) is None


def test_the_first_identifying_title_by_position() -> None:
    titles = ["学历证书", "继续教育证明", "瞿 翾翀 业绩"]
    assert first_identifying_title(titles, APPLICANT) == (2, IdentityKind.name)
    assert first_identifying_title(titles[:2], APPLICANT) is None


def test_a_one_character_name_is_not_looked_for() -> None:
    assert identifying_title("明细表", applicant("明")) is None


# --- OCR words of a masked copy (page_findings) ---------------------------------------------

SAMPLE = Applicant(
    name="张三",
    id_card=SAMPLE_ID_CARD,
    mobile=SAMPLE_MOBILE,
    email="zs@example.com",
    employer=Employer(name="新疆示例硅业有限公司", uscc=SAMPLE_USCC),
)
PAGE = (600, 900)


def line(y: int, *texts: str, x: int = 40, step: int = 40) -> list[Word]:
    """Words side by side on one line at height y, each `step` pixels on."""
    return [Word(text, x + i * step, y, step - 4, 24) for i, text in enumerate(texts)]


def found(words: list[Word], applicant: Applicant = SAMPLE) -> list[tuple[str, str]]:
    return [(f.kind.value, f.place) for f in page_findings(words, 2, PAGE, applicant)]


def test_ocr_words_split_into_characters_still_show_the_name() -> None:
    words = line(100, "姓", "名", ":", "张", "三") + line(400, "学", "历", "证", "书")
    [finding] = page_findings(words, 2, PAGE, SAMPLE)
    assert finding.kind is IdentityKind.name and finding.page == 2
    assert finding.box == (40 + 3 * 40, 100, 40 + 36, 24)  # 张 and 三 only, not 姓名:
    assert finding.place == "上部偏左"
    assert finding.text_zh == "第2页 上部偏左 可见姓名"


def test_a_line_split_into_blocks_is_one_line() -> None:
    # tesseract puts 单位： and the employer in different blocks, and a tall colon: one line
    words = [Word("单位", 40, 200, 60, 26), Word(":", 104, 185, 8, 59)]
    words += [Word("新", 300, 201, 26, 26), Word("疆", 330, 202, 24, 25)]
    words += [Word("示", 356, 200, 20, 26), Word("例", 380, 199, 26, 27)]
    words += [Word("硅业", 410, 200, 50, 26)]
    [finding] = page_findings(words, 1, PAGE, SAMPLE)
    assert finding.kind is IdentityKind.employer
    assert finding.box == (356, 199, 50, 27)  # 示例, the trade name: what it took
    assert finding.place == "上部居中"


@pytest.mark.parametrize(
    "texts, kind",
    [
        (("身份证号", "110105", "19491231", "002X"), "id_card"),  # in groups
        (("身份证号", "11010519491231002x"), "id_card"),
        (("手机", "l38", "OO13", "8OOO"), "mobile"),  # look-alike letters for digits
        (("电话", "+86", "138-0013-8000"), "mobile"),
        (("邮箱", "zs@example.com"), "email"),
        (("新疆示例硅业有限公司",), "employer"),
        (("示例", "公司"), "employer"),  # the trade name
        (("Zhang", "San"), "name"),  # pinyin
    ],
)
def test_numbers_and_names_with_ocr_noise(texts: tuple[str, ...], kind: str) -> None:
    assert [k for k, _ in found(line(850, *texts))] == [kind]


def test_nothing_identifying_no_finding() -> None:
    words = line(100, "学历证书") + line(200, "专业", ":", "光伏材料", "2010", "年", "7", "月")
    words += line(300, "证书编号", "123456")  # six digits, not the ID card's last ones
    assert found(words) == []


def test_two_kinds_on_one_line_are_both_found() -> None:
    words = line(450, "张三", "13800138000", step=200)
    assert found(words) == [("name", "中部偏左"), ("mobile", "中部")]


@pytest.mark.parametrize(
    "box, place",
    [
        ((0, 0, 10, 10), "上部偏左"),
        ((290, 440, 20, 20), "中部"),
        ((590, 890, 10, 10), "下部偏右"),
        ((250, 10, 100, 20), "上部居中"),
        ((10, 450, 20, 20), "中部偏左"),
    ],
)
def test_the_place_on_the_page(box: tuple[int, int, int, int], place: str) -> None:
    assert place_on_page(box, PAGE) == place


# --- the submission: masked_check_refusal -----------------------------------------------------


def checked(status: str, *findings: CheckFinding, done: int = 1, pages: int = 1) -> Material:
    check = MaskedCheck(
        status=CheckStatus(status), pages_done=done, pages=pages, findings=list(findings)
    )
    return Material(name="学历证书", sha256="0" * 64, masked=True, check=check)


def test_a_finding_refuses_before_a_pending_check() -> None:
    seen = CheckFinding(kind="employer", page=3, place="下部偏右", box=(1, 2, 3, 4))
    refused = masked_check_refusal(
        [checked("clean"), checked("pending", done=1, pages=4), checked("found", seen)]
    )
    assert refused is not None and refused.kind == "MaskedTextFound"
    assert refused.facts == {"problem": "masked_text_found", "material": "3", "page": "3",
                             "place": "下部偏右", "kind": "employer"}  # fmt: skip
    refused = masked_check_refusal([checked("clean"), checked("pending", done=1, pages=4)])
    assert refused is not None and refused.kind == "MaskedCheckPending"
    assert refused.facts == {"problem": "masked_check_pending", "material": "2",
                             "pages_done": "1", "pages": "4"}  # fmt: skip


def test_a_material_without_a_check_is_pending_and_clean_ones_pass() -> None:
    bare = Material(name="学历证书", sha256="0" * 64, masked=True)
    refused = masked_check_refusal([checked("clean"), bare])
    assert refused is not None and refused.kind == "MaskedCheckPending"
    assert refused.facts == {"problem": "masked_check_missing", "material": "2"}
    assert masked_check_refusal([checked("clean"), checked("clean")]) is None
