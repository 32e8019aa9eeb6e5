"""VEE as a service: load meter-days with their history, run meters.vee, store the outcome and
keep the LDC's exception queue; manual edits and the queue's bulk actions. Every change audited."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
from django.db import connection, transaction
from django.db.models import QuerySet
from django.utils import timezone

from meters.models import (
    Meter,
    MeterInstallation,
    ReadFile,
    RegisterRead,
    VeeException,
    VeeFailure,
    VeeSettings,
)
from meters.reads import day_store
from meters.reads.day_arrays import DAY_S, DayBlock, IntervalFlag, day_key
from meters.reads.runs import sorted_unique
from meters.signals import reads_changed
from meters.vee import (
    RULE_TITLES,
    EstimationContext,
    RegisterReads,
    ValidationContext,
    VeeParameterError,
    rule_bit,
    run_vee,
    vee_settings,
)
from meters.vee.editing import EditError, apply_edit
from meters.vee.inputs import previous_actuals, prior_estimated_days, row_registry
from meters.vee.rules import ValidationSettings
from portal.access import Actor
from portal.audit import audit
from portal.calendar.holidays import holiday_days
from portal.calendar.localtime import date_of, day_number, local_day_bounds
from portal.queue import TRANSIENT
from portal.tenancy import LDC

HISTORY_DAYS = 22  # like days within 3 weeks (E3) and the meter's own average (V06)
# Rules whose intervals are estimated automatically: an exception only where that failed.
AUTO_ESTIMATED = frozenset({"V01", "V02", "V07", "V09"})
# LDC-level notices (read success against 98.0 %): a dashboard figure, not a meter's exception.
LDC_NOTICES = frozenset({"V16"})
EDIT_REASONS = {
    "customer_read": "Customer or field read",
    "meter_fault": "Meter or head-end fault confirmed",
    "meter_exchange": "Meter exchange",
    "estimate_review": "Estimate reviewed",
    "accepted": "Accepted as is after review",
    "other": "Other (see note)",
}


@dataclass
class VeeOutcome:
    """What one VEE run did."""

    days: int = 0
    written: int = 0
    estimated: int = 0
    exceptions_opened: int = 0
    exceptions_cleared: int = 0


def settings_for(ldc: LDC) -> Any:
    """The LDC's settings, checked again where they are read (a row saved before the checks, or
    by hand, may hold anything): a bad one fails the run with the field's message."""
    row = VeeSettings.objects.for_ldc(ldc).first()
    try:
        return vee_settings(row.params if row else {})
    except VeeParameterError as exc:
        raise VeeParameterError(
            {f"VEE settings of {ldc.slug}: {k}": v for k, v in exc.errors.items()}
        ) from exc


@transaction.atomic
def vee_settings_save(*, ldc: LDC, params: dict[str, Any], actor: Actor) -> VeeSettings:
    """Store the LDC's overrides, checked first (VeeParameterError names each bad field)."""
    vee_settings(params)
    row, _ = VeeSettings.objects.get_or_create(ldc=ldc)
    before = row.params
    row.params, row.updated_by, row.updated_at = params, actor.user, timezone.now()
    row.save(update_fields=["params", "updated_by", "updated_at"])
    audit(action="vee.settings_changed", actor=actor, ldc=ldc, obj=row, before=before, after=params)
    return row


def vee_failure_record(
    *,
    ldc: LDC,
    meter_ids: list[int],
    first_day: int,
    last_day: int,
    error: str,
    read_file_id: int | None = None,
) -> VeeFailure:
    """A VEE run raised: keep what it was for and why, and say so on its read file."""
    failure = VeeFailure.objects.create(
        ldc=ldc,
        read_file_id=read_file_id,
        meter_ids=sorted({int(m) for m in meter_ids}),
        first_day=first_day,
        last_day=last_day,
        error=error[:2000],
    )
    if read_file_id is not None:
        # A file already loaded says so now; one still loading says so when it finishes
        # (meters.reads.ingest._finish looks for its open failures).
        ReadFile.objects.filter(pk=read_file_id, status=ReadFile.Status.LOADED).update(
            status=ReadFile.Status.VEE_FAILED, error=f"VEE failed: {error}"[:2000]
        )
    audit(
        action="vee.failed",
        actor=None,
        ldc=ldc,
        obj=failure,
        after={"error": error[:500], "meters": len(failure.meter_ids)},
    )
    return failure


