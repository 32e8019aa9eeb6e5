"""Registry sync: rows of the LDC's registry file (or API) upserted in bulk, errors per row.

A row is one SDP-meter relationship (``../shared/samples/README.md``, "Registry"). A meter
exchange is a second row for the same SDP with the next ``effective_from``; closing the first
row's ``effective_to`` is the only change ever made to an existing relationship.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import IO, Any

from django.db import transaction

from ldc.models import LDC
from meters.models import (
    AmiHeadend,
    BillingAgent,
    CommodityRateClass,
    Meter,
    MeterInstallation,
    RateClass,
    SdpBillingAgent,
    SdpHeadend,
    ServiceDeliveryPoint,
)
from portal.access import Actor
from portal.audit import audit

COLUMNS = (
    "sdp_id",
    "meter_id",
    "rate_class",
    "commodity_rate_class",
    "postal_code",
    "service_multiplier",
    "ami_headend",
    "billing_agent",
    "bidirectional",
    "effective_from",
    "effective_to",
)
# Canada Post: no D F I O Q U anywhere, no W Z as the first letter.
POSTAL_CODE = re.compile(r"^[ABCEGHJ-NPRSTVXY]\d[ABCEGHJ-NPRSTV-Z] ?\d[ABCEGHJ-NPRSTV-Z]\d$")


def postal_code_is_valid(value: str) -> bool:
    return bool(POSTAL_CODE.match((value or "").strip().upper()))


def normalise_postal_code(value: str) -> str:
    compact = re.sub(r"\s+", "", value).upper()
    return f"{compact[:3]} {compact[3:]}"


@dataclass(frozen=True)
class RegistryRow:
    """One checked row of a registry file."""

    row: int
    sdp_id: str
    meter_id: str
    rate_class: str
    commodity_rate_class: str
    postal_code: str
    service_multiplier: Decimal
    ami_headend: str
    billing_agent: str
    bidirectional: bool
    effective_from: dt.date
    effective_to: dt.date | None


@dataclass
class RegistryResult:
    """What a sync did, and each row it refused with its number, field and reason."""

    rows: int = 0
    loaded: int = 0
    sdps_created: int = 0
    sdps_updated: int = 0
    meters_created: int = 0
    installations_created: int = 0
    installations_closed: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


class RowError(ValueError):
    def __init__(self, field_name: str, message: str) -> None:
        super().__init__(message)
        self.field = field_name
        self.message = message


def _date(value: str, name: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value.strip())
    except ValueError:
        raise RowError(name, f"'{value}' is not a date (YYYY-MM-DD)") from None


def _choice(value: str, name: str, choices: Any) -> str:
    value = value.strip().lower()
    if value not in choices.values:
        raise RowError(name, f"'{value}' is not one of {', '.join(choices.values)}")
    return value


def _required(raw: dict[str, str], name: str) -> str:
    value = (raw.get(name) or "").strip()
    if not value:
        raise RowError(name, "is empty")
    return value


def check_row(number: int, raw: dict[str, Any]) -> RegistryRow:
    """A registry row with every field checked; RowError names the first bad field."""
    raw = {k: "" if v is None else str(v) for k, v in raw.items()}
    postal = _required(raw, "postal_code")
    if not postal_code_is_valid(postal):
        raise RowError("postal_code", f"'{postal}' is not a Canadian postal code (A1A 1A1)")
    try:
        multiplier = Decimal(_required(raw, "service_multiplier"))
    except InvalidOperation:
        raise RowError(
            "service_multiplier", f"'{raw['service_multiplier']}' is not a number"
        ) from None
    if not multiplier.is_finite() or multiplier <= 0:
        raise RowError("service_multiplier", "must be a positive number")
    bidirectional = raw.get("bidirectional", "").strip().lower()
    if bidirectional not in {"true", "false"}:
        raise RowError("bidirectional", f"'{bidirectional}' is not true or false")
    start = _date(_required(raw, "effective_from"), "effective_from")
    end = (
        _date(raw["effective_to"], "effective_to") if raw.get("effective_to", "").strip() else None
    )
    if end is not None and end < start:
        raise RowError("effective_to", "is before effective_from")
    return RegistryRow(
        row=number,
        sdp_id=_required(raw, "sdp_id"),
        meter_id=_required(raw, "meter_id"),
        rate_class=_choice(_required(raw, "rate_class"), "rate_class", RateClass),
        commodity_rate_class=_choice(
            _required(raw, "commodity_rate_class"), "commodity_rate_class", CommodityRateClass
        ),
        postal_code=normalise_postal_code(postal),
        service_multiplier=multiplier,
        ami_headend=_required(raw, "ami_headend"),
        billing_agent=_required(raw, "billing_agent"),
        bidirectional=bidirectional == "true",
        effective_from=start,
        effective_to=end,
    )


def read_registry_csv(
    stream: IO[bytes] | IO[str], name: str = "registry.csv"
) -> Iterator[tuple[int, dict[str, str]]]:
    """Rows of a registry CSV as (file line number, dict); a bad header raises RowError."""
    text = (
        io.TextIOWrapper(stream, encoding="utf-8-sig", newline="")
        if isinstance(stream.read(0), bytes)
        else stream
    )
    reader = csv.reader(text)  # type: ignore[arg-type]
    header = next(reader, None)
    if header is None or tuple(h.strip() for h in header) != COLUMNS:
        raise RowError("header", f"{name}: line 1: the header must be exactly: {','.join(COLUMNS)}")
    for row in reader:
        if not row:
            continue
        if len(row) != len(COLUMNS):
            yield (
                reader.line_num,
                {"__error__": f"has {len(row)} fields, the header {len(COLUMNS)}"},
            )
            continue
        yield reader.line_num, dict(zip(COLUMNS, row, strict=True))


def _overlaps(a_from: dt.date, a_to: dt.date | None, b_from: dt.date, b_to: dt.date | None) -> bool:
    return (b_to is None or a_from <= b_to) and (a_to is None or b_from <= a_to)


class _Sync:
    """Applies checked rows against the registry loaded once for the ids the batch names."""

    def __init__(self, ldc: LDC, rows: list[RegistryRow], result: RegistryResult) -> None:
        self.ldc, self.rows, self.result = ldc, rows, result
        sdp_ids = {r.sdp_id for r in rows}
        serials = {r.meter_id for r in rows}
        self.sdps = {
            s.sdp_id: s
            for s in ServiceDeliveryPoint.objects.for_ldc(ldc).filter(sdp_id__in=sdp_ids)
        }
        self.meters = {m.serial: m for m in Meter.objects.for_ldc(ldc).filter(serial__in=serials)}
        self.headends = {h.code: h for h in AmiHeadend.objects.for_ldc(ldc)}
        self.agents = {a.code: a for a in BillingAgent.objects.for_ldc(ldc)}
        installs = MeterInstallation.objects.for_ldc(ldc).filter(
            sdp__sdp_id__in=sdp_ids
        ) | MeterInstallation.objects.for_ldc(ldc).filter(meter__serial__in=serials)
        self.installs = list(installs.select_related("sdp", "meter").distinct())

    def _conflict(self, row: RegistryRow) -> str | None:
        for inst in self.installs:
            same = inst.sdp.sdp_id == row.sdp_id and inst.meter.serial == row.meter_id
            if same and inst.effective_from == row.effective_from:
                continue  # the same relationship again (perhaps closing it)
            if not _overlaps(
                inst.effective_from, inst.effective_to, row.effective_from, row.effective_to
            ):
                continue
            if inst.sdp.sdp_id == row.sdp_id:
                return (f"SDP {row.sdp_id} already has meter {inst.meter.serial} "
                        f"from {inst.effective_from}")
            if inst.meter.serial == row.meter_id:
                return (f"meter {row.meter_id} is already at SDP {inst.sdp.sdp_id} "
                        f"from {inst.effective_from}")
        return None

    def apply(self, row: RegistryRow) -> None:
        conflict = self._conflict(row)
        if conflict:
            raise RowError("effective_from", f"overlapping relationship: {conflict}")
        headend = self._code(self.headends, AmiHeadend, row.ami_headend)
        agent = self._code(self.agents, BillingAgent, row.billing_agent)
        sdp = self._sdp(row)
        meter = self._meter(row, headend)
        self._install(row, sdp, meter)
        self._relate(SdpHeadend, sdp, "headend", headend, row)
        self._relate(SdpBillingAgent, sdp, "agent", agent, row)
        self.result.loaded += 1

    def _code(self, cache: dict[str, Any], model: Any, code: str) -> Any:
        if code not in cache:
            cache[code] = model.objects.create(ldc=self.ldc, code=code)
        return cache[code]

    def _sdp(self, row: RegistryRow) -> ServiceDeliveryPoint:
        values = {
            "rate_class": row.rate_class,
            "commodity_rate_class": row.commodity_rate_class,
            "postal_code": row.postal_code,
            "service_multiplier": row.service_multiplier,
            "bidirectional": row.bidirectional,
        }
        sdp = self.sdps.get(row.sdp_id)
        if sdp is None:
            sdp = self.sdps[row.sdp_id] = ServiceDeliveryPoint.objects.create(
                ldc=self.ldc, sdp_id=row.sdp_id, **values
            )
            self.result.sdps_created += 1
        elif any(getattr(sdp, k) != v for k, v in values.items()):
            for k, v in values.items():
                setattr(sdp, k, v)
            sdp.save(update_fields=[*values, "updated_at"])
            self.result.sdps_updated += 1
        return sdp

    def _meter(self, row: RegistryRow, headend: AmiHeadend) -> Meter:
        meter = self.meters.get(row.meter_id)
        if meter is None:
            meter = self.meters[row.meter_id] = Meter.objects.create(
                ldc=self.ldc, serial=row.meter_id, headend=headend
            )
            self.result.meters_created += 1
        elif meter.headend_id != headend.pk:
            meter.headend = headend
            meter.save(update_fields=["headend"])
        return meter

    def _install(self, row: RegistryRow, sdp: ServiceDeliveryPoint, meter: Meter) -> None:
        for inst in self.installs:
            if (
                inst.sdp_id == sdp.pk
                and inst.meter_id == meter.pk
                and inst.effective_from == row.effective_from
            ):
                if inst.effective_to != row.effective_to:
                    inst.effective_to = row.effective_to
                    inst.save(update_fields=["effective_to"])
                    self.result.installations_closed += 1
                return
        inst = MeterInstallation.objects.create(
            ldc=self.ldc,
            sdp=sdp,
            meter=meter,
            effective_from=row.effective_from,
            effective_to=row.effective_to,
        )
        self.installs.append(inst)
        self.result.installations_created += 1

    def _relate(
        self, model: Any, sdp: ServiceDeliveryPoint, name: str, target: Any, row: RegistryRow
    ) -> None:
        current = (
            model.objects.for_ldc(self.ldc)
            .filter(sdp=sdp, effective_from=row.effective_from)
            .first()
        )
        if current is None:
            model.objects.create(
                ldc=self.ldc,
                sdp=sdp,
                effective_from=row.effective_from,
                effective_to=row.effective_to,
                **{name: target},
            )
        elif (
            getattr(current, f"{name}_id") != target.pk or current.effective_to != row.effective_to
        ):
            setattr(current, name, target)
            current.effective_to = row.effective_to
            current.save(update_fields=[name, "effective_to"])


@transaction.atomic
def registry_sync(
    *, ldc: LDC, rows: Iterable[tuple[int, dict[str, Any]]], actor: Actor | None, source: str
) -> RegistryResult:
    """Upsert registry rows; a bad row is refused with its number and the rest load."""
    result = RegistryResult()
    checked: list[RegistryRow] = []
    for number, raw in rows:
        result.rows += 1
        if "__error__" in raw:
            result.errors.append({"row": number, "field": "", "message": raw["__error__"]})
            continue
        try:
            checked.append(check_row(number, raw))
        except RowError as exc:
            result.errors.append({"row": number, "field": exc.field, "message": exc.message})
    sync = _Sync(ldc, checked, result)
    for row in checked:
        try:
            with transaction.atomic():
                sync.apply(row)
        except RowError as exc:
            result.errors.append({"row": row.row, "field": exc.field, "message": exc.message})
    result.errors.sort(key=lambda e: e["row"])
    audit(
        action="registry.synced",
        actor=actor,
        ldc=ldc,
        object_repr=source,
        after={k: v for k, v in result.as_dict().items() if k != "errors"}
        | {"errors": len(result.errors)},
    )
    return result
