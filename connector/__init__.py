"""Attribution connector: form, booking and CRM webhooks to Salesforce/HubSpot and OpenAI conversions."""
