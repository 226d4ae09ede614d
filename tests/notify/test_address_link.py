"""A notice mail reaches the address's page in one tap (issue 20 part 3): each subscribed address's
page on the residents' page (its status now and the report form) is linked, in the mail's language."""
from __future__ import annotations

import re

from sqlalchemy import Engine

from settings import get_settings
from tests.notify.conftest import City, SmtpServer
from tests.notify.test_notices import approve_p2, deliver, subscribe


def test_notice_links_the_address_page(city: City, clean_engine: Engine, smtp_server: SmtpServer) -> None:
    b2, b3 = city.building_ids[1:3]
    subscribe(clean_engine, smtp_server, b2, "anna@example.org")
    subscribe(clean_engine, smtp_server, b3, "boris@example.org", lang="en")
    approve_p2(clean_engine, city)
    assert deliver(clean_engine, smtp_server).sent == 2
    base = get_settings().resident_url.rstrip("/")
    [ru] = smtp_server.box.to("anna@example.org")
    [en] = smtp_server.box.to("boris@example.org")
    ru_body, en_body = ru.get_content().replace("\r\n", "\n"), en.get_content().replace("\r\n", "\n")
    assert f"ваши заявки и форма сообщения о проблеме: {base}/address/{b2}?lang=ru\n" in ru_body
    assert f"the form to report a problem: {base}/address/{b3}?lang=en\n" in en_body
    # the link stands alone on its line's end: a mail client makes it one tap
    assert re.search(rf"{re.escape(base)}/address/{b2}\?lang=ru$", ru_body, re.M)
