"""The custom search attributes the workflows set (docs/requirements.md, "Contracts"): one
list, which the dev server start (scripts/run.sh), the tests, the benchmarks and
docker-compose.yml all register.

`python -m models.search_attributes` prints them as `Name=Type`, one a line, for shell scripts.
"""

from __future__ import annotations

from temporalio.api.enums.v1 import IndexedValueType
from temporalio.common import SearchAttributeIndexedValueType, SearchAttributeKey

ROUND_YEAR = SearchAttributeKey.for_int("RoundYear")
LEVEL = SearchAttributeKey.for_keyword("Level")
STAGE = SearchAttributeKey.for_keyword("Stage")
JURISDICTION = SearchAttributeKey.for_keyword("Jurisdiction")
RETURN_COUNT = SearchAttributeKey.for_int("ReturnCount")
# The instant the declaration's current stage waits for (unset once it has ended): the UI and
# `starter.py declaration list` sort by it ("ORDER BY" needs Elasticsearch; the CLI sorts).
NEXT_DEADLINE = SearchAttributeKey.for_datetime("NextDeadline")
# True while the record database refuses the declaration's latest transition (set only then):
# `starter.py declaration list --record-failing` and the alert in docs/operations.md.
RECORD_FAILING = SearchAttributeKey.for_bool("RecordFailing")
# The declaration's 申报编号 (`2026-000123`: a per-round counter, no personal data), set when
# it is started (client/declarations.py start_declaration); absent on those started without one.
DECLARATION_NUMBER = SearchAttributeKey.for_keyword("DeclarationNumber")

DECLARATION_SEARCH_ATTRIBUTES: tuple[SearchAttributeKey, ...] = (
    ROUND_YEAR,
    LEVEL,
    STAGE,
    JURISDICTION,
    RETURN_COUNT,
    NEXT_DEADLINE,
    RECORD_FAILING,
    DECLARATION_NUMBER,
)

# The names `temporal operator search-attribute create --type` and `start-dev
# --search-attribute Name=Type` take.
CLI_TYPE_NAMES = {
    SearchAttributeIndexedValueType.INT: "Int",
    SearchAttributeIndexedValueType.KEYWORD: "Keyword",
    SearchAttributeIndexedValueType.DATETIME: "Datetime",
    SearchAttributeIndexedValueType.BOOL: "Bool",
}


def registrations() -> dict[str, IndexedValueType.ValueType]:
    """For the operator service's AddSearchAttributesRequest."""
    # The SDK's enum carries the protobuf enum's numbers; the request's map takes the latter.
    return {
        key.name: IndexedValueType.ValueType(key.indexed_value_type)
        for key in DECLARATION_SEARCH_ATTRIBUTES
    }


def cli_pairs() -> list[str]:
    return [
        f"{key.name}={CLI_TYPE_NAMES[key.indexed_value_type]}"
        for key in DECLARATION_SEARCH_ATTRIBUTES
    ]


if __name__ == "__main__":
    print("\n".join(cli_pairs()))
