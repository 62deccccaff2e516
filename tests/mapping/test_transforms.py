"""Named transforms and their parser."""

from __future__ import annotations

import pytest

from connector.mapping.model import Transform
from connector.mapping.transforms import TransformError, apply_transforms, parse_transform


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("lowercase", Transform("lowercase")),
        ("truncate", Transform("truncate")),
        ("truncate(80)", Transform("truncate", 80)),
        ('join(" | ")', Transform("join", " | ")),
        ("iso_date", Transform("iso_date")),
    ],
)
def test_parse(spec, expected):
    assert parse_transform(spec) == expected


@pytest.mark.parametrize("spec", ["upper", "truncate(x)", "truncate(0)", "lowercase(3)", "", "join("])
def test_parse_rejects(spec):
    with pytest.raises(TransformError):
        parse_transform(spec)


def test_truncate_uses_the_shorter_of_arg_and_field_length():
    assert apply_transforms(["abcdef"], (Transform("truncate", 4),), None) == "abcd"
    assert apply_transforms(["abcdef"], (Transform("truncate", 4),), 2) == "ab"
    assert apply_transforms(["abcdef"], (Transform("truncate"),), 3) == "abc"
    assert apply_transforms(["abcdef"], (Transform("truncate"),), None) == "abcdef"


def test_lowercase():
    assert apply_transforms(["ChatGPT"], (Transform("lowercase"),), None) == "chatgpt"


def test_iso_date_and_datetime():
    assert apply_transforms(["2026-03-01T23:30:00-02:00"], (Transform("iso_date"),), None) == "2026-03-02"
    assert (
        apply_transforms(["2026-03-01T23:30:00-02:00"], (Transform("iso_datetime"),), None)
        == "2026-03-02T01:30:00Z"
    )
    assert apply_transforms(["1767225600000"], (Transform("iso_datetime"),), None) == "2026-01-01T00:00:00Z"
    with pytest.raises(TransformError):
        apply_transforms(["yesterday"], (Transform("iso_date"),), None)


def test_join_skips_empty_values_then_transforms():
    transforms = (Transform("join", " / "), Transform("lowercase"))
    assert apply_transforms(["Calendly", "", "Demo"], transforms, None) == "calendly / demo"
