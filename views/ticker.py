"""The live pages' refresh clock, kept in the browser: the next refresh is asked for ``every`` seconds
after the previous one has been drawn, never while one is still running (a slow refresh is not cut
off by the next tick and the next one is skipped: the screen updates later, never not at all).

Streamlit's own ``st.fragment(run_every=…)`` asks every N seconds whatever happens; once a refresh
takes longer than N (dozens of wall screens on one replica) the requests queue up behind each other
and no screen shows a finished refresh any more. Here the clock restarts when the fragment's last
element (this one) arrives. The browser also marks the page stale (``cr-stale-on`` on the body: the
«Обновлено» line turns amber) when no refresh has arrived for two periods — the server cannot say so
itself when it is the one that is late.
"""
from __future__ import annotations

import streamlit as st

STALE_CLASS = "cr-stale-on"
STALE_CSS = (f"<style>body.{STALE_CLASS} .cr-updated, body.{STALE_CLASS} .cr-updated * "
             "{ color: #ffb020 !important; font-weight: 700; }</style>")

JS = """
export default function(component) {
  const { data, setTriggerValue } = component;
  const clock = window.__zhkhTicker = window.__zhkhTicker || {};
  clearTimeout(clock.timer);
  clock.drawn = Date.now();
  clock.every = data.every * 1000;
  clock.seq = data.seq;
  document.body.classList.remove('%(stale)s');
  clock.timer = setTimeout(() => setTriggerValue('tick', data.seq), clock.every);
  if (!clock.watch) {
    clock.watch = setInterval(() => {
      document.body.classList.toggle('%(stale)s', Date.now() - clock.drawn > 2 * clock.every);
    }, 500);
  }
}
""" % {"stale": STALE_CLASS}

_component = st.components.v2.component("zhkh_refresh_clock", js=JS)


def tick(every: int, *, key: str) -> None:
    """The clock of a live fragment: call it as the fragment's last element on every run (a run that
    does not draw it stops the clock until the next full run or the safety-net ``run_every``)."""
    seq = st.session_state[f"{key}_seq"] = st.session_state.get(f"{key}_seq", 0) + 1
    _component(key=key, data={"every": every, "seq": seq}, height=0, on_tick_change=lambda: None)
