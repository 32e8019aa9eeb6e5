"""Portal load benchmark: customer usage pages, Green Button, LDC pages and the API under locust.

    python bench/portal.py --meters 10000            # build the database, then load-test
    python bench/portal.py --meters 10000 --reuse    # reuse the database built before

Builds (or, with --reuse, reuses) a PostgreSQL cluster in --datadir holding one LDC with N
meters x D days of hourly reads, written with COPY straight into the partitioned interval table
(never through the ORM), customers linked to SDPs spread over the meters, LDC staff and an API
token. Sessions are created server-side (staff with the two-factor flag set, as after a TOTP
login) so that the load test does not drive the login form. Then it starts gunicorn and runs
locust headless (this file is also the locustfile) with customers viewing day/month/year pages
and downloading Green Button files, LDC staff on their pages, and API clients (each user waits
--wait seconds between requests, 1-5 s by default); prints p50, p95 and p99 per request name and
a last line of JSON. Before the load, each kind of request is timed one at a time (the service
time without queueing, single_user_p95_ms) and a one-year Green Button export on its own
(greenbutton_year_s). --exclude drops request names from the mix (e.g. "ldc dashboard").
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SLUG = "bench-portal"
PLAN_ENV = "OPENMDMR_BENCH_PLAN"  # JSON file of sessions, SDPs and tokens for the locust users
OUT_ENV = "OPENMDMR_BENCH_OUT"  # where the locust process writes every response time
EXCLUDE_ENV = "OPENMDMR_BENCH_EXCLUDE"  # request names (comma-separated) left out of the mix
WAIT_ENV = "OPENMDMR_BENCH_WAIT"  # "min,max" seconds a user waits between two requests


# --- the database server ---------------------------------------------------------------------


def pg_start(datadir: Path, port: int) -> str:
    """Start (creating if needed) a PostgreSQL cluster in ``datadir``; its URL."""
    from portal.testing.services import _as_postgres_user, _pg_bin

    prefix = _as_postgres_user()
    data = datadir / "data"
    if not (data / "PG_VERSION").exists():
        datadir.mkdir(parents=True, exist_ok=True)
        if prefix:
            shutil.chown(datadir, user="postgres")
        subprocess.run(
            [*prefix, _pg_bin("initdb"), "-D", str(data), "-U", "postgres", "-A", "trust"]
            + ["-E", "UTF8", "--no-sync"],
            check=True,
            capture_output=True,
        )
    status = subprocess.run(
        [*prefix, _pg_bin("pg_ctl"), "-D", str(data), "status"], check=False, capture_output=True
    )
    if status.returncode == 0:  # left running by --keep (or an interrupted run): reuse it
        return f"postgres://postgres@127.0.0.1:{port}/postgres"
    options = (
        f"-p {port} -k {datadir} -c listen_addresses=127.0.0.1 -c fsync=off "
        "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200 "
        "-c shared_buffers=1GB -c effective_cache_size=4GB -c work_mem=16MB "
        "-c max_wal_size=8GB -c checkpoint_timeout=30min"
    )
    subprocess.run(
        [*prefix, _pg_bin("pg_ctl"), "-D", str(data), "-o", options, "-l", str(datadir / "log")]
        + ["-w", "start"],
        check=True,
        capture_output=True,
    )
    return f"postgres://postgres@127.0.0.1:{port}/postgres"


def pg_stop(datadir: Path) -> None:
    from portal.testing.services import _as_postgres_user, _pg_bin

    subprocess.run(
        [*_as_postgres_user(), _pg_bin("pg_ctl"), "-D", str(datadir / "data"), "-m", "fast"]
        + ["-w", "stop"],
        check=False,
        capture_output=True,
    )


def setup_django(url: str) -> None:
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
    os.environ.setdefault("OPENMDMR_VAR_DIR", tempfile.mkdtemp(prefix="openmdmr-bench-"))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


# --- data ----------------------------------------------------------------------------------------


def build(meters: int, days: int, customers: int, seed: int = 7) -> None:
    """The LDC, registry, customers and staff, then the reads by COPY."""
    from portal.tenancy import LDC

    t0 = time.perf_counter()
    ldc = LDC.objects.create(slug=SLUG, name="Bench Portal Hydro", status=LDC.Status.PRODUCTION)
    _registry(ldc, meters)
    _customers(ldc, meters, customers)
    print(f"registry and {customers:,} customers in {time.perf_counter() - t0:.1f} s", flush=True)
    t0 = time.perf_counter()
    rows = copy_reads(ldc, meters, days, seed)
    with _cursor() as cursor:
        cursor.execute("ANALYZE")
    print(
        f"COPY {rows:,} meter-days ({rows * 24:,} hourly reads) in "
        f"{time.perf_counter() - t0:.1f} s",
        flush=True,
    )


def _cursor() -> Any:
    from django.db import connection

    return connection.cursor()


def _registry(ldc: Any, meters: int) -> None:
    from meters.models import Meter, MeterInstallation, ServiceDeliveryPoint

    plans = np.array(["tou", "tou", "tou", "ulo", "tiered"])[np.arange(meters) % 5]
    sdps = ServiceDeliveryPoint.objects.bulk_create(
        [
            ServiceDeliveryPoint(
                ldc=ldc,
                sdp_id=f"BS{m:07d}",
                rate_class="residential",
                commodity_rate_class=str(plans[m]),
                postal_code="M5V 2T6",
            )
            for m in range(meters)
        ],
        batch_size=5000,
    )
    mtrs = Meter.objects.bulk_create(
        [Meter(ldc=ldc, serial=f"BM{m:07d}") for m in range(meters)], batch_size=5000
    )
    MeterInstallation.objects.bulk_create(
        [
            MeterInstallation(ldc=ldc, sdp=s, meter=m, effective_from=dt.date(2020, 1, 1))
            for s, m in zip(sdps, mtrs, strict=True)
        ],
        batch_size=5000,
    )


def _customers(ldc: Any, meters: int, customers: int) -> None:
    """One account and one person per chosen SDP, spread over all meters; staff; a token."""
    from django.contrib.auth.hashers import make_password

    from customers.models import AccountLink, CustomerAccount
    from meters.models import ServiceDeliveryPoint
    from portal.models import User
    from portal.tenancy import Membership, Role

    picks = np.linspace(0, meters - 1, min(customers, meters)).astype(int)
    sdp_pk = dict(ServiceDeliveryPoint.objects.filter(ldc=ldc).values_list("sdp_id", "pk"))
    accounts = CustomerAccount.objects.bulk_create(
        [CustomerAccount(ldc=ldc, account_number=f"BA{m:07d}") for m in picks], batch_size=5000
    )
    through = CustomerAccount.sdps.through
    through.objects.bulk_create(
        [
            through(account_id=a.pk, sdp_id=sdp_pk[f"BS{m:07d}"], move_in=dt.date(2000, 1, 1))
            for a, m in zip(accounts, picks, strict=True)
        ],
        batch_size=5000,
    )
    people = User.objects.bulk_create(
        [User(email=f"customer{m}@bench.example", password=make_password(None)) for m in picks],
        batch_size=5000,
    )
    AccountLink.objects.bulk_create(
        [AccountLink(user=u, account=a) for u, a in zip(people, accounts, strict=True)],
        batch_size=5000,
    )
    for i, role in enumerate([Role.LDC_ADMIN, Role.BACK_OFFICE, Role.BILLING_AGENT] * 4):
        user = User.objects.create(email=f"staff{i}@bench.example", password=make_password(None))
        Membership.objects.create(user=user, ldc=ldc, role=role)


_HEX = np.frombuffer(b"0123456789abcdef", np.uint8)


def hex_columns(values: np.ndarray) -> np.ndarray:
    """(K, 2 * bytes) ASCII hex of each row's little-endian bytes, vectorised."""
    raw = np.ascontiguousarray(values).view(np.uint8).reshape(values.shape[0], -1)
    out = np.empty((raw.shape[0], raw.shape[1] * 2), np.uint8)
    out[:, 0::2] = _HEX[raw >> 4]
    out[:, 1::2] = _HEX[raw & 15]
    return out


