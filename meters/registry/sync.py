"""Registry sync: rows of the LDC's registry file (or API) upserted in bulk, errors per row.

A row is one SDP-meter relationship (docs/registry.md, the columns and their rules). A meter
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
from typing import IO, Any, cast

from django.db import transaction
from django.utils import timezone

from meters.models import (
    AmiHeadend,
    BillingAgent,
    BillingCycle,
    CommodityRateClass,
    Meter,
    MeterInstallation,
    RateClass,
    SdpBillingAgent,
    SdpHeadend,
    ServiceDeliveryPoint,
)
from meters.registry.terms import terms_record
from meters.signals import tou_billing_declared
from portal.access import Actor
from portal.audit import audit
from portal.tenancy import LDC

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
# Optional columns after the original ones (a file without them keeps loading); #23: the
# Measurement Canada type/model and seal year of the meter; #19: the date an SDP already
# TOU-billed when its LDC came to OpenMDMR was first TOU-billed (meters.registry.enrollment).
# #19: the billing cycle (its code) from the row's effective_from (meters.registry.terms).
# #18: the id a data source uses for the meter (a Green Button UsagePoint key, an IEC 61968-9
# mRID), unique in the LDC.
OPTIONAL_COLUMNS = ("meter_type", "seal_year", "tou_billing_from", "billing_cycle", "external_id")
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
    meter_type: str = ""
    seal_year: int | None = None
    tou_billing_from: dt.date | None = None
    billing_cycle: str = ""
    external_id: str = ""


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
    tou_billing_set: int = 0
    terms_created: int = 0
    terms_corrected: int = 0
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
    meter_type = raw.get("meter_type", "").strip()
    if len(meter_type) > 100:
        raise RowError("meter_type", "is longer than 100 characters")
    seal_text = raw.get("seal_year", "").strip()
    seal_year = None
    if seal_text:
        if not (seal_text.isdigit() and len(seal_text) == 4):
            raise RowError("seal_year", f"'{seal_text}' is not a year (YYYY)")
        seal_year = int(seal_text)
        if not 1950 <= seal_year <= timezone.localdate().year + 1:
            raise RowError("seal_year", f"{seal_year} is not a plausible seal year")
    external_id = raw.get("external_id", "").strip()
    if len(external_id) > 200:
        raise RowError("external_id", "is longer than 200 characters")
    tou_text = raw.get("tou_billing_from", "").strip()
    return RegistryRow(
        tou_billing_from=_date(tou_text, "tou_billing_from") if tou_text else None,
        billing_cycle=raw.get("billing_cycle", "").strip(),
        external_id=external_id,
        meter_type=meter_type,
        seal_year=seal_year,
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
        io.TextIOWrapper(cast(IO[bytes], stream), encoding="utf-8-sig", newline="")
        if isinstance(stream.read(0), bytes)
        else stream
    )
    reader = csv.reader(text)  # type: ignore[arg-type]
    header = next(reader, None)
    names = tuple(h.strip() for h in header or ())
    extra = names[len(COLUMNS) :]
    if (
        names[: len(COLUMNS)] != COLUMNS
        or not set(extra) <= set(OPTIONAL_COLUMNS)
        or len(set(extra)) != len(extra)
    ):
        raise RowError(
            "header",
            f"{name}: line 1: the header must be exactly: {','.join(COLUMNS)} "
            f"(then optionally: {','.join(OPTIONAL_COLUMNS)})",
        )
    for row in reader:
        if not row:
            continue
        if len(row) != len(names):
            yield (
                reader.line_num,
                {"__error__": f"has {len(row)} fields, the header {len(names)}"},
            )
            continue
        yield reader.line_num, dict(zip(names, row, strict=True))


def _overlaps(a_from: dt.date, a_to: dt.date | None, b_from: dt.date, b_to: dt.date | None) -> bool:
    return (b_to is None or a_from <= b_to) and (a_to is None or b_from <= a_to)


@dataclass
class _Link:
    """An effective-dated relationship in memory: stored (``obj``) or planned (``obj`` None)."""

    sdp: str
    other: str  # meter serial, head-end code or billing-agent code
    start: dt.date
    end: dt.date | None
    obj: Any = None
    dirty: bool = False


def _index(links: Iterable[_Link], key: str) -> dict[str, list[_Link]]:
    found: dict[str, list[_Link]] = {}
    for link in links:
        found.setdefault(getattr(link, key), []).append(link)
    return found


class _Sync:
    """Plans a sync in memory against the registry rows the file names, then writes in bulk.

    Conflicts are found through per-SDP and per-meter indexes (never a scan per row), and every
    write is a bulk statement, so a large LDC's full registry loads in one pass.
    """

    def __init__(
        self, ldc: LDC, rows: list[RegistryRow], result: RegistryResult, source: str = ""
    ) -> None:
        self.ldc, self.result, self.source = ldc, result, source
        sdp_ids, serials = {r.sdp_id for r in rows}, {r.meter_id for r in rows}
        self.sdps = self._load_sdps(sdp_ids)
        self.meters = _pairs(Meter.objects.for_ldc(ldc), "serial", serials, "headend_id")
        self.sdp_values: dict[str, dict[str, Any]] = {}
        self.meter_headend: dict[str, str] = {}
        self.meter_seal: dict[str, tuple[str, int | None]] = {}
        self.sdp_tou: dict[str, dt.date] = {}
        self.terms: dict[tuple[str, dt.date], dict[str, Any]] = {}
        self.cycles = dict(BillingCycle.objects.for_ldc(ldc).values_list("code", "pk"))
        # external_id -> the serial holding it (stored, then as planned by this file's rows)
        self.external_holder = dict(
            _rows(
                Meter.objects.for_ldc(ldc),
                "external_id",
                [r.external_id for r in rows if r.external_id],
                ("external_id", "serial"),
            )
        )
        self.meter_external: dict[str, str] = {}
        sdp_pks = [pk for pk, _ in self.sdps.values()]
        meter_pks = [pk for pk, _ in self.meters.values()]
        fields = ("pk", "sdp__sdp_id", "meter__serial", "effective_from", "effective_to")
        found = _rows(MeterInstallation.objects.for_ldc(ldc), "sdp_id", sdp_pks, fields)
        found |= _rows(MeterInstallation.objects.for_ldc(ldc), "meter_id", meter_pks, fields)
        installs = [_Link(sdp, meter, start, end, pk) for pk, sdp, meter, start, end in found]
        self.by_sdp, self.by_meter = _index(installs, "sdp"), _index(installs, "other")
        self.headend_links = self._links(SdpHeadend, "headend", sdp_pks)
        self.agent_links = self._links(SdpBillingAgent, "agent", sdp_pks)

    def _load_sdps(self, sdp_ids: set[str]) -> dict[str, tuple[int, dict[str, Any]]]:
        rows = ServiceDeliveryPoint.objects.for_ldc(self.ldc)
        found: dict[str, tuple[int, dict[str, Any]]] = {}
        for chunk in _chunks(sorted(sdp_ids)):
            for pk, sdp_id, *values in rows.filter(sdp_id__in=chunk).values_list(
                "pk", "sdp_id", *SDP_FIELDS
            ):
                found[sdp_id] = (pk, dict(zip(SDP_FIELDS, values, strict=True)))
        return found

    def _links(self, model: Any, name: str, sdp_pks: list[int]) -> dict[str, list[_Link]]:
        fields = ("pk", "sdp__sdp_id", f"{name}__code", "effective_from", "effective_to")
        found = _rows(model.objects.for_ldc(self.ldc), "sdp_id", sdp_pks, fields)
        return _index(
            [_Link(sdp, code, start, end, pk) for pk, sdp, code, start, end in found], "sdp"
        )

    def _conflict(self, row: RegistryRow) -> str | None:
        for link in self.by_sdp.get(row.sdp_id, []) + self.by_meter.get(row.meter_id, []):
            if (
                link.sdp == row.sdp_id
                and link.other == row.meter_id
                and link.start == row.effective_from
            ):
                continue  # the same relationship again (perhaps closing it)
            if not _overlaps(link.start, link.end, row.effective_from, row.effective_to):
                continue
            if link.sdp == row.sdp_id:
                return f"SDP {row.sdp_id} already has meter {link.other} from {link.start}"
            return f"meter {row.meter_id} is already at SDP {link.sdp} from {link.start}"
        return None

    def _terms_change(self, row: RegistryRow) -> bool:
        """Does the row name the SDP's meter of a relationship begun before it (still open, or
        ending as the row does)? Then it changes the SDP's terms from its date, not the
        relationships (a multiplier, rate class, plan or cycle change without an exchange)."""
        return any(
            link.other == row.meter_id
            and link.start < row.effective_from
            and (link.end is None or row.effective_from <= link.end)
            and row.effective_to in (None, link.end)
            for link in self.by_sdp.get(row.sdp_id, [])
        )

    def plan(self, row: RegistryRow) -> None:
        """Record what the row changes, or raise RowError (nothing of the row is then kept)."""
        terms_only = self._terms_change(row)
        conflict = None if terms_only else self._conflict(row)
        if conflict:
            raise RowError("effective_from", f"overlapping relationship: {conflict}")
        holder = self.external_holder.get(row.external_id, row.meter_id)
        if row.external_id and holder != row.meter_id:
            raise RowError("external_id", f"'{row.external_id}' is already meter {holder}'s")
        if row.billing_cycle and row.billing_cycle not in self.cycles:
            raise RowError(
                "billing_cycle",
                f"'{row.billing_cycle}' is no billing cycle of this LDC (add it on the "
                "Billing cycles page first)",
            )
        self.terms[(row.sdp_id, row.effective_from)] = {
            "rate_class": row.rate_class,
            "commodity_rate_class": row.commodity_rate_class,
            "service_multiplier": row.service_multiplier,
            "_agent": row.billing_agent,
            **({"billing_cycle_id": self.cycles[row.billing_cycle]} if row.billing_cycle else {}),
        }
        latest = self.sdp_values.get(row.sdp_id)
        if latest is None or latest["_from"] <= row.effective_from:
            self.sdp_values[row.sdp_id] = {
                "_from": row.effective_from,
                "rate_class": row.rate_class,
                "commodity_rate_class": row.commodity_rate_class,
                "postal_code": row.postal_code,
                "service_multiplier": row.service_multiplier,
                "bidirectional": row.bidirectional,
            }
        if terms_only:
            self.result.loaded += 1
            return
        self.meter_headend[row.meter_id] = row.ami_headend
        if row.tou_billing_from is not None:
            self.sdp_tou[row.sdp_id] = row.tou_billing_from
        if row.meter_type or row.seal_year is not None:
            self.meter_seal[row.meter_id] = (row.meter_type, row.seal_year)
        if row.external_id:
            old = self.meter_external.get(row.meter_id)
            if old is not None and old != row.external_id:
                self.external_holder.pop(old, None)  # a later row of the meter names another
            self.meter_external[row.meter_id] = row.external_id
            self.external_holder[row.external_id] = row.meter_id
        link = _Link(row.sdp_id, row.meter_id, row.effective_from, row.effective_to)
        self._put(link, self.by_sdp, self.by_meter)
        self._put(
            _Link(row.sdp_id, row.ami_headend, row.effective_from, row.effective_to),
            self.headend_links,
        )
        self._put(
            _Link(row.sdp_id, row.billing_agent, row.effective_from, row.effective_to),
            self.agent_links,
        )
        self.result.loaded += 1

    @staticmethod
    def _put(
        link: _Link, by_sdp: dict[str, list[_Link]], by_other: dict[str, list[_Link]] | None = None
    ) -> None:
        for known in by_sdp.get(link.sdp, []):
            if known.start == link.start and (by_other is None or known.other == link.other):
                if (known.end, known.other) != (link.end, link.other):
                    known.end, known.other, known.dirty = link.end, link.other, True
                return
        by_sdp.setdefault(link.sdp, []).append(link)
        if by_other is not None:
            by_other.setdefault(link.other, []).append(link)

    def flush(self) -> None:
        """Write the plan: a few bulk statements per kind of row."""
        headend_links = [x for v in self.headend_links.values() for x in v]
        agent_links = [x for v in self.agent_links.values() for x in v]
        # Every meter's head-end is among the SDP head-end links, so ``headends`` holds it.
        headends = self._codes(AmiHeadend, {x.other for x in headend_links})
        named = {x.other for x in agent_links} | {v["_agent"] for v in self.terms.values()}
        agents = self._codes(BillingAgent, named)
        self._write_sdps()
        self._write_terms({code: agent.pk for code, agent in agents.items()})
        self._write_tou_billing()
        self._write_meters(headends)
        installs = [x for v in self.by_sdp.values() for x in v]
        meter_pks = {serial: pk for serial, (pk, _) in self.meters.items()}
        created, closed = self._write_links(MeterInstallation, installs, "meter", meter_pks)
        self.result.installations_created, self.result.installations_closed = created, closed
        self._write_links(
            SdpHeadend, headend_links, "headend", {c: h.pk for c, h in headends.items()}
        )
        self._write_links(
            SdpBillingAgent, agent_links, "agent", {c: a.pk for c, a in agents.items()}
        )

    def _codes(self, model: Any, codes: set[str]) -> dict[str, Any]:
        known = {x.code: x for x in model.objects.for_ldc(self.ldc)}
        model.objects.bulk_create([model(ldc=self.ldc, code=c) for c in sorted(codes - set(known))])
        return {x.code: x for x in model.objects.for_ldc(self.ldc)}

    def _write_sdps(self) -> None:
        new, changed = [], []
        for sdp_id, values in self.sdp_values.items():
            wanted = {f: values[f] for f in SDP_FIELDS}
            if sdp_id not in self.sdps:
                new.append(ServiceDeliveryPoint(ldc=self.ldc, sdp_id=sdp_id, **wanted))
            elif self.sdps[sdp_id][1] != wanted:
                changed.append(ServiceDeliveryPoint(pk=self.sdps[sdp_id][0], **wanted))
        ServiceDeliveryPoint.objects.bulk_create(new, batch_size=2000)
        ServiceDeliveryPoint.objects.bulk_update(changed, list(SDP_FIELDS), batch_size=2000)
        self.result.sdps_created, self.result.sdps_updated = len(new), len(changed)
        self.sdps = self._load_sdps(set(self.sdp_values))

    def _write_terms(self, agent_pks: dict[str, int]) -> None:
        """Each row's terms from its effective_from (a change is a new row); the SDP's billing
        cycle follows its newest row that names one."""
        wanted: dict[tuple[int, dt.date], dict[str, Any]] = {}
        cycle_of: dict[int, tuple[dt.date, int]] = {}
        for (sdp_id, day), values in self.terms.items():
            pk = self.sdps[sdp_id][0]
            given = {k: v for k, v in values.items() if k != "_agent"}
            wanted[(pk, day)] = {**given, "billing_agent_id": agent_pks[values["_agent"]]}
            if "billing_cycle_id" in given and day >= cycle_of.get(pk, (dt.date.min, 0))[0]:
                cycle_of[pk] = (day, given["billing_cycle_id"])
        created, corrected = terms_record(ldc=self.ldc, wanted=wanted, source=self.source)
        self.result.terms_created, self.result.terms_corrected = created, corrected
        rows = ServiceDeliveryPoint.objects.for_ldc(self.ldc)
        for cycle in {c for _, c in cycle_of.values()}:
            pks = [pk for pk, (_, c) in cycle_of.items() if c == cycle]
            for chunk in _chunks(pks):
                rows.filter(pk__in=chunk).update(billing_cycle_id=cycle)

    def _write_tou_billing(self) -> None:
        """Set the TOU billing start the file gives (only where it changes); the LDC app is
        told, so that those SDPs are kept as an enrollment group of their own."""
        pks = [self.sdps[sdp_id][0] for sdp_id in self.sdp_tou]
        rows = ServiceDeliveryPoint.objects.for_ldc(self.ldc)
        known = dict(_rows(rows, "pk", pks, ("pk", "tou_billing_from")))
        by_date: dict[dt.date, list[int]] = {}
        for sdp_id, day in self.sdp_tou.items():
            pk = self.sdps[sdp_id][0]
            if known.get(pk) != day:
                by_date.setdefault(day, []).append(pk)
        for day, day_pks in by_date.items():
            for chunk in _chunks(day_pks):
                rows.filter(pk__in=chunk).update(tou_billing_from=day)
        self.result.tou_billing_set = sum(len(v) for v in by_date.values())
        if by_date:
            tou_billing_declared.send(
                sender=ServiceDeliveryPoint, ldc=self.ldc, sdp_ids_by_date=by_date
            )

    def _write_meters(self, headends: dict[str, Any]) -> None:
        new, changed = [], []
        for serial, code in self.meter_headend.items():
            if serial not in self.meters:
                new.append(Meter(ldc=self.ldc, serial=serial, headend=headends[code]))
            elif self.meters[serial][1] != headends[code].pk:
                changed.append(Meter(pk=self.meters[serial][0], headend=headends[code]))
        Meter.objects.bulk_create(new, batch_size=2000)
        Meter.objects.bulk_update(changed, ["headend"], batch_size=2000)
        self.result.meters_created = len(new)
        self.meters = _pairs(
            Meter.objects.for_ldc(self.ldc), "serial", set(self.meter_headend), "headend_id"
        )
        Meter.objects.bulk_update(
            [
                Meter(pk=self.meters[serial][0], meter_type=kind, seal_year=year)
                for serial, (kind, year) in self.meter_seal.items()
            ],
            ["meter_type", "seal_year"],
            batch_size=2000,
        )
        # A meter's external_id (an empty cell leaves the stored one as it is; plan() refused an
        # id another meter holds, so the unique constraint holds here).
        Meter.objects.bulk_update(
            [
                Meter(pk=self.meters[serial][0], external_id=external)
                for serial, external in self.meter_external.items()
            ],
            ["external_id"],
            batch_size=2000,
        )

    def _write_links(
        self, model: Any, links: list[_Link], name: str, target_pks: dict[str, int]
    ) -> tuple[int, int]:
        """Create the planned relationships and close the changed ones; (created, changed)."""
        new = [
            model(
                ldc=self.ldc,
                sdp_id=self.sdps[x.sdp][0],
                effective_from=x.start,
                effective_to=x.end,
                **{f"{name}_id": target_pks[x.other]},
            )
            for x in links
            if x.obj is None
        ]
        dirty = [
            model(pk=x.obj, effective_to=x.end, **{f"{name}_id": target_pks[x.other]})
            for x in links
            if x.obj is not None and x.dirty
        ]
        model.objects.bulk_create(new, batch_size=2000)
        model.objects.bulk_update(dirty, ["effective_to", name], batch_size=2000)
        return len(new), len(dirty)


SDP_FIELDS = (
    "rate_class",
    "commodity_rate_class",
    "postal_code",
    "service_multiplier",
    "bidirectional",
)


def _chunks(values: list[Any], size: int = 2000) -> Iterator[list[Any]]:
    for i in range(0, len(values), size):
        yield values[i : i + size]


def _rows(
    rows: Any, field_name: str, values: list[Any], fields: tuple[str, ...]
) -> set[tuple[Any, ...]]:
    found: set[tuple[Any, ...]] = set()
    for chunk in _chunks(sorted(values)):
        found.update(rows.filter(**{f"{field_name}__in": chunk}).values_list(*fields))
    return found


def _pairs(rows: Any, key: str, values: set[str], other: str) -> dict[str, tuple[int, Any]]:
    """key -> (pk, other field) for the rows whose ``key`` is one of ``values``."""
    return {k: (pk, o) for pk, k, o in _rows(rows, key, list(values), ("pk", key, other))}


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
    sync = _Sync(ldc, checked, result, source)
    # Earlier relationships first, so that a file may list a meter exchange in any order.
    for row in sorted(checked, key=lambda r: (r.effective_from, r.row)):
        try:
            sync.plan(row)
        except RowError as exc:
            result.errors.append({"row": row.row, "field": exc.field, "message": exc.message})
    sync.flush()
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
