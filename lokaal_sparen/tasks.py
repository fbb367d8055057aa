"""The work behind the scheduled jobs, shared by their commands and ``loyalty worker``.

``loyalty expire`` and the worker's nightly point expiry are the same code:
each task takes the moment to act as of and a function to report progress to
(the terminal for a command, the log for the worker), runs in the app's
context, commits its own transactions (one per scheme, or per step where money
or e-mail leaves the system), and returns an ``Outcome``: a one-line summary,
and whether anything must be looked at.
"""

from __future__ import annotations

import logging
import smtplib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.orm import Session, sessionmaker

Echo = Callable[[str], None]
log = logging.getLogger("lokaal_sparen.tasks")


@dataclass(frozen=True)
class Outcome:
    summary: str
    ok: bool = True


@contextmanager
def transaction() -> Iterator[Session]:
    """One database transaction: committed on success, else rolled back."""
    factory: sessionmaker[Session] = current_app.extensions["loyalty.sessions"]
    with factory() as session, session.begin():
        yield session


def scheme_slugs(slug: str | None = None) -> list[str]:
    """The scheme ``slug`` (LoyaltyError if unknown), or every scheme."""
    from loyalty.models import Scheme
    from loyalty.town import schemes

    with transaction() as session:
        if slug:
            return [schemes.get_scheme(session, slug).slug]
        return list(session.scalars(sa.select(Scheme.slug).order_by(Scheme.id)))


def every_tenth(echo: Echo, label: str) -> Callable[[int, int], None]:
    """A progress callback that reports at each further tenth of the work."""
    shown: set[int] = set()

    def progress(done: int, total: int) -> None:
        tenth = done * 10 // max(total, 1)
        if tenth not in shown:
            shown.add(tenth)
            echo(f"  {label} {done}/{total}")

    return progress


def release_spend_holds(echo: Echo, now: datetime) -> Outcome:
    """Return the points of every expired, unconfirmed spend code to its wallet."""
    from loyalty.spending import redemptions

    with transaction() as session:
        released = redemptions.release_expired(session, now)
    return Outcome(f"released {released} expired holds")


def expire_points(echo: Echo, now: datetime, slug: str | None = None,
                  as_of_day: datetime | None = None) -> Outcome:
    """Expire points past the validity and euro parts past their date, and e-mail
    the reminders, scheme by scheme."""
    from loyalty.money import euro_expiry
    from loyalty.shoppers import expiry
    from loyalty.town import schemes

    targets = scheme_slugs(slug)
    points = wallets = reminders = euro_cents = euro_parts = 0
    for target in targets:
        with transaction() as session:
            scheme = schemes.get_scheme(session, target)
            moment = now
            if as_of_day is not None:
                moment = as_of_day.replace(tzinfo=ZoneInfo(scheme.timezone))
            run = expiry.expire_scheme(
                session, scheme, moment, progress=every_tenth(echo, f"{scheme.slug}: wallets")
            )
            # The euros of the same scheme in the same transaction: one run, one commit.
            euro_run = euro_expiry.expire_scheme(session, scheme, moment)
        # After the commit: a reminder is only sent for a notice that was kept.
        for reminder in run.reminders:
            _send_expiry_reminder(echo, reminder)
        for euro_reminder in euro_run.reminders:
            _send_euro_expiry_reminder(echo, euro_reminder)
        points += run.points_expired
        wallets += run.wallets_expired
        reminders += len(run.reminders) + len(euro_run.reminders)
        euro_cents += euro_run.cents_expired
        euro_parts += euro_run.parts_expired
    return Outcome(f"expired {points} points from {wallets} wallets in {len(targets)} "
                   f"schemes; {reminders} reminders sent; expired EUR {euro_cents / 100:.2f}"
                   f" in {euro_parts} credit parts")


