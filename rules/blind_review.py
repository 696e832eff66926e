"""R11 blind review: whether a material's title identifies the applicant.

A title is shown to the evaluation body beside the masked copy (`/materials/{code}`), so it
must not say who the applicant is or where they work. `identifying_title` says which kind of
identity a title shows (`IdentityKind`), never the value found: the kind is what a refusal,
a log line or a page may carry.

What counts as identifying (each rule is marked `# R11` where it is applied):

- **name**: the applicant's name in Chinese characters, also with any whitespace (full-width
  too), punctuation or symbols between its characters ("瞿 翾翀", "瞿·翾翀"); names of a
  single character are not looked for (every title would be suspect). In pinyin: every
  reading of every character (`pypinyin`, heteronyms: a surname's reading is often not the
  commonest), tones and capitals ignored, with or without spaces or hyphens between
  syllables, surname first or given name first ("Qu Xuanchong", "QUXUANCHONG",
  "Xuanchong Qu", "qu2 xuan1 chong1", "Qú Xuānchōng"); ü as v, u or yu. Pinyin is matched
  on word boundaries only ("Preliminary" does not contain li ming). Not looked for: the given
  name alone (建国, 建设 and 高峰 are ordinary words), initials.
- **id_card**: the full ID-card number with any separators (spaces, dashes, dots; full-width
  digits; a lower-case x), or its last 6 or more characters standing alone as a number
  ("后六位 31002X"). Not looked for: the birth date alone.
- **mobile**: the 11-digit number with any separators and any prefix (+86, 0086, 86).
- **email**: the whole address, case and spaces ignored.
- **employer**: the full name (with any punctuation or spacing), the unified social credit
  code with any separators, and the short forms that keep its trade name (字号): the name
  less its region words (新疆, 乌鲁木齐, 中国, 甘泉堡, ...), everything from its legal form on
  (有限公司, 股份有限公司, 集团, 分公司, ...) and the industry words that end it (硅业, 新能源,
  科技, 材料, ...): 新疆协鑫新能源材料科技有限公司 -> 协鑫, so "协鑫科技业绩证明" identifies. A
  trade name shorter than two characters is not looked for (the full name still is). Not
  looked for: a short form without the trade name, Latin abbreviations (TBEA) and pinyin.

The same rules judge the text OCR reads on a masked copy (`page_findings`: the words of
each line of a page, its spaces between Chinese characters and digit groups ignored as a
title's are, and letters that look like digits read back as digits in a word of digits), and
a submission is refused while a material's masked copy shows any of it or is not checked
yet (`masked_check_refusal`); a finding is its kind, page, place and box, never the text.

Pure (no I/O); importable in the workflow sandbox. `pypinyin` loads its dictionaries when it
is imported, so the worker passes it through the sandbox (worker.py PASSTHROUGH_MODULES) and
workflows import this module inside `imports_passed_through`. They cost each process that
imports this module (worker, portal, command line) about 50 MB and 0.2–0.7 s at start,
measured 2026-12-02 (its phrase dictionary, unused here, is most of it).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache

import phonenumbers
from pypinyin import Style, pinyin

from models.declaration import Applicant, Material
from models.masked_check import CheckStatus
from rules.actions import Refused


class IdentityKind(StrEnum):
    """What a title showed: the reason of a refusal (never the value itself)."""

    name = "name"
    id_card = "id_card"
    mobile = "mobile"
    email = "email"
    employer = "employer"


IDENTITY_KINDS_ZH = {
    IdentityKind.name: "本人姓名",
    IdentityKind.id_card: "身份证号码",
    IdentityKind.mobile: "手机号码",
    IdentityKind.email: "电子邮箱",
    IdentityKind.employer: "工作单位",
}

# Minimum lengths below which a value is not looked for (it would match ordinary titles).
MIN_NAME_CHARS = 2
MIN_ID_TAIL = 6
MIN_TRADE_NAME_CHARS = 2

REGION_WORDS = (  # longest first: removed from an employer's name
    "中国新疆自由贸易试验区乌鲁木齐片区",
    "新疆维吾尔自治区",
    "新疆生产建设兵团",
    "甘泉堡经济技术开发区",
    "高新技术产业开发区",
    "经济技术开发区",
    "自由贸易试验区",
    "自贸试验区",
    "乌鲁木齐市",
    "乌鲁木齐",
    "自治区",
    "开发区",
    "工业区",
    "甘泉堡",
    "米东区",
    "自贸区",
    "高新区",
    "新疆",
    "中国",
    "片区",
)
LEGAL_FORMS = (  # an employer's name is cut at the first of these
    "股份有限公司",
    "有限责任公司",
    "有限公司",
    "股份公司",
    "分公司",
    "集团",
    "公司",
    "有限合伙",
    "合伙企业",
    "分厂",
    "分院",
)
INDUSTRY_WORDS = (  # stripped from the end of what is left: the trade name remains
    "新能源材料",
    "高新技术",
    "太阳能",
    "新能源",
    "新材料",
    "硅材料",
    "煤化工",
    "天然气",
    "研究院",
    "研究所",
    "设计院",
    "事务所",
    "委员会",
    "能源",
    "材料",
    "硅业",
    "光伏",
    "光电",
    "电力",
    "电气",
    "电工",
    "电子",
    "科技",
    "技术",
    "实业",
    "工业",
    "产业",
    "发展",
    "投资",
    "控股",
    "化工",
    "化学",
    "工程",
    "建设",
    "建筑",
    "设备",
    "装备",
    "制造",
    "机械",
    "信息",
    "智能",
    "数字",
    "网络",
    "软件",
    "环保",
    "环境",
    "贸易",
    "商贸",
    "物流",
    "服务",
    "管理",
    "咨询",
    "开发",
    "矿业",
    "冶金",
    "有色",
    "金属",
    "生物",
    "医药",
    "农业",
    "食品",
    "建材",
    "水泥",
    "煤业",
    "煤电",
    "石化",
    "石油",
    "热电",
    "供电",
    "电网",
    "水务",
    "交通",
    "运输",
    "学院",
    "大学",
    "学校",
    "中学",
    "小学",
    "医院",
    "中心",
    "协会",
    "硅",
    "厂",
    "站",
    "所",
    "院",
    "局",
)
ORDINAL_CHARS = "0123456789第一二三四五六七八九十百千零〇"  # 第一 is no trade name

# Numbers are compared on the title's ASCII letters and digits alone (after NFKC), so any
# separator between their characters (spaces, dashes, dots, brackets, +) is ignored.
_NOT_ALNUM = re.compile(r"[^0-9A-Z]")
_NOT_DIGIT = re.compile(r"[^0-9]")
_ID_RUN = re.compile(r"(?<![0-9A-Z])[0-9X]+(?![0-9A-Z])")
_LATIN_WORDS = re.compile(r"[A-Za-z]+")
_CAMEL = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+")


@dataclass(frozen=True)
class Identity:
    """What a title must not show, in the forms the rules compare (built by `identity_of`)."""

    name: str  # letters and digits only
    name_pinyin: re.Pattern[str] | None
    id_card: str  # upper case
    mobile: str  # the national number's digits
    email: str | None
    employer_name: str
    employer_trade_name: str | None
    employer_uscc: str


def identifying_title(title: str, applicant: Applicant) -> IdentityKind | None:
    """The kind of identity `title` shows of `applicant` (R11), or None."""
    kinds = identifying_kinds(title, applicant)
    return kinds[0] if kinds else None


def identifying_kinds(text: str, applicant: Applicant) -> list[IdentityKind]:
    """Every kind of identity `text` (a title, a line read from a scan) shows of
    `applicant` (R11), in IdentityKind's order; empty: none."""
    identity = identity_of(applicant)
    folded = unicodedata.normalize("NFKC", text)
    compact = _compact(folded)
    alnum = _NOT_ALNUM.sub("", folded.upper())
    kinds = []
    if len(identity.name) >= MIN_NAME_CHARS and identity.name in compact:  # R11
        kinds.append(IdentityKind.name)
    elif identity.name_pinyin is not None and identity.name_pinyin.search(_latin_words(text)):
        kinds.append(IdentityKind.name)  # R11: the name in pinyin
    if identity.id_card in alnum or _has_id_tail(folded.upper(), identity.id_card):  # R11
        kinds.append(IdentityKind.id_card)
    if identity.mobile and identity.mobile in _NOT_DIGIT.sub("", folded):  # R11
        kinds.append(IdentityKind.mobile)
    if identity.email and identity.email in "".join(folded.casefold().split()):  # R11
        kinds.append(IdentityKind.email)
    if _names_employer(compact, alnum, identity):  # R11
        kinds.append(IdentityKind.employer)
    return kinds


