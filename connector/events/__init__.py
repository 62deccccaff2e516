"""What a conversion is, in the words the configuration and the code share. Pure values, no I/O.

- `model`: the OpenAI Conversions API event (types, user data, custom data) and its local validation;
- `currency`, `hashing`: amounts in minor units, the user-data normalisation and SHA-256 hashing;
- `form_rules`: `[conversions.rules]`, which form or booking becomes which event;
- `stage_rules`: `[stages.rules]`, which CRM stage change becomes which event.

The configuration validates its tables with these at load time, so they sit below it.
"""