def _send_euro_expiry_reminder(echo: Echo, reminder: Any) -> None:
    from flask_babel import force_locale, gettext

    from loyalty.infra import mail
    from loyalty.web import i18n

    # As for points: wallets keep no language, the schemes are Flemish towns.
    with force_locale("nl"):
        subject = gettext("Your Lokaal Sparen credit expires soon")
        body = gettext(
            "Hello,\n\n%(amount)s of your credit (%(origin)s) expires on %(date)s. Spend it "
            "in any participating shop before then: expired credit goes back to the "
            "municipality.\n\nLokaal Sparen",
            amount=i18n.euro(reminder.cents),
            origin=reminder.name,
            date=i18n.long_date(reminder.expires_at),
        )
    try:
        mail.send(current_app.config, reminder.email, subject, body)
    except (OSError, smtplib.SMTPException) as error:
        echo(f"  could not e-mail wallet {reminder.wallet_id}: {error}")


def _send_expiry_reminder(echo: Echo, reminder: Any) -> None:
    from flask_babel import force_locale, gettext

    from loyalty.infra import mail
    from loyalty.web import unsubscribe

    try:
        link: str | None = unsubscribe.link(reminder.wallet_id, unsubscribe.REMINDERS)
    except RuntimeError:
        # No PUBLIC_URL (a command run by hand): the reminder still goes, without a link
        # that could not open anything.
        link = None

    # Wallets keep no language; the schemes are Flemish towns, so Dutch.
    with force_locale("nl"):
        subject = gettext("Your Lokaal Sparen points expire soon")
        body = gettext(
            "Hello,\n\n%(points)s of your points expire by %(date)s. Spend them in any "
            "participating shop before then.\n\nLokaal Sparen",
            points=reminder.points,
            date=reminder.expires_by.strftime("%d/%m/%Y"),
        )
        if link:
            body += "\n\n" + gettext("You get this reminder at your wallet's e-mail address. "
                                      "Stop these reminders with one click: %(url)s", url=link)
    try:
        mail.send(current_app.config, reminder.email, subject, body,
                  headers={"List-Unsubscribe": f"<{link}>"} if link else None)
    except (OSError, smtplib.SMTPException) as error:
        echo(f"  could not e-mail wallet {reminder.wallet_id}: {error}")


def send_notifications(echo: Echo, now: datetime) -> Outcome:
    """Queue the news of campaigns that started, then send the outbox by Web Push.

    Each notification is claimed (sent_at set) in its own short transaction
    before it is sent, so it goes out at most once even beside another run; a
    push service that fails loses that one message, never a sale. A service
    answering 404 or 410 has forgotten the subscription: it is deleted.
    """
    from loyalty.infra import webpush
    from loyalty.shoppers import notifications

    keys = webpush.keys_from(current_app.config)
    if keys is None:
        return Outcome("push is not set up here (no VAPID keys)")
    with transaction() as session:
        queued = notifications.announce_campaigns(session, now)
        queued += notifications.remind_vouchers(session, now)
    with transaction() as session:
        waiting = notifications.pending(session)
    sent = failed = gone = 0
    for notification_id in waiting:
        with transaction() as session:
            row = notifications.take(session, notification_id, now)
            if row is None:
                continue
            subscribed = notifications.targets(session, row)
            payloads = {lang: push_payload(session, row, lang)
                        for lang in {sub.lang for sub in subscribed}}
            deliveries = [(sub.endpoint, sub.p256dh, sub.auth, payloads[sub.lang])
                          for sub in subscribed if payloads[sub.lang] is not None]
        for endpoint, p256dh, auth, payload in deliveries:
            assert payload is not None
            status = webpush.send(keys, endpoint, p256dh, auth, payload)
            if status in webpush.GONE:
                with transaction() as session:
                    notifications.forget_endpoint(session, endpoint)
                gone += 1
            elif 200 <= status < 300:
                sent += 1
            else:
                failed += 1
                echo(f"  push to subscription of wallet {row.wallet_id}: HTTP {status}")
    return Outcome(f"{queued} campaign and voucher notices queued; {sent} pushes sent, "
                   f"{failed} failed, {gone} subscriptions gone")


