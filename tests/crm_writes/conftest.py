"""Fixtures for submission -> CRM tests: the doubles, and worker environments pointed at them."""

from __future__ import annotations

import pytest

from tests.conftest import ROOT
from tests.crm.conftest import hs_mapping, hubspot_double, mappings, salesforce_double, sf_mapping

__all__ = ["hs_mapping", "hubspot_double", "mappings", "salesforce_double", "sf_mapping"]


def hubspot_env(double) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return {
        "CONNECTOR_CRM__PROVIDER": "hubspot",
        "CONNECTOR_CRM__MAPPINGS_PATH": str(ROOT / "mappings"),
        "CONNECTOR_CRM__HUBSPOT__HOST": double.url,
        "CONNECTOR_CRM__HUBSPOT__TOKEN_ENV": "TEST_HUBSPOT_TOKEN",
        "TEST_HUBSPOT_TOKEN": double.token,
        "CONNECTOR_CRM__BATCH_WINDOW_SECONDS": "0.2",
    }


def salesforce_env(double) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return {
        "CONNECTOR_CRM__PROVIDER": "salesforce",
        "CONNECTOR_CRM__MAPPINGS_PATH": str(ROOT / "mappings"),
        "CONNECTOR_CRM__SALESFORCE__AUTH_METHOD": "client_credentials",
        "CONNECTOR_CRM__SALESFORCE__LOGIN_URL": double.url,
        "CONNECTOR_CRM__SALESFORCE__CA_FILE": double.ca_file,
        "CONNECTOR_CRM__SALESFORCE__CLIENT_ID_ENV": "TEST_SF_CLIENT_ID",
        "CONNECTOR_CRM__SALESFORCE__CLIENT_SECRET_ENV": "TEST_SF_CLIENT_SECRET",
        "TEST_SF_CLIENT_ID": double.client_id,
        "TEST_SF_CLIENT_SECRET": double.client_secret,
        "CONNECTOR_CRM__BATCH_WINDOW_SECONDS": "0.2",
    }


@pytest.fixture(params=["hubspot", "salesforce"])
def crm(request: pytest.FixtureRequest, env: dict[str, str]):  # type: ignore[no-untyped-def]
    """(name, double, extra env) for each CRM; the worker environment points at the double."""
    if request.param == "hubspot":
        double = request.getfixturevalue("hubspot_double")
        env.update(hubspot_env(double))
    else:
        double = request.getfixturevalue("salesforce_double")
        env.update(salesforce_env(double))
    return request.param, double


@pytest.fixture(autouse=True)
def worker_logs_on_failure(request: pytest.FixtureRequest):  # type: ignore[no-untyped-def]
    """Print the worker's log when a test fails: it says what the CRM answered."""
    yield
    report = getattr(request.node, "rep_call", None)
    processes = request.node.funcargs.get("processes")
    if report is not None and report.failed and processes is not None:
        print(processes.logs()[-6000:])
