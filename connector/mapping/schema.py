"""The CRM schema as adapters describe it: one shape for Salesforce describe and HubSpot properties."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class FieldSchema:
    """One CRM field: its normalized kind, vendor type, length and write permissions."""

    name: str
    kind: str  # text | date | datetime | number | bool | picklist | id | other
    vendor_type: str = ""
    length: int | None = None
    createable: bool = True
    updateable: bool = True
    external_id: bool = False
    unique: bool = False
    picklist_values: tuple[str, ...] = ()
    restricted_picklist: bool = False
    label: str = ""


@dataclass(frozen=True)
class ObjectSchema:
    """The fields of one CRM object, by API name."""

    object: str
    fields: dict[str, FieldSchema] = field(default_factory=dict)

    def get(self, name: str) -> FieldSchema | None:
        found = self.fields.get(name)
        if found is None:
            # Salesforce API names are case-insensitive; HubSpot names are lowercase already.
            lowered = name.lower()
            found = next((f for n, f in self.fields.items() if n.lower() == lowered), None)
        return found

    def lengths(self) -> dict[str, int]:
        """Field name -> maximum length, for the fields that have one."""
        return {n: f.length for n, f in self.fields.items() if f.length}
