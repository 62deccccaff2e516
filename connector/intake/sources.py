"""Import every source module so each registers itself."""

from connector.intake import generic  # noqa: F401
