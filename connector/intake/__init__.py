"""Intake: verify and parse webhook requests, store them durably, hand them to the queue.

One module per sender; each registers itself in `registry`. Adding a source = adding one module here
and importing it in `sources.py`.
"""