def first_identifying_title(
    titles: Sequence[str], applicant: Applicant
) -> tuple[int, IdentityKind] | None:
    """The position (0-based) and kind of the first title that identifies `applicant`."""
    for index, title in enumerate(titles):
        kind = identifying_title(title, applicant)
        if kind is not None:
            return index, kind
    return None


def identity_of(applicant: Applicant) -> Identity:
    employer = applicant.employer
    return _identity(
        applicant.name,
        applicant.id_card,
        applicant.mobile,
        applicant.email,
        employer.name,
        employer.uscc,
    )


@lru_cache(maxsize=256)
def _identity(
    name: str, id_card: str, mobile: str, email: str | None, employer: str, uscc: str
) -> Identity:
    return Identity(
        name=_compact(unicodedata.normalize("NFKC", name)),
        name_pinyin=_pinyin_pattern(name),
        id_card=_NOT_ALNUM.sub("", id_card.upper()),
        mobile=_national_number(mobile),
        email="".join(email.casefold().split()) if email else None,
        employer_name=_compact(unicodedata.normalize("NFKC", employer)),
        employer_trade_name=trade_name(employer),
        employer_uscc=_NOT_ALNUM.sub("", uscc.upper()),
    )


# --- the name ------------------------------------------------------------------------------


def _compact(text: str) -> str:
    """Letters and digits only (whitespace, punctuation and symbols dropped), lower case."""
    return "".join(ch for ch in text if unicodedata.category(ch)[0] in "LN").casefold()