def vee_failures_retry(*, ldc: LDC, now: dt.datetime | None = None) -> tuple[int, int]:
    """Run the LDC's failed VEE again; a file whose failures all passed is Loaded again.
    Returns (passed, still failing)."""
    passed = failing = 0
    for failure in VeeFailure.objects.for_ldc(ldc).filter(resolved_at__isnull=True):
        try:
            vee_run_days(
                ldc=ldc,
                meter_ids=failure.meter_ids,
                first_day=failure.first_day,
                last_day=failure.last_day,
                now=now,
            )
        except TRANSIENT:
            raise
        except Exception as exc:  # noqa: BLE001 - kept as the failure's reason, tried again later
            failing += 1
            VeeFailure.objects.filter(pk=failure.pk).update(
                error=_reason(exc)[:2000],
                attempts=failure.attempts + 1,
                last_tried_at=timezone.now(),
            )
            continue
        passed += 1
        VeeFailure.objects.filter(pk=failure.pk).update(
            resolved_at=timezone.now(), last_tried_at=timezone.now()
        )
        if failure.read_file_id is not None and not (
            VeeFailure.objects.for_ldc(ldc)
            .filter(read_file_id=failure.read_file_id, resolved_at__isnull=True)
            .exists()
        ):
            ReadFile.objects.filter(
                pk=failure.read_file_id, status=ReadFile.Status.VEE_FAILED
            ).update(status=ReadFile.Status.LOADED, error="")
    return passed, failing


def _reason(exc: BaseException) -> str:
    """What a person reads: the exception's message with its type."""
    return f"{type(exc).__name__}: {exc}"


def vee_run_days(
    *,
    ldc: LDC,
    meter_ids: Iterable[int],
    first_day: int,
    last_day: int,
    now: dt.datetime | None = None,
) -> VeeOutcome:
    """Validate and estimate the given meters' UTC days [first_day, last_day] (with history)."""
    meters = sorted({int(m) for m in meter_ids})
    outcome = VeeOutcome()
    if not meters:
        return outcome
    # Lock, read and write in one transaction: an ingestion batch (or an edit) committing between
    # the read and the write would otherwise be overwritten with stale values.
    with transaction.atomic():
        day_store.lock_meters(ldc, meters)
        boxes = day_store.vee_stored(ldc, meters, first_day - HISTORY_DAYS, last_day + 1)
        for minutes in sorted(boxes or {60}):
            _run_minutes(
                ldc,
                meters,
                first_day,
                last_day,
                minutes,
                boxes.get(minutes),
                now or timezone.now(),
                outcome,
            )
    return outcome


def _keys(
    meters: list[int], box: day_store.VeeBlock | None, first: int, last: int, minutes: int
) -> np.ndarray:
    """Stored days of this length plus every target meter-day (empty when nothing arrived)."""
    stored = box.block.key if box is not None else np.empty(0, np.int64)
    days = np.arange(first, last + 1)
    target = day_key(np.repeat(meters, len(days)), 1, np.tile(days, len(meters)))
    at = np.searchsorted(stored, target)
    if len(stored) and (at < len(stored)).all() and (stored[at] == target).all():
        return stored  # every target day is stored (sorted, unique): nothing to add
    return sorted_unique(np.concatenate([stored, target]))