def push_payload(session: Session, row: Any, lang: str) -> dict[str, str] | None:
    """A notification's title and text in the subscriber's language, and where it opens.

    It opens the wallet's notification settings, where they are turned off."""
    from babel.dates import format_date
    from flask_babel import force_locale, gettext, ngettext

    from loyalty.models import Campaign
    from loyalty.shoppers import notifications
    from loyalty.web import campaign_words, i18n

    data = row.data or {}
    with force_locale(lang):
        if row.topic == notifications.POINTS:
            title = gettext("Points collected")
            body = ngettext("%(num)d point from %(shop)s is in your wallet.",
                            "%(num)d points from %(shop)s are in your wallet.",
                            int(data["points"]), shop=data["shop"])
        elif row.topic == notifications.EXPIRY and "reward" in data:
            day = format_date(datetime.fromisoformat(data["date"]).date(), "long",
                              locale=i18n.babel_locale())
            title = gettext("Your voucher expires soon")
            body = gettext("Your voucher “%(reward)s” at %(shop)s can be used until %(date)s.",
                           reward=data["reward"], shop=data["shop"], date=day)
        elif row.topic == notifications.EXPIRY:
            day = format_date(datetime.fromisoformat(data["date"]).date(), "long",
                              locale=i18n.babel_locale())
            title = gettext("Your points expire soon")
            body = ngettext(
                "%(num)d point expires by %(date)s: spend it in any participating shop.",
                "%(num)d points expire by %(date)s: spend them in any participating shop.",
                int(data["points"]), date=day)
        else:
            campaign = session.get(Campaign, int(data["campaign"]))
            if campaign is None:
                return None
            title = gettext("New campaign")
            body = campaign_words.sentence(session, campaign)
    return {"title": title, "body": body, "url": "/wallet#notifications"}


def send_digests(echo: Echo, now: datetime) -> Outcome:
    """The weekly e-mail digest of each wallet that asked for it, with its unsubscribe link.

    The week is claimed by a conditional UPDATE before the e-mail leaves, so a
    second worker or a rerun sends no second digest that week (a failed send
    waits for next week). A week with nothing to tell sends nothing.
    """
    from loyalty.infra import mail
    from loyalty.shoppers import digest, notifications

    today = now.astimezone(ZoneInfo(current_app.config.get("WORKER_TIMEZONE")
                                    or "Europe/Brussels")).date()
    with transaction() as session:
        due = notifications.due_digests(session, today)
    sent = quiet = 0
    for wanted in due:
        with transaction() as session:
            if not notifications.mark_digest_sent(session, wanted.wallet_id, today):
                continue
            content = digest.content(session, wanted.wallet_id, now)
            if content.empty:
                quiet += 1
                continue
            subject, body, link = digest_text(session, content, wanted)
        try:
            mail.send(current_app.config, wanted.email, subject, body,
                      headers={"List-Unsubscribe": f"<{link}>"})
            sent += 1
        except (OSError, smtplib.SMTPException) as error:
            echo(f"  could not e-mail the digest of wallet {wanted.wallet_id}: {error}")
    return Outcome(f"{sent} weekly digests sent, {quiet} with nothing to tell")


