"""The owner's webhooks: the shop's own systems hear of its sales and spend codes."""

from __future__ import annotations

from typing import Any

from flask import abort, current_app, redirect, request, url_for
from flask_babel import gettext as _

from loyalty.errors import Conflict, Forbidden, InvalidInput, NotFound
from loyalty.infra.db import utcnow
from loyalty.shops import webhooks
from loyalty.web import confirm, db
from loyalty.web.signin import current_staff, staff_required
from merchant_portal.common import NOT_APPROVED, OWNER, bp, current_merchant, render
from merchant_portal.forms import ActionForm
from merchant_portal.owner_forms import WebhookForm


def _url_error(code: str) -> str:
    return {
        "https_required": _("The address must start with https://."),
        "private_address": _("The address must be reachable on the internet, not a "
                             "private network."),
        "too_many_webhooks": _("Your shop has the most webhooks it may have: deactivate "
                               "one first."),
    }.get(code, _("This is not a web address such as https://kassa.example.be/events."))


def _page(status: int, form: WebhookForm | None = None, secret: str | None = None) -> Any:
    merchant = current_merchant()
    return render(
        "owner_webhooks.html", status,
        form=form or WebhookForm(formdata=None), endpoints=webhooks.endpoints_of(db(), merchant.id),
        secret=secret, done=request.args.get("done"),
    )


@bp.route("/webhooks", methods=["GET", "POST"])
@staff_required(*OWNER)
def webhooks_page() -> Any:
    """The shop's webhooks and a form for a new one; its secret is shown on this answer only."""
    form = WebhookForm()
    if not form.is_submitted():
        return _page(200, form)
    if not form.validate_on_submit():
        return _page(422, form)
    chosen = form.chosen_events()
    if not chosen:
        form.claim_collected.errors = [_("Choose at least one event.")]
        return _page(422, form)
    try:
        endpoint = webhooks.create_endpoint(
            db(), current_merchant(), form.address.data or "", chosen, current_staff().user,
            utcnow(), allow_local=webhooks.allows_local(current_app.config),
        )
    except Forbidden:
        form.address.errors = [str(NOT_APPROVED)]
        return _page(403, form)
    except (InvalidInput, Conflict) as error:
        form.address.errors = [_url_error(error.code)]
        return _page(422, form)
    return _page(201, secret=endpoint.secret)


@bp.post("/webhooks/<int:webhook_id>/deactivate")
@staff_required(*OWNER)
def webhook_deactivate(webhook_id: int) -> Any:
    if not ActionForm().validate_on_submit():
        abort(400)
    try:
        endpoint = webhooks.endpoint_of(db(), current_merchant().id, webhook_id)
    except NotFound:
        abort(404)
    if not confirm.confirmed():
        return confirm.ask(render, confirm.Question(
            _("Deactivate the webhook to %(url)s?", url=endpoint.url),
            _("Your system no longer hears of new events, and deliveries still waiting "
              "are not sent. To start again, add the address anew."),
            _("Yes, deactivate"), url_for("portal.webhooks_page")))
    webhooks.deactivate(db(), current_merchant().id, webhook_id, utcnow())
    return redirect(url_for("portal.webhooks_page", done="deactivated"), 303)


@bp.get("/webhooks/<int:webhook_id>")
@staff_required(*OWNER)
def webhook_log(webhook_id: int) -> Any:
    """The webhook's latest deliveries: event, status, attempts, time."""
    try:
        endpoint = webhooks.endpoint_of(db(), current_merchant().id, webhook_id)
    except NotFound:
        abort(404)
    return render("owner_webhook_log.html", endpoint=endpoint,
                  deliveries=webhooks.deliveries(db(), endpoint))
