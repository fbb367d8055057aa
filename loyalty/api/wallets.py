"""The shopper's wallet: creation, recovery, balance and spending codes."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask.views import MethodView
from flask_smorest import Blueprint

from loyalty.api.auth import require_wallet
from loyalty.api.common import AUTH
from loyalty.api.idempotency import idempotent
from loyalty.api.merchants import merchant_name
from loyalty.api.schemas import (
    RedemptionCreate,
    RedemptionCreated,
    RedemptionView,
    WalletCreate,
    WalletCreated,
    WalletRecover,
    WalletRecovered,
    WalletView,
)
from loyalty.errors import InvalidInput, NotFound
from loyalty.infra.db import utcnow
from loyalty.models import Redemption, Scheme, StampCard, Voucher
from loyalty.shoppers import wallets
from loyalty.shoppers.wallet_view import wallet_summary
from loyalty.spending import redemptions
from loyalty.town import schemes
from loyalty.web import db, public_url, writes

blp = Blueprint("wallets", __name__, description="Shoppers' wallets")


@blp.route("/wallets")
class WalletsView(MethodView):
    @blp.arguments(WalletCreate())
    @blp.response(201, WalletCreated)
    def post(self, body: dict[str, Any]) -> dict[str, Any]:
        """A new anonymous wallet. Keep the recovery code: it is shown once."""
        session = db()
        if "scheme" in body:
            scheme = schemes.get_scheme(session, body["scheme"])
        else:
            found = session.scalars(sa.select(Scheme).limit(2)).all()
            if len(found) != 1:
                raise InvalidInput("name the scheme (its slug)", code="scheme_required")
            scheme = found[0]
        new = wallets.create_wallet(session, scheme)
        return {"wallet_token": new.token, "recovery_code": new.recovery_code}


@blp.route("/wallets/recover")
class RecoverView(MethodView):
    @blp.arguments(WalletRecover())
    @blp.response(200, WalletRecovered)
    def post(self, body: dict[str, Any]) -> dict[str, Any]:
        """Open a wallet on a new phone with its recovery code; the old token stops working.

        A phone that collected in several towns has a wallet in each, linked: the
        code opens them all, each with a new token (``wallets``, the code's own
        first; ``wallet_token`` is that first one's).
        """
        session = db()
        opened = wallets.recover_wallets(session, body["recovery_code"])
        names: dict[int, str] = {
            scheme_id: slug for scheme_id, slug in session.execute(
                sa.select(Scheme.id, Scheme.slug).where(
                    Scheme.id.in_({new.wallet.scheme_id for new in opened})))
        }
        return {
            "wallet_token": opened[0].token,
            "wallets": [{"scheme": names[new.wallet.scheme_id], "wallet_token": new.token}
                        for new in opened],
        }


@blp.route("/wallet")
class WalletView_(MethodView):
    @writes  # returns expired holds to the balance before showing it
    @blp.response(200, WalletView)
    @blp.doc(security=AUTH)
    def get(self) -> dict[str, Any]:
        """Balance, holds, stamp cards and history of the calling wallet."""
        wallet = require_wallet()
        session = db()
        redemptions.release_expired(session, utcnow(), wallet_id=wallet.id)
        return wallet_summary(session, wallet)


def _redemption_body(redemption: Redemption) -> dict[str, Any]:
    return {
        "code": redemption.code,
        "qr_svg_url": public_url(f"/api/v1/redemptions/{redemption.code}/qr.svg"),
        "expires_at": redemption.expires_at,
        "points": redemption.points,
        "euro_cents": redemption.euro_cents,
        "discount_cents": redemption.discount_cents,
        "voucher_id": redemption.voucher_id,
    }


@blp.route("/wallet/redemptions")
class WalletRedemptionsView(MethodView):
    @blp.doc(security=AUTH)
    @idempotent
    @blp.arguments(RedemptionCreate())
    @blp.response(201, RedemptionCreated)
    @blp.alt_response(409, description="balance too low")
    def post(self, body: dict[str, Any]) -> dict[str, Any]:
        """Put points on hold behind a one-time code to show at any shop's till."""
        wallet = require_wallet()
        if "voucher_id" in body:
            redemption = redemptions.create_voucher_redemption(
                db(), wallet, body["voucher_id"], utcnow()
            )
        else:
            redemption = redemptions.create_redemption(
                db(), wallet, body.get("points", 0), utcnow(), euro_cents=body.get("euro_cents", 0)
            )
        return _redemption_body(redemption)


def _own_redemption(code: str) -> Redemption:
    wallet = require_wallet()
    redemption = redemptions.get_redemption(db(), code, wallet.scheme_id)
    if redemption.wallet_id != wallet.id:
        raise NotFound("no such spend code", code="unknown_code")
    return redemption


def redemption_view(redemption: Redemption) -> dict[str, Any]:
    return {
        "code": redemption.code,
        "status": redemptions.display_status(redemption, utcnow()),
        "points": redemption.points,
        "discount_cents": redemption.discount_cents,
        "expires_at": redemption.expires_at,
        "merchant": merchant_name(redemption.merchant_id),
        "voucher": voucher_reward(redemption.voucher_id),
    }


def voucher_reward(voucher_id: int | None) -> str | None:
    if voucher_id is None:
        return None
    return db().scalar(
        sa.select(StampCard.reward)
        .join(Voucher, Voucher.stamp_card_id == StampCard.id)
        .where(Voucher.id == voucher_id)
    )


@blp.route("/wallet/redemptions/<code>")
class WalletRedemptionView(MethodView):
    @blp.response(200, RedemptionView)
    @blp.doc(security=AUTH)
    def get(self, code: str) -> dict[str, Any]:
        """One of the wallet's codes: the page polls it to show "used at <shop>"."""
        return redemption_view(_own_redemption(code))


@blp.route("/wallet/redemptions/<code>/cancel")
class WalletRedemptionCancelView(MethodView):
    @blp.doc(security=AUTH)
    @idempotent
    @blp.response(200, RedemptionView)
    def post(self, code: str) -> dict[str, Any]:
        """Withdraw an unused code: its points return to the wallet."""
        wallet = require_wallet()
        redemption = redemptions.cancel_redemption(db(), wallet, code, utcnow())
        return redemption_view(redemption)