def _run_minutes(
    ldc: LDC,
    meters: list[int],
    first: int,
    last: int,
    minutes: int,
    box: day_store.VeeBlock | None,
    now: dt.datetime,
    outcome: VeeOutcome,
) -> None:
    tz = ZoneInfo(ldc.time_zone)
    keys = _keys(meters, box, first, last, minutes)
    stored = day_store.vee_layout(box, keys, minutes)
    block = stored.block
    registers = _registers(ldc, meters, first, last)
    years = (date_of(first - HISTORY_DAYS).year, date_of(last + 1).year)
    settings = settings_for(ldc)
    validation = _validation_context(ldc, block, meters, registers, settings[0], now, tz)
    estimation = EstimationContext(tz=tz, holidays=holiday_days(*years), registers=registers)
    result = run_vee(block, validation, estimation, settings)
    target = (block.day >= first) & (block.day <= last)
    flags = result.estimation.flags.astype(np.uint8)
    # An earlier estimate that still stands keeps its method; a new one brings its own.
    still = (flags & np.uint8(IntervalFlag.ESTIMATED)) != 0
    methods = np.where(
        result.estimation.method != 0,
        result.estimation.method,
        np.where(still, stored.methods, 0),
    ).astype(np.uint8)
    # ... and keeps the rules that sent it to estimation, which no longer fire on the estimate.
    kept = still & (result.estimation.method == 0)
    bits = np.where(
        kept, stored.rules | result.validation.interval_bits, result.validation.interval_bits
    ).astype(np.uint32)
    new = day_store.VeeBlock(
        DayBlock(
            block.key,
            minutes,
            result.estimation.wh.astype(np.int32),
            flags,
            block.raw_wh,
            block.raw_quality,
            block.version,
        ),
        methods,
        bits,
        stored.exists,
    )
    changed = target & _differs(stored, new)
    # A day nothing arrived for and nothing could fill is not stored (the exception says why).
    changed &= stored.exists | (new.methods != 0).any(axis=1)
    rows_to_write = np.flatnonzero(changed)
    # A re-estimation: a day VEE had finished (every interval validated or a person's) changes
    # again; its version as it was is kept and it becomes the next (#19). Not a day's first
    # pass, nor one a late actual just reopened (that made its own version on ingestion).
    again = rows_to_write[stored.exists[rows_to_write] & _finished(stored, rows_to_write)]
    _new_versions(ldc, stored, again)
    outcome.days += int(target.sum())
    outcome.written += day_store.save_vee(ldc, _take(new, rows_to_write))
    if again.size:
        day_store.bump_versions(ldc, stored.block.take(again))
    outcome.estimated += int((new.methods[target] != 0).sum() - (stored.methods[target] != 0).sum())
    _exceptions(ldc, block, result, target, now, outcome)


def _finished(vee: day_store.VeeBlock, rows: np.ndarray) -> np.ndarray:
    """Of the rows, the days whose every interval is missing, validated or edited."""
    flags = vee.block.flags[rows]
    done = np.uint8(IntervalFlag.VALIDATED | IntervalFlag.EDITED | IntervalFlag.MISSING)
    return ((flags & done) != 0).all(axis=1)


def _copy(vee: day_store.VeeBlock) -> day_store.VeeBlock:
    rows = np.arange(len(vee.block))
    return day_store.VeeBlock(
        vee.block.take(rows), vee.methods.copy(), vee.rules.copy(), vee.exists.copy()
    )


def _new_versions(ldc: LDC, before: day_store.VeeBlock, rows: np.ndarray) -> None:
    """Keep the stored days ``rows`` as they were (IntervalDayVersion) before a person's edit
    or a re-estimation changes them: a billed quantity stays reproducible from stored data
    (Measurement Canada: billed quantities from legally relevant data, kept)."""
    rows = rows[before.exists[rows]]
    if rows.size:
        day_store.archive_versions(ldc, before.block.take(rows), None)


