"""The base of every section: a frozen pydantic model whose fields are flat settings."""

from __future__ import annotations

from typing import Self, cast

from pydantic import BaseModel, ConfigDict


class Section(BaseModel):
    """A section of the settings. Its fields are the one declaration of its flat settings (type,
    default, range, description): ``Settings`` inherits them, and reads and checks every value; the
    section a component gets is a frozen view of those values (:meth:`of`)."""

    model_config = ConfigDict(frozen=True)

    @classmethod
    def of(cls, flat: object) -> Self:
        """The section of a flat settings object, read through attributes of the same names; the
        values were checked when the settings were read, so they are not checked again."""
        values = {name: getattr(flat, name) for name in cls.model_fields}
        return cast(Self, cls.model_construct(**values))  # the mypy plugin types it as Section

    @classmethod
    def names(cls) -> tuple[str, ...]:
        """The flat settings this section holds."""
        return tuple(cls.model_fields)
