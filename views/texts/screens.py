"""Texts of the wall screen and of the presentation work of issue 8 (to move into the catalogs)."""

TEXTS = {
    "ru": {
        "control.page": "страница {page} из {pages}",
        "control.outages": "Отключения",
        "control.outages_none": "Отключений нет",
        "control.outage_active": "действует",
        "control.outage_people": "домов {buildings}, жителей {residents}",
        "control.outage_until": "до {end}",
    },
    "en": {
        "control.page": "page {page} of {pages}",
        "control.outages": "Outages",
        "control.outages_none": "No outages",
        "control.outage_active": "active",
        "control.outage_people": "{buildings} buildings, {residents} residents",
        "control.outage_until": "until {end}",
    },
}
