"""Input, output and filter schemas of the permits API. Inputs forbid unknown fields; instants
must carry a time zone (a naive time is a 422, never read as some zone by guess)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from ninja import Field, Schema
from pydantic import AwareDatetime, ConfigDict

from safework.core.validation import RowId
from safework.permits.workflow import AlarmStatus, PermitStatus

Text = Annotated[str, Field(max_length=2000)]
Short = Annotated[str, Field(max_length=300)]
Image = Annotated[str, Field(max_length=500_000, description="drawn signature (data URL)")]


class In(Schema):
    model_config = ConfigDict(extra="forbid")


class PositionIn(In):
    lat: float = Field(..., ge=-90, le=90)
    lon: float = Field(..., ge=-180, le=180)
    accuracy_m: float = Field(..., ge=0, le=100_000)


class CrewIn(In):
    person_id: RowId
    role: Annotated[str, Field(min_length=1, max_length=40, description="crew role code")]
    attrs: dict[str, Any] | None = None


class MeasureIn(In):
    text: Annotated[str, Field(min_length=1, max_length=2000)]
    confirmer_id: RowId | None = None


class RiskIn(In):
    hazard: Annotated[str, Field(min_length=1, max_length=2000)]
    controls: Text = ""


class PermitIn(In):
    work_type: Annotated[str, Field(min_length=1, max_length=40, description="work type code")]
    level: Annotated[str, Field(max_length=40)] | None = Field(
        None, description="level code; empty: the level the inputs require"
    )
    site_id: RowId
    area_id: RowId | None = None
    place: Short
    latitude: Decimal | None = Field(None, ge=-90, le=90, max_digits=9, decimal_places=6)
    longitude: Decimal | None = Field(None, ge=-180, le=180, max_digits=9, decimal_places=6)
    content: Text
    open_air: bool = True
    is_emergency: bool = False
    emergency_reason: Text = ""
    planned_start: AwareDatetime
    planned_end: AwareDatetime
    work_unit_id: RowId | None = None
    contractor_id: RowId | None = None
    work_leader_id: RowId | None = None
    inputs: dict[str, Any] = Field(default_factory=dict, description="height_m, mass_t, …")
    fields: dict[str, Any] = Field(default_factory=dict, description="type and custom fields")
    equipment: Text = ""
    crew: list[CrewIn] = Field(default_factory=list, max_length=200)
    measures: list[MeasureIn] = Field(default_factory=list, max_length=200)
    risks: list[RiskIn] = Field(default_factory=list, max_length=200)
    linked: list[RowId] = Field(default_factory=list, max_length=50)


class PermitPatch(In):
    """A draft's changes; omitted fields stay."""

    work_type: Annotated[str, Field(min_length=1, max_length=40)] | None = None
    level: Annotated[str, Field(max_length=40)] | None = None
    site_id: RowId | None = None
    area_id: RowId | None = None
    place: Short | None = None
    latitude: Decimal | None = Field(None, ge=-90, le=90, max_digits=9, decimal_places=6)
    longitude: Decimal | None = Field(None, ge=-180, le=180, max_digits=9, decimal_places=6)
    content: Text | None = None
    open_air: bool | None = None
    is_emergency: bool | None = None
    emergency_reason: Text | None = None
    planned_start: AwareDatetime | None = None
    planned_end: AwareDatetime | None = None
    work_unit_id: RowId | None = None
    contractor_id: RowId | None = None
    work_leader_id: RowId | None = None
    inputs: dict[str, Any] | None = None
    fields: dict[str, Any] | None = None
    equipment: Text | None = None
    crew: list[CrewIn] | None = Field(None, max_length=200)
    measures: list[MeasureIn] | None = Field(None, max_length=200)
    risks: list[RiskIn] | None = Field(None, max_length=200)
    linked: list[RowId] | None = Field(None, max_length=50)


class PreviewIn(In):
    work_type: Annotated[str, Field(min_length=1, max_length=40)]
    level: Annotated[str, Field(max_length=40)] | None = None
    site_id: RowId
    area_id: RowId | None = None
    planned_start: AwareDatetime
    planned_end: AwareDatetime
    inputs: dict[str, Any] = Field(default_factory=dict)


class SignIn(In):
    position: PositionIn | None = None
    image: Image = ""
    note: Text = ""


class ReasonIn(In):
    reason: Annotated[str, Field(min_length=1, max_length=2000)]
    position: PositionIn | None = None


class CancelIn(In):
    reason: Annotated[str, Field(min_length=1, max_length=2000)]


class PositionOnlyIn(In):
    position: PositionIn | None = None


class ConfirmIn(In):
    involved: bool = True
    # An image attached to this permit (POST …/attachments) as the evidence photo (optional).
    photo_attachment_id: RowId | None = None


class ChecklistItemIn(In):
    id: RowId
    involved: bool = True


class ChecklistIn(In):
    items: list[ChecklistItemIn] = Field(min_length=1, max_length=200)


class BriefingIn(In):
    briefer_id: RowId
    recipient_ids: list[RowId] = Field(..., min_length=1, max_length=200)
    content: Text = ""


class GasTestIn(In):
    taken_at: AwareDatetime
    point: Annotated[str, Field(min_length=1, max_length=100)]
    gas: Annotated[str, Field(min_length=1, max_length=40, description="gas code, e.g. o2")]
    value: Decimal = Field(..., ge=0, max_digits=10, decimal_places=3)
    unit: Annotated[str, Field(min_length=1, max_length=20)]
    lel_percent: Decimal | None = Field(None, ge=0, le=100, max_digits=6, decimal_places=2)
    instrument: Annotated[str, Field(min_length=1, max_length=100)]
    calibrated_on: date | None = None
    tester_id: RowId
    oxygen_enriched: bool = False
    position: PositionIn | None = None


