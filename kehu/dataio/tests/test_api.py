"""The import flow through the API: upload, mapping, dry run, run, rows, error file."""

from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import TestCase

from kehu.core.context import tenant_scope
from kehu.core.tests.test_api_problems import api_client, assert_problem
from kehu.dataio import services
from kehu.dataio.tests.conftest import csv_bytes
from kehu.parties.models import Party
from kehu.tenancy.models import User

ROWS = [
    ["客户名称", "手机", "Email"],
    ["甲公司", "13812345678", "a@jia.cn"],
    ["乙公司", "1", "b@yi.cn"],
]


def _upload(client: Any) -> Any:
    return client.post(
        "/api/v1/imports", {"file": SimpleUploadedFile("a.csv", csv_bytes(ROWS, "gbk"))}
    )


def test_the_whole_flow(alice: User) -> None:
    client = api_client(alice)
    created = _upload(client)
    assert created.status_code == 201, created.content
    job = created.json()
    assert (job["encoding"], job["mapping"]) == (
        "gb18030",
        {"0": "name", "1": "mobile", "2": "email"},
    )
    assert {"key": "mobile", "label": "手机", "many": True} in job["fields"]
    path = f"/api/v1/imports/{job['id']}"
    mapping = {"mapping": {"0": "name", "1": "mobile"}, "options": {"key": "name"}}
    assert client.put(f"{path}/mapping", mapping, content_type="application/json").json()[
        "mapping"
    ] == {"0": "name", "1": "mobile"}
    checked = client.post(f"{path}/dry-run").json()
    assert (checked["status"], checked["counts"]) == ("checked", {"created": 1, "refused": 1})
    refused = client.get(f"{path}/rows?outcome=refused").json()
    assert refused["items"][0]["number"] == 3 and "「手机」列" in refused["items"][0]["messages"][0]
    with TestCase.captureOnCommitCallbacks(execute=True):
        started = client.post(f"{path}/run")
    assert started.status_code == 202
    done = client.get(path).json()
    assert (done["status"], done["percent"], done["counts"]) == (
        "done",
        100,
        {"created": 1, "refused": 1},
    )
    with tenant_scope(alice.tenant_id):  # type: ignore[arg-type]
        assert list(Party.objects.values_list("name", flat=True)) == ["甲公司"]
    errors = client.get(f"{path}/errors")
    assert b"".join(errors.streaming_content).decode().count("\n") == 2  # type: ignore[attr-defined]


def test_a_bad_mapping_is_a_validation_problem(alice: User) -> None:
    client = api_client(alice)
    job = _upload(client).json()
    response = client.put(
        f"/api/v1/imports/{job['id']}/mapping",
        {"mapping": {"0": "no_such_field"}},
        content_type="application/json",
    )
    assert_problem(response, 422)
    assert "不是可导入的字段" in response.json()["detail"]


def test_an_unsupported_file_is_a_validation_problem(alice: User) -> None:
    response = api_client(alice).post(
        "/api/v1/imports", {"file": SimpleUploadedFile("a.doc", b"x")}
    )
    assert_problem(response, 422)
    assert response.json()["errors"][0]["field"] == "file"


def test_list_query_count_is_pinned(alice: User, django_assert_num_queries: Any) -> None:
    client = api_client(alice)
    for _ in range(4):
        _upload(client)
    # token (with its user), count, page (with the uploader joined)
    with django_assert_num_queries(3):
        response = client.get("/api/v1/imports")
    assert response.json()["count"] == 4


@pytest.mark.usefixtures("in_acme")
def test_rows_query_count_is_pinned(alice: User, django_assert_num_queries: Any) -> None:
    job = services.import_upload(
        actor=alice, file=SimpleUploadedFile("a.csv", csv_bytes(ROWS * 10))
    )
    services.import_dry_run(actor=alice, job=job)
    client = api_client(alice)
    with django_assert_num_queries(5):
        response = client.get(f"/api/v1/imports/{job.pk}/rows")
    assert response.json()["count"] == 29