def _is_han(ch: str) -> bool:
    return unicodedata.name(ch, "").startswith(("CJK UNIFIED IDEOGRAPH", "CJK COMPATIBILITY"))


def _syllables(name: str) -> tuple[list[list[str]], list[int]] | None:
    """Each syllable's readings (a Latin word of the name is one literal syllable), and the
    points where the name may be turned round (given name first): after a one- or
    two-character surname, or at a separator (买买提·艾力). None: a character without
    pinyin, or no syllable at all."""
    syllables: list[list[str]] = []
    breaks: list[int] = []
    latin = ""
    for ch in unicodedata.normalize("NFKC", name) + " ":
        if ch.isascii() and ch.isalpha():
            latin += ch.lower()
            continue
        if latin:
            syllables.append([latin])
            latin = ""
        if _is_han(ch):
            readings = pinyin(ch, style=Style.NORMAL, heteronym=True)[0]
            if not readings or readings == [ch]:
                return None
            syllables.append(sorted(set(readings)))
        elif not ch.isalnum():
            breaks.append(len(syllables))
    if len(syllables) < MIN_NAME_CHARS:
        return None
    inner = {b for b in breaks if 0 < b < len(syllables)}
    turns = inner or {1, 2}  # separators, else after a surname of one or two characters
    return syllables, sorted(t for t in turns if t < len(syllables))


def _reading_pattern(readings: list[str]) -> str:
    # pypinyin writes ü as v (lv, nve): also written u, yu (lyu) and ü (folded to u)
    forms = {form for r in readings for form in {r, r.replace("v", "u"), r.replace("v", "yu")}}
    return "(?:" + "|".join(re.escape(f) for f in sorted(forms, key=len, reverse=True)) + ")"


def _pinyin_pattern(name: str) -> re.Pattern[str] | None:
    found = _syllables(name)
    if found is None:
        return None
    syllables, turns = found
    orders = [syllables] + [syllables[t:] + syllables[:t] for t in turns]
    alternatives = [" ?".join(_reading_pattern(s) for s in order) for order in orders]
    return re.compile(r"(?<![a-z])(?:" + "|".join(alternatives) + r")(?![a-z])")


def _latin_words(title: str) -> str:
    """The title's Latin words, lower case, tones dropped, one space apart; a CamelCase word
    split at its capitals (QuXuanchong -> qu xuanchong)."""
    plain = "".join(
        ch for ch in unicodedata.normalize("NFKD", title) if not unicodedata.combining(ch)
    )
    words = (w for run in _LATIN_WORDS.findall(plain) for w in _CAMEL.findall(run))
    return " ".join(w.lower() for w in words)


