"""The duplicate pages: the review queue, one pair side by side with the merge form,
dismiss, the full scan, and the merges with their undo. Managers only (403 for anyone
else); a pair or merge of another firm is a 404."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from kehu.dataio import duplicates, merge
from kehu.dataio.models import CandidateStatus, DuplicateScan
from kehu.parties.models import Party
from kehu.tenancy.views import MemberRequest, member_required

QUEUE_SIZE = 50


@member_required
def queue(request: MemberRequest) -> HttpResponse:
    duplicates.require_dedup(request.user)
    context = {
        "nav": "parties",
        "candidates": list(duplicates.open_candidates()[:QUEUE_SIZE]),
        "scan": DuplicateScan.objects.order_by("-id").first(),
        "merges": list(duplicates.recent_merges()[:10]),
    }
    return render(request, "dataio/duplicates.html", context)


@require_POST
@member_required
def scan(request: MemberRequest) -> HttpResponse:
    duplicates.require_dedup(request.user)
    duplicates.scan_start(actor=request.user)
    messages.success(request, _("已开始扫描重复客户。"))
    return redirect("duplicates:queue")


def _rows(a: Party, b: Party) -> list[tuple[str, str, str, str]]:
    """(field, label, a's value, b's value) for the merge form."""
    rows = []
    for name in merge.MERGE_FIELDS:
        field = merge.concrete_field(Party, name)
        values = [
            str(getattr(p, f"get_{name}_display")() if field.choices else getattr(p, name))
            for p in (a, b)
        ]
        rows.append((name, str(field.verbose_name), values[0], values[1]))
    return rows


@member_required
def candidate(request: MemberRequest, pk: int) -> HttpResponse:
    """One pair side by side; POST merges it with the choices made."""
    found = duplicates.get_candidate_for_user(request.user, pk)
    a, b = found.party_a, found.party_b
    error = ""
    if request.method == "POST" and found.status == CandidateStatus.OPEN:
        keep = request.POST.get("survivor", "a")
        survivor, loser = (a, b) if keep == "a" else (b, a)
        side = {
            "a": "survivor" if keep == "a" else "loser",
            "b": "loser" if keep == "a" else "survivor",
        }
        choices = {n: side.get(request.POST.get(n, keep), "survivor") for n in merge.MERGE_FIELDS}
        try:
            record = merge.party_merge(
                actor=request.user, survivor=survivor, loser=loser, choices=choices, candidate=found
            )
        except ValidationError as exc:
            error = "；".join(exc.messages)
        else:
            messages.success(request, _("已合并为「%(name)s」。") % {"name": record.survivor.name})
            return redirect("duplicates:queue")
    context = {"nav": "parties", "candidate": found, "rows": _rows(a, b), "error": error}
    return render(request, "dataio/duplicate.html", context, status=422 if error else 200)


@require_POST
@member_required
def dismiss(request: MemberRequest, pk: int) -> HttpResponse:
    found = duplicates.get_candidate_for_user(request.user, pk)
    duplicates.candidate_dismiss(actor=request.user, candidate=found)
    messages.success(request, _("已标记为不是重复。"))
    return redirect("duplicates:queue")


@require_POST
@member_required
def undo(request: MemberRequest, pk: int) -> HttpResponse:
    record = duplicates.get_merge_for_user(request.user, pk)
    try:
        merge.party_merge_undo(actor=request.user, record=record)
    except ValidationError as exc:
        messages.error(request, "；".join(exc.messages))
    else:
        messages.success(request, _("已撤销合并。"))
    return redirect("duplicates:queue")