def digest_text(session: Session, content: Any, wanted: Any) -> tuple[str, str, str]:
    from flask_babel import force_locale, gettext, ngettext

    from loyalty.web import campaign_words, public_url, unsubscribe

    link = unsubscribe.link(wanted.wallet_id)
    zone = content.scheme.timezone
    with force_locale(wanted.lang):
        subject = gettext("Lokaal Sparen %(town)s: this week's news", town=content.scheme.name)
        parts = [gettext("Hello,"), gettext("This week in Lokaal Sparen %(town)s:",
                                            town=content.scheme.name)]
        if content.campaigns:
            parts.append(gettext("Campaigns") + "\n" + "\n".join(
                f"- {campaign_words.sentence(session, c, zone)}" for c in content.campaigns))
        if content.messages:
            parts.append(gettext("Messages from the town") + "\n" + "\n\n".join(
                f"- {m.title}\n  {m.body}" for m in content.messages))
        if content.expiring_points:
            parts.append(ngettext(
                "%(num)d point of your wallet expires within 30 days: spend it soon.",
                "%(num)d points of your wallet expire within 30 days: spend them soon.",
                content.expiring_points))
        parts.append(gettext("Your wallet: %(url)s", url=public_url("/wallet")))
        parts.append(gettext("You get this e-mail because you asked for it in your wallet. "
                             "Stop it with one click: %(url)s", url=link))
    return subject, "\n\n".join(parts) + "\n", link


def check_fraud(echo: Echo, now: datetime, slug: str | None = None,
                day: Any = None) -> Outcome:
    """Flag a day's suspicious patterns (default: yesterday in each scheme's time zone)."""
    from loyalty.oversight import fraud
    from loyalty.town import schemes

    created = found = 0
    chosen = scheme_slugs(slug)
    for target in chosen:
        # One transaction per scheme: a big scheme's check does not hold up the others.
        with transaction() as session:
            scheme = schemes.get_scheme(session, target)
            when = day or (now.astimezone(ZoneInfo(scheme.timezone)).date() - timedelta(days=1))
            result = fraud.check(session, scheme, when, now)
            echo(f"  {scheme.slug} {when}: {result.found} patterns, "
                 f"{len(result.created)} new flags")
            for flag in result.created:
                echo(f"    {flag.rule}: {flag.reason}")
            found += result.found
            created += len(result.created)
    return Outcome(f"fraud check: {len(chosen)} schemes, {found} patterns, {created} new flags")


def refresh_analytics(echo: Echo, now: datetime, slug: str | None = None) -> Outcome:
    """Fold new purchase events into the report rollups of each scheme."""
    from loyalty.analytics import rollups
    from loyalty.town import schemes

    slugs = scheme_slugs(slug)
    folded = busy = 0
    for target in slugs:
        shown: list[int] = [-1]

        def progress(done: int, total: int, target: str = target,
                     shown: list[int] = shown) -> None:
            pct = 100 * done // max(total, 1)
            if pct // 10 != shown[0] or done == total:
                shown[0] = pct // 10
                echo(f"  {target}: {done}/{total} events ({pct}%)")

        with transaction() as session:
            result = rollups.refresh(session, schemes.get_scheme(session, target),
                                     progress=progress)
        folded += result.events
        if result.busy:
            busy += 1
            echo(f"  {target}: another refresh is running; it folds these events")
    return Outcome(f"analytics refreshed: {folded} new events folded for {len(slugs)} "
                   f"scheme(s){f', {busy} busy' if busy else ''}")


def release_statistics(echo: Echo, now: datetime, slug: str | None = None) -> Outcome:
    """Release each scheme's closed days, its closed weeks, months, quarters and
    years (shopper statistics), and each campaign whose evaluation windows have
    closed, not released yet: noisy cells, written once."""
    from loyalty.analytics import campaign_release, period_release, release
    from loyalty.town import schemes

    slugs = scheme_slugs(slug)
    days = cells = already = periods = period_cells = released_campaigns = supplemented = 0
    for target in slugs:
        with transaction() as session:
            scheme = schemes.get_scheme(session, target)
            result = release.release(session, scheme, now,
                                     progress=every_tenth(echo, f"  {target}: days"))
            by_campaign = campaign_release.release_campaigns(session, scheme, now)
        days += result.days
        cells += result.cells
        already += result.already
        released_campaigns += by_campaign.campaigns
        supplemented += result.supplemented
        if result.supplemented:
            echo(f"  {target}: {result.supplemented} day(s) released before the shop table "
                 f"got it ({result.supplement_cells} cells)")
        if result.already:
            echo(f"  {target}: {result.already} day(s) were released by another run; "
                 "left as they were")
        if by_campaign.already:
            echo(f"  {target}: {by_campaign.already} campaign(s) were released by another "
                 "run; left as they were")
        with transaction() as session:
            by_period = period_release.release_periods(
                session, schemes.get_scheme(session, target), now,
                progress=every_tenth(echo, f"  {target}: periods"))
        periods += by_period.periods
        period_cells += by_period.cells
        already += by_period.already
        if by_period.already:
            echo(f"  {target}: {by_period.already} period(s) were released by another run; "
                 "left as they were")
    campaigns = f", {released_campaigns} campaign(s)" if released_campaigns else ""
    shops = f", shop figures of {supplemented} earlier day(s)" if supplemented else ""
    return Outcome(f"statistics released: {days} day(s), {cells} cells, {periods} period(s) "
                   f"of shopper figures, {period_cells} cells{campaigns}{shops} for {len(slugs)} "
                   f"scheme(s){f', {already} already released' if already else ''}")