# --- numbers -------------------------------------------------------------------------------


def _has_id_tail(upper_title: str, id_card: str) -> bool:
    """A number standing alone that is the ID card's last 6 or more characters."""
    return any(
        len(run) >= MIN_ID_TAIL and id_card.endswith(run) for run in _ID_RUN.findall(upper_title)
    )


def _national_number(mobile: str) -> str:
    try:
        return str(phonenumbers.parse(mobile, "CN").national_number)
    except phonenumbers.NumberParseException:
        return _NOT_ALNUM.sub("", mobile)


# --- the employer ---------------------------------------------------------------------------


def trade_name(employer: str) -> str | None:
    """The employer's trade name (字号) as short forms keep it (the module's docstring), or
    None when fewer than MIN_TRADE_NAME_CHARS characters are left."""
    core = _compact(unicodedata.normalize("NFKC", employer))
    cuts = [core.find(form) for form in LEGAL_FORMS if form in core]
    if cuts:
        core = core[: min(cuts)]
    for word in REGION_WORDS:
        core = core.replace(word, "")
    stripped = True
    while stripped:
        stripped = False
        for word in INDUSTRY_WORDS:
            if core.endswith(word):
                core = core[: -len(word)]
                stripped = True
                break
    if len(core) < MIN_TRADE_NAME_CHARS or not core.strip(ORDINAL_CHARS):
        return None  # nothing distinctive left (新疆大学, 乌鲁木齐市第一中学)
    return core


def _names_employer(compact: str, alnum: str, identity: Identity) -> bool:
    if identity.employer_name and identity.employer_name in compact:
        return True
    if identity.employer_uscc and identity.employer_uscc in alnum:
        return True
    trade = identity.employer_trade_name
    return trade is not None and trade in compact


# --- text read from a masked copy (OCR, documents/ocr.py) ----------------------------------

# What a finding says was seen (发现：第3页 上部偏左 可见姓名)
SEEN_KINDS_ZH = {
    IdentityKind.name: "姓名",
    IdentityKind.id_card: "身份证号码",
    IdentityKind.mobile: "手机号码",
    IdentityKind.email: "电子邮箱",
    IdentityKind.employer: "工作单位",
}

# OCR reads a digit as a look-alike letter now and then (0 as O, 1 as l): a word of digits
# and look-alikes only, with at least one digit, is read back as digits. X stays (the ID
# card's check character).
_LOOKALIKES, _AS_DIGITS = "OoQDIl|i!ZzSsBG", "000011111225586"
_DIGIT_LOOKALIKES = str.maketrans(_LOOKALIKES, _AS_DIGITS)
_NUMBER_CHARS = frozenset("0123456789Xx" + _LOOKALIKES)


@dataclass(frozen=True)
class Word:
    """A word OCR read on a page image: its text and its box in the image's pixels."""

    text: str
    left: int
    top: int
    width: int
    height: int


@dataclass(frozen=True)
class Finding:
    """Identifying text seen on a masked copy: its kind, page (1-based), the place a person
    understands (`place_on_page`) and the box in the page image's pixels (x, y, w, h) — never
    the text itself."""

    kind: IdentityKind
    page: int
    place: str
    box: tuple[int, int, int, int]

    @property
    def text_zh(self) -> str:
        return f"第{self.page}页 {self.place} 可见{SEEN_KINDS_ZH[self.kind]}"


def page_findings(
    words: Sequence[Word], page: int, size: tuple[int, int], applicant: Applicant
) -> list[Finding]:
    """What the words OCR read on page `page` (1-based) of a masked copy, of `size` pixels,
    show of `applicant` (R11: the masking missed it). Each line of the page (words side by
    side, in reading order) is matched as a title is (`identifying_kinds`): OCR's spaces
    between Chinese characters and between digit groups are ignored as a title's are; then
    each finding's words are narrowed to the fewest that still show it, for its box."""
    findings: list[Finding] = []
    for line in _lines(words):
        texts = [_digits_read_back(w.text) for w in line]
        for kind in identifying_kinds(" ".join(texts), applicant):
            first, last = _narrowest(texts, kind, applicant)
            box = _union(line[first:last])
            findings.append(Finding(kind, page, place_on_page(box, size), box))
    return findings


