"""Reasons and refusals: every "no" names its rule.

A question ("may this crew work?") returns a `Decision(allowed, reasons)`; an action that is not
allowed raises `Refused(reasons)`, which the API turns into a 409.
"""

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Reason:
    code: str  # stable, for programs and tests: "cert.expired"
    message: str  # translated sentence for people
    clause: str = ""  # copied from the catalogue row that said no
    subject: str = ""  # what failed: a person, a certificate number, …
    blocking: bool = True  # False: a warning that does not refuse (e.g. unverified)
    data: dict = field(default_factory=dict, compare=False)

    def as_dict(self) -> dict:
        out = {
            "code": self.code,
            "message": str(self.message),
            "clause": self.clause,
            "subject": self.subject,
            "blocking": self.blocking,
        }
        if self.data:
            out["data"] = self.data
        return out


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    reasons: tuple[Reason, ...] = ()

    @classmethod
    def of(cls, reasons) -> "Decision":
        reasons = tuple(reasons)
        return cls(allowed=not any(r.blocking for r in reasons), reasons=reasons)

    @property
    def blocking(self) -> tuple[Reason, ...]:
        return tuple(r for r in self.reasons if r.blocking)

    @property
    def warnings(self) -> tuple[Reason, ...]:
        return tuple(r for r in self.reasons if not r.blocking)


class Refused(Exception):
    """An action was refused; carries every reason (never just the first)."""

    def __init__(self, reasons):
        self.reasons = tuple(reasons)
        super().__init__("; ".join(f"{r.code}: {r.message}" for r in self.reasons))
