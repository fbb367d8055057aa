"""Fraud flags: a daily check for patterns worth a look, and what an admin does about them.

`loyalty fraud check` runs the rules below once a day from cron (shortly after
midnight, for the day before). Each flag keeps its rule, a plain reason and its
evidence as counts; a wallet appears only by its internal id, which leads to no
person. The check is idempotent: a flag is unique per (rule, subject, day) in
the database, and a rule over a window flags a subject at most once a window.
"""

from __future__ import annotations

import enum
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.orm import Session

from loyalty.errors import Conflict, InvalidInput, NotFound
from loyalty.models import (
    Claim,
    ClaimStatus,
    FlagStatus,
    FraudFlag,
    Merchant,
    MerchantStatus,
    Redemption,
    RedemptionStatus,
    Scheme,
    StaffUser,
    Wallet,
    WalletStatus,
)
from loyalty.oversight import audit
from loyalty.shoppers import wallets
from loyalty.shops import onboarding
from loyalty.shops.figures import local_bounds

# -- thresholds -----------------------------------------------------------------------
# One wallet collecting at one shop more often than this in a day: nobody buys
# six separate coffees; a till handing its own QR codes to one phone does.
MAX_CLAIMS_PER_WALLET_SHOP_DAY = 5
# Self-dealing: over this many days, a shop whose claimed points went for at
# least this share to its top wallets (with enough claims to judge).
FEW_WALLETS_WINDOW_DAYS = 30
FEW_WALLETS_TOP = 2
FEW_WALLETS_SHARE = 0.80
FEW_WALLETS_MIN_CLAIMS = 10
# Points spent at a shop within this many minutes after collecting there, at
# least this often in a day by one wallet (once is a shopper's second purchase).
QUICK_REDEEM_MINUTES = 10
QUICK_REDEEM_MIN_PAIRS = 2
# A till (a till key, or the portal's till of a shop) making this many times
# its usual number of claims in a day, judged against up to four weeks of
# history (at least one), and only from this many claims on (a quiet shop's
# 2 instead of 0.5 is no alarm).
VELOCITY_BASELINE_DAYS = 28
VELOCITY_MIN_HISTORY_DAYS = 7
VELOCITY_FACTOR = 3.0
VELOCITY_MIN_CLAIMS = 20
# A shop's share of the scheme's redeemed points this many times its share of
# earned points, over this many days, once the share and the volume matter:
# with a handful of spends a month, one shopper's habit looks like a pattern.
SHARE_WINDOW_DAYS = 30
SHARE_FACTOR = 3.0
SHARE_MIN_REDEEMED_SHARE = 0.10
SHARE_MIN_SCHEME_REDEEMED = 500
SHARE_MIN_REDEMPTIONS = 20
MAX_NOTE = 1000


class Rule(enum.StrEnum):
    WALLET_CLAIMS_AT_SHOP = "wallet_claims_at_shop"
    FEW_WALLETS = "few_wallets_claim_shop_points"
    REDEEM_AFTER_EARN = "redeem_right_after_earn"
    TILL_VELOCITY = "till_velocity"
    REDEMPTION_SHARE = "redemption_share"
    # Raised at once, not by the daily check: a till that keeps looking up
    # spend codes that do not exist is guessing them (loyalty.spending.redemptions).
    SPEND_CODE_GUESSING = "spend_code_guessing"


# Rules over a window: one flag per subject per window, not one a day.
WINDOWS = {Rule.FEW_WALLETS: FEW_WALLETS_WINDOW_DAYS, Rule.REDEMPTION_SHARE: SHARE_WINDOW_DAYS}


@dataclass(frozen=True)
class Finding:
    rule: Rule
    subject_type: str
    subject_id: int
    merchant_id: int
    reason: str
    evidence: dict[str, Any]


@dataclass
class CheckResult:
    day: date
    found: int = 0
    created: list[FraudFlag] = field(default_factory=list)


def _rows(session: Session, stmt: Any) -> list[Any]:
    """Result rows untyped: ids of claimed claims and confirmed redemptions are never None,
    which the column types (nullable for open claims and held codes) cannot say."""
    return list(session.execute(stmt))


def _pct(part: float, whole: float) -> float:
    return round(100 * part / whole, 1) if whole else 0.0


def _claimed(scheme_id: int) -> list[Any]:
    return [Claim.scheme_id == scheme_id, Claim.status == ClaimStatus.CLAIMED]


