"""Shopping clusters: the admin names the town's shopping centres and puts each shop
in one (and in its village), uploads footfall counts; staff read the report per
cluster (spending, who comes from which village, purchases per 100 passers-by)."""

from __future__ import annotations

from datetime import date
from typing import Any

import sqlalchemy as sa
from flask import abort, redirect, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from loyalty.analytics import cluster_reports, footfall, periods, release, report_kit
from loyalty.analytics.periods import Period
from loyalty.errors import Conflict, InvalidInput, NotFound
from loyalty.models import Merchant, MerchantStatus, Scheme
from loyalty.oversight import audit
from loyalty.town import clusters
from loyalty.web import confirm, db, i18n
from loyalty.web.signin import current_staff, staff_required
from municipality_dashboard.common import ADMIN, STAFF, bp, current_scheme, render
from municipality_dashboard.forms import ActionForm, ClusterForm, FootfallForm

FOOTFALL_ERRORS = {
    "missing_header": _l("The first line must be the header: counter,timestamp,count."),
    "wrong_columns": _l("Three columns are needed: counter, timestamp, count."),
    "no_counter": _l("The counter's name is missing or longer than 80 characters."),
    "bad_timestamp": _l("Not a date and time like 2026-11-14T10:00."),
    "not_on_the_hour": _l("A count is for a whole hour: the time must be on the hour."),
    "bad_count": _l("The count must be a whole number of 0 or more."),
    "duplicate": _l("This counter and hour are in the file twice."),
}
NONE = ""


def _shops() -> list[Merchant]:
    return list(db().scalars(
        sa.select(Merchant).where(Merchant.scheme_id == current_scheme().id,
                                  Merchant.status != MerchantStatus.REFUSED)
        .order_by(Merchant.name)))


def _page(status: int = 200, **context: Any) -> Any:
    scheme = current_scheme()
    session = db()
    return render(
        "clusters.html", status,
        scheme=scheme,
        clusters=clusters.clusters(session, scheme.id),
        shops=_shops(),
        counters=footfall.counters(session, scheme.id),
        form=context.pop("form", None) or ClusterForm(),
        upload=context.pop("upload", None) or FootfallForm(),
        action=ActionForm(),
        done=request.args.get("done"),
        **context,
    )


@bp.get("/clusters")
@staff_required(*ADMIN)
def clusters_page() -> Any:
    return _page()


@bp.post("/clusters")
@staff_required(*ADMIN)
def cluster_create() -> Any:
    form = ClusterForm()
    if not form.validate_on_submit():
        return _page(400, form=form)
    try:
        clusters.create_cluster(db(), current_scheme(), current_staff().user,
                                form.name.data or "")
    except Conflict:
        form.name.errors = [_("There is already a cluster of that name.")]
        return _page(409, form=form)
    except InvalidInput:
        form.name.errors = [_("Give a name of at most 80 characters.")]
        return _page(400, form=form)
    return redirect(url_for("dashboard.clusters_page", done="created"), 303)


@bp.post("/clusters/<int:cluster_id>/delete")
@staff_required(*ADMIN)
def cluster_delete(cluster_id: int) -> Any:
    if not ActionForm().validate_on_submit():
        abort(400)
    scheme = current_scheme()
    try:
        cluster = clusters.get_cluster(db(), scheme.id, cluster_id)
    except NotFound:  # another scheme's, or removed meanwhile
        abort(404)
    if not confirm.confirmed():
        return confirm.ask(render, confirm.Question(
            _("Remove the cluster %(name)s?", name=cluster.name),
            _("Its shops and footfall counters then belong to no cluster. Statistics "
              "released earlier keep it."),
            _("Yes, remove"), url_for("dashboard.clusters_page")))
    clusters.delete_cluster(db(), scheme, current_staff().user, cluster)
    return redirect(url_for("dashboard.clusters_page", done="deleted"), 303)


def _optional_int(raw: str | None) -> int | None:
    if raw in (None, NONE):
        return None
    try:
        return int(raw)
    except ValueError:
        abort(400)


