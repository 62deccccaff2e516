"""Import the CRM stage-change sources so each registers itself with the intake registry."""

from connector.stages import hubspot_webhook, salesforce_outbound  # noqa: F401
