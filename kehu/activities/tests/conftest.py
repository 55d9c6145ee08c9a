"""Customers the interaction tests share: one Bob cannot see, one that is Bob's."""

import pytest

from kehu.core.context import tenant_scope
from kehu.parties import services as party_services
from kehu.parties.models import Party, PartyKind
from kehu.tenancy.models import User


def make_party(owner: User, name: str) -> Party:
    with tenant_scope(owner.tenant_id):  # type: ignore[arg-type]
        return party_services.party_create(actor=owner, kind=PartyKind.ORGANISATION, name=name)


@pytest.fixture
def bytedance(alice: User) -> Party:
    """Alice's customer: Dora (sees all) sees it, Bob (sees his own) does not."""
    return make_party(alice, "北京字节跳动科技有限公司")


@pytest.fixture
def bobs_party(bob: User) -> Party:
    return make_party(bob, "杭州阿里巴巴网络技术有限公司")
