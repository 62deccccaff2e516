"""Mappings: which attribution value lands in which CRM field, validated at load, applied by a pure engine."""

from connector.mapping.check import Explanation, Finding, check_against_schema, explain
from connector.mapping.engine import Decision, decide, match_value, plan_writes, submission_values
from connector.mapping.loader import (
    MappingError,
    MappingProblem,
    files_fingerprint,
    load_mapping,
    load_mappings,
    parse_mapping,
)
from connector.mapping.model import POLICIES, FieldRule, Mapping, MappingSet, Match, Override, Transform
from connector.mapping.transforms import TRANSFORMS

__all__ = [
    "POLICIES",
    "TRANSFORMS",
    "Decision",
    "Explanation",
    "FieldRule",
    "Finding",
    "Mapping",
    "MappingError",
    "MappingProblem",
    "MappingSet",
    "Match",
    "Override",
    "Transform",
    "check_against_schema",
    "decide",
    "explain",
    "files_fingerprint",
    "load_mapping",
    "load_mappings",
    "match_value",
    "parse_mapping",
    "plan_writes",
    "submission_values",
]
