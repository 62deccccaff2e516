"""CRM adapters behind one small contract, and the shared error types that drive retries."""

from connector.crm.base import (
    AuthError,
    CrmAdapter,
    CrmError,
    PermanentError,
    RateLimited,
    RetryableError,
    SetupReport,
    UpsertItem,
    UpsertResult,
)
from connector.mapping.schema import FieldSchema, ObjectSchema

__all__ = [
    "AuthError",
    "CrmAdapter",
    "CrmError",
    "FieldSchema",
    "ObjectSchema",
    "PermanentError",
    "RateLimited",
    "RetryableError",
    "SetupReport",
    "UpsertItem",
    "UpsertResult",
]
