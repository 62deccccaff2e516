"""HTTP blueprints: webhook intake and operations endpoints."""
