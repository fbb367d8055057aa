"""The JSON boundary: every request and response body, and so the OpenAPI document."""

from __future__ import annotations

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from loyalty.earning.claims import MAX_SALE_CENTS, MAX_TTL_SECONDS
from loyalty.earning.stamps import MAX_STAMPS_PER_SALE
from loyalty.spending.redemptions import MAX_EURO_CENTS, MAX_POINTS

# A row id in a body: a number beyond any id is a clear 422, not an overflow in the
# database (PostgreSQL INTEGER; SQLite stops at 2**63). As in the URLs (api.DatabaseIdConverter).
ID_RANGE = validate.Range(min=1, max=2**31 - 1)

class ErrorBody(Schema):
    code = fields.String(required=True, metadata={"example": "already_claimed"})
    message = fields.String(required=True)
    fields_ = fields.Dict(data_key="fields", metadata={"description": "per-field messages"})


class ErrorSchema(Schema):
    error = fields.Nested(ErrorBody, required=True)


class TokenRequest(Schema):
    email = fields.String(required=True, validate=validate.Length(max=254))
    password = fields.String(required=True, validate=validate.Length(max=1024), load_only=True)
    otp = fields.String(
        load_only=True,
        validate=validate.Length(max=32),
        metadata={
            "description": "The current 6-digit code of the authenticator app (or a one-time "
            "recovery code); required once two-factor sign-in is set up."
        },
    )


class TokenResponse(Schema):
    token = fields.String(required=True)
    expires_at = fields.AwareDateTime()


