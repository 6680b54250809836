"""Background work of ledger imports (huey tasks)."""
