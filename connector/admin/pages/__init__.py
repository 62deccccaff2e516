"""One module per console page; each imports `connector.admin.blueprint.bp` and adds its routes."""
