"""Fixtures for CRM adapter tests: the loopback doubles, adapters pointed at them, the example mappings."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from connector.crm.base import UpsertItem
from connector.crm.hubspot import HubSpotAdapter
from connector.crm.salesforce import SalesforceAdapter
from connector.crm.salesforce_auth import SalesforceAuth
from connector.mapping import Mapping, MappingSet, load_mappings
from tests.doubles.hubspot_double import HubSpotDouble
from tests.doubles.salesforce_double import SalesforceDouble

EXAMPLES = Path(__file__).resolve().parents[2] / "mappings"


@pytest.fixture(scope="session")
def mappings() -> MappingSet:
    return load_mappings(EXAMPLES)


@pytest.fixture
def hs_mapping(mappings: MappingSet) -> Mapping:
    mapping = mappings.get("hubspot", "contacts")
    assert mapping is not None
    return mapping


@pytest.fixture
def hubspot_double(hs_mapping: Mapping, mappings: MappingSet) -> Iterator[HubSpotDouble]:
    """The HubSpot double with every property the example mappings write, as `crm setup` leaves it."""
    double = HubSpotDouble().start()
    deal = mappings.get("hubspot", "deals")
    for object_type, mapping in (("contacts", hs_mapping), ("deals", deal)):
        for target in mapping.targets() if mapping else ():
            if target not in double.properties[object_type]:
                kind = "datetime" if target.endswith("_at") else "string"
                double.add_property(object_type, target, kind)
    yield double
    double.stop()


@pytest.fixture
def hubspot(hubspot_double: HubSpotDouble) -> HubSpotAdapter:
    return HubSpotAdapter(access_token=hubspot_double.token, host=hubspot_double.url, timeout=5)


def person(n: int, mapping: Mapping, **attribution: str) -> UpsertItem:
    """A submission from person n."""
    values = {
        "first_utm_source": "chatgpt",
        "latest_utm_source": "chatgpt",
        "event_id": f"evt-{n}",
        "oppref": f"opp-{n}",
        **attribution,
    }
    return UpsertItem(
        key=f"w{n}",
        mapping=mapping,
        attribution=values,
        contact={"email": f"p{n}@example.com", "first_name": "Ana", "last_name": f"L{n}"},
    )


@pytest.fixture
def sf_mapping(mappings: MappingSet) -> Mapping:
    mapping = mappings.get("salesforce", "Lead")
    assert mapping is not None
    return mapping


@pytest.fixture
def salesforce_double(mappings: MappingSet) -> Iterator[SalesforceDouble]:
    double = SalesforceDouble().start()
    for obj in ("Lead", "Contact", "Opportunity"):
        mapping = mappings.get("salesforce", obj)
        assert mapping is not None
        for rule in mapping.all_rules():
            if rule.target not in double.fields[obj]:
                is_time = any(t.name == "iso_datetime" for t in rule.transforms)
                double.add_field(obj, rule.target, "datetime" if is_time else "string", 0 if is_time else 255)
    yield double
    double.stop()


def sf_session(double: SalesforceDouble) -> requests.Session:
    """A session trusting only the double's CA (REQUESTS_CA_BUNDLE would override verify otherwise)."""
    session = requests.Session()
    session.trust_env = False
    session.verify = double.ca_file
    return session


@pytest.fixture
def salesforce(salesforce_double: SalesforceDouble) -> SalesforceAdapter:
    auth = SalesforceAuth(
        "client_credentials",
        login_url=salesforce_double.url,
        client_id="test-client",
        client_secret="test-secret",
    )
    return SalesforceAdapter(auth, session=sf_session(salesforce_double), timeout=5)
