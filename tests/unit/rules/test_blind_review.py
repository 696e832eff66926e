"""R11: a material's title must not identify the applicant (rules/blind_review.py)."""

from __future__ import annotations

import pytest

from models.declaration import Applicant, Employer
from rules.blind_review import (
    IdentityKind,
    first_identifying_title,
    identifying_title,
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
