"""Finding parties by any part of the name, pinyin, initials, phone or email.

Every party has a few search keys (see `keys_for`); a query is normalised the same way
and matched as a prefix of a key, which is one B-tree range on SQLite and PostgreSQL
alike. Keys of the name start at every character, so a prefix of a key is any substring
of the name: 字节 finds 北京字节跳动科技有限公司, zs and zhangsan find 张三.
"""

from collections.abc import Iterable

from django.db.models import QuerySet

from kehu.parties import normalize
from kehu.parties.models import ContactKind, ContactPoint, Party, SearchKey

KEY_LENGTH = 40
# A search reads at most this many keys; a query that matches more asks to be refined.
SEARCH_CAP = 1000


def keys_for(name: str, contacts: Iterable[tuple[str, str]]) -> set[str]:
    """The search keys of a party with this name and (kind, value) contact points."""
    text = normalize.search_text(name)
    keys = {text[i : i + KEY_LENGTH] for i in range(len(text))}
    for base in {text, normalize.core_name(name)}:
        keys.add(normalize.pinyin_full(base)[:KEY_LENGTH])
        keys.add(normalize.pinyin_initials(base)[:KEY_LENGTH])
    for kind, value in contacts:
        if kind in {ContactKind.MOBILE, ContactKind.PHONE}:
            keys.add(normalize.phone_search_key(value))
        else:
            keys.add(value.lower()[:KEY_LENGTH])
    keys.discard("")
    return keys


def refresh_keys(party: Party) -> None:
    """Rewrite a party's keys after its name or contact points changed."""
    contacts = ContactPoint.objects.filter(party=party).values_list("kind", "value")
    SearchKey.objects.filter(party=party).delete()
    SearchKey.objects.bulk_create(
        SearchKey(tenant_id=party.tenant_id, party_id=party.pk, key=key)
        for key in sorted(keys_for(party.name, contacts))
    )


def query_key(query: str) -> str:
    """A user's query in key form: phone-looking input loses its +86, dashes and spaces."""
    text = normalize.search_text(query)
    digits = text.replace("-", "").replace("(", "").replace(")", "")
    if digits.lstrip("+").isdigit():
        digits = digits.lstrip("+")
        return digits[2:] if digits.startswith("86") and len(digits) > 11 else digits
    return text[:KEY_LENGTH]


def matching_party_ids(query: str) -> QuerySet[SearchKey, int]:
    """Ids of parties with a key starting with the query: closest (shortest) keys first."""
    key = query_key(query)
    return (
        SearchKey.objects.filter(key__prefix=key)
        .order_by("key")
        .values_list("party_id", flat=True)[:SEARCH_CAP]
    )