def _validation_context(
    ldc: LDC,
    block: DayBlock,
    meters: list[int],
    registers: RegisterReads,
    settings: ValidationSettings,
    now: dt.datetime,
    tz: ZoneInfo,
) -> ValidationContext:
    """Every rule with its input (issue 20): the registry of each row's day (V02 multiplier,
    V11 enrollment, V16's count), the stored actuals re-sent ones replaced (V03), the estimated
    days before the block (V14), the register reads (V05, V02)."""
    registry = row_registry(ldc, block, meters, require_enrollment=settings.v11_require_enrollment)
    replaced = previous_actuals(ldc, block)
    return ValidationContext(
        now_s=int(now.timestamp()),
        tz=tz,
        registers=registers,
        registry_multiplier=registry.multiplier,
        enrolled=registry.enrolled,
        conflict=None if replaced is None else replaced[0],
        previous_wh=None if replaced is None else replaced[1],
        prior_estimated_days=prior_estimated_days(ldc, block, settings.v14_max_estimated_days + 1),
    )


def _differs(a: day_store.VeeBlock, b: day_store.VeeBlock) -> np.ndarray:
    return (
        (a.block.wh != b.block.wh)
        | (a.block.flags != b.block.flags)
        | (a.methods != b.methods)
        | (a.rules != b.rules)
    ).any(axis=1)


def _take(vee: day_store.VeeBlock, rows: np.ndarray) -> day_store.VeeBlock:
    return day_store.VeeBlock(
        vee.block.take(rows), vee.methods[rows], vee.rules[rows], vee.exists[rows]
    )


def _of_meters(queryset: QuerySet[Any], meters: list[int]) -> QuerySet[Any]:
    """Rows of the given meters: one array parameter on PostgreSQL (an IN list of thousands of
    parameters costs Django more than the query costs the database)."""
    if connection.vendor == "postgresql":
        table = queryset.model._meta.db_table
        return queryset.extra(where=[f'"{table}"."meter_id" = ANY(%s)'], params=[meters])  # noqa: S610
    return queryset.filter(meter_id__in=meters)


def _registers(ldc: LDC, meters: list[int], first: int, last: int) -> RegisterReads:
    reads = list(
        _of_meters(RegisterRead.objects.for_ldc(ldc), meters)
        .filter(
            read_at__gte=dt.datetime.combine(date_of(first - HISTORY_DAYS), dt.time(), dt.UTC),
            read_at__lt=dt.datetime.combine(date_of(last + 2), dt.time(), dt.UTC),
        )
        .values_list("meter_id", "channel", "read_at", "wh")
    )
    return RegisterReads.consecutive(
        np.array([r[0] for r in reads], np.int64),
        np.array([r[1] for r in reads], np.int64),
        np.array([int(r[2].timestamp()) for r in reads], np.int64),
        np.array([r[3] for r in reads], np.int64),
    )


def _exceptions(
    ldc: LDC,
    block: DayBlock,
    result: Any,
    target: np.ndarray,
    now: dt.datetime,
    outcome: VeeOutcome,
) -> None:
    """Open an exception per rule that fired and needs a person; clear what no longer fires."""
    unfilled = (result.estimation.unfilled & ~_before_first_read(block)).any(axis=1)
    needs: dict[tuple[int, int, int, str], str] = {}
    for rule in set(RULE_TITLES) - LDC_NOTICES:
        fired = result.validation.fired(rule) & target
        if rule in AUTO_ESTIMATED:
            # Estimated: a person only where that failed, or (V02) where the interval length
            # or the multiplier is wrong: a whole day that only a person can put right.
            fired &= unfilled | _person_only(result.validation, rule)
        for row in np.flatnonzero(fired).tolist():
            key = (int(block.meter[row]), int(block.channel[row]), int(block.day[row]), rule)
            needs[key] = "; ".join(result.validation.explain(row))[:500]
    rows = _of_meters(
        VeeException.objects.for_ldc(ldc), sorted_unique(block.meter[target]).tolist()
    ).filter(
        day__gte=date_of(int(block.day[target].min())),
        day__lte=date_of(int(block.day[target].max())),
    )
    existing = {(e.meter_id, e.channel, day_number(e.day), e.rule): e for e in rows}
    sdps = _sdp_of(ldc, {k[0] for k in needs})
    new = [
        VeeException(
            ldc=ldc,
            meter_id=m,
            sdp_id=sdps.get(m),
            channel=c,
            day=date_of(d),
            rule=r,
            detail=text,
            intervals=0,
            created_at=now,
        )
        for (m, c, d, r), text in needs.items()
        if (m, c, d, r) not in existing
    ]
    VeeException.objects.bulk_create(new, batch_size=2000)
    cleared = [
        e.pk for k, e in existing.items() if k not in needs and e.status == VeeException.Status.OPEN
    ]
    VeeException.objects.filter(pk__in=cleared).update(
        status=VeeException.Status.CLEARED, resolved_at=now
    )
    outcome.exceptions_opened += len(new)
    outcome.exceptions_cleared += len(cleared)