def verify_ledger(echo: Echo, now: datetime) -> Outcome:
    """Recompute every balance and reconcile euros with points; not ok on any mismatch."""
    from loyalty.infra.db import sqlite_begin_mode
    from loyalty.money import ledger

    # A read-only check: take no write lock on SQLite.
    token = sqlite_begin_mode.set("DEFERRED")
    try:
        with transaction() as session:
            report = ledger.verify(session)
    finally:
        sqlite_begin_mode.reset(token)
    for line in describe_mismatches(report):
        echo(line)
    euros = report.town_euros
    if euros["in"]:
        echo(f"town money: EUR {euros['in'] / 100:.2f} in = {euros['held'] / 100:.2f} held"
             f" + {euros['spent'] / 100:.2f} spent + {euros['expired'] / 100:.2f} expired")
    status = "OK" if report.ok else "FAILED"
    return Outcome(f"ledger {status}: {report.accounts_checked} accounts, "
                   f"{report.transactions_checked} transactions checked", ok=report.ok)


def describe_mismatches(report: Any) -> list[str]:
    """Every mismatch ``ledger.verify`` found, one line each."""
    lines = [f"account {aid}: cached balance {cached}, postings say {computed}"
             for aid, cached, computed in report.balance_mismatches]
    lines += [f"transaction {tid}: {asset} postings sum to {total}, not 0"
              for tid, asset, total in report.unbalanced_transactions]
    lines += [f"posting {pid}: asset {asset} differs from account {aid}'s"
              for pid, aid, asset in report.asset_mismatches]
    lines += [f"account {aid}: balance {bal} below zero" for aid, bal in report.negative_accounts]
    lines += [f"transaction {tid}: euro legs ({what}) differ from points x point value"
              for tid, what in report.euro_mismatches]
    lines += [f"scheme {sid}: euros liability {owed} differs from the {held} euro cents held"
              for sid, owed, held in report.town_mismatches]
    lines += [f"asset {asset}: all balances sum to {total}, not 0"
              for asset, total in report.asset_totals.items() if total]
    return lines


def settle_months(echo: Echo, now: datetime, slug: str, period: str) -> Outcome:
    """Settle every month due up to ``period``, each on its own, in order."""
    from loyalty.money.settlement import monthly, periods
    from loyalty.town import schemes

    periods.parse_period(period)
    with transaction() as session:
        scheme = schemes.get_scheme(session, slug)
        due = monthly.next_period(session, scheme)
    months = [period]
    if due is not None and due < period:
        months = [due]
        while months[-1] < period:
            months.append(monthly.month_after(months[-1]))
        echo(f"{len(months)} months are due, from {due}: each is settled on its own")
    results = [_settle_month(echo, now, slug, month) for month in months]
    # One line per month.
    return Outcome("\n".join(r.summary for r in results), ok=all(r.ok for r in results))