def _text(k: int, text: str) -> np.ndarray:
    return np.broadcast_to(np.frombuffer(text.encode(), np.uint8), (k, len(text)))


def _digits(values: np.ndarray, width: int) -> np.ndarray:
    """Zero-padded decimal ASCII of non-negative integers (K, width)."""
    powers = 10 ** np.arange(width - 1, -1, -1, dtype=np.int64)
    return ((values[:, None] // powers) % 10 + 48).astype(np.uint8)


def day_copy_text(
    ldc_id: int, meter_pks: np.ndarray, day: dt.date, wh: np.ndarray, flags: np.ndarray
) -> bytes:
    """COPY text-format rows of one UTC day of every meter (bytea in hex, fixed width)."""
    k = len(meter_pks)
    quality = np.where((flags & 2) != 0, 3, np.where((flags & 4) != 0, 2, 0)).astype(np.uint8)
    parts = [
        _text(k, f"{ldc_id}\t"),
        _digits(meter_pks, 12),
        _text(k, f"\t1\t{day.isoformat()}\t60\t\\\\x"),
        hex_columns(wh.astype("<i4")),
        _text(k, "\t\\\\x"),
        hex_columns(flags),
        _text(k, "\t\\\\x"),
        hex_columns(wh.astype("<i4")),
        _text(k, "\t\\\\x"),
        hex_columns(quality),
        _text(k, "\t1\t2026-01-01 00:00:00+00\n"),
    ]
    return np.concatenate(parts, axis=1).tobytes()


def copy_reads(ldc: Any, meters: int, days: int, seed: int) -> int:
    """Hourly days ending yesterday (UTC) for every meter, COPYed one month per statement."""
    from django.db import connection, transaction

    from meters.models import Meter
    from meters.reads import day_store
    from meters.reads.day_arrays import IntervalFlag as F
    from meters.reads.synthetic import hourly_shape
    from portal.calendar.localtime import day_number

    rng = np.random.default_rng(seed)
    pks = np.array(sorted(Meter.objects.filter(ldc=ldc).values_list("pk", flat=True)), np.int64)
    # Local-hour load shapes laid on UTC hours (Toronto is 4-5 h behind UTC).
    shape = np.roll(hourly_shape(rng, meters), 5, axis=1)
    last = dt.datetime.now(dt.UTC).date() - dt.timedelta(days=1)
    first = last - dt.timedelta(days=days - 1)
    day_store.ensure_partitions(np.arange(day_number(first), day_number(last) + 1))
    good = np.uint8(F.RECEIVED | F.VALIDATED)
    columns = "ldc_id, meter_id, channel, day, interval_minutes, wh, flags, raw_wh, raw_quality, "
    columns += "version, updated_at"
    day = first
    while day <= last:
        month_end = min(
            last, (day.replace(day=28) + dt.timedelta(days=4)).replace(day=1) - dt.timedelta(days=1)
        )
        with (
            transaction.atomic(),
            connection.cursor() as cursor,
            cursor.cursor.copy(f"COPY meters_intervalday ({columns}) FROM STDIN") as copy,
        ):
            while day <= month_end:
                season = 1.0 + 0.35 * np.cos((day.timetuple().tm_yday - 20) / 365 * 2 * np.pi)
                noise = rng.gamma(8, 1 / 8, (meters, 24))
                wh = np.rint(shape * season * noise * 1000).astype(np.int32)
                flags = np.full((meters, 24), good, np.uint8)
                est = rng.random((meters, 24)) < 0.003
                flags[est] = F.RECEIVED | F.ESTIMATED | F.VALIDATED
                copy.write(day_copy_text(ldc.pk, pks, day, wh, flags))
                day += dt.timedelta(days=1)
        print(f"  copied to {month_end}", flush=True)
    return meters * days


def is_built(meters: int) -> bool:
    from meters.models import Meter
    from portal.tenancy import LDC

    ldc = LDC.objects.filter(slug=SLUG).first()
    return ldc is not None and Meter.objects.filter(ldc=ldc).count() == meters


# --- sessions, tokens and the plan for the locust users --------------------------------------


def make_plan(customers: int) -> dict[str, Any]:
    """Fresh server-side sessions for customers and staff, and an API token."""
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore
    from django.contrib.sessions.models import Session
    from django.utils import timezone

    from customers.models import AccountLink
    from ldc.services import api_token_create
    from portal.tenancy import LDC, Membership

    Session.objects.all().delete()
    ldc = LDC.objects.get(slug=SLUG)
    now = time.time()

    def session(user: Any, staff: bool) -> str:
        store = SessionStore()
        store[SESSION_KEY] = str(user.pk)
        store[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
        store[HASH_SESSION_KEY] = user.get_session_auth_hash()
        methods = [{"method": "password", "at": now, "email": user.email}]
        if staff:  # as after allauth's TOTP step: the portal's two-factor flag is set
            methods.append({"method": "mfa", "at": now, "type": "totp"})
            store["openmdmr_totp_ok"] = user.pk  # portal.two_factor.PASSED
        store["account_authentication_methods"] = methods
        store.create()
        return str(store.session_key)

    links = (
        AccountLink.objects.filter(account__ldc=ldc)
        .select_related("user")
        .prefetch_related("account__sdps")
        .order_by("pk")[:customers]
    )
    plan_customers = [
        {"session": session(link.user, False), "sdp": link.account.sdps.all()[0].sdp_id}
        for link in links
    ]
    staff = [
        session(m.user, True)
        for m in Membership.objects.filter(ldc=ldc).select_related("user").order_by("pk")
    ]
    from portal.tokens import ApiToken

    ApiToken.objects.filter(ldc=ldc).delete()
    _, key = api_token_create(ldc=ldc, name="bench", role="back_office", actor=None)
    from meters.models import ServiceDeliveryPoint

    sdps = ServiceDeliveryPoint.objects.filter(ldc=ldc).order_by("?")
    sdp_ids = list(sdps.values_list("sdp_id", flat=True)[:500])
    return {
        "slug": SLUG,
        "customers": plan_customers,
        "staff": staff,
        "token": key,
        "sdp_ids": sdp_ids,
        "today": timezone.localdate().isoformat(),
    }


# --- gunicorn and locust ---------------------------------------------------------------------


def start_gunicorn(url: str, port: int, workers: int, threads: int) -> subprocess.Popen[bytes]:
    env = os.environ | {
        "DATABASE_URL": url,
        "DEBUG": "0",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "DB_CONN_MAX_AGE": "600",
        "API_USER_RATE": "1000000/min",
    }
    process = subprocess.Popen(
        [
            str(ROOT / ".venv/bin/gunicorn"),
            "portal.wsgi:application",
            "-w",
            str(workers),
            # Threads: one slow page (the LDC dashboard at 10,000 meters) must not hold a whole
            # worker while customers wait behind it.
            "--worker-class",
            "gthread",
            "--threads",
            str(threads),
            "-b",
            f"127.0.0.1:{port}",
            "--timeout",
            "120",
            "--keep-alive",
            "75",  # longer than locust's idle gaps: no reset on a reused connection
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
        start_new_session=True,
    )
    import requests

    for _ in range(100):
        try:
            requests.get(f"http://127.0.0.1:{port}/accounts/login/", timeout=2)
            return process
        except requests.RequestException:
            time.sleep(0.3)
    raise RuntimeError("gunicorn did not start")


def stop(process: subprocess.Popen[bytes]) -> None:
    """Stop the gunicorn started here (its own process group), killing it if it lingers."""
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=30)


def run_locust(
    port: int,
    plan_path: Path,
    out: Path,
    users: int,
    rate: int,
    seconds: int,
    exclude: str,
    wait: str,
) -> None:
    env = os.environ | {
        PLAN_ENV: str(plan_path),
        OUT_ENV: str(out),
        EXCLUDE_ENV: exclude,
        WAIT_ENV: wait,
    }
    subprocess.run(
        [
            str(ROOT / ".venv/bin/locust"),
            "-f",
            str(Path(__file__).resolve()),
            "--headless",
            "-u",
            str(users),
            "-r",
            str(rate),
            "-t",
            f"{seconds}s",
            "--host",
            f"http://127.0.0.1:{port}",
            "--only-summary",
            "--loglevel",
            "WARNING",
        ],
        cwd=ROOT,
        env=env,
        check=False,
    )


def time_year_export(port: int, plan: dict[str, Any]) -> float:
    """Seconds for one customer's one-year Green Button XML download, end to end over HTTP."""
    import requests

    customer = plan["customers"][0]
    session = requests.Session()
    session.cookies.set("sessionid", customer["session"])
    url = f"http://127.0.0.1:{port}/me/usage/{plan['slug']}/{customer['sdp']}/download/"
    session.get(url, timeout=30)
    end = dt.date.fromisoformat(plan["today"]) - dt.timedelta(days=1)
    data = {
        "start": (end - dt.timedelta(days=364)).isoformat(),
        "end": end.isoformat(),
        "format": "xml",
        "csrfmiddlewaretoken": session.cookies.get("csrftoken", ""),
    }
    best = float("inf")
    for _ in range(3):
        t0 = time.perf_counter()
        response = session.post(url, data=data, headers={"Referer": url}, timeout=60)
        elapsed = time.perf_counter() - t0
        if response.status_code != 200 or b"IntervalReading" not in response.content:
            raise RuntimeError(f"year export failed: {response.status_code}")
        best = min(best, elapsed)
    print(
        f"one-year Green Button export: {len(response.content) / 1e6:.1f} MB, best of 3 "
        f"{best * 1000:.0f} ms",
        flush=True,
    )
    return best


def sequential(port: int, plan: dict[str, Any], count: int) -> dict[str, float]:
    """p95 (ms) of each kind of request sent one at a time: the service time, no queueing."""
    import requests

    base = f"http://127.0.0.1:{port}"
    today = dt.date.fromisoformat(plan["today"])
    kinds: dict[str, list[float]] = {}

    def timed(name: str, session: Any, path: str, keep: bool = True) -> None:
        t0 = time.perf_counter()
        response = session.get(base + path, timeout=120)
        if keep:
            kinds.setdefault(name, []).append((time.perf_counter() - t0) * 1000)
        if response.status_code != 200:
            raise RuntimeError(f"{path}: {response.status_code}")

    staff, api = requests.Session(), requests.Session()
    staff.cookies.set("sessionid", plan["staff"][0])
    api.headers["Authorization"] = f"Token {plan['token']}"
    for i in range(-8, count):  # the first 8 warm the workers up and are not counted
        me = plan["customers"][i % len(plan["customers"])]
        customer = requests.Session()
        customer.cookies.set("sessionid", me["session"])
        day = (today - dt.timedelta(days=1 + i * 17 % 360)).isoformat()
        for scale in ("day", "month", "year"):
            timed(
                f"customer {scale}",
                customer,
                f"/me/usage/{plan['slug']}/{me['sdp']}/{scale}/?date={day}",
            )
        sdp = plan["sdp_ids"][i % len(plan["sdp_ids"])]
        timed("ldc sdp detail", staff, f"/registry/sdps/{sdp}/", i >= 0)
        timed("ldc sdp list", staff, "/registry/sdps/", i >= 0)
        timed("api sdp detail", api, f"/api/v1/sdps/{sdp}/", i >= 0)
        timed("api me", api, "/api/v1/me/", i >= 0)
    timed("ldc dashboard", staff, "/")
    out = {name: round(float(np.percentile(ms, 95)), 1) for name, ms in sorted(kinds.items())}
    print("one request at a time, p95 ms:", json.dumps(out), flush=True)
    return out


def summarise(out: Path, users: int, seconds: int) -> dict[str, Any]:
    rows = [json.loads(line) for line in out.read_text().splitlines() if line]
    names = sorted({r["name"] for r in rows})
    print(f"{'name':32} {'n':>6} {'fail':>5} {'p50':>7} {'p95':>7} {'p99':>7}  ms")
    for name in names:
        ms = np.array([r["ms"] for r in rows if r["name"] == name])
        fails = sum(1 for r in rows if r["name"] == name and r["failed"])
        p50, p95, p99 = np.percentile(ms, [50, 95, 99])
        print(f"{name:32} {ms.size:6d} {fails:5d} {p50:7.0f} {p95:7.0f} {p99:7.0f}")

    def pct(prefix: str, q: float) -> float | None:
        ms = [r["ms"] for r in rows if r["name"].startswith(prefix)]
        return round(float(np.percentile(ms, q)), 1) if ms else None

    return {
        "customer_p95_ms": pct("customer", 95),
        "customer_p99_ms": pct("customer", 99),
        "customer_views_p95_ms": _views_pct(rows, 95),
        "ldc_p95_ms": pct("ldc", 95),
        "api_p95_ms": pct("api", 95),
        "overall_p95_ms": pct("", 95),
        "overall_p99_ms": pct("", 99),
        "users": users,
        "seconds": seconds,
        "requests": len(rows),
        "requests_per_s": round(len(rows) / seconds, 1),
        "failures": sum(1 for r in rows if r["failed"]),
    }


def _views_pct(rows: list[dict[str, Any]], q: float) -> float | None:
    views = ("customer day", "customer month", "customer year")
    ms = [r["ms"] for r in rows if r["name"] in views]
    return round(float(np.percentile(ms, q)), 1) if ms else None


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--meters", type=int, default=10_000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--customers", type=int, default=1000, help="people with sessions")
    parser.add_argument("--users", type=int, default=50, help="concurrent locust users")
    parser.add_argument("--spawn-rate", type=int, default=10)
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--workers", type=int, default=4, help="gunicorn workers")
    parser.add_argument("--threads", type=int, default=2, help="threads per gunicorn worker")
    parser.add_argument(
        "--sequential", type=int, default=20, help="requests of each kind, one at a time, first"
    )
    parser.add_argument("--reuse", action="store_true", help="reuse the database in --datadir")
    parser.add_argument(
        "--wait", default="1,5", help="min,max seconds a user thinks between requests"
    )
    parser.add_argument(
        "--exclude", default="", help="request names left out of the locust mix, comma-separated"
    )
    parser.add_argument("--keep", action="store_true", help="leave PostgreSQL running")
    parser.add_argument("--datadir", type=Path, default=Path("/tmp/openmdmr-bench-portal"))
    parser.add_argument("--pg-port", type=int, default=55_432)
    args = parser.parse_args()
    if not args.reuse and args.datadir.exists():
        pg_stop(args.datadir)
        shutil.rmtree(args.datadir)
    url = pg_start(args.datadir, args.pg_port)
    try:
        return run(args, url)
    finally:
        if not args.keep:
            pg_stop(args.datadir)


def run(args: argparse.Namespace, url: str) -> int:
    setup_django(url)
    if not (args.reuse and is_built(args.meters)):
        if args.reuse:
            print("--reuse: no database of that size in --datadir, building it", flush=True)
        from portal.tenancy import LDC

        if LDC.objects.filter(slug=SLUG).exists():
            raise SystemExit(f"{args.datadir} holds another size: run without --reuse")
        build(args.meters, args.days, args.customers)
    plan = make_plan(args.customers)
    from django.db import connections

    connections.close_all()
    work = Path(tempfile.mkdtemp(prefix="openmdmr-bench-portal-"))
    plan_path, out = work / "plan.json", work / "times.jsonl"
    plan_path.write_text(json.dumps(plan))
    from portal.testing.services import free_port

    port = free_port()
    server = start_gunicorn(url, port, args.workers, args.threads)
    try:
        year_s = time_year_export(port, plan)
        service = sequential(port, plan, args.sequential)
        run_locust(
            port, plan_path, out, args.users, args.spawn_rate, args.seconds, args.exclude, args.wait
        )
    finally:
        stop(server)
    figures = summarise(out, args.users, args.seconds)
    figures |= {
        "greenbutton_year_s": round(year_s, 3),
        "meters": args.meters,
        "days": args.days,
        "gunicorn_workers": args.workers,
        "gunicorn_threads": args.threads,
        "excluded": args.exclude,
        "wait_s": args.wait,
        "single_user_p95_ms": service,
        "database": "postgresql",
    }
    print(json.dumps(figures))
    return 0


# --- the locust users (this file is the locustfile when PLAN_ENV is set) ---------------------

if os.environ.get(PLAN_ENV):
    from locust import HttpUser, between, events, task

    PLAN = json.loads(Path(os.environ[PLAN_ENV]).read_text())
    _OUT = open(os.environ[OUT_ENV], "a")  # noqa: SIM115 - closed when locust quits
    TODAY = dt.date.fromisoformat(PLAN["today"])
    WAIT = between(*(float(x) for x in os.environ.get(WAIT_ENV, "1,5").split(",")))
    EXCLUDED = {n.strip() for n in os.environ.get(EXCLUDE_ENV, "").split(",") if n.strip()}
    _CSRF = re.compile(rb'name="csrfmiddlewaretoken" value="([^"]+)"')

    @events.request.add_listener
    def _record(name: str, response_time: float, exception: Any, **_: Any) -> None:
        _OUT.write(json.dumps({"name": name, "ms": response_time, "failed": bool(exception)}))
        _OUT.write("\n")

    @events.quitting.add_listener
    def _close(**_: Any) -> None:
        _OUT.close()

    def _some_day(back: int = 360) -> str:
        return (TODAY - dt.timedelta(days=random.randint(1, back))).isoformat()

    class Customer(HttpUser):
        """A customer looking at their usage and now and then downloading it."""

        weight = 6
        wait_time = WAIT

        def on_start(self) -> None:
            me = random.choice(PLAN["customers"])
            self.client.cookies.set("sessionid", me["session"])
            self.base = f"/me/usage/{PLAN['slug']}/{me['sdp']}"

        @task(5)
        def day(self) -> None:
            self.client.get(f"{self.base}/day/?date={_some_day()}", name="customer day")

        @task(3)
        def month(self) -> None:
            self.client.get(f"{self.base}/month/?date={_some_day()}", name="customer month")

        @task(2)
        def year(self) -> None:
            self.client.get(f"{self.base}/year/?date={_some_day(30)}", name="customer year")

        @task(1)
        def green_button(self) -> None:
            url = f"{self.base}/download/"
            form = self.client.get(url, name="customer download form")
            token = _CSRF.search(form.content or b"")
            end = TODAY - dt.timedelta(days=random.randint(1, 30))
            start = end - dt.timedelta(days=random.choice([30, 90, 364]))
            self.client.post(
                url,
                data={
                    "start": start.isoformat(),
                    "end": end.isoformat(),
                    "format": random.choice(["xml", "csv"]),
                    "csrfmiddlewaretoken": token.group(1).decode() if token else "",
                },
                headers={"Referer": self.client.base_url + url},
                name="customer greenbutton",
            )

    class Staff(HttpUser):
        """LDC back-office staff (signed in with TOTP) on their pages."""

        weight = 2
        wait_time = WAIT

        def on_start(self) -> None:
            self.client.cookies.set("sessionid", random.choice(PLAN["staff"]))

        @task(2)
        def dashboard(self) -> None:
            if "ldc dashboard" not in EXCLUDED:
                self.client.get("/", name="ldc dashboard")

        @task(2)
        def sdp_list(self) -> None:
            self.client.get(f"/registry/sdps/?page={random.randint(1, 20)}", name="ldc sdp list")

        @task(3)
        def sdp_detail(self) -> None:
            sdp = random.choice(PLAN["sdp_ids"])
            self.client.get(f"/registry/sdps/{sdp}/", name="ldc sdp detail")

        @task(1)
        def vee_queue(self) -> None:
            self.client.get("/vee/exceptions/", name="ldc vee queue")

        @task(1)
        def billing(self) -> None:
            self.client.get("/billing/", name="ldc billing list")

    class Api(HttpUser):
        """A billing system or head-end with the LDC's API token."""

        weight = 2
        wait_time = WAIT

        def on_start(self) -> None:
            self.client.headers["Authorization"] = f"Token {PLAN['token']}"

        @task(1)
        def me(self) -> None:
            self.client.get("/api/v1/me/", name="api me")

        @task(1)
        def ldc(self) -> None:
            self.client.get(f"/api/v1/ldcs/{PLAN['slug']}/", name="api ldc")

        @task(2)
        def sdps(self) -> None:
            self.client.get(f"/api/v1/sdps/?page={random.randint(1, 20)}", name="api sdp list")

        @task(3)
        def sdp(self) -> None:
            sdp = random.choice(PLAN["sdp_ids"])
            self.client.get(f"/api/v1/sdps/{sdp}/", name="api sdp detail")

        @task(2)
        def meter(self) -> None:
            serial = "BM" + random.choice(PLAN["sdp_ids"])[2:]
            self.client.get(f"/api/v1/meters/{serial}/", name="api meter detail")


if __name__ == "__main__":
    sys.exit(main())
