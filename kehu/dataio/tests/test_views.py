"""The import pages: the flow as a user clicks it, who may open each page, query counts,
and the error file."""

import csv
import io
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from conftest import _user, login
from kehu.core.context import tenant_scope
from kehu.dataio import services
from kehu.dataio.models import Import, ImportRow, ImportStatus, MappingTemplate
from kehu.dataio.tests.conftest import csv_bytes, upload
from kehu.parties.models import Party
from kehu.tenancy.models import Role, Tenant, User, Visibility

HEADER = ["公司", "手机", "备注"]
BAD = ['=HYPERLINK("http://evil")', "12345", "@SUM(A1)"]
GOOD = ["深圳腾飞科技有限公司", "13812345678", "老客户"]


def _gbk_file(rows: list[list[str]] | None = None) -> Any:
    return upload("客户.csv", csv_bytes([HEADER, *(rows or [GOOD, BAD])], "gbk"))


def _job(alice: User, rows: list[list[str]] | None = None) -> Import:
    with tenant_scope(alice.tenant_id):  # type: ignore[arg-type]
        return services.import_upload(actor=alice, file=_gbk_file(rows))


def _checked(alice: User) -> Import:
    job = _job(alice)
    with tenant_scope(alice.tenant_id):  # type: ignore[arg-type]
        return services.import_dry_run(actor=alice, job=job)


def _text(response: Any) -> str:
    return str(response.content.decode())


def test_upload_map_dry_run_and_run_through_the_pages(
    alice: User, django_capture_on_commit_callbacks: Any
) -> None:
    client = login(alice)
    response = client.post(reverse("dataio:list"), {"file": _gbk_file()})
    job = Import.all_tenants.get()
    assert response.status_code == 302 and response["Location"] == reverse(
        "dataio:detail", args=[job.pk]
    )
    page = _text(client.get(response["Location"]))
    assert (
        "gb18030" in page and 'value="name" selected' in page and 'value="mobile" selected' in page
    )
    form = {
        "col_0": "name",
        "col_1": "mobile",
        "col_2": "description",
        "duplicates": "skip",
        "default_kind": "organisation",
        "action": "dry_run",
    }
    client.post(reverse("dataio:detail", args=[job.pk]), form)
    job.refresh_from_db()
    assert (job.status, job.counts) == (ImportStatus.CHECKED, {"created": 1, "refused": 1})
    report = _text(client.get(reverse("dataio:detail", args=[job.pk]) + "?outcome=refused"))
    assert "第 3 行，「手机」列：不是有效的手机号码：12345" in report
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("dataio:start", args=[job.pk]))
    job.refresh_from_db()
    assert job.status == ImportStatus.DONE
    with tenant_scope(alice.tenant_id):  # type: ignore[arg-type]
        party = Party.objects.get()
    assert (party.name, party.description) == ("深圳腾飞科技有限公司", "老客户")
    result = _text(client.get(reverse("dataio:detail", args=[job.pk]) + "?outcome=created"))
    assert reverse("parties:detail", args=[party.pk]) in result


def test_a_mapping_without_a_name_is_refused_on_the_page(alice: User) -> None:
    job = _job(alice)
    response = login(alice).post(
        reverse("dataio:detail", args=[job.pk]),
        {"col_1": "mobile", "duplicates": "skip", "default_kind": "organisation"},
    )
    assert response.status_code == 422
    assert "请至少指定「客户名称」或「联系人」所在的列。" in _text(response)


def test_an_unreadable_file_is_refused_with_a_reason(alice: User) -> None:
    response = login(alice).post(reverse("dataio:list"), {"file": upload("客户.pdf", b"%PDF")})
    assert response.status_code == 422
    assert "不支持的文件类型" in _text(response)


def test_the_progress_fragment_polls_while_running_and_reloads_when_done(alice: User) -> None:
    job = _checked(alice)
    client = login(alice)
    response = client.get(reverse("dataio:progress", args=[job.pk]), headers={"HX-Request": "true"})
    assert response["HX-Refresh"] == "true"  # the dry run is over: show the report
    assert "<progress" in _text(response)


def test_a_template_is_saved_and_applied_to_the_next_file(alice: User) -> None:
    job = _job(alice)
    client = login(alice)
    with tenant_scope(alice.tenant_id):  # type: ignore[arg-type]
        services.import_set_mapping(
            actor=alice, job=job, mapping={"0": "name", "2": "tags"}, options={}
        )
    client.post(reverse("dataio:template", args=[job.pk]), {"name": "老系统导出"})
    with tenant_scope(alice.tenant_id):  # type: ignore[arg-type]
        assert MappingTemplate.objects.get().columns == {"公司": "name", "备注": "tags"}
    assert _job(alice).mapping == {"0": "name", "2": "tags"}  # not the guess (备注 → 备注)


