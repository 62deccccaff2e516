"""Fixtures for mapping tests: write TOML mapping files into a temporary directory."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from connector.mapping import Mapping, load_mapping

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "mappings"

BASIC = """crm = "salesforce"
object = "Lead"

[match]
field = "Email"
value = "email"

[[fields]]
from = "email"
to = "Email"
policy = "always"

[[fields]]
from = "first_utm_source"
to = "First_UTM_Source__c"
policy = "once"

[[fields]]
from = "first_utm_medium"
to = "First_UTM_Medium__c"
policy = "once"

[[fields]]
from = "latest_utm_source"
to = "Latest_UTM_Source__c"
policy = "always"
transforms = ["lowercase"]

[[fields]]
from = "company"
to = "Company"
policy = "if_empty"
default = "[not provided]"

[[overrides]]
source = "calendly"
skip = ["Company"]
[[overrides.fields]]
value = "Calendly"
to = "LeadSource"
policy = "always"

[[overrides]]
source = "calendly"
form_id = "demo"
[[overrides.fields]]
value = "Calendly demo"
to = "LeadSource"
policy = "always"
"""


@pytest.fixture
def write_mapping(tmp_path: Path) -> Callable[[str, str], Path]:
    def write(text: str, name: str = "m.toml") -> Path:
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        return path

    return write


@pytest.fixture
def basic(write_mapping: Callable[[str, str], Path]) -> Mapping:
    return load_mapping(write_mapping(BASIC, "lead.toml"))
