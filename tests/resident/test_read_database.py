"""``ZHKH_READ_DATABASE_URL`` (issue 17: read-mostly traffic may read from the standby): the look-ups of
the residents' page and the tile server go there, every write and every read that must see one stays on
``DATABASE_URL``. Shown with a read URL where nothing listens: exactly the look-ups fail (503), the rest
works; unset, everything reads the one database as before."""
from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import Engine

from apps.http import tiles
from apps.http.resident import create_app
from settings import Settings
from tests.resident.conftest import Scene

NOWHERE = "postgresql://postgres@127.0.0.1:1/zhkh"   # refused at once: a standby that is down


def resident(db_url: str, read_url: str | None) -> TestClient:
    return TestClient(create_app(None, Settings(database_url=db_url, read_database_url=read_url,  # type: ignore[call-arg]
                                                resident_rate_per_min=600)),
                      raise_server_exceptions=False)   # a 503 is answered by the outermost handler


def test_the_residents_lookups_read_the_read_database(scene: Scene, clean_engine: Engine, db_url: str) -> None:
    b2 = scene.city.building_ids[1]
    split = resident(db_url, NOWHERE)
    for path in ("/api/addresses?q=Mannerheim", "/search?q=Mannerheim", f"/address/{b2}", "/tariffs?address=Mannerheim",
                 f"/address/{b2}/tariffs"):
        assert split.get(path).status_code == 503, path
    # the rate limit (a write) and the address page a form sends the resident back to (it must show the
    # resident's own write) are the leader's
    back = split.get(f"/address/{b2}?done=report")
    assert back.status_code == 200 and "Mannerheimintie 3" in back.text
    one = resident(db_url, None)           # unset: one database, as on one node
    assert one.get("/api/addresses?q=Mannerheim").status_code == 200
    assert one.get(f"/address/{b2}").status_code == 200


def test_the_tile_server_reads_the_read_database(scene: Scene, clean_engine: Engine, db_url: str) -> None:
    path = "/tiles/pipes/14/9326/4740.pbf"
    split = TestClient(tiles.create_app(settings=Settings(database_url=db_url, read_database_url=NOWHERE)),  # type: ignore[call-arg]
                       raise_server_exceptions=False)
    assert split.get(path).status_code == 503
    same = TestClient(tiles.create_app(settings=Settings(database_url=db_url, read_database_url=db_url)))  # type: ignore[call-arg]
    assert same.get(path).status_code in (200, 204)
    one = TestClient(tiles.create_app(settings=Settings(database_url=db_url)))  # type: ignore[call-arg]
    assert one.get(path).status_code in (200, 204)