@bp.post("/clusters/shops")
@staff_required(*ADMIN)
def cluster_shops() -> Any:
    """Every shop's village and cluster, from one form (fields village-<id>, cluster-<id>)."""
    if not ActionForm().validate_on_submit():
        abort(400)
    wanted: dict[int, clusters.Placement] = {}
    for shop in _shops():
        if f"cluster-{shop.id}" not in request.form:
            continue
        village = request.form.get(f"village-{shop.id}", NONE) or None
        wanted[shop.id] = clusters.Placement(
            village, _optional_int(request.form.get(f"cluster-{shop.id}")))
    try:
        clusters.place_shops(db(), current_scheme(), current_staff().user, wanted)
    except InvalidInput:
        return _page(400, error=_("Choose a village of the list and one of the clusters."))
    return redirect(url_for("dashboard.clusters_page", done="placed"), 303)


@bp.post("/clusters/counters")
@staff_required(*ADMIN)
def cluster_counters() -> Any:
    if not ActionForm().validate_on_submit():
        abort(400)
    scheme = current_scheme()
    wanted = {
        counter.id: _optional_int(request.form.get(f"counter-{counter.id}"))
        for counter in footfall.counters(db(), scheme.id)
        if f"counter-{counter.id}" in request.form
    }
    try:
        clusters.assign_counters(db(), scheme, current_staff().user, wanted)
    except InvalidInput:
        return _page(400, error=_("Choose one of the clusters."))
    return redirect(url_for("dashboard.clusters_page", done="counters"), 303)


@bp.post("/footfall")
@staff_required(*ADMIN)
def footfall_upload() -> Any:
    """A footfall file: refused as a whole with every bad line named, or stored."""
    upload = FootfallForm()
    if not upload.validate_on_submit():
        return _page(400, upload=upload)
    data = upload.file.data.read(footfall.MAX_BYTES + 1)
    if len(data) > footfall.MAX_BYTES:
        upload.file.errors = [_("The file is larger than 5 MB.")]
        return _page(400, upload=upload)
    scheme = current_scheme()
    parsed = footfall.parse(data, scheme.timezone)
    if parsed.errors:
        return _page(400, upload=upload, line_errors=[
            (error.line, str(FOOTFALL_ERRORS[error.code]), error.value)
            for error in parsed.errors
        ], more_errors=parsed.error_lines - len(parsed.errors))
    if not parsed.counts:
        upload.file.errors = [_("The file has no counts.")]
        return _page(400, upload=upload)
    stored = footfall.store(db(), scheme, parsed.counts)
    audit.record(db(), current_staff().user, "footfall.import", scheme,
                 {"counts": stored.counts, "counters": stored.counters})
    return _page(imported=stored)


def _period(scheme: Scheme) -> tuple[Period, str | None]:
    """The period of the query string (the last full month by default), and an error
    for dates that are not dates or not in order."""
    today = report_kit.today_local(scheme)
    raw = [request.args.get(name, "").strip() for name in ("from", "to")]
    try:
        start, end = (date.fromisoformat(value) if value else None for value in raw)
        return periods.parse(start, end, today), None
    except (ValueError, InvalidInput):
        return periods.parse(None, None, today), _("Give dates as YYYY-MM-DD, the start "
                                                   "before the end, at most three years.")


@bp.get("/clusters/report")
@staff_required(*STAFF)
def cluster_report() -> Any:
    """Spending per cluster, the flow from home villages to clusters, and footfall."""
    scheme = current_scheme()
    session = db()
    period, error = _period(scheme)
    homes = {
        release.OWN_MUNICIPALITY: _("%(municipality)s, village not given",
                                    municipality=scheme.name),
        release.OTHER_AREA: _("Elsewhere"),
        "unknown": _("Not given"),
    }
    return render(
        "cluster_report.html", 400 if error else 200,
        scheme=scheme,
        period=period,
        error=error,
        last_released=release.last_released_day(session, scheme.id),
        spending=cluster_reports.spending(session, scheme, period),
        flow=cluster_reports.flow(session, scheme, period),
        home_label=lambda key: homes.get(key, key.removeprefix("village:")),
        conversion=footfall.conversion(session, scheme, period),
        names={c.id: c.name for c in clusters.clusters(session, scheme.id)},
        k=scheme.k_anonymity,
        decimal=i18n.decimal,
    )