class MerchantCreate(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    sector = fields.String(
        required=True,
        validate=validate.Regexp(r"^\d{2}(\.\d{1,3})?$", error="a NACE-BEL code such as 47.24"),
        metadata={"example": "47.24"},
    )
    postcode = fields.String(
        required=True, validate=validate.Regexp(r"^[1-9]\d{3}$", error="four digits")
    )
    email = fields.Email(required=True)
    address = fields.String(validate=validate.Length(max=300))
    earn_rate = fields.Integer(validate=validate.Range(min=1, max=100))


class MerchantCreated(Schema):
    id = fields.Integer(required=True)
    status = fields.String(required=True)


class MerchantSummary(Schema):
    id = fields.Integer(required=True)
    name = fields.String(required=True)
    sector = fields.String(required=True)
    postcode = fields.String(required=True)
    address = fields.String(allow_none=True)


class MerchantListQuery(Schema):
    scheme = fields.String(metadata={"description": "only shops of this scheme (slug)"})


class ApiKeyCreate(Schema):
    label = fields.String(validate=validate.Length(max=100))


class ApiKeyCreated(Schema):
    id = fields.Integer(required=True)
    key = fields.String(required=True, metadata={"description": "shown once; store it"})
    prefix = fields.String()


class WalletCreate(Schema):
    scheme = fields.String(
        metadata={"description": "scheme slug; may be left out when the server has one scheme"}
    )


class WalletCreated(Schema):
    wallet_token = fields.String(required=True)
    recovery_code = fields.String(required=True)


class WalletRecover(Schema):
    recovery_code = fields.String(required=True, validate=validate.Length(min=16, max=40))


class RecoveredTownWallet(Schema):
    scheme = fields.String(required=True, metadata={"description": "the town's scheme (slug)"})
    wallet_token = fields.String(required=True)


class WalletRecovered(Schema):
    wallet_token = fields.String(required=True)
    wallets = fields.List(
        fields.Nested(RecoveredTownWallet), required=True,
        metadata={"description": "every wallet the code opens: one per town the phone "
                  "collected in, the code's own first"},
    )


class HistoryEntry(Schema):
    at = fields.AwareDateTime(required=True)
    kind = fields.String(
        required=True,
        metadata={"description": "earn, spend, expired, or corrected (a sale its shop took "
                                 "back; points is what left the wallet)"},
    )
    points = fields.Integer(required=True)
    merchant = fields.String(allow_none=True)
    status = fields.String()
    not_recovered = fields.Integer(
        metadata={"description": "corrected only: points of the sale already spent, which "
                                 "the shopper keeps (the shop bears them)"},
    )


class HoldEntry(Schema):
    code = fields.String(required=True)
    points = fields.Integer(required=True)
    euro_cents = fields.Integer(metadata={"description": "town money on the code"})
    discount_cents = fields.Integer()
    expires_at = fields.AwareDateTime(required=True)


class StampProgress(Schema):
    card_id = fields.Integer(required=True)
    name = fields.String(required=True)
    merchant = fields.String(required=True)
    stamps = fields.Integer(required=True)
    stamps_needed = fields.Integer(required=True)
    reward = fields.String(required=True)


class VoucherEntry(Schema):
    id = fields.Integer(required=True)
    reward = fields.String(required=True)
    merchant = fields.String(required=True)
    expires_at = fields.AwareDateTime(allow_none=True)


class EuroPartEntry(Schema):
    source = fields.String(required=True, metadata={"description": "grant"})
    name = fields.String(required=True, metadata={"description": "the grant programme's name"})
    credited_cents = fields.Integer(required=True)
    left_cents = fields.Integer(required=True)
    credited_at = fields.AwareDateTime(required=True)
    expires_at = fields.AwareDateTime(required=True)


class WalletView(Schema):
    balance = fields.Integer(required=True)
    balance_value_cents = fields.Integer()
    point_value_cents = fields.Integer()
    held_points = fields.Integer()
    holds = fields.List(fields.Nested(HoldEntry))
    stamp_cards = fields.List(fields.Nested(StampProgress), required=True)
    vouchers = fields.List(fields.Nested(VoucherEntry))
    expiring_soon = fields.Integer(
        metadata={"description": "points that expire within 30 days (oldest used first)"}
    )
    history = fields.List(fields.Nested(HistoryEntry), required=True)
    euro_cents = fields.Integer(
        required=True, metadata={"description": "spendable euros (town money), in cents"}
    )
    euro_parts = fields.List(
        fields.Nested(EuroPartEntry),
        metadata={"description": "where the euros came from and when each part expires, "
                                 "soonest first (euros are spent soonest-expiring first)"},
    )


class ClaimCreate(Schema):
    amount_cents = fields.Integer(
        strict=True,
        load_default=0,
        validate=validate.Range(min=0, max=MAX_SALE_CENTS),
        metadata={"description": "the sale in euro cents; may be left out for stamps only"},
    )
    stamps = fields.Integer(
        strict=True, load_default=0, validate=validate.Range(min=0, max=MAX_STAMPS_PER_SALE)
    )
    stamp_card_id = fields.Integer(
        strict=True, validate=ID_RANGE,
        metadata={"description": "needed only when the shop has several cards"},
    )
    ttl_seconds = fields.Integer(
        strict=True,
        validate=validate.Range(min=30, max=MAX_TTL_SECONDS),
        metadata={"description": "lifetime of the code; default the scheme's (10 minutes)"},
    )


class ClaimCreated(Schema):
    token = fields.String(required=True)
    url = fields.String(required=True)
    qr_svg_url = fields.String(required=True)
    points = fields.Integer(required=True)
    stamps = fields.Integer()
    amount_cents = fields.Integer()
    expires_at = fields.AwareDateTime(required=True)


class ClaimStatusView(Schema):
    status = fields.String(
        required=True, validate=validate.OneOf(["open", "claimed", "expired", "cancelled"])
    )
    points = fields.Integer(required=True)
    amount_cents = fields.Integer()
    expires_at = fields.AwareDateTime()
    claimed_at = fields.AwareDateTime(allow_none=True)


class ClaimDone(Schema):
    points_credited = fields.Integer(required=True)
    balance = fields.Integer(required=True)
    merchant = fields.String()
    stamps_credited = fields.Integer()
    vouchers_created = fields.Integer()


class RedemptionCreate(Schema):
    points = fields.Integer(strict=True, validate=validate.Range(min=1, max=MAX_POINTS))
    euro_cents = fields.Integer(
        strict=True, validate=validate.Range(min=1, max=MAX_EURO_CENTS),
        metadata={"description": "town money (credit) to spend, with or without points"},
    )
    voucher_id = fields.Integer(strict=True, validate=ID_RANGE,
                                metadata={"description": "instead of points and euros"})

    @validates_schema
    def one_of(self, data: dict[str, object], **_kwargs: object) -> None:
        spends = "points" in data or "euro_cents" in data
        if spends == ("voucher_id" in data):
            raise ValidationError("give points, euro_cents or both, or voucher_id", "points")


class RedemptionCreated(Schema):
    code = fields.String(required=True)
    qr_svg_url = fields.String(required=True)
    expires_at = fields.AwareDateTime(required=True)
    points = fields.Integer()
    euro_cents = fields.Integer()
    discount_cents = fields.Integer()
    voucher_id = fields.Integer(allow_none=True)


class RedemptionView(Schema):
    code = fields.String(required=True)
    status = fields.String(
        required=True,
        validate=validate.OneOf(["held", "confirmed", "expired", "cancelled"]),
    )
    points = fields.Integer(required=True)
    discount_cents = fields.Integer(required=True)
    expires_at = fields.AwareDateTime()
    merchant = fields.String(allow_none=True)
    voucher = fields.String(allow_none=True, metadata={"description": "the reward, for vouchers"})


class RedemptionConfirmed(Schema):
    points = fields.Integer(required=True)
    euro_cents = fields.Integer(required=True, metadata={"description": "town money taken"})
    discount_cents = fields.Integer(required=True)
    voucher = fields.String(allow_none=True)


class StampCardCreate(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=100))
    stamps_needed = fields.Integer(required=True, strict=True, validate=validate.Range(2, 50))
    reward = fields.String(required=True, validate=validate.Length(min=1, max=200))
    voucher_valid_days = fields.Integer(strict=True, validate=validate.Range(min=1, max=3650))


