"""OpenAI Conversions API, one job per module.

- `events`, `currency`, `hashing`, `rules`: the event model and its validation, amounts, user-data
  hashing, which submission becomes which event (pure; the configuration validates with them);
- `builder`, `setup`: a submission -> an event, with the settings of its pixel;
- `ledger`: the exactly-once conversions table (insert, the submission's conversion);
- `sender`, `retry`, `dispatch`, `outcomes`: the batch sender, its retry policy, one pixel's drain, and
  the fenced outcomes it records;
- `metrics`, `story`, `probe`: what /metrics, `events show` and `conversions test` read.
"""
