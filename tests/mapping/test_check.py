"""Checking a mapping against a CRM schema, and the dry run."""

from __future__ import annotations

from connector.mapping import check_against_schema, explain, load_mappings
from connector.mapping.schema import FieldSchema, ObjectSchema

from .conftest import EXAMPLES


def _schema(**overrides: FieldSchema) -> ObjectSchema:
    fields = {
        "Email": FieldSchema("Email", "text", "email", 80),
        "First_UTM_Source__c": FieldSchema("First_UTM_Source__c", "text", "string", 255),
        "First_UTM_Medium__c": FieldSchema("First_UTM_Medium__c", "text", "string", 255),
        "Latest_UTM_Source__c": FieldSchema("Latest_UTM_Source__c", "text", "string", 255),
        "Company": FieldSchema("Company", "text", "string", 255),
        "LeadSource": FieldSchema(
            "LeadSource",
            "picklist",
            "picklist",
            255,
            picklist_values=("Web", "Calendly", "Calendly demo"),
            restricted_picklist=True,
        ),
    }
    fields.update(overrides)
    return ObjectSchema("Lead", fields)


def test_clean_schema_has_no_findings(basic):
    assert check_against_schema(basic, _schema()) == []


def test_findings(basic):
    schema = _schema(
        First_UTM_Medium__c=FieldSchema("First_UTM_Medium__c", "number", "double"),
        Latest_UTM_Source__c=FieldSchema("Latest_UTM_Source__c", "text", "string", 20, updateable=False),
        Company=FieldSchema("Company", "text", "string", 255, createable=False),
        LeadSource=FieldSchema(
            "LeadSource",
            "picklist",
            "picklist",
            255,
            picklist_values=("Web", "Calendly"),
            restricted_picklist=True,
        ),
    )
    del schema.fields["First_UTM_Source__c"]
    findings = {(f.target, f.level): f.message for f in check_against_schema(basic, schema)}
    assert "does not exist on Lead" in findings[("First_UTM_Source__c", "error")]
    assert "double" in findings[("First_UTM_Medium__c", "error")]
    assert "not updateable" in findings[("Latest_UTM_Source__c", "error")]
    assert "not createable" in findings[("Company", "warning")]
    assert "restricted picklist rejects Calendly demo" in findings[("LeadSource", "error")]


def test_short_fields_warn_and_click_ids_error():
    lead = load_mappings(EXAMPLES).get("salesforce", "Lead")
    fields = {r.target: FieldSchema(r.target, "text", "string", 255) for r in lead.all_rules()}
    fields["Latest_UTM_Campaign__c"] = FieldSchema("Latest_UTM_Campaign__c", "text", "string", 50)
    fields["GCLID__c"] = FieldSchema("GCLID__c", "text", "string", 50)
    fields["First_Touch_At__c"] = FieldSchema("First_Touch_At__c", "datetime", "datetime")
    fields["LeadSource"] = FieldSchema("LeadSource", "picklist", "picklist", 255)
    for name in lead.read.values():
        fields.setdefault(name, FieldSchema(name, "text"))
    findings = {(f.target, f.level) for f in check_against_schema(lead, ObjectSchema("Lead", fields))}
    assert findings == {
        ("Latest_UTM_Campaign__c", "warning"),
        ("GCLID__c", "error"),
        ("First_Landing_Page__c", "warning"),
        ("First_Referrer__c", "warning"),
        ("Latest_Referrer__c", "warning"),
        ("Conversion_Page__c", "warning"),
    }


def test_date_field_needs_a_date_transform(basic):
    schema = _schema(Latest_UTM_Source__c=FieldSchema("Latest_UTM_Source__c", "date", "date"))
    (finding,) = check_against_schema(basic, schema)
    assert "iso_date" in finding.message


def test_explain_says_exactly_what_would_be_written(basic):
    sample = {
        "source": "calendly",
        "form_id": "demo",
        "attribution": {"first_utm_source": "chatgpt", "latest_utm_source": "ChatGPT"},
        "contact": {"email": "Ana@Example.com"},
        "current": {"First_UTM_Medium__c": "cpc"},
    }
    result = explain(basic, sample)
    assert result.match_value == "ana@example.com"
    assert result.writes == {
        "Email": "ana@example.com",
        "Latest_UTM_Source__c": "chatgpt",
        "LeadSource": "Calendly demo",
    }
    text = result.render()
    assert "SKIP  First_UTM_Source__c" in text and "group 'first_touch' already set" in text
    assert "3 field(s) would be written; nothing was sent." in text


def test_explain_flat_payload_without_email(basic):
    result = explain(basic, {"first_utm_source": "bing"})
    assert result.match_value is None and "MISSING" in result.render()
    assert result.writes["First_UTM_Source__c"] == "bing"