class StampCardView(Schema):
    id = fields.Integer(required=True)
    name = fields.String(required=True)
    stamps_needed = fields.Integer(required=True)
    reward = fields.String(required=True)
    voucher_valid_days = fields.Integer(allow_none=True)


class SpendingQuery(Schema):
    by = fields.String(
        required=True,
        validate=validate.OneOf(["sector", "merchant", "postcode", "hour", "weekday"]),
    )
    from_ = fields.Date(data_key="from")
    to = fields.Date()


class SpendingRow(Schema):
    key = fields.String(required=True)
    label = fields.String(allow_none=True)
    purchases = fields.Integer(allow_none=True)
    amount_cents = fields.Integer(allow_none=True)
    shoppers = fields.Integer(
        allow_none=True,
        metadata={"description": "distinct shoppers; null in released rows (not released)"})
    suppressed = fields.Boolean(required=True)
    margin = fields.Nested(
        "SpendingMargin", allow_none=True,
        metadata={"description": "half-widths of the 95% interval of the released figures' "
                                 "noise; null for hidden rows"})


class SpendingMargin(Schema):
    purchases = fields.Integer(required=True)
    amount_cents = fields.Integer(required=True)


class SpendingReport(Schema):
    rows = fields.List(fields.Nested(SpendingRow), required=True)
    k = fields.Integer(required=True)
    definition = fields.String()
    released_until = fields.String(
        allow_none=True,
        metadata={"description": "the last released day the figures reach (null: no day "
                                 "released yet)"})
    behind_seconds = fields.Integer(
        allow_none=True,
        metadata={"description": "present when the figures come from a read replica that "
                                 "has not caught up: at most this many seconds of the newest "
                                 "sales may be missing (null: not known)"},
    )


class SettlementCreate(Schema):
    period = fields.String(
        required=True,
        validate=validate.Regexp(r"^\d{4}-(0[1-9]|1[0-2])$", error="a month such as 2026-11"),
        metadata={"example": "2026-11"},
    )


