import pytest

from connector.events.hashing import (
    InvalidUserField,
    hash_email,
    hash_external_id,
    hash_name,
    hash_phone,
    is_sha256_hex,
    normalize_email,
    normalize_name,
    normalize_phone,
)

# Digests computed with `printf '%s' VALUE | sha256sum`, independently of the code under test.
EMAIL_DIGEST = "973dfe463ec85785f5f95af5ba3906eedb2d931c24e69824a89ea65dba4e813b"  # test@example.com
PHONE_DIGEST = "758fbf68945f21c416814c539ab578876c8d98fb69e6da692def92cd52417fe0"  # 14155552671
JOSE_DIGEST = "1ec4ed037766aa181d8840ad04b9fc6e195fd37dedc04c98a5767a67d3758ece"  # jose
JOSE_ACCENT_DIGEST = "d994e1d001886fe5b45b1267bd1fa2b752ac50742579bd3dad7b2a2aa0ed6866"  # josé (NFC)
OCONNOR_DIGEST = "7a0fbfdf40cbeb97429bdb88f512cecd27f0d44b7e57986ab578423bb61936ac"  # oconnor
EXTERNAL_DIGEST = "734126b5d56fefe9753d8e55b6534e9a5b0a068913ead589893a2ae922ae6ecf"  # AbC-123


@pytest.mark.parametrize("raw", ["test@example.com", "  Test@Example.COM\t", "TEST@EXAMPLE.COM"])
def test_email_vectors(raw):
    assert hash_email(raw) == EMAIL_DIGEST


@pytest.mark.parametrize("raw", ["+1 (415) 555-2671", "001 415 555 2671", "14155552671", "+1.415.555.2671"])
def test_phone_vectors(raw):
    assert normalize_phone(raw) == "14155552671"
    assert hash_phone(raw) == PHONE_DIGEST


@pytest.mark.parametrize("raw", ["1234567", "+0 123 4567", "1234567890123456", "", "phone"])
def test_phone_outside_8_to_15_digits_is_rejected(raw):
    with pytest.raises(InvalidUserField, match="digits"):
        normalize_phone(raw)


def test_phone_length_bounds_are_inclusive():
    assert normalize_phone("12345678") == "12345678"
    assert normalize_phone("+123456789012345") == "123456789012345"


@pytest.mark.parametrize(
    ("raw", "digest"),
    [
        (" Jose ", JOSE_DIGEST),
        ("JOSE", JOSE_DIGEST),
        ("José", JOSE_ACCENT_DIGEST),
        ("Jose\u0301", JOSE_ACCENT_DIGEST),  # decomposed accent composes to the same name
        ("O'Connor", OCONNOR_DIGEST),
        ("O Connor", OCONNOR_DIGEST),
        ("o-connor.", OCONNOR_DIGEST),
    ],
)
def test_name_vectors(raw, digest):
    assert hash_name(raw) == digest


def test_names_keep_unicode_letters():
    assert normalize_name("Zoë Ångström-Łukasz") == "zoëångströmłukasz"
    assert normalize_name("山田 太郎") == "山田太郎"


@pytest.mark.parametrize("raw", ["", "  ", "--", "'.'"])
def test_empty_names_are_rejected(raw):
    with pytest.raises(InvalidUserField):
        normalize_name(raw)


def test_external_id_keeps_case_and_trims():
    assert hash_external_id("  AbC-123 ") == EXTERNAL_DIGEST
    assert hash_external_id("abc-123") != EXTERNAL_DIGEST
    with pytest.raises(InvalidUserField):
        hash_external_id("   ")


@pytest.mark.parametrize("raw", ["no-at-sign", "@example.com", "a@", "a b@example.com", ""])
def test_malformed_emails_are_rejected(raw):
    with pytest.raises(InvalidUserField):
        normalize_email(raw)


def test_is_sha256_hex():
    assert is_sha256_hex(EMAIL_DIGEST)
    assert not is_sha256_hex(EMAIL_DIGEST.upper())
    assert not is_sha256_hex(EMAIL_DIGEST[:-1])
    assert not is_sha256_hex("test@example.com")
    assert not is_sha256_hex(None)
