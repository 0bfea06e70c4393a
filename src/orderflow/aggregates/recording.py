"""``@recorded("Name")``: the library's ``@event("Name")``, without its introspection on every call.

The library's decorator defines the event class from the recording method's
signature (so the events' classes, topics and attributes stay the library's),
and on every call it binds a new ``BoundCommandMethodDecorator``, maps the
arguments to the signature's parameters, filters them twice against the
event's and the method's parameters, and applies the new event through
``mutate`` and ``DecoratedFuncCaller.apply``, which read the event's
attributes back out of it (issue 10: about 6.5 µs per event; the short cut below takes about 2).

A method decorated with :func:`recorded` is the same ``CommandMethodDecorator``
to the library (it defines the same event class, and replaying a stored event
calls the method as before). Calling it on an aggregate takes a short cut when
the call is the ordinary one: every parameter by keyword, nothing else. It
then builds the same event (``originator_id``, the next ``originator_version``,
``timestamp`` from the event class, and the arguments), calls the method with
the same arguments the library would pass it, and sets the aggregate's
version and modification time and appends the event, as ``trigger_event`` and
``mutate`` do. Any other call (positional arguments, a missing or an extra
keyword, a subclass of the aggregate, an event class that customizes ``mutate``
or ``apply``, an aggregate with a ``TOPIC``) goes the library's way, unchanged.

:data:`GENERIC` turns the short cut off: the tests compare both paths.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from types import MethodType
from typing import Any

from eventsourcing.domain import (
    BaseAggregate,
    CanMutateAggregate,
    CommandMethodDecorator,
    DecoratedFuncCaller,
    decorated_func_callers,
)

_BOOKKEEPING = ("id", "version", "modified_on", "pending_events", "trigger_event")

GENERIC = False
"""True: every call goes the library's way (the equivalence tests set it)."""


class RecordingMethod(CommandMethodDecorator):
    """A ``CommandMethodDecorator`` whose bound calls skip the per-call introspection when they can."""

    def __init__(self, event_name: str, method: Callable[..., None]):
        super().__init__(event_name, method)
        self.parameters = frozenset(name for name in inspect.signature(method).parameters if name != "self")
        self.owner: type[BaseAggregate[Any]] | None = None
        self.event_class: Any = None
        self.fast_call = self._fast_call_function()

    def __set_name__(self, owner: type[BaseAggregate[Any]], name: str) -> None:
        self.owner = owner

    def __get__(self, instance: Any, owner: type) -> Any:
        if instance is None or GENERIC:
            return super().__get__(instance, owner)
        return MethodType(self.fast_call, instance)

    def _generic(self, aggregate: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        CommandMethodDecorator.__get__(self, aggregate, type(aggregate))(*args, **kwargs)

    def _resolve(self, aggregate: Any) -> Any:
        """The event class, once the library has defined it; None if the short cut does not apply to it."""
        if type(aggregate) is not self.owner or getattr(self.owner, "TOPIC", None):
            return None
        if any(getattr(self.owner, name) is not getattr(BaseAggregate, name) for name in _BOOKKEEPING):
            return None  # the short cut sets the library's private attributes behind these
        event_class = decorated_func_callers.get(self)
        if event_class is None or not _plain(event_class):
            return None
        self.event_class = event_class
        return event_class

    def _fast_call_function(self) -> Callable[..., None]:
        method = self.decorated_func
        parameters = self.parameters
        generic = self._generic
        resolve = self._resolve

        def fast_call(aggregate: Any, /, *args: Any, **kwargs: Any) -> None:
            event_class = self.event_class
            if args or kwargs.keys() != parameters or type(aggregate) is not self.owner:
                return generic(aggregate, args, kwargs)
            if event_class is None:
                event_class = resolve(aggregate)
                if event_class is None:
                    return generic(aggregate, args, kwargs)
            version = aggregate._version + 1
            new_event = event_class(
                originator_id=aggregate._id,
                originator_version=version,
                timestamp=event_class.create_timestamp(),
                **kwargs,
            )
            # What mutate() does for a new event of this aggregate: apply (the method, with the event's
            # attributes that are its parameters: exactly these arguments), then version and time.
            method(aggregate, **kwargs)
            aggregate._version = version
            aggregate._modified_on = new_event.timestamp
            aggregate._pending_events.append(new_event)
            return None

        return fast_call


def _plain(event_class: type) -> bool:
    """Whether the event class mutates and applies as the library's ``DecoratedFuncCaller`` does, no more."""
    for klass in event_class.__mro__:
        apply = klass.__dict__.get("apply")
        if apply is not None and apply not in (DecoratedFuncCaller.__dict__["apply"], CanMutateAggregate.__dict__["apply"]):
            return False
        mutate = klass.__dict__.get("mutate")
        if mutate is not None and mutate is not CanMutateAggregate.__dict__["mutate"]:
            return False
    return True


def recorded(event_name: str) -> Callable[[Callable[..., None]], RecordingMethod]:
    """``@event(event_name)`` for a recording method, called by keyword (see the module docstring)."""

    def decorate(method: Callable[..., None]) -> RecordingMethod:
        return RecordingMethod(event_name, method)

    return decorate
