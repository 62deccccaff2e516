"""CRM stage changes become OpenAI conversions: rules, intake sources, polling, resolution."""