def test_the_error_file_has_the_original_rows_an_error_column_and_no_formulas(alice: User) -> None:
    job = _checked(alice)
    response = login(alice).get(reverse("dataio:errors", args=[job.pk]))
    assert response["Content-Type"].startswith("text/csv")
    body = b"".join(response.streaming_content).decode("utf-8")  # type: ignore[attr-defined]
    assert body.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(body.lstrip("\ufeff"))))
    assert rows[0] == [*HEADER, "错误"]
    assert rows[1][:3] == ["'" + BAD[0], BAD[1], "'" + BAD[2]]
    assert "不是有效的手机号码" in rows[1][3]
    assert len(rows) == 2


# Who may do what.

PAGES = ["detail", "progress", "errors"]
WRITES = ["detail", "template", "start", "resume"]


def _snapshot(tenant: Tenant) -> Any:
    with tenant_scope(tenant.pk):
        return (
            list(Import.objects.values_list("pk", "status", "mapping", "rows_done")),
            ImportRow.objects.count(),
            MappingTemplate.objects.count(),
            Party.objects.count(),
        )


@pytest.mark.parametrize("name", PAGES)
@pytest.mark.parametrize("persona", ["bob", "dora", "charlie"])
def test_others_cannot_see_an_import(
    name: str, persona: str, alice: User, request: pytest.FixtureRequest
) -> None:
    job = _checked(alice)
    response = login(request.getfixturevalue(persona)).get(reverse(f"dataio:{name}", args=[job.pk]))
    assert response.status_code == 404


@pytest.mark.parametrize("name", WRITES)
@pytest.mark.parametrize("persona", ["bob", "dora", "charlie"])
def test_others_cannot_change_an_import(
    name: str, persona: str, alice: User, acme: Tenant, request: pytest.FixtureRequest
) -> None:
    job = _checked(alice)
    before = _snapshot(acme)
    data = {"col_0": "name", "duplicates": "skip", "default_kind": "organisation", "name": "模板"}
    response = login(request.getfixturevalue(persona)).post(
        reverse(f"dataio:{name}", args=[job.pk]), data
    )
    assert response.status_code == 404
    assert _snapshot(acme) == before


def test_a_read_only_colleague_may_not_upload(dora: User, acme: Tenant) -> None:
    before = _snapshot(acme)
    response = login(dora).post(reverse("dataio:list"), {"file": _gbk_file()})
    assert response.status_code == 403
    assert _snapshot(acme) == before
    assert login(dora).get(reverse("dataio:list")).status_code == 200


def test_a_manager_sees_a_colleagues_import(alice: User, acme: Tenant) -> None:
    job = _job(alice)
    manager = _user(acme, "mona", Role.MANAGER, Visibility.OWN)
    assert login(manager).get(reverse("dataio:detail", args=[job.pk])).status_code == 200
    assert "客户.csv" in _text(login(manager).get(reverse("dataio:list")))


def test_the_list_shows_only_my_imports(alice: User, bob: User, charlie: User) -> None:
    _job(alice)
    assert "客户.csv" in _text(login(alice).get(reverse("dataio:list")))
    assert "还没有导入过文件" in _text(login(bob).get(reverse("dataio:list")))
    assert "还没有导入过文件" in _text(login(charlie).get(reverse("dataio:list")))


def test_list_query_count_is_pinned(alice: User, django_assert_num_queries: Any) -> None:
    for _ in range(5):
        _job(alice)
    client = login(alice)
    # session, user, tenant (top bar), count, page (with the uploader joined)
    with django_assert_num_queries(5):
        response = client.get(reverse("dataio:list"))
    assert _text(response).count("客户.csv") == 5


def test_report_query_count_is_pinned(alice: User, django_assert_num_queries: Any) -> None:
    job = _job(alice, [GOOD, BAD] * 20)
    with tenant_scope(alice.tenant_id):  # type: ignore[arg-type]
        services.import_dry_run(actor=alice, job=job)
    client = login(alice)
    # session, user, import, tenant (top bar), templates, row count, row page
    with django_assert_num_queries(7):
        response = client.get(reverse("dataio:detail", args=[job.pk]))
    assert _text(response).count('data-outcome="refused"') >= 20


def test_pages_need_sign_in(alice: User) -> None:
    job = _job(alice)
    response = Client().get(reverse("dataio:detail", args=[job.pk]))
    assert response.status_code == 302 and "/login/" in response["Location"]