def _wallet_claims_at_shop(
    session: Session, scheme: Scheme, start: datetime, end: datetime, names: dict[int, str]
) -> list[Finding]:
    rows = _rows(
        session,
        sa.select(Claim.wallet_id, Claim.merchant_id, sa.func.count(), sa.func.sum(Claim.points))
        .where(*_claimed(scheme.id), Claim.claimed_at >= start, Claim.claimed_at < end)
        .group_by(Claim.wallet_id, Claim.merchant_id)
        .having(sa.func.count() > MAX_CLAIMS_PER_WALLET_SHOP_DAY),
    )
    worst: dict[int, tuple[int, int, int]] = {}
    for wallet_id, merchant_id, claims, points in rows:
        if wallet_id not in worst or claims > worst[wallet_id][1]:
            worst[wallet_id] = (merchant_id, claims, int(points or 0))
    return [
        Finding(
            Rule.WALLET_CLAIMS_AT_SHOP,
            "wallet",
            wallet_id,
            merchant_id,
            f"wallet #{wallet_id} collected points {claims} times in one day at "
            f"{names.get(merchant_id, merchant_id)} (more than {MAX_CLAIMS_PER_WALLET_SHOP_DAY})",
            {"claims": claims, "points": points, "limit": MAX_CLAIMS_PER_WALLET_SHOP_DAY},
        )
        for wallet_id, (merchant_id, claims, points) in sorted(worst.items())
    ]


def _few_wallets(
    session: Session, scheme: Scheme, start: datetime, end: datetime, names: dict[int, str]
) -> list[Finding]:
    rows = _rows(
        session,
        sa.select(Claim.merchant_id, Claim.wallet_id, sa.func.count(), sa.func.sum(Claim.points))
        .where(*_claimed(scheme.id), Claim.claimed_at >= start, Claim.claimed_at < end)
        .group_by(Claim.merchant_id, Claim.wallet_id),
    )
    by_shop: dict[int, list[tuple[int, int]]] = defaultdict(list)
    for merchant_id, _wallet_id, claims, points in rows:
        by_shop[merchant_id].append((int(points or 0), claims))
    found = []
    for merchant_id, per_wallet in sorted(by_shop.items()):
        claims = sum(c for _p, c in per_wallet)
        points = sum(p for p, _c in per_wallet)
        top = sum(sorted((p for p, _c in per_wallet), reverse=True)[:FEW_WALLETS_TOP])
        if claims < FEW_WALLETS_MIN_CLAIMS or not points or top < FEW_WALLETS_SHARE * points:
            continue
        found.append(
            Finding(
                Rule.FEW_WALLETS,
                "merchant",
                merchant_id,
                merchant_id,
                f"{_pct(top, points)}% of the points of {names.get(merchant_id, merchant_id)} "
                f"in {FEW_WALLETS_WINDOW_DAYS} days went to {min(FEW_WALLETS_TOP, len(per_wallet))}"
                f" of its {len(per_wallet)} wallets",
                {
                    "claims": claims,
                    "points": points,
                    "wallets": len(per_wallet),
                    "top_wallets": min(FEW_WALLETS_TOP, len(per_wallet)),
                    "top_share_pct": _pct(top, points),
                    "days": FEW_WALLETS_WINDOW_DAYS,
                },
            )
        )
    return found


def _redeem_after_earn(
    session: Session, scheme: Scheme, start: datetime, end: datetime, names: dict[int, str]
) -> list[Finding]:
    spends = _rows(
        session,
        sa.select(
            Redemption.wallet_id, Redemption.merchant_id, Redemption.finished_at, Redemption.points
        ).where(
            Redemption.scheme_id == scheme.id,
            Redemption.status == RedemptionStatus.CONFIRMED,
            Redemption.points > 0,  # vouchers are meant to follow the stamps that fill them
            Redemption.finished_at >= start,
            Redemption.finished_at < end,
        ),
    )
    if not spends:
        return []
    gap = timedelta(minutes=QUICK_REDEEM_MINUTES)
    wallet_ids = sorted({w for w, _m, _t, _p in spends})
    earned: dict[tuple[int, int], list[datetime]] = defaultdict(list)
    for wallet_id, merchant_id, at in _rows(
        session,
        sa.select(Claim.wallet_id, Claim.merchant_id, Claim.claimed_at).where(
            *_claimed(scheme.id),
            Claim.wallet_id.in_(wallet_ids),
            Claim.claimed_at >= start - gap,
            Claim.claimed_at < end,
        ),
    ):
        earned[(wallet_id, merchant_id)].append(at)
    pairs: dict[tuple[int, int], list[int]] = defaultdict(list)
    for wallet_id, merchant_id, at, points in spends:
        if any(at - gap <= t <= at for t in earned.get((wallet_id, merchant_id), [])):
            pairs[(wallet_id, merchant_id)].append(points)
    worst: dict[int, tuple[int, list[int]]] = {}
    for (wallet_id, merchant_id), points in pairs.items():
        if wallet_id not in worst or len(points) > len(worst[wallet_id][1]):
            worst[wallet_id] = (merchant_id, points)
    return [
        Finding(
            Rule.REDEEM_AFTER_EARN,
            "wallet",
            wallet_id,
            merchant_id,
            f"wallet #{wallet_id} spent points {len(points)} times at "
            f"{names.get(merchant_id, merchant_id)} within {QUICK_REDEEM_MINUTES} minutes "
            "after collecting there",
            {
                "redemptions": len(points),
                "points_redeemed": sum(points),
                "minutes": QUICK_REDEEM_MINUTES,
                "limit": QUICK_REDEEM_MIN_PAIRS,
            },
        )
        for wallet_id, (merchant_id, points) in sorted(worst.items())
        if len(points) >= QUICK_REDEEM_MIN_PAIRS
    ]


