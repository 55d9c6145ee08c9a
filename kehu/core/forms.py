"""Form fields shared by the apps."""

from collections.abc import Iterator
from typing import Any, TypeVar

from django import forms
from django.db import models
from django.db.models import QuerySet
from django.forms.models import ModelChoiceIterator

_M = TypeVar("_M", bound=models.Model)


def set_queryset(form: forms.BaseForm, name: str, queryset: QuerySet[Any]) -> None:
    """Give a form's model-choice field its choices. Per request, never at import: the
    tenant-scoped managers need the request's tenant."""
    field = form.fields[name]
    assert isinstance(field, forms.ModelChoiceField)
    field.queryset = queryset


class ShortListIterator(ModelChoiceIterator):
    """The choices from one plain query. Django's iterator() streams them through a
    server-side cursor on PostgreSQL (DECLARE, FETCH, CLOSE: three round trips), which
    pays off for huge tables and costs a few milliseconds for a list of staff or tags."""

    def __iter__(self) -> Iterator[Any]:
        if self.field.empty_label is not None:
            yield ("", self.field.empty_label)
        for obj in self.queryset:
            yield self.choice(obj)


class ShortListChoiceField(forms.ModelChoiceField[_M]):
    """A choice among a tenant's few rows (staff, teams, tags)."""

    iterator = ShortListIterator
