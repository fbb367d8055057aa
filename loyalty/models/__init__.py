"""The database models, one module per area; import them from here."""

from loyalty.models.analytics import PseudonymKey, PurchaseEvent
from loyalty.models.campaigns import CalendarEvent, Campaign
from loyalty.models.claims import Claim, ClaimStatus
from loyalty.models.idempotency import IdempotencyRecord
from loyalty.models.ledger import Account, AccountKind, Asset, LedgerTransaction, Posting
from loyalty.models.printed_cards import PrintedCard
from loyalty.models.redemptions import Redemption, RedemptionStatus
from loyalty.models.schemes import Merchant, MerchantStatus, Scheme
from loyalty.models.staff import LoginFailure, Role, StaffSession, StaffUser, TillKey
from loyalty.models.stamps import StampCard, Voucher, VoucherStatus, stamp_asset
from loyalty.models.wallets import Wallet, WalletStatus

__all__ = [
    "Account",
    "AccountKind",
    "Asset",
    "CalendarEvent",
    "Campaign",
    "Claim",
    "ClaimStatus",
    "IdempotencyRecord",
    "LedgerTransaction",
    "LoginFailure",
    "Merchant",
    "MerchantStatus",
    "Posting",
    "PrintedCard",
    "PseudonymKey",
    "PurchaseEvent",
    "Redemption",
    "RedemptionStatus",
    "Role",
    "Scheme",
    "StaffSession",
    "StaffUser",
    "StampCard",
    "TillKey",
    "Voucher",
    "VoucherStatus",
    "Wallet",
    "WalletStatus",
    "stamp_asset",
]