def _settle_month(echo: Echo, now: datetime, slug: str, period: str) -> Outcome:
    """Settle one month and make its payouts and payment requests; not ok when
    something must be retried."""
    from loyalty.money.settlement import monthly, payment_requests, payouts, sepa
    from loyalty.town import schemes

    last: dict[str, int] = {}

    def progress(stage: str, done: int, total: int) -> None:
        pct = 100 * done // total
        if last.get(stage) != pct // 10 or done == total:
            last[stage] = pct // 10
            echo(f"  {stage}: {done}/{total} ({pct}%)")

    with transaction() as session:
        scheme = schemes.get_scheme(session, slug)
        echo(f"settling {scheme.slug} {period} ...")
        stripe = payouts.stripe_settings(current_app.config)
        result = monthly.settle(session, scheme, period, now,
                                stripe_payouts=stripe is not None, progress=progress)
        locked = result.settlement
    # The period is locked (committed) before any money or e-mail goes out.
    with transaction() as session:
        transfers, transfers_failed = payouts.pay_by_stripe(session, locked, stripe)
    with transaction() as session:
        sent, failed = payment_requests.request_payments(session, locked,
                                                         current_app.config, now)
    with transaction() as session:
        lines = monthly.lines_of(session, locked.id)
    paid = sum(line.payout_cents for line in lines)
    owed = sum(line.collect_cents for line in lines)
    state = "locked now" if result.created else "already locked, unchanged"
    summary = (
        f"{period} {state}: {len(lines)} shops, payouts EUR {sepa.euros(paid)} "
        f"(SEPA {locked.sepa_transfers} transfers, control sum EUR "
        f"{sepa.euros(locked.control_sum_cents)}), to collect EUR {sepa.euros(owed)}, "
        f"{transfers} Stripe transfers made"
        + (f", {transfers_failed} not made (run again)" if transfers_failed else "")
        + f", {sent} payment requests sent" + (f", {failed} failed" if failed else "")
    )
    return Outcome(summary, ok=not (failed or transfers_failed))


def settle_last_month(echo: Echo, now: datetime) -> Outcome:
    """The monthly job: settle every scheme's months due up to last month."""
    from loyalty.money.settlement import monthly
    from loyalty.town import schemes

    outcomes = []
    for slug in scheme_slugs():
        with transaction() as session:
            scheme = schemes.get_scheme(session, slug)
            local = now.astimezone(ZoneInfo(scheme.timezone)).date()
            last_month = (local.replace(day=1) - timedelta(days=1)).strftime("%Y-%m")
            due = monthly.next_period(session, scheme)
        if due is None or due > last_month:
            outcomes.append(Outcome(f"{slug}: nothing due"))
            continue
        settled = settle_months(echo, now, slug, last_month)
        outcomes.append(Outcome("\n".join(f"{slug} {line}" for line in
                                           settled.summary.splitlines()), settled.ok))
    return Outcome("\n".join(o.summary for o in outcomes) or "no schemes",
                   ok=all(o.ok for o in outcomes))


def credit_social_tariff(echo: Echo, now: datetime, slug: str | None = None) -> Outcome:
    """Credit this month's social-tariff amount to every entitled wallet not yet
    credited this month, scheme by scheme, one transaction each."""
    from loyalty.money import social
    from loyalty.town import schemes

    lines = []
    for target in scheme_slugs(slug):
        with transaction() as session:
            scheme = schemes.get_scheme(session, target)
            today = now.astimezone(ZoneInfo(scheme.timezone)).date()
            run = social.credit_month(session, scheme, today, today, now)
        lines.append(f"{target}: {run.credited} wallets credited"
                     + (", budget spent" if run.budget_spent else ""))
    return Outcome("\n".join(lines) or "no schemes")