def place_on_page(box: tuple[int, int, int, int], size: tuple[int, int]) -> str:
    """Where a box is on a page, as a person says it: 上部偏左, 中部, 下部偏右 (its centre in
    thirds of the page's height and width)."""
    x, y, w, h = box
    width, height = size
    column = min(2, int(3 * (x + w / 2) / max(1, width)))
    row = min(2, int(3 * (y + h / 2) / max(1, height)))
    vertical = ("上部", "中部", "下部")[row]
    horizontal = ("偏左", "居中", "偏右")[column]
    return "中部" if (row, column) == (1, 1) else vertical + horizontal


def _digits_read_back(text: str) -> str:
    folded = unicodedata.normalize("NFKC", text)
    chars = [ch for ch in folded if ch.isalnum() or ch in "|!"]
    if any(ch.isdigit() for ch in chars) and all(ch in _NUMBER_CHARS for ch in chars):
        return folded.translate(_DIGIT_LOOKALIKES)
    return text


def _lines(words: Sequence[Word]) -> list[list[Word]]:
    """The words grouped into lines: a word joins the first line whose band (top to bottom)
    covers at least half its height (OCR's own blocks split a line at wide gaps, such as
    the one after 姓名：), each line left to right."""
    lines: list[tuple[list[Word], list[int]]] = []
    for word in sorted((w for w in words if w.text.strip()), key=lambda w: w.top):
        for members, band in lines:
            overlap = min(band[1], word.top + word.height) - max(band[0], word.top)
            if overlap * 2 >= word.height:
                members.append(word)
                band[0], band[1] = min(band[0], word.top), max(band[1], word.top + word.height)
                break
        else:
            lines.append(([word], [word.top, word.top + word.height]))
    return [sorted(members, key=lambda w: w.left) for members, _ in lines]


def _narrowest(texts: list[str], kind: IdentityKind, applicant: Applicant) -> tuple[int, int]:
    """The fewest consecutive words [first, last) of a line that still show `kind`."""
    first, last = 0, len(texts)
    while first + 1 < last and kind in identifying_kinds(
        " ".join(texts[first + 1 : last]), applicant
    ):
        first += 1
    while last - 1 > first and kind in identifying_kinds(
        " ".join(texts[first : last - 1]), applicant
    ):
        last -= 1
    return first, last


def _union(words: Sequence[Word]) -> tuple[int, int, int, int]:
    left = min(w.left for w in words)
    top = min(w.top for w in words)
    right = max(w.left + w.width for w in words)
    bottom = max(w.top + w.height for w in words)
    return left, top, right - left, bottom - top


# --- the submission: every masked copy's check clean -----------------------------------------

MASKED_CHECK_PENDING = "MaskedCheckPending"
MASKED_TEXT_FOUND = "MaskedTextFound"


def masked_check_refusal(materials: Sequence[Material]) -> Refused | None:
    """Why a submission of `materials` is refused for their masked copies' OCR checks (R11,
    models/masked_check.py), or None: the first material whose check found identifying text
    (its number, page, place and kind in the facts; never the text), else the first whose
    check has not finished or is missing (a copy made before the checks, or whose check did
    not start: the applicant masks it again)."""
    for number, material in enumerate(materials, 1):
        check = material.check
        if check is not None and check.status is CheckStatus.found and check.findings:
            first = check.findings[0]
            message = (
                f"materials[{number - 1}]: the masked copy still shows the applicant's "
                f"{first.kind} on page {first.page} ({len(check.findings)} finding(s))"
            )
            facts = {
                "problem": "masked_text_found",
                "material": str(number),
                "page": str(first.page),
                "place": first.place,
                "kind": first.kind,
            }
            return Refused(MASKED_TEXT_FOUND, message, facts)
    for number, material in enumerate(materials, 1):
        check = material.check
        if check is None:
            message = f"materials[{number - 1}]: the masked copy has no check"
            facts = {"problem": "masked_check_missing", "material": str(number)}
            return Refused(MASKED_CHECK_PENDING, message, facts)
        if check.status is CheckStatus.pending:
            message = f"materials[{number - 1}]: the masked copy's check has not finished"
            facts = {"problem": "masked_check_pending", "material": str(number)}
            if check.pages:
                facts |= {"pages_done": str(check.pages_done), "pages": str(check.pages)}
            return Refused(MASKED_CHECK_PENDING, message, facts)
    return None