def _till_velocity(
    session: Session, scheme: Scheme, start: datetime, end: datetime, names: dict[int, str]
) -> list[Finding]:
    made = [Claim.scheme_id == scheme.id, Claim.status != ClaimStatus.CANCELLED]
    today = {
        (till, merchant): n
        for till, merchant, n in _rows(
            session,
            sa.select(Claim.till_key_id, Claim.merchant_id, sa.func.count())
            .where(*made, Claim.created_at >= start, Claim.created_at < end)
            .group_by(Claim.till_key_id, Claim.merchant_id)
            .having(sa.func.count() >= VELOCITY_MIN_CLAIMS),
        )
    }
    found = []
    base_start = start - timedelta(days=VELOCITY_BASELINE_DAYS)
    for (till, merchant_id), claims in sorted(
        today.items(), key=lambda kv: (kv[0][1], kv[0][0] or 0)
    ):
        same_till = Claim.till_key_id.is_(None) if till is None else Claim.till_key_id == till
        [(first, before)] = _rows(
            session,
            sa.select(
                sa.func.min(Claim.created_at),
                sa.func.count().filter(Claim.created_at >= base_start),
            ).where(*made, same_till, Claim.merchant_id == merchant_id, Claim.created_at < start),
        )
        if first is None:
            continue
        history = min(VELOCITY_BASELINE_DAYS, (start - first).days)
        if history < VELOCITY_MIN_HISTORY_DAYS:
            continue
        usual = (before or 0) / history
        if claims < VELOCITY_FACTOR * usual:
            continue
        what = f"till key #{till}" if till is not None else "the portal's till"
        found.append(
            Finding(
                Rule.TILL_VELOCITY,
                "till_key" if till is not None else "merchant",
                till if till is not None else merchant_id,
                merchant_id,
                f"{what} of {names.get(merchant_id, merchant_id)} made {claims} claims in one "
                f"day; usually {usual:.1f}",
                {
                    "claims": claims,
                    "usual_per_day": round(usual, 1),
                    "history_days": history,
                    "factor": VELOCITY_FACTOR,
                },
            )
        )
    return found


def _redemption_share(
    session: Session, scheme: Scheme, start: datetime, end: datetime, names: dict[int, str]
) -> list[Finding]:
    earned = dict(
        _rows(
            session,
            sa.select(Claim.merchant_id, sa.func.sum(Claim.points))
            .where(*_claimed(scheme.id), Claim.claimed_at >= start, Claim.claimed_at < end)
            .group_by(Claim.merchant_id),
        )
    )
    redeemed = {
        merchant_id: (int(points or 0), count)
        for merchant_id, points, count in _rows(
            session,
            sa.select(Redemption.merchant_id, sa.func.sum(Redemption.points), sa.func.count())
            .where(
                Redemption.scheme_id == scheme.id,
                Redemption.status == RedemptionStatus.CONFIRMED,
                Redemption.points > 0,
                Redemption.finished_at >= start,
                Redemption.finished_at < end,
            )
            .group_by(Redemption.merchant_id),
        )
    }
    total_earned = sum(int(p or 0) for p in earned.values())
    total_redeemed = sum(p for p, _c in redeemed.values())
    if total_redeemed < SHARE_MIN_SCHEME_REDEEMED:
        return []
    found = []
    for merchant_id, (points, count) in sorted(redeemed.items()):
        r_share = points / total_redeemed
        e_share = int(earned.get(merchant_id) or 0) / total_earned if total_earned else 0.0
        if (
            count < SHARE_MIN_REDEMPTIONS
            or r_share < SHARE_MIN_REDEEMED_SHARE
            or r_share < SHARE_FACTOR * e_share
        ):
            continue
        found.append(
            Finding(
                Rule.REDEMPTION_SHARE,
                "merchant",
                merchant_id,
                merchant_id,
                f"{names.get(merchant_id, merchant_id)} took {_pct(points, total_redeemed)}% "
                f"of the points spent in {SHARE_WINDOW_DAYS} days but gave "
                f"{_pct(e_share, 1)}% of the points earned",
                {
                    "redemptions": count,
                    "points_redeemed": points,
                    "points_earned": int(earned.get(merchant_id) or 0),
                    "redeemed_share_pct": _pct(points, total_redeemed),
                    "earned_share_pct": _pct(e_share, 1),
                    "days": SHARE_WINDOW_DAYS,
                },
            )
        )
    return found