def nightly_backup(echo: Echo, now: datetime) -> Outcome:
    """Back up into BACKUP_DIR, prove the backup restores (into a scratch database,
    then ``ledger verify``), apply the rotation, and copy it off-site when configured."""
    from loyalty.infra import backup as backups
    from loyalty.infra import backup_retention, offsite

    config = current_app.config
    folder = Path(config["BACKUP_DIR"])
    zone = ZoneInfo(config.get("WORKER_TIMEZONE") or "Europe/Brussels")
    target = folder / backup_retention.name_for(now.astimezone(zone))
    echo(f"backing up to {target} ...")
    info = backups.backup(config["DATABASE_URL"], target)
    echo(f"  written ({info.size / 1e6:.1f} MB); restoring it into a scratch database ...")
    verified = restore_check(target, folder)
    if not verified.ok:
        return Outcome(f"backup {target.name} written but {verified.summary}", ok=False)
    kept, deleted = backup_retention.prune(folder)
    parts = [f"backup {target.name} ({info.size / 1e6:.1f} MB) {verified.summary}",
             f"{len(kept)} kept, {len(deleted)} rotated out"]
    if offsite.configured(config):
        key = offsite.upload(config, target)
        stale = [n for n in offsite.names(config)
                 if backup_retention.moment_of(n) and n not in backup_retention.to_keep(
                     offsite.names(config))]
        offsite.delete(config, stale)
        parts.append(f"copied to s3://{config['BACKUP_S3_BUCKET']}/{key}"
                     + (f" ({len(stale)} old copies deleted there)" if stale else ""))
    return Outcome("; ".join(parts))


def restore_check(source: Path, folder: Path) -> Outcome:
    """Restore ``source`` into a scratch database and verify its ledger there."""
    from loyalty.infra import backup as backups
    from loyalty.infra.db import make_engine, make_session_factory
    from loyalty.money import ledger

    with backups.scratch_database(current_app.config["DATABASE_URL"], folder) as scratch:
        backups.restore(scratch, source)
        engine = make_engine(scratch)
        try:
            with make_session_factory(engine)() as session, session.begin():
                report = ledger.verify(session)
        finally:
            engine.dispose()
    if not report.ok:
        return Outcome("restored, but its ledger does not verify: "
                       + "; ".join(describe_mismatches(report)[:5]), ok=False)
    return Outcome(f"restored and verified ({report.transactions_checked} ledger transactions)")


# A run sends for at most this long, then leaves the rest to the next minute's run.
WEBHOOK_RUN_SECONDS = 45.0


def deliver_webhooks(echo: Echo, now: datetime) -> Outcome:
    """Send the due webhook deliveries: each taken by a lease, sent signed outside any
    transaction, its answer recorded (delivered, retry later, or given up after a day)."""
    import time

    from loyalty.shops import webhook_delivery, webhooks

    started = time.monotonic()

    def clock() -> datetime:
        # The run's moment plus the time spent sending: each lease starts when
        # its delivery is taken, however long the ones before it took.
        return now + timedelta(seconds=time.monotonic() - started)

    allow_local = webhooks.allows_local(current_app.config)
    with transaction() as session:
        due = webhook_delivery.due(session, clock())
    counts = {"delivered": 0, "pending": 0, "failed": 0, "taken elsewhere": 0}
    for delivery_id in due:
        if time.monotonic() - started > WEBHOOK_RUN_SECONDS:
            break
        with transaction() as session:
            outgoing = webhook_delivery.take(session, delivery_id, clock())
        if outgoing is None:
            counts["taken elsewhere"] += 1
            continue
        answer = webhook_delivery.send(outgoing, clock(), allow_local=allow_local)
        with transaction() as session:
            status = webhook_delivery.record(session, outgoing, answer, clock())
        counts[status or "taken elsewhere"] += 1
        if not answer.ok:
            echo(f"  delivery {delivery_id}: {answer.error or answer.status_code}")
    sent = counts["delivered"] + counts["pending"] + counts["failed"]
    return Outcome(f"webhooks: {sent} sent of {len(due)} due, {counts['delivered']} delivered, "
                   f"{counts['pending']} to retry, {counts['failed']} given up")
