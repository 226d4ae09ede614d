"""A live map drawn once per state, not once per refresh of every session.

``st_folium`` renders the whole folium map (base, layers, every element's script) on every call: on
the control room's wall screens that was most of a refresh's CPU, for a map that had not changed.
:func:`cached_folium` keeps, per replica, the component's arguments of the last few states (the
caller's ``state`` names everything the map shows: the ids and states of its features, the base
map's key, the size): a refresh whose state is known renders nothing, and since its arguments are
the very same, Streamlit sends the browser a reference to the message it already holds (its
forward-message cache) instead of the map again — a refresh with nothing changed sends nothing for
the map, and the component in the page keeps its map (no remount, the viewer's zoom kept).

The data drawn comes from ``ops`` use-cases each session called itself (its rights checked): the
cache only saves the drawing.
"""
from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any

import streamlit_folium as sf

KEPT = 16   # states kept (a few languages × sizes × the last changes)

_capture = threading.local()
_draw = sf._component_func


def _component(**kwargs: Any) -> Any:
    """st_folium's component call: recorded instead while this thread renders a state for the cache."""
    box = getattr(_capture, "box", None)
    if box is not None:
        box.update(kwargs)
        return kwargs.get("default")
    return _draw(**kwargs)


sf._component_func = _component   # once per process: other pages' maps draw as before

_lock = threading.Lock()
_states: OrderedDict[Hashable, dict[str, Any]] = OrderedDict()


def cached_folium(state: Hashable, render: Callable[[], dict[str, Any]]) -> Any:
    """Draw the map of ``state``: ``render()`` gives st_folium's arguments (``fig`` and the rest) and
    is called only for a state not drawn lately on this replica."""
    with _lock:
        kwargs = _states.get(state)
        if kwargs is not None:
            _states.move_to_end(state)
    if kwargs is None:
        _capture.box = box = {}
        try:
            sf.st_folium(**render())
        finally:
            _capture.box = None
        kwargs = box
        with _lock:
            _states[state] = kwargs
            while len(_states) > KEPT:
                _states.popitem(last=False)
    return _draw(**kwargs)


def forget() -> None:
    with _lock:
        _states.clear()