def _person_only(validation: Any, rule: str) -> np.ndarray | bool:
    """(K,) days a rule fired on that need a person even when estimated."""
    if rule == "V02" and "V02" in validation.rules:
        return np.asarray(validation.rules["V02"].detail["length_or_multiplier"], bool)
    return False


def _before_first_read(block: DayBlock) -> np.ndarray:
    """(K, n) intervals earlier than their meter's first received one in the block: a meter's
    first delivery starts at a local midnight, so its first UTC row begins with hours no file
    was ever due to carry. Those are not a head-end's gap and need nobody."""
    received = block.raw_quality != 255
    starts = block.day[:, None] * DAY_S + np.arange(block.wh.shape[1]) * block.minutes * 60
    first = np.where(received, starts, np.iinfo(np.int64).max).min(axis=1)
    meters, inverse = np.unique(block.meter, return_inverse=True)
    per_meter = np.full(len(meters), np.iinfo(np.int64).max)
    np.minimum.at(per_meter, inverse, first)
    return starts < per_meter[inverse][:, None]


def _sdp_of(ldc: LDC, meters: set[int]) -> dict[int, int]:
    today = timezone.localdate()
    return dict(
        _of_meters(MeterInstallation.objects.for_ldc(ldc), sorted(meters))
        .filter(effective_from__lte=today)
        .exclude(effective_to__lt=today)
        .values_list("meter_id", "sdp_id")
    )


def vee_daily_sweep(*, ldc: LDC, local_day: dt.date | None = None, chunk: int = 5000) -> VeeOutcome:
    """VEE over yesterday (local) for every meter installed at an SDP, missing days included."""
    tz = ZoneInfo(ldc.time_zone)
    local_day = local_day or timezone.localdate(timezone=tz) - dt.timedelta(days=1)
    start, end = local_day_bounds(tz, day_number(local_day))
    meters = list(
        MeterInstallation.objects.for_ldc(ldc)
        .filter(effective_from__lte=local_day)
        .exclude(effective_to__lt=local_day)
        .values_list("meter_id", flat=True)
    )
    return vee_run_chunks(
        ldc=ldc,
        meter_ids=meters,
        first_day=start // DAY_S,
        last_day=(end - 1) // DAY_S,
        chunk=chunk,
    )


