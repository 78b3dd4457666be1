"""The model registry of a ``loopml server``, with the embedded registry's methods.

Every public method of :class:`~loopml.registry.ModelRegistry` runs on the server (the
native API's ``registry`` area) and answers the same entities and errors. Changes are
attributed to this process's user unless a call names one, as the embedded registry does:
the server's own OS user would say nothing about who moved an alias.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from functools import cache
from typing import TYPE_CHECKING, Any

from loopml.registry import ModelRegistry, check_user

if TYPE_CHECKING:
    from loopml.client._remote import RemoteService

__all__ = ["RemoteRegistry"]


@cache
def _takes_user(method: str) -> bool:
    return "user" in inspect.signature(getattr(ModelRegistry, method)).parameters


class RemoteRegistry:
    """``ModelRegistry``'s methods, run by the server (see the module docstring).

    Args:
        remote: the server's service.
        user: who changes are attributed to when a call does not say (default: the OS user).
    """

    def __init__(self, remote: RemoteService, *, user: str | None = None) -> None:
        self._remote = remote
        self.user = user

    def __getattr__(self, method: str) -> Callable[..., Any]:
        target = getattr(ModelRegistry, method, None)
        if method.startswith("_") or not inspect.isfunction(target):
            raise AttributeError(f"the model registry has no method {method!r}")

        def call(*args: Any, **kwargs: Any) -> Any:
            if _takes_user(method) and kwargs.get("user") is None:
                kwargs["user"] = check_user(self.user)
            return self._remote.call("registry", method, args, kwargs)

        call.__name__ = method
        call.__doc__ = target.__doc__
        return call

    def __repr__(self) -> str:
        return f"RemoteRegistry({self._remote.url!r})"
