"""The publish entry point: which destinations, which streams, one warehouse connection.

``publish()`` opens the warehouse once (read-only for a dry run), checks that the marts
hold this run's evaluation and that they passed the marts gate (:mod:`tierwise.publish.gate`),
then runs each destination's streams through the sync engine. The streams of tier changes (the
database outbox, notifications) read the revision log, reconciled with ``marts.tier_changes``
once per publish (:attr:`PublishContext.events`).
Destinations without a configured connection are skipped with a log line, except
``files`` and the local ``database`` default, which always work.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb

from tierwise.engine import table_exists
from tierwise.exceptions import PublishError
from tierwise.masking import get_logger, mask
from tierwise.names import Destination as DestinationName
from tierwise.publish import gate, revisions, sources
from tierwise.publish.config import CrmConfig, PublishConfig, load_publish_config
from tierwise.publish.connections import Connection, base_url, env_var_name, get_connection, secret_of
from tierwise.publish.engine import Destination, Source, SyncOptions, sync
from tierwise.publish.errors import DestinationUnavailableError, PublishFailedError
from tierwise.publish.files import export_files
from tierwise.publish.httpjson import JsonHttpClient
from tierwise.publish.hubspot import HubSpotContacts
from tierwise.publish.postgres import PostgresTable
from tierwise.publish.report import PublishReport, StreamReport
from tierwise.publish.retry import RateLimiter, RetryPolicy
from tierwise.publish.smtp import EmailNotifier, smtp_settings
from tierwise.publish.sqlite import SqliteTable
from tierwise.publish.state import ensure_tables
from tierwise.publish.tables import OUTBOX_TABLE, TableSpec
from tierwise.publish.webhook import WebhookNotifier

if TYPE_CHECKING:
    from tierwise.context import RunContext

log = get_logger(__name__)

POSTGRES_CONN = "tierwise_postgres"
CRM_CONN = "tierwise_crm"
WEBHOOK_CONN = "tierwise_webhook"
SMTP_CONN = "tierwise_smtp"
DESTINATION_NAMES = tuple(name.value for name in DestinationName)


@dataclass(frozen=True)
class PublishContext:
    con: duckdb.DuckDBPyConnection
    as_of: date
    run_id: str
    config: PublishConfig
    publish_dir: Path
    dry_run: bool = False

    @cached_property
    def events(self) -> revisions.Reconciled | None:
        """The tier-change revision log, reconciled with the mart once per publish (None without the mart)."""
        if not table_exists(self.con, *sources.CHANGES):
            return None
        return revisions.reconcile(self.con, self.as_of, self.run_id, dry_run=self.dry_run)


Streams = list[tuple[Source, Destination]]
# A builder returns the streams of a destination, or the reason it is skipped.
Builder = Callable[[PublishContext], Streams | str]


def _not_configured(conn_id: str) -> str:
    return f"connection {conn_id} is not configured (set {env_var_name(conn_id)})"


def build_database(ctx: PublishContext) -> Streams | str:
    config = ctx.config.database
    connection = get_connection(POSTGRES_CONN)
    tiers = TableSpec(config.table, "customer_id", tuple(sources.tier_columns(ctx.con)))
    specs: list[tuple[Source, TableSpec]] = [(sources.customer_tiers_source(ctx.con, ctx.as_of), tiers)]
    if ctx.events is not None:
        # An outbox from before revisions holds first revisions: only rows that drifted move.
        first = (("revision", "1"), ("retracted", "false"))
        columns = tuple(sources.change_columns())
        outbox = TableSpec(config.events_table, "change_key", columns, OUTBOX_TABLE, added_defaults=first)
        specs.append((sources.tier_events_source(ctx.events), outbox))
    else:
        log.info("database: no marts.tier_changes, the %s outbox is not published", config.events_table)
    if connection is None:
        path = config.sqlite_path or ctx.publish_dir / "operational.sqlite"
        log.info("database: %s; using the local SQLite file %s", _not_configured(POSTGRES_CONN), path)
        return [(source, SqliteTable(path, spec, config, run_id=ctx.run_id)) for source, spec in specs]
    return [(source, PostgresTable(connection, spec, config, run_id=ctx.run_id)) for source, spec in specs]


def hubspot_contacts(connection: Connection, config: CrmConfig) -> Destination:
    token = secret_of(connection, "token", "access_token")
    client = JsonHttpClient(
        config.base_url or base_url(connection),
        headers={"Authorization": f"Bearer {token}"} if token else {},
        timeout=config.timeout_seconds,
        policy=RetryPolicy(config.max_retries, config.retry_base_delay, config.retry_max_delay),
        limiter=RateLimiter(config.requests_per_window, config.window_seconds),
    )
    return HubSpotContacts(client, config, target=connection.describe())


# Extra "provider" of the tierwise_crm connection -> factory. A second CRM (a Salesforce
# Bulk API 2.0 ingest job, say) is one module with a Destination and one line here.
CRM_PROVIDERS: dict[str, Callable[[Connection, CrmConfig], Destination]] = {"hubspot": hubspot_contacts}


def build_crm(ctx: PublishContext) -> Streams | str:
    connection = get_connection(CRM_CONN)
    if connection is None:
        return _not_configured(CRM_CONN)
    provider = str(connection.extra.get("provider", "hubspot")).lower()
    if provider not in CRM_PROVIDERS:
        raise PublishError(f"crm: provider {provider!r} is not supported (known: {', '.join(CRM_PROVIDERS)})")
    destination = CRM_PROVIDERS[provider](connection, ctx.config.crm)
    return [(sources.crm_source(ctx.con, ctx.as_of, ctx.config.crm), destination)]


def build_notifications(ctx: PublishContext) -> Streams | str:
    config = ctx.config.notifications
    webhook, smtp = get_connection(WEBHOOK_CONN), get_connection(SMTP_CONN)
    if webhook is None and smtp is None:
        return f"{_not_configured(WEBHOOK_CONN)} and {_not_configured(SMTP_CONN)}"
    events = ctx.events
    if events is None:
        return "notifications: marts.tier_changes does not exist"
    channels: list[Destination] = []
    policy = RetryPolicy(config.max_retries, config.retry_base_delay, config.retry_max_delay)
    if webhook is not None:
        client = JsonHttpClient(base_url(webhook), timeout=config.timeout_seconds, policy=policy)
        secret = secret_of(webhook, "secret", "signing_secret")
        channels.append(WebhookNotifier(client, secret, config, target=webhook.describe()))
    else:
        log.info("notifications: webhook skipped, %s", _not_configured(WEBHOOK_CONN))
    if smtp is not None:
        channels.append(EmailNotifier(smtp_settings(smtp, config), config, target=smtp.describe()))
    else:
        log.info("notifications: email skipped, %s", _not_configured(SMTP_CONN))
    # One source per channel: corrections go to the changes that channel notified.
    return [
        (sources.notification_source(ctx.con, ctx.as_of, config, events, channel.name), channel)
        for channel in channels
    ]


BUILDERS: dict[DestinationName, Builder] = {
    DestinationName.DATABASE: build_database,
    DestinationName.CRM: build_crm,
    DestinationName.NOTIFICATIONS: build_notifications,
}


def _check_names(destinations: Sequence[str]) -> list[DestinationName]:
    unknown = [str(name) for name in destinations if name not in DESTINATION_NAMES]
    if unknown:
        raise PublishError(
            f"unknown destination(s) {', '.join(unknown)}; known: {', '.join(DESTINATION_NAMES)}"
        )
    return list(dict.fromkeys(DestinationName(name) for name in destinations))


def _run_destination(
    ctx: PublishContext, name: DestinationName, options: SyncOptions
) -> tuple[list[StreamReport], str | None]:
    if name is DestinationName.FILES:
        target = ctx.config.files_dir or ctx.publish_dir / "files"
        return [export_files(ctx.con, ctx.as_of, target, run_id=ctx.run_id, dry_run=options.dry_run)], None
    try:
        built = BUILDERS[name](ctx)
    except DestinationUnavailableError as error:
        # Misconfigured (no recipients...): fail this destination, let the others publish.
        log.error("%s: %s", name, mask(error))
        return [StreamReport(name, name, "failed", error=mask(error))], None
    if isinstance(built, str):
        log.info("%s: skipped, %s", name, built)
        return [], f"{name}: {built}"
    reports = []
    for source, destination in built:
        try:
            reports.append(sync(ctx.con, source, destination, options))
        finally:
            destination.close()
    return reports, None


def publish(
    destinations: Sequence[str],
    run: RunContext,
    *,
    full_resync: bool = False,
    config: PublishConfig | None = None,
    sample: int = 5,
) -> PublishReport:
    """Publish the run's tiers to ``destinations``; raises PublishFailedError if one of them failed.

    Publishes the run's evaluation (``run.as_of_date``, else the latest in the marts); a dry
    run (``run.dry_run``) computes the diff and sends nothing; it shows the changed fields of up to
    ``sample`` records per stream. Refuses (GateNotPassedError) marts
    that did not pass the marts gate, unless ``run.gate_override`` gives the reason to publish
    them anyway.
    """
    started = time.perf_counter()
    names = _check_names(destinations)
    run_id, dry_run, settings = run.run_id, run.dry_run, run.settings
    if not run.engine.exists():
        raise PublishError(f"warehouse {run.engine.location} does not exist: run ingest and build first")
    cfg = config or load_publish_config(settings.publish_config, home=settings.home)
    options = SyncOptions(
        run_id=run_id,
        dry_run=dry_run,
        full_resync=full_resync,
        max_attempts=cfg.max_attempts,
        field_sample=sample,
    )
    streams: list[StreamReport] = []
    skipped: list[str] = []
    with run.engine.connect(read_only=dry_run) as con:
        con.execute("set enable_progress_bar = false")
        as_of = sources.resolve_as_of_date(con, run.as_of_date)
        overridden = gate.require_passed(con, run_id=run_id, override=run.gate_override, dry_run=dry_run)
        if not dry_run:
            ensure_tables(con)
        ctx = PublishContext(con, as_of, run_id, cfg, settings.publish_dir, dry_run)
        for name in names:
            reports, skip = _run_destination(ctx, name, options)
            streams += reports
            skipped += [skip] if skip else []
    report = PublishReport(
        run_id, as_of, dry_run, tuple(streams), tuple(skipped), time.perf_counter() - started, overridden
    )
    for line in report.summary_lines():
        log.info("%s", line)
    if report.failed:
        failed = "; ".join(f"{stream.stream}: {stream.error}" for stream in report.failed)
        raise PublishFailedError(mask(f"publish failed for {len(report.failed)} stream(s): {failed}"), report)
    return report
