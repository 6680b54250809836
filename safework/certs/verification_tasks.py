"""Background work of registry verification (huey tasks)."""
