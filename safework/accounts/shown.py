"""ID numbers in files and reports as their reader may see them; no reader (the command line,
run by the operator) sees them whole. Used by exports and reports of every app."""

from safework.accounts.access import shown_id_number as _shown_for_user
from safework.accounts.access import shown_number as _shown_number_for_user
from safework.accounts.access import shown_text as _shown_text_for_user


def shown_id_number(user, number: str) -> str:
    """Full for the command line (no user), else as the user may see it."""
    return number if user is None else _shown_for_user(user, number)


def shown_number(user, number: str, id_number: str) -> str:
    """A certificate number (often the holder's ID number): masked as the ID number is."""
    return number if user is None else _shown_number_for_user(user, number, id_number)


def shown_text(user, text: str) -> str:
    """A text with any ID number in it masked as the user's ID numbers are."""
    return text if user is None else _shown_text_for_user(user, text)
