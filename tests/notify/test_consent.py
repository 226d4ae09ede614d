"""Issue 22, item 9: subscriptions with consent. Double opt-in (a confirmation link mailed; nothing is
sent until the owner confirms; links are random tokens of which only a hash is stored; expired or
used links do nothing); per-e-mail limits (buildings, confirmation mails per hour); an unsubscribe is
never undone by someone else's subscribe; one mail per address per event."""
from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import Engine, text

from notify import subscriptions
from notify.errors import TooManyConfirmations, TooManySubscriptions
from ops import outages
from ops import resident as resident_ops
from tests.notify.conftest import City, SmtpServer
from tests.notify.test_notices import DISPATCHER, RESIDENT, RULES, approve_p2, deliver, outbox, subscribe


def now() -> datetime:
    return datetime.now(timezone.utc)


def ask(engine: Engine, building_id: int, email: str, at: datetime | None = None, rules=RULES,
        lang: str = "ru") -> subscriptions.Subscription:
    return resident_ops.subscribe(RESIDENT, bind=engine, building_id=building_id, email=email, lang=lang,
                                  now=at or now(), rules=rules)


def link_token(server: SmtpServer, email: str) -> str:
    mail = server.box.to(email)[-1]
    m = re.search(r"http://\S+/confirm/([A-Za-z0-9_-]+)\?lang=(ru|en)", mail.get_content())
    assert m, mail.get_content()
    return m.group(1)


def active(engine: Engine, email: str) -> list[int]:
    with engine.connect() as conn:
        return [int(r[0]) for r in conn.execute(text(
            "SELECT building_id FROM subscriptions WHERE email = :e AND confirmed_at IS NOT NULL "
            "AND unsubscribed_at IS NULL ORDER BY building_id"), {"e": email})]


def test_nothing_is_sent_until_the_owner_confirms(city: City, clean_engine: Engine, smtp_server: SmtpServer) -> None:
    b2 = city.building_ids[1]
    req = ask(clean_engine, b2, "anna@example.org")
    assert req.state == "pending" and active(clean_engine, "anna@example.org") == []
    outage = approve_p2(clean_engine, city)
    assert outbox(clean_engine) == []                                   # no notice for an unconfirmed address
    assert deliver(clean_engine, smtp_server).sent == 1                 # only the confirmation mail
    [mail] = smtp_server.box.to("anna@example.org")
    assert mail["X-Zhkh-Notice"] == "-/confirm" and mail["List-Unsubscribe"] is None
    assert "Mannerheimintie 3" in mail["Subject"] and "Mannerheimintie 3" in mail.get_content()
    token = link_token(smtp_server, "anna@example.org")
    assert token == req.confirm_token and len(token) >= 43             # 256 random bits, URL-safe
    with clean_engine.connect() as conn:
        stored = conn.execute(text("SELECT confirm_token_hash, unsubscribe_token FROM subscriptions")).one()
    assert token not in stored and stored[0] == subscriptions.token_hash(token)
    assert resident_ops.confirm_subscription(token + "x", author="t", bind=clean_engine, now=now()) is None
    confirmed = resident_ops.confirm_subscription(token, author="t", bind=clean_engine, now=now())
    assert confirmed is not None and confirmed["address"] == "Mannerheimintie 3"
    assert resident_ops.confirm_subscription(token, author="t", bind=clean_engine, now=now()) is None        # used once
    assert active(clean_engine, "anna@example.org") == [b2]
    outages.start(DISPATCHER, outage.id, bind=clean_engine)
    outages.restore(DISPATCHER, outage.id, bind=clean_engine)
    assert deliver(clean_engine, smtp_server).sent == 1
    assert smtp_server.box.to("anna@example.org")[-1]["X-Zhkh-Notice"] == f"{outage.id}/restored"


def test_an_expired_link_does_nothing(city: City, clean_engine: Engine) -> None:
    req = ask(clean_engine, city.building_ids[1], "anna@example.org",
              at=now() - timedelta(hours=RULES.subscriptions.confirm_valid_h, minutes=1))
    assert subscriptions.pending_address(clean_engine, req.confirm_token, now=now()) is None
    assert resident_ops.confirm_subscription(req.confirm_token, author="t", bind=clean_engine, now=now()) is None
    assert active(clean_engine, "anna@example.org") == []


def test_a_strangers_subscribe_never_undoes_an_unsubscribe(city: City, clean_engine: Engine,
                                                          smtp_server: SmtpServer) -> None:
    b2 = city.building_ids[1]
    owner = subscribe(clean_engine, smtp_server, b2, "anna@example.org")
    assert resident_ops.withdraw_subscription(owner.unsubscribe_token, author="t", bind=clean_engine, now=now())
    stranger = ask(clean_engine, b2, "Anna@Example.org", lang="en")
    assert stranger.state == "pending" and active(clean_engine, "anna@example.org") == []
    with clean_engine.connect() as conn:
        assert conn.execute(text("SELECT unsubscribed_at IS NOT NULL FROM subscriptions")).scalar_one()
    approve_p2(clean_engine, city)
    assert deliver(clean_engine, smtp_server).sent == 1                 # the confirmation request, nothing else
    [mail] = smtp_server.box.to("anna@example.org")
    assert mail["X-Zhkh-Notice"] == "-/confirm" and outbox(clean_engine) == []
    # the owner alone can bring it back, with a new unsubscribe link
    back = resident_ops.confirm_subscription(link_token(smtp_server, "anna@example.org"), author="t", bind=clean_engine,
                                             now=now())
    assert back is not None and active(clean_engine, "anna@example.org") == [b2]
    with clean_engine.connect() as conn:
        assert conn.execute(text("SELECT unsubscribe_token FROM subscriptions")).scalar_one() != owner.unsubscribe_token