def find(session: Session, scheme: Scheme, day: date) -> list[Finding]:
    """What every rule finds for ``day`` (a local date of the scheme); writes nothing."""
    tz = ZoneInfo(scheme.timezone)
    start, end = local_bounds(tz, day, day)
    names = dict(
        _rows(session, sa.select(Merchant.id, Merchant.name).where(Merchant.scheme_id == scheme.id))
    )
    few_start, _ = local_bounds(tz, day - timedelta(days=FEW_WALLETS_WINDOW_DAYS - 1), day)
    share_start, _ = local_bounds(tz, day - timedelta(days=SHARE_WINDOW_DAYS - 1), day)
    return [
        *_wallet_claims_at_shop(session, scheme, start, end, names),
        *_few_wallets(session, scheme, few_start, end, names),
        *_redeem_after_earn(session, scheme, start, end, names),
        *_till_velocity(session, scheme, start, end, names),
        *_redemption_share(session, scheme, share_start, end, names),
    ]


def _already_flagged(session: Session, finding: Finding, day: date) -> bool:
    # Both ways: a check of an earlier day, run later, must not flag the same
    # window again either.
    reach = timedelta(days=WINDOWS.get(finding.rule, 1) - 1)
    return (
        session.scalar(
            sa.select(FraudFlag.id)
            .where(
                FraudFlag.rule == finding.rule,
                FraudFlag.subject_type == finding.subject_type,
                FraudFlag.subject_id == finding.subject_id,
                FraudFlag.day >= day - reach,
                FraudFlag.day <= day + reach,
            )
            .limit(1)
        )
        is not None
    )


def check(session: Session, scheme: Scheme, day: date, now: datetime) -> CheckResult:
    """Run every rule for ``day`` and store the new flags; running it again adds none."""
    result = CheckResult(day)
    for finding in find(session, scheme, day):
        result.found += 1
        if _already_flagged(session, finding, day):
            continue
        flag = raise_flag(session, scheme.id, finding, day, now)
        if flag is not None:
            result.created.append(flag)
    return result


def raise_flag(
    session: Session, scheme_id: int, finding: Finding, day: date, now: datetime
) -> FraudFlag | None:
    """Store a flag for ``finding`` on ``day``; None when that rule flagged that subject
    that day already."""
    flag = FraudFlag(
        scheme_id=scheme_id,
        rule=finding.rule,
        subject_type=finding.subject_type,
        subject_id=finding.subject_id,
        merchant_id=finding.merchant_id,
        day=day,
        reason=finding.reason[:300],
        evidence=finding.evidence,
        status=FlagStatus.OPEN,
        created_at=now,
    )
    try:
        # Two checks at once (cron overlapping a manual run, two workers raising
        # the same flag): the unique key lets one insert; the savepoint keeps the
        # other's transaction alive.
        with session.begin_nested():
            session.add(flag)
    except sa.exc.IntegrityError:
        return None
    return flag


# -- the admin's side -----------------------------------------------------------------


def flags(
    session: Session, scheme_id: int, status: str | None = FlagStatus.OPEN
) -> list[FraudFlag]:
    """A scheme's flags (of one status, or all), newest day first."""
    stmt = sa.select(FraudFlag).where(FraudFlag.scheme_id == scheme_id)
    if status:
        stmt = stmt.where(FraudFlag.status == status)
    return list(session.scalars(stmt.order_by(FraudFlag.day.desc(), FraudFlag.id.desc())))


def get_flag(session: Session, scheme_id: int, flag_id: int) -> FraudFlag:
    """Raises NotFound, also for another scheme's flag."""
    flag = session.get(FraudFlag, flag_id)
    if flag is None or flag.scheme_id != scheme_id:
        raise NotFound("no such flag", code="unknown_flag")
    return flag


