"""OpenAI Conversions API: from a kept submission to an event OpenAI counted, once.

- `builder`, `setup`: a submission -> an event (`connector.events` holds the event model and the rules),
  with the settings of its pixel;
- `ledger`: the exactly-once conversions table (insert, the submission's conversion);
- `sender`, `retry`, `dispatch`, `outcomes`: the batch sender, its retry policy, one pixel's drain, and
  the fenced outcomes it records;
- `metrics`, `story`, `probe`: what /metrics, `events show` and `conversions test` read.
"""