def test_a_subscribed_address_asked_again_gets_no_mail(city: City, clean_engine: Engine,
                                                       smtp_server: SmtpServer) -> None:
    subscribe(clean_engine, smtp_server, city.building_ids[1], "anna@example.org")
    again = ask(clean_engine, city.building_ids[1], "anna@example.org")
    assert again.state == "active" and again.confirm_token is None
    assert deliver(clean_engine, smtp_server).sent == 0


def test_per_email_limits(city: City, clean_engine: Engine) -> None:
    rules = RULES.model_copy(update={"subscriptions": RULES.subscriptions.model_copy(
        update={"max_buildings_per_email": 2, "confirmations_per_hour": 2})})
    b1, b2, b3, b4 = city.building_ids
    ask(clean_engine, b1, "many@example.org", rules=rules)
    ask(clean_engine, b2, "many@example.org", rules=rules)
    with pytest.raises(TooManySubscriptions, match="at most 2") as caught:
        ask(clean_engine, b3, "many@example.org", rules=rules)
    assert caught.value.limit == 2
    ask(clean_engine, b3, "other@example.org", rules=rules)            # another address is not limited by it
    # confirmation mails: two an hour for one address, whatever the building
    ask(clean_engine, b4, "often@example.org", rules=rules)
    ask(clean_engine, b4, "often@example.org", rules=rules)
    with pytest.raises(TooManyConfirmations, match="at most 2"):
        ask(clean_engine, b4, "often@example.org", rules=rules)
    ask(clean_engine, b4, "often@example.org", at=now() + timedelta(minutes=61), rules=rules)
    with clean_engine.connect() as conn:
        counts = dict(conn.execute(text("SELECT s.email, count(*) FROM notice_outbox n JOIN subscriptions s "
                                        "ON s.id = n.subscription_id WHERE n.event = 'confirm' GROUP BY s.email")).all())
    assert counts == {"many@example.org": 2, "other@example.org": 1, "often@example.org": 3}


def test_expired_requests_do_not_count_against_the_limit(city: City, clean_engine: Engine) -> None:
    rules = RULES.model_copy(update={"subscriptions": RULES.subscriptions.model_copy(
        update={"max_buildings_per_email": 1})})
    old = now() - timedelta(hours=RULES.subscriptions.confirm_valid_h + 1)
    ask(clean_engine, city.building_ids[0], "late@example.org", at=old, rules=rules)
    assert ask(clean_engine, city.building_ids[1], "late@example.org", rules=rules).state == "pending"


def test_one_mail_per_address_per_event(city: City, clean_engine: Engine, smtp_server: SmtpServer) -> None:
    b2, b3 = city.building_ids[1:3]
    first = subscribe(clean_engine, smtp_server, b2, "family@example.org")
    second = subscribe(clean_engine, smtp_server, b3, "family@example.org")
    subscribe(clean_engine, smtp_server, b3, "neighbour@example.org")
    outage = approve_p2(clean_engine, city)
    assert deliver(clean_engine, smtp_server).sent == 2
    [mail] = smtp_server.box.to("family@example.org")
    body = mail.get_content()
    assert "Mannerheimintie 3" in body and "Mannerheimintie 5" in body
    assert f"/unsubscribe/{first.unsubscribe_token}" in body and f"/unsubscribe/{second.unsubscribe_token}" in body
    assert len(smtp_server.box.to("neighbour@example.org")) == 1
    outages.start(DISPATCHER, outage.id, bind=clean_engine)
    outages.restore(DISPATCHER, outage.id, bind=clean_engine)
    assert deliver(clean_engine, smtp_server).sent == 2                 # one more per address: the restore
    assert [m["X-Zhkh-Notice"] for m in smtp_server.box.to("family@example.org")] == [
        f"{outage.id}/approved", f"{outage.id}/restored"]
    # one of the two unsubscribed: the next mail still goes (for the other), naming only the one followed
    resident_ops.withdraw_subscription(first.unsubscribe_token, author="t", bind=clean_engine, now=now())
    again = approve_p2(clean_engine, city)
    assert deliver(clean_engine, smtp_server).sent == 2
    last = smtp_server.box.to("family@example.org")[-1]
    assert last["X-Zhkh-Notice"] == f"{again.id}/approved"
    assert "Mannerheimintie 5" in last.get_content() and "Mannerheimintie 3" not in last.get_content()
