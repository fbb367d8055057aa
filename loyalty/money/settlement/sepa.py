"""The SEPA credit-transfer file (pain.001.001.03) a settlement's payouts go out in."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date, datetime, timedelta
from xml.etree import ElementTree as ET  # noqa: S405  (we write XML, we never parse any)
from zoneinfo import ZoneInfo

import holidays

from loyalty.models import (
    Scheme,
    Settlement,
    SettlementLine,
)

SEPA_SCHEMA = "pain.001.001.03"
SEPA_NS = f"urn:iso:std:iso:20022:tech:xsd:{SEPA_SCHEMA}"


def euros(cents: int) -> str:
    """12345 -> "123.45" (the decimal notation of bank files)."""
    sign = "-" if cents < 0 else ""
    return f"{sign}{abs(cents) // 100}.{abs(cents) % 100:02d}"


def _latin(text: str, limit: int) -> str:
    """The SEPA character set (Latin letters, digits, a few signs): accents dropped."""
    from text_unidecode import unidecode

    plain = re.sub(r"[^A-Za-z0-9/\-?:().,'+ ]", " ", unidecode(text))
    return " ".join(plain.split())[:limit] or "-"


def business_day_after(day: date) -> date:
    """The first day after ``day`` on which Belgian banks execute a transfer: a
    weekday that is neither a Belgian public holiday nor a day the euro's
    settlement system (TARGET2) is closed (Good Friday, 26 December)."""
    years = [day.year, day.year + 1]
    closed = holidays.country_holidays("BE", years=years) | holidays.financial_holidays(
        "XECB", years=years
    )
    following = day + timedelta(days=1)
    while following.weekday() >= 5 or following in closed:
        following += timedelta(days=1)
    return following


def sepa_xml(
    scheme: Scheme,
    settlement: Settlement,
    lines: list[SettlementLine],
    names: Mapping[int, str],
    now: datetime,
) -> str:
    """A pain.001.001.03 credit-transfer initiation, checked against its XSD.

    Each transfer carries the shop's Belgian structured communication
    (CdtrRefInf, type SCOR, issuer BBA), which Belgian banks show as +++.../...+++.
    """
    def sub(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
        element = ET.SubElement(parent, tag, attrs)
        if text is not None:
            element.text = text
        return element

    total = euros(sum(line.payout_cents for line in lines))
    count = str(len(lines))
    message_id = f"LS-{scheme.id}-{settlement.period}-{settlement.id}"
    local = now.astimezone(ZoneInfo(scheme.timezone))
    execution = business_day_after(local.date())

    root = ET.Element("Document", {"xmlns": SEPA_NS})
    initiation = sub(root, "CstmrCdtTrfInitn")
    header = sub(initiation, "GrpHdr")
    sub(header, "MsgId", message_id)
    sub(header, "CreDtTm", local.replace(microsecond=0, tzinfo=None).isoformat())
    sub(header, "NbOfTxs", count)
    sub(header, "CtrlSum", total)
    sub(sub(header, "InitgPty"), "Nm", _latin(scheme.name, 70))
    info = sub(initiation, "PmtInf")
    sub(info, "PmtInfId", message_id)
    sub(info, "PmtMtd", "TRF")
    sub(info, "BtchBookg", "true")
    sub(info, "NbOfTxs", count)
    sub(info, "CtrlSum", total)
    sub(sub(sub(info, "PmtTpInf"), "SvcLvl"), "Cd", "SEPA")
    sub(info, "ReqdExctnDt", execution.isoformat())
    sub(sub(info, "Dbtr"), "Nm", _latin(scheme.name, 70))
    sub(sub(sub(info, "DbtrAcct"), "Id"), "IBAN", scheme.iban or "")
    sub(sub(sub(info, "DbtrAgt"), "FinInstnId"), "BIC", scheme.bic or "")
    sub(info, "ChrgBr", "SLEV")
    for line in lines:
        transfer = sub(info, "CdtTrfTxInf")
        sub(sub(transfer, "PmtId"), "EndToEndId", f"LS-{settlement.period}-{line.merchant_id}")
        sub(sub(transfer, "Amt"), "InstdAmt", euros(line.payout_cents), Ccy="EUR")
        sub(sub(sub(transfer, "CdtrAgt"), "FinInstnId"), "BIC", line.bic or "")
        sub(sub(transfer, "Cdtr"), "Nm",
            _latin(line.account_holder or names.get(line.merchant_id, ""), 70))
        sub(sub(sub(transfer, "CdtrAcct"), "Id"), "IBAN", line.iban or "")
        reference = sub(sub(sub(transfer, "RmtInf"), "Strd"), "CdtrRefInf")
        kind = sub(reference, "Tp")
        sub(sub(kind, "CdOrPrtry"), "Cd", "SCOR")
        sub(kind, "Issr", "BBA")
        sub(reference, "Ref", line.reference)
    ET.indent(root)
    xml = ET.tostring(root, encoding="UTF-8", xml_declaration=True)
    validate_sepa(xml)
    return xml.decode("utf-8")


def validate_sepa(xml: bytes) -> None:
    """Validate against the official pain.001.001.03 XSD (shipped with sepaxml).

    Raises ValueError with the validator's explanation.
    """
    import xmlschema
    from sepaxml import validation

    schema = xmlschema.XMLSchema(_schema_path(validation.__file__))
    errors = [str(error) for error in schema.iter_errors(xml.decode("utf-8"))]
    if errors:
        raise ValueError("the SEPA file does not match its XSD: " + errors[0])


def _schema_path(validation_module: str) -> str:
    from pathlib import Path

    return str(Path(validation_module).parent / "schemas" / f"{SEPA_SCHEMA}.xsd")
