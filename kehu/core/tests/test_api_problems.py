"""Problem details (RFC 9457), and the helpers every API test module uses."""

from typing import TYPE_CHECKING, Any

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError
from django.test import Client

from kehu.core.context import tenant_scope
from kehu.core.problems import errors_from_django, errors_under, field_path
from kehu.parties.models import Party
from kehu.tenancy.models import User
from kehu.tenancy.services import api_token_create

if TYPE_CHECKING:
    from django.test.client import _MonkeyPatchedWSGIResponse as Response

PROBLEM_KEYS = {"type", "title", "status", "detail", "instance"}


def api_client(user: User) -> Client:
    """A client that calls the API with a fresh personal token of `user`."""
    assert user.tenant_id is not None
    with tenant_scope(user.tenant_id):
        _token, raw = api_token_create(actor=user, name="tests")
    return Client(HTTP_AUTHORIZATION=f"Bearer {raw}")


def assert_problem(response: "Response", status: int) -> dict[str, Any]:
    """The response is a problem detail with this status; returns its body."""
    assert response.status_code == status, response.content.decode()
    assert response["Content-Type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert body.keys() >= PROBLEM_KEYS
    assert body["status"] == status
    assert body["title"] and body["detail"]
    return body


def field_errors(response: "Response", status: int = 422) -> dict[str | None, str]:
    """{field path: message} of a validation (or conflict) problem."""
    body = assert_problem(response, status)
    return {e["field"]: e["message"] for e in body["errors"]}


def test_field_path_writes_indexes_in_brackets() -> None:
    assert field_path(["contacts", 0, "value"]) == "contacts[0].value"
    assert field_path(["name"]) == "name"
    assert field_path([]) is None


def test_errors_under_prefixes_fields_and_keeps_the_cause() -> None:
    cause = IntegrityError("unique")
    with pytest.raises(ValidationError) as exc, errors_under("contacts[2]"):
        try:
            raise cause
        except IntegrityError as e:
            raise ValidationError({"value": ["坏号码"], "__all__": ["重复"]}) from e
    assert exc.value.message_dict == {"contacts[2].value": ["坏号码"], "contacts[2]": ["重复"]}
    assert exc.value.__cause__ is not None
    assert exc.value.__cause__.__cause__ is cause


def test_errors_under_maps_the_items_own_field_to_the_item() -> None:
    with pytest.raises(ValidationError) as exc, errors_under("tags[0]", item_field="name"):
        raise ValidationError({"name": ["标签应为 1–30 个字符。"]})
    assert exc.value.message_dict == {"tags[0]": ["标签应为 1–30 个字符。"]}


def test_errors_from_django_handles_lists_and_dicts() -> None:
    assert errors_from_django(ValidationError("整体错误")) == [
        {"field": None, "message": "整体错误"}
    ]
    assert errors_from_django(ValidationError({"name": ["太长"]})) == [
        {"field": "name", "message": "太长"}
    ]


def test_malformed_json_is_a_400_problem(alice: User) -> None:
    response = api_client(alice).post(
        "/api/v1/parties", "{not json", content_type="application/json"
    )
    body = assert_problem(response, 400)
    assert body["instance"] == "/api/v1/parties"


def test_validation_problem_names_fields_in_chinese(alice: User) -> None:
    response = api_client(alice).post(
        "/api/v1/parties",
        {"kind": "alien", "name": "长" * 101, "nickname": "x"},
        content_type="application/json",
    )
    body = assert_problem(response, 422)
    assert body["type"] == "/api/v1/problems/validation-error"
    errors = {e["field"]: e["message"] for e in body["errors"]}
    assert errors["name"] == "最多 100 个字符。"
    assert errors["kind"].startswith("应为以下之一：")
    assert errors["nickname"] == "不支持这个字段。"


def test_a_conflict_is_409_with_the_field(alice: User) -> None:
    client = api_client(alice)
    org = {"kind": "organisation", "name": "甲公司", "uscc": "91350100M000100Y43"}
    assert client.post("/api/v1/parties", org, content_type="application/json").status_code == 201
    org["name"] = "乙公司"
    response = client.post("/api/v1/parties", org, content_type="application/json")
    assert "uscc" in field_errors(response, 409)
    with tenant_scope(alice.tenant_id):  # type: ignore[arg-type]
        assert Party.objects.count() == 1


def test_an_unknown_api_path_is_a_404_problem(alice: User) -> None:
    client = api_client(alice)
    assert_problem(client.get("/api/v1/customers"), 404)
    assert_problem(client.post("/api/v1/parties/", {}, content_type="application/json"), 404)
    assert_problem(Client().get("/api/v1/customers"), 401)


def test_a_method_the_path_does_not_take_is_a_405_problem(alice: User) -> None:
    client = api_client(alice)
    response = client.put("/api/v1/parties", {}, content_type="application/json")
    body = assert_problem(response, 405)
    allowed = {m.strip() for m in response["Allow"].split(",")}
    assert allowed == {"GET", "POST"}
    assert "PUT" in body["detail"] and "GET" in body["detail"]
    with tenant_scope(alice.tenant_id):  # type: ignore[arg-type]
        assert Party.objects.count() == 0


def test_the_405_problem_is_translated(alice: User) -> None:
    response = api_client(alice).delete("/api/v1/parties", HTTP_ACCEPT_LANGUAGE="en")
    body = assert_problem(response, 405)
    assert body["title"] == "Method not allowed"
    assert body["detail"].startswith("This address does not accept DELETE")