class SettlementShop(Schema):
    merchant_id = fields.Integer(required=True)
    issued_cents = fields.Integer(required=True, metadata={"description": "value of points given"})
    redeemed_cents = fields.Integer(
        required=True,
        metadata={"description": "discounts given with points and town money (euros)"},
    )
    euros_redeemed_cents = fields.Integer(
        required=True, metadata={"description": "the town money in redeemed_cents"}
    )
    fees_cents = fields.Integer(required=True)
    net_cents = fields.Integer(
        required=True,
        metadata={"description": "redeemed - issued - fees: > 0 paid to the shop, < 0 owed"},
    )


class SettlementView(Schema):
    period = fields.String(required=True, metadata={"example": "2026-11"})
    locked = fields.Boolean(required=True)
    shops = fields.List(fields.Nested(SettlementShop), required=True)
    sepa_xml_url = fields.String(
        allow_none=True, metadata={"description": "null without SEPA transfers or for a shop"}
    )
    control_sum_cents = fields.Integer(
        allow_none=True, metadata={"description": "sum of the SEPA transfers; null for a shop"}
    )
class ReportQuery(Schema):
    from_ = fields.Date(data_key="from", metadata={"description": "first local date"})
    to = fields.Date(metadata={"description": "last local date (inclusive)"})


class ReportColumn(Schema):
    name = fields.String(required=True)
    label = fields.String(required=True)
    kind = fields.String(required=True)


class NamedReport(Schema):
    behind_seconds = fields.Integer(
        allow_none=True,
        metadata={"description": "present when the figures come from a read replica that "
                                 "has not caught up: at most this many seconds of the newest "
                                 "sales may be missing (null: not known)"},
    )
    name = fields.String(required=True)
    title = fields.String(required=True)
    definition = fields.String(required=True)
    k = fields.Integer(required=True)
    from_ = fields.String(data_key="from", required=True)
    to = fields.String(required=True)
    previous_from = fields.String()
    previous_to = fields.String()
    value = fields.String(metadata={"description": "the figure that comparisons compare"})
    columns = fields.List(fields.Nested(ReportColumn))
    # Rows are the public fields of analytics.privacy (key, label, purchases,
    # amount_cents, shoppers, points, suppressed, purchases_margin,
    # amount_margin_cents), report extras and comparisons.
    rows = fields.List(fields.Dict(), required=True)
    released = fields.Boolean(
        metadata={"description": "true: sums of released daily cells with noise; false: "
                                 "exact, for whole ended calendar periods only"})
    released_until = fields.String(
        allow_none=True, metadata={"description": "the last released day the figures reach"})
    total = fields.Dict(allow_none=True)
    notes = fields.List(fields.String())


class WebhookCreate(Schema):
    url = fields.String(
        required=True, validate=validate.Length(min=1, max=500),
        metadata={"description": "https:// address of the shop's system that receives events",
                  "example": "https://kassa.example.be/lokaal-sparen"},
    )
    events = fields.List(
        fields.String(validate=validate.OneOf(
            ["claim.collected", "redemption.confirmed", "sale.reversed"])),
        required=True, validate=validate.Length(min=1, max=3),
    )


class WebhookCreated(Schema):
    id = fields.Integer(required=True)
    secret = fields.String(
        required=True,
        metadata={"description": "signs each delivery (Lokaal-Signature header); shown once"},
    )


class WebhookView(Schema):
    id = fields.Integer(required=True)
    url = fields.String(required=True)
    events = fields.List(fields.String(), required=True)
    active = fields.Boolean(required=True)
    created_at = fields.AwareDateTime(required=True)


class WebhookDeliveryView(Schema):
    id = fields.Integer(required=True)
    event = fields.String(required=True, metadata={"example": "claim.collected"})
    event_id = fields.String(required=True, metadata={"description": "the body's id"})
    status = fields.String(
        required=True, validate=validate.OneOf(["pending", "delivered", "failed"]),
        metadata={"description": "pending (also while retrying), delivered or failed "
                                 "(no 2xx within a day)"},
    )
    attempts = fields.Integer(required=True)
    delivered_at = fields.AwareDateTime(allow_none=True, required=True)
    created_at = fields.AwareDateTime(required=True)
    next_attempt_at = fields.AwareDateTime(allow_none=True)
    last_status_code = fields.Integer(allow_none=True)
    last_error = fields.String(allow_none=True)