def _note(note: str | None, *, required: bool) -> str | None:
    text = (note or "").strip()
    if required and not text:
        raise InvalidInput("say why in a note", code="note_required")
    if len(text) > MAX_NOTE:
        raise InvalidInput(f"the note may have at most {MAX_NOTE} characters", code="note_too_long")
    return text or None


def _resolve(
    session: Session,
    flag: FraudFlag,
    actor: StaffUser,
    status: FlagStatus,
    resolution: str,
    note: str | None,
    now: datetime,
) -> None:
    # Conditional: two admins acting on one flag at once, only the first counts.
    won = session.execute(
        sa.update(FraudFlag)
        .where(FraudFlag.id == flag.id, FraudFlag.status == FlagStatus.OPEN)
        .values(
            status=status,
            resolution=resolution,
            note=note,
            resolved_at=now,
            resolved_by_id=actor.id,
        )
        .execution_options(synchronize_session=False)
    ).rowcount  # type: ignore[attr-defined]
    if won != 1:
        raise Conflict("this flag was already dealt with", code="flag_closed")
    session.refresh(flag)


def dismiss(session: Session, flag: FraudFlag, actor: StaffUser, note: str, now: datetime) -> None:
    """Nothing wrong, with a note saying why. Raises InvalidInput, Conflict (not open)."""
    text = _note(note, required=True)
    _resolve(session, flag, actor, FlagStatus.DISMISSED, "dismissed", text, now)
    audit.record(session, actor, "fraud.dismiss", flag, {"flag": flag.id, "note": text}, now=now)


def freeze_wallet(
    session: Session, flag: FraudFlag, actor: StaffUser, note: str | None, now: datetime
) -> Wallet:
    """Freeze the flagged wallet: it can no longer collect or spend.

    Raises Conflict (the flag is about no wallet, or is not open), InvalidInput (note).
    """
    if flag.subject_type != "wallet":
        raise Conflict("this flag is not about a wallet", code="not_a_wallet")
    text = _note(note, required=False)
    wallet = session.get_one(Wallet, flag.subject_id)
    wallets.freeze(session, wallet)  # first: it raises Conflict for a deleted wallet
    _resolve(session, flag, actor, FlagStatus.ACTED, "wallet_frozen", text, now)
    audit.record(
        session, actor, "wallet.freeze", wallet, {"flag": flag.id, "rule": flag.rule}, now=now
    )
    return wallet


def unfreeze_wallet(
    session: Session, flag: FraudFlag, actor: StaffUser, note: str | None, now: datetime
) -> Wallet:
    """Undo a freeze made for this flag (a mistake, or the matter is settled).

    Raises Conflict (no wallet frozen through this flag, or not frozen any more).
    """
    if flag.subject_type != "wallet" or flag.resolution != "wallet_frozen":
        raise Conflict("no wallet was frozen for this flag", code="not_frozen")
    text = _note(note, required=False)
    wallet = session.get_one(Wallet, flag.subject_id)
    wallets.unfreeze(session, wallet)
    details: dict[str, Any] = {"flag": flag.id}
    if text:
        details["note"] = text
    audit.record(session, actor, "wallet.unfreeze", wallet, details, now=now)
    return wallet


def frozen_wallets(session: Session, wallet_ids: list[int]) -> set[int]:
    """Which of these wallets are frozen now."""
    if not wallet_ids:
        return set()
    return set(
        session.scalars(
            sa.select(Wallet.id).where(
                Wallet.id.in_(wallet_ids), Wallet.status == WalletStatus.FROZEN
            )
        )
    )


def suspend_shop(
    session: Session, flag: FraudFlag, actor: StaffUser, note: str | None, now: datetime
) -> Merchant:
    """Suspend the flagged shop: it can no longer give or take points.

    Raises Conflict (the flag is not open), InvalidInput (note).
    """
    text = _note(note, required=False)
    merchant = session.get_one(Merchant, flag.merchant_id)
    _resolve(session, flag, actor, FlagStatus.ACTED, "shop_suspended", text, now)
    if merchant.status != MerchantStatus.SUSPENDED:
        onboarding.decide(
            session, merchant, MerchantStatus.SUSPENDED, actor, reason=f"fraud flag #{flag.id}",
            now=now,
        )
    else:
        # Suspended already (another flag, or by hand): the flag's closing is still an action.
        details = {"flag": flag.id, "resolution": "shop_suspended", "note": text}
        audit.record(session, actor, "fraud.close", flag, details, now=now)
    return merchant
