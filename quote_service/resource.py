"""The base of the service's controllers: a resource's OpenAPI tag is the last segment of its path.

`class InstallmentPlanController(Resource)` with `path = "/api/v1/installment-plans"` is tagged
`installment-plans` without saying so; a controller whose routes belong under another tag (several
paths under `governance`, the catalog's `/products`) names its `tags` itself.
"""

from __future__ import annotations

from typing import Any

from litestar import Controller


class Resource(Controller):
    """A controller tagged, unless it names its own `tags`, with its path's last segment."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "tags" not in cls.__dict__ and "path" in cls.__dict__:
            cls.tags = [cls.path.rstrip("/").rsplit("/", 1)[-1]]