class CheckInIn(In):
    person_id: RowId
    kind: Literal["in", "out"] = "in"
    position: PositionIn | None = None


class CrewChangeIn(In):
    add: list[CrewIn] = Field(default_factory=list, max_length=50)
    remove: list[RowId] = Field(default_factory=list, max_length=50, description="crew row ids")


class WeatherIn(In):
    wind_force: int | None = Field(None, ge=0, le=17, description="Beaufort")
    conditions: list[Annotated[str, Field(max_length=40)]] = Field(
        default_factory=list, max_length=10
    )


class StartIn(In):
    weather: WeatherIn | None = None
    position: PositionIn | None = None


class CompleteIn(In):
    cleaned_up: bool
    note: Text = ""
    position: PositionIn | None = None


class NoteIn(In):
    note: Text = ""
    position: PositionIn | None = None


class ChangeIn(In):
    reason: Annotated[str, Field(min_length=1, max_length=2000)]
    changes: PermitPatch


class DelegationIn(In):
    to_user_id: RowId
    role: Annotated[str, Field(min_length=1, max_length=30)]
    site_id: RowId
    starts_at: AwareDatetime
    ends_at: AwareDatetime


class AlarmHandleIn(In):
    note: Annotated[str, Field(min_length=1, max_length=2000)]


class PermitFilter(Schema):
    status: PermitStatus | None = Field(None, description="as read now: past its end = expired")
    work_type: Annotated[str, Field(max_length=40)] | None = None
    level: Annotated[str, Field(max_length=40)] | None = None
    site_id: RowId | None = None
    area_id: RowId | None = None
    applicant_id: RowId | None = None
    work_unit_id: RowId | None = Field(None, description="own department (and its subtree)")
    contractor: Literal["own", "contractor"] | None = Field(None, description="work unit kind")
    contractor_id: RowId | None = None
    person_id: RowId | None = Field(None, description="crew member or work leader")
    alarm_type: Annotated[str, Field(max_length=4)] | None = Field(None, description="e.g. 30")
    date_from: date | None = Field(None, description="planned start on or after (local day)")
    date_to: date | None = Field(None, description="planned start on or before (local day)")
    q: Annotated[str, Field(max_length=100)] | None = Field(None, description="number/place/text")


class AlarmFilterIn(Schema):
    alarm_type: Annotated[str, Field(max_length=4)] | None = None
    status: AlarmStatus | None = None
    site_id: RowId | None = None
    permit_id: RowId | None = None
    date_from: date | None = None
    date_to: date | None = None


# ---- outputs ----------------------------------------------------------------------------------


class Ref(Schema):
    id: int
    name: str


class PermitOut(Schema):
    id: int
    number: str | None
    work_type: str
    work_type_name: str
    level: str | None
    level_name: str | None
    status: str
    stored_status: str
    site: Ref
    area: Ref | None
    place: str
    content: str
    planned_start: datetime
    planned_end: datetime
    applicant: Ref
    work_unit: Ref | None
    contractor: Ref | None
    work_leader: Ref | None
    upgraded: bool
    is_emergency: bool
    created_at: datetime


class LevelOut(Schema):
    needs_permit: bool
    derived: str | None
    required: str | None
    level: str | None
    upgraded: bool
    kinds: list[str]
    basis: str
    extra_roles: list[str]
    confined_space_gas: bool
    reasons: list[dict[str, Any]]
    refusals: list[dict[str, Any]]


class PermitDetailOut(PermitOut):
    derived_level: str | None
    level_basis: list[Any]
    upgrade_kinds: list[Any]
    calendar_basis: str
    open_air: bool
    emergency_reason: str
    latitude: Decimal | None
    longitude: Decimal | None
    inputs: dict[str, Any]
    fields: dict[str, Any]
    equipment: str
    linked: list[int]
    replaces_id: int | None
    reject_reason: str
    cancel_reason: str
    change_reason: str
    submitted_at: datetime | None
    approved_at: datetime | None
    started_at: datetime | None
    completed_at: datetime | None
    accepted_at: datetime | None
    closed_at: datetime | None
    cancelled_at: datetime | None
    crew: list[dict[str, Any]]
    steps: list[dict[str, Any]]
    signatures: list[dict[str, Any]]
    measures: list[dict[str, Any]]
    risks: list[dict[str, Any]]
    briefings: list[dict[str, Any]]
    gas_tests: list[dict[str, Any]]
    presence: list[dict[str, Any]]
    alarms: list[dict[str, Any]]
    events: list[dict[str, Any]]


class AlarmOut(Schema):
    id: int
    code: str
    name: str
    clause: str
    status: str
    message: str
    permit_id: int | None
    permit_number: str | None
    site: Ref
    raised_at: datetime
    acknowledged_at: datetime | None
    handled_at: datetime | None
    note: str
    cleared_at: datetime | None
    details: dict[str, Any]


class DelegationOut(Schema):
    id: int
    delegator_id: int
    delegate_id: int
    role: str
    site_id: int
    starts_at: datetime
    ends_at: datetime


class MeasureOut(Schema):
    id: int
    text: str
    involved: bool
    confirmed_at: datetime | None


class CreatedOut(Schema):
    id: int


class AttachmentOut(Schema):
    id: int
    name: str
    kind: str
    uploaded_by: dict
    at: datetime
    bytes: int