def vee_run_chunks(
    *,
    ldc: LDC,
    meter_ids: Iterable[int],
    first_day: int,
    last_day: int,
    now: dt.datetime | None = None,
    chunk: int = 5000,
    workers: int = 2,
) -> VeeOutcome:
    """vee_run_days over many meters, a chunk of meters at a time (each chunk its own transaction).

    With ``workers`` > 1 and no transaction open, chunks run in that many threads, each on its
    own database connection: while one waits for PostgreSQL (psycopg releases the GIL, the
    server works on the other core), another computes. Inside a transaction (a caller's atomic
    block, a test) or on SQLite the chunks run one after the other on the caller's connection.
    """
    meters = sorted({int(m) for m in meter_ids})
    # At most ``chunk`` meters per transaction, in a multiple of ``workers`` equal parts: no
    # thread is left alone with the last chunk while the other core idles.
    workers = max(workers, 1)
    rounds = -(-len(meters) // (chunk * workers))
    size = max(-(-len(meters) // (rounds * workers)), 1) if meters else chunk
    parts = [meters[i : i + size] for i in range(0, len(meters), size)]
    now = now or timezone.now()

    def run(part: list[int]) -> VeeOutcome:
        return vee_run_days(
            ldc=ldc, meter_ids=part, first_day=first_day, last_day=last_day, now=now
        )

    if (
        workers <= 1
        or len(parts) <= 1
        or connection.in_atomic_block
        or connection.vendor != "postgresql"  # SQLite writes one at a time anyway
    ):
        outcomes = [run(part) for part in parts]
    else:
        outcomes = _in_threads(run, parts, workers)
    total = VeeOutcome()
    for part in outcomes:
        for name in total.__dataclass_fields__:
            setattr(total, name, getattr(total, name) + getattr(part, name))
    return total


def _in_threads(
    run: Callable[[list[int]], VeeOutcome], parts: list[list[int]], workers: int
) -> list[VeeOutcome]:
    """Each thread takes the next chunk until none is left, then closes its connection."""
    outcomes: list[VeeOutcome | None] = [None] * len(parts)
    errors: list[BaseException] = []
    todo = iter(range(len(parts)))
    lock = threading.Lock()

    def worker() -> None:
        try:
            while not errors:
                with lock:
                    i = next(todo, None)
                if i is None:
                    return
                outcomes[i] = run(parts[i])
        except BaseException as exc:  # noqa: BLE001 - handed to the caller's thread
            errors.append(exc)
        finally:
            connection.close()  # this thread's own connection

    threads = [threading.Thread(target=worker) for _ in range(min(workers, len(parts)))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    return [o for o in outcomes if o is not None]


def _day_block(
    ldc: LDC, meter: Meter, channel: int, first_day: int, last_day: int, history: int = 0
) -> tuple[day_store.VeeBlock, np.ndarray]:
    """The meter's stored days (with ``history`` days before) and which rows are the target."""
    rows = day_store.box_rows(ldc, [meter.pk], first_day - history, last_day)
    minutes = int(rows[0][4]) if rows else 60
    days = np.arange(first_day - history, last_day + 1)
    keys = sorted_unique(
        np.concatenate(
            [
                day_key(np.full(len(days), meter.pk), channel, days),
                np.array(
                    [day_key(r[1], r[2], day_number(r[3])) for r in rows if int(r[4]) == minutes],
                    np.int64,
                ),
            ]
        )
    )
    vee = day_store.vee_block(rows, keys, minutes)
    target = (
        (vee.block.day >= first_day) & (vee.block.day <= last_day) & (vee.block.channel == channel)
    )
    return vee, target


@transaction.atomic
def interval_edit(
    *,
    ldc: LDC,
    meter: Meter,
    channel: int,
    start: dt.datetime,
    end: dt.datetime,
    wh: int | list[int],
    reason: str,
    note: str,
    actor: Actor,
) -> int:
    """A person sets the current values of [start, end): audited, billing told, queue updated.

    Returns the number of intervals changed. The values as received are never touched.
    """
    if reason not in EDIT_REASONS:
        raise EditError(f"'{reason}' is not a reason code: one of {', '.join(EDIT_REASONS)}")
    if reason == "other" and not note.strip():
        raise EditError("say why in the note when the reason is 'other'")
    start_s, end_s = int(start.timestamp()), int(end.timestamp())
    if end_s <= start_s:
        raise EditError("the end must be after the start")
    day_store.lock_meters(ldc, [meter.pk])
    vee, _ = _day_block(ldc, meter, channel, start_s // DAY_S, (end_s - 1) // DAY_S)
    result = apply_edit(
        vee.block,
        meter=meter.pk,
        channel=channel,
        start_s=start_s,
        end_s=end_s,
        wh=np.asarray(wh, np.int64),
        reason=reason,
        method=vee.methods,
    )
    rows = np.flatnonzero(result.changed_days)
    edited = day_store.VeeBlock(
        DayBlock(
            vee.block.key,
            vee.block.minutes,
            result.wh,
            result.flags,
            vee.block.raw_wh,
            vee.block.raw_quality,
            vee.block.version,
        ),
        result.method if result.method is not None else vee.methods,
        vee.rules,
        vee.exists,
    )
    _new_versions(ldc, vee, rows)  # the days as they were stay reproducible (#19)
    day_store.save_vee(ldc, _take(edited, rows))
    day_store.bump_versions(ldc, vee.block.take(rows[vee.exists[rows]]))
    changed = int(result.changed.sum())
    audit(
        action="reads.edited",
        actor=actor,
        ldc=ldc,
        obj=meter,
        before={"kwh": (result.before_wh / 1000).tolist(), "flags": result.before_flags.tolist()},
        after={
            "kwh": (result.after_wh / 1000).tolist(),
            "reason": reason,
            "note": note,
            "channel": channel,
            "start": start.isoformat(),
            "end": end.isoformat(),
        },
    )
    days = [date_of(int(d)) for d in vee.block.day[rows]]
    VeeException.objects.for_ldc(ldc).filter(
        meter=meter, channel=channel, day__in=days, status=VeeException.Status.OPEN
    ).update(status=VeeException.Status.EDITED, resolved_at=timezone.now(), resolved_by=actor.user)
    transaction.on_commit(
        lambda: reads_changed.send(
            sender=VeeException, ldc=ldc, meter_id=meter.pk, starts=result.changed_starts
        )
    )
    return changed


@transaction.atomic
def exceptions_resolve(
    *, ldc: LDC, exceptions: list[VeeException], action: str, method: str | None, actor: Actor
) -> int:
    """The queue's bulk actions: accept as is, or estimate the failed intervals by a method."""
    done = 0
    day_store.lock_meters(ldc, [e.meter_id for e in exceptions])
    for exception in exceptions:
        day = day_number(exception.day)
        vee, target = _day_block(
            ldc,
            exception.meter,
            exception.channel,
            day,
            day,
            history=HISTORY_DAYS if action == "estimate" else 0,
        )
        failing = (vee.rules & np.uint32(rule_bit(exception.rule))) != 0
        failing &= target[:, None]
        previous = _copy(vee)
        if action == "estimate":
            _estimate_by(ldc, vee, failing, method or "E3")
        elif failing.any():
            _accept(vee, failing)
        rows = np.flatnonzero(target)
        if action == "estimate" or failing.any():  # the values or flags change: a new version
            _new_versions(ldc, previous, rows)
        day_store.save_vee(ldc, _take(vee, rows))
        if action == "estimate" or failing.any():
            day_store.bump_versions(ldc, vee.block.take(rows[vee.exists[rows]]))
        status = (
            VeeException.Status.ESTIMATED if action == "estimate" else VeeException.Status.ACCEPTED
        )
        VeeException.objects.filter(pk=exception.pk).update(
            status=status, resolved_at=timezone.now(), resolved_by=actor.user
        )
        audit(
            action=f"vee.exception_{status}",
            actor=actor,
            ldc=ldc,
            obj=exception,
            after={
                "rule": exception.rule,
                "day": str(exception.day),
                "method": method,
                "intervals": int(failing.sum()),
            },
        )
        done += 1
    return done


def _accept(vee: day_store.VeeBlock, failing: np.ndarray) -> None:
    """Accepted as is: the values stay and become a person's (EDITED), so VEE keeps them."""
    from meters.vee.rules import F

    vee.block.flags[failing] = (
        vee.block.flags[failing] & np.uint8(F.RECEIVED | F.OUTAGE)
    ) | np.uint8(F.EDITED)


def _estimate_by(ldc: LDC, vee: day_store.VeeBlock, target: np.ndarray, method: str) -> None:
    from meters.vee import EstimationSettings, estimate

    tz = ZoneInfo(ldc.time_zone)
    days = vee.block.day
    context = EstimationContext(
        tz=tz, holidays=holiday_days(date_of(int(days.min())).year, date_of(int(days.max())).year)
    )
    result = estimate(vee.block, target, context, EstimationSettings(methods=frozenset({method})))
    vee.block.wh[:] = result.wh
    vee.block.flags[:] = result.flags
    vee.methods[:] = result.method
