"""The database models, one module per area; import them from here."""

from loyalty.models.admin import AuditEntry, FlagStatus, FraudFlag
from loyalty.models.analytics import (
    CampaignRelease,
    CampaignReleasedDay,
    PseudonymKey,
    PurchaseEvent,
    ReleasedCell,
    ReleasedDay,
    ReleasedPeriod,
    ReleasedPeriodCell,
    RollupAreaAge,
    RollupAreaAgeMonth,
    RollupShopDay,
    RollupShopHour,
    RollupShopHourMonth,
    RollupShopperMonth,
    RollupShopShopper,
    RollupState,
    ShopperCount,
)
from loyalty.models.campaigns import CalendarEvent, Campaign
from loyalty.models.claims import Claim, ClaimStatus, OfflineClaim, SaleCorrection
from loyalty.models.clusters import FootfallCount, FootfallCounter, ShoppingCluster
from loyalty.models.funding import FundingMethod, Prepayment
from loyalty.models.gift_vouchers import GiftVoucher, GiftVoucherOrder, GiftVoucherSource
from loyalty.models.idempotency import IdempotencyRecord
from loyalty.models.ledger import Account, AccountKind, Asset, LedgerTransaction, Posting
from loyalty.models.notifications import (
    EmailDigest,
    Notification,
    PushSubscription,
    ReminderOptOut,
    TownMessage,
)
from loyalty.models.operations import JobLease, JobRun, RunStatus, WorkerHeartbeat
from loyalty.models.printed_cards import PrintedCard
from loyalty.models.published_texts import PublishedText
from loyalty.models.redemptions import Redemption, RedemptionStatus, SpendCodeMiss
from loyalty.models.schemes import Merchant, MerchantStatus, Scheme
from loyalty.models.settlements import PayoutMethod, Settlement, SettlementLine
from loyalty.models.staff import (
    LoginFailure,
    RecoveryCode,
    Role,
    StaffSession,
    StaffUser,
    TillKey,
    TrustedDevice,
)
from loyalty.models.stamps import StampCard, Voucher, VoucherStatus, stamp_asset
from loyalty.models.town_money import (
    EuroCredit,
    EuroCreditNotice,
    EuroSource,
    Grant,
    GrantCode,
    GrantWho,
    SocialCode,
)
from loyalty.models.wallet_passes import PassRegistration, WalletPass
from loyalty.models.wallets import ExpiryNotice, Wallet, WalletGroup, WalletStatus
from loyalty.models.webhooks import (
    DeliveryStatus,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
)

__all__ = [
    "FootfallCount",
    "FootfallCounter",
    "ShoppingCluster",
    "PassRegistration",
    "WalletPass",
    "DeliveryStatus",
    "WebhookDelivery",
    "WebhookEndpoint",
    "WebhookEvent",
    "EmailDigest",
    "Notification",
    "PushSubscription",
    "ReminderOptOut",
    "TownMessage",
    "GiftVoucher",
    "GiftVoucherOrder",
    "GiftVoucherSource",
    "EuroCredit",
    "EuroCreditNotice",
    "EuroSource",
    "Grant",
    "GrantCode",
    "GrantWho",
    "SocialCode",
    "RunStatus",
    "WorkerHeartbeat",
    "Account",
    "AccountKind",
    "Asset",
    "AuditEntry",
    "CalendarEvent",
    "Campaign",
    "Claim",
    "SaleCorrection",
    "ExpiryNotice",
    "ClaimStatus",
    "FundingMethod",
    "FlagStatus",
    "FraudFlag",
    "IdempotencyRecord",
    "JobLease",
    "JobRun",
    "LedgerTransaction",
    "LoginFailure",
    "Merchant",
    "OfflineClaim",
    "MerchantStatus",
    "PayoutMethod",
    "Posting",
    "Prepayment",
    "PrintedCard",
    "PseudonymKey",
    "PublishedText",
    "PurchaseEvent",
    "RecoveryCode",
    "Redemption",
    "RedemptionStatus",
    "Role",
    "CampaignRelease",
    "CampaignReleasedDay",
    "ReleasedCell",
    "ReleasedDay",
    "ReleasedPeriod",
    "ReleasedPeriodCell",
    "RollupAreaAge",
    "RollupAreaAgeMonth",
    "RollupShopDay",
    "RollupShopHour",
    "RollupShopHourMonth",
    "RollupShopShopper",
    "RollupShopperMonth",
    "RollupState",
    "Scheme",
    "Settlement",
    "SpendCodeMiss",
    "SettlementLine",
    "ShopperCount",
    "StaffSession",
    "StaffUser",
    "StampCard",
    "TillKey",
    "TrustedDevice",
    "Voucher",
    "VoucherStatus",
    "Wallet",
    "WalletGroup",
    "WalletStatus",
    "stamp_asset",
]
