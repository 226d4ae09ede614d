"""All configuration of zhkh-ops in one place.

Values come from the environment (or a ``.env`` file); see ``.env.example``. No other module of the
application reads ``os.environ`` (tests and benchmarks aside: they set up the processes they start;
``tests/test_settings.py`` checks it). Most code asks ``get_settings()``; some domain functions take
the values as arguments.
A value that does not fit (``ZHKH_ENV=prod``, a port that is not a number) stops the process at its
first ``get_settings()`` with one line naming the variable (exit status 2); ``python -m settings``
checks them alone. Secrets are ``SecretStr``: ``.get_secret_value()`` where they are used, ``**********``
in every repr and log.
"""
from __future__ import annotations

import logging
import sys
from enum import StrEnum
from functools import lru_cache
from pathlib import Path

from pydantic import AliasChoices, Field, SecretStr, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

ROOT = Path(__file__).resolve().parent.parent  # the checkout (settings/ is a package at its top)
log = logging.getLogger("zhkh.settings")


class Environment(StrEnum):
    """``ZHKH_ENV``: what this installation is; any other value is refused at start."""

    development = "development"
    production = "production"


class SettingsError(SystemExit):
    """A setting's value is refused: the process stops (exit status 2) with ``message``, one line."""

    def __init__(self, message: str, refused: tuple[str, ...] = ()) -> None:
        super().__init__(2)
        self.message = message
        self.refused = refused  # the variables with their values, ``ZHKH_ENV='prod'`` (no words, for the pages)

    def __str__(self) -> str:
        return self.message


class Settings(BaseSettings):
    """Runtime settings (env prefix ``ZHKH_``; the database URL is plain ``DATABASE_URL``)."""

    model_config = SettingsConfigDict(env_prefix="ZHKH_", env_file=ROOT / ".env", extra="ignore")

    database_url: SecretStr | None = Field(
        default=None,
        validation_alias=AliasChoices("DATABASE_URL", "ZHKH_DATABASE_URL"),
        description="SQLAlchemy URL of a PostGIS database (a secret: it may hold the password); unset = the "
                    "machine's server at local_pg_host:local_pg_port, or the cluster `python -m gis.local_pg` made.",
    )
    read_database_url: SecretStr | None = Field(
        default=None,
        description="ZHKH_READ_DATABASE_URL: where the read-only look-ups of the tile server and the residents' page "
                    "go (a standby; the cluster's read port 9433); unset = database_url. Writes, and reads that "
                    "must see the latest write, always use database_url.",
    )
    local_db_name: str = "zhkh"
    local_pg_host: str = "127.0.0.1"
    local_pg_port: int = 5432
    local_pg_user: str = "postgres"
    local_cluster_dir: Path = ROOT / "var" / "pg"
    local_cluster_port: int = 5433
    # only `python -m gis.local_pg` (make demo, make test) creates and starts the cluster under local_cluster_dir;
    # true lets any process do it when no server answers (else it stops and says what to do)
    local_cluster_autostart: bool = False

    env: Environment = Field(default=Environment.development,
                             description="'production' refuses the demo city and other test-only actions")

    # people: sessions end after this long without an action; a login is locked after repeated failures
    session_idle_min: float = 30.0
    login_max_failures: int = 5
    login_lock_min: float = 5.0
    oidc_role_claim: str = "zhkh_role"

    # the vector-tile server of the map layers (python -m gis serve-tiles, apps/http/tiles.py)
    tiles_server_url: str = Field(default="", description="the tile server's base URL as the browser reaches it; "
                                  "empty = the host the browser used for the app, on tiles_port")
    tiles_port: int = 8512
    tiles_cors_origins: str = Field(default="*", description="comma-separated origins allowed to fetch tiles; "
                                                             "'*' = any (read-only data)")
    tiles_threads: int = 4  # worker threads for the blocking tile queries (as api_threads)
    tiles_max_features: int = 3000  # per tile and layer, the most important first (as max_features_per_layer)
    tiles_max_age_s: int = 60  # Cache-Control max-age; the ETag revalidates after it
    tiles_statement_timeout_ms: int = 10000  # a tile query running longer is cancelled (503)

    tiles_url: str = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"
    tiles_attribution: str = "&copy; OpenStreetMap contributors"
    tiles_name: str = "OpenStreetMap"
    language: str = "ru"
    max_features_per_layer: int = 3000
    sla_rules_file: Path = ROOT / "incidents" / "rules" / "default.yaml"
    billing_rules_file: Path = ROOT / "billing" / "rules" / "default.yaml"  # ZHKH_BILLING_RULES_FILE
    forecast_rules_file: Path = ROOT / "forecast" / "rules" / "default.yaml"  # pipe-break forecast (docs/forecast.md)
    dma_rules_file: Path = ROOT / "dma" / "rules" / "default.yaml"
    reports_rules_file: Path = ROOT / "reports" / "rules" / "default.yaml"  # KPI zones (ZHKH_REPORTS_RULES_FILE)
    demo_seed: int = 42
    demo_network_name: str = "Helsinki demo cold water"

    # incidents (intake, duplicates, service area) and the Open311 API
    incident_duplicate_radius_m: float = 150.0
    incident_duplicate_window_h: float = 6.0
    incident_snap_building_m: float = 50.0
    incident_snap_pipe_m: float = 300.0
    incident_service_area_margin_m: float = 2000.0
    incident_service_area_bbox: tuple[float, float, float, float] = (24.5, 59.9, 25.5, 60.4)
    incident_service_area_cache_s: float = 60.0
    api_max_body_bytes: int = 65536
    api_threads: int = 4  # worker threads for blocking DB work per API process (more only adds GIL contention)
    api_default_days: int = 90
    api_max_records: int = 1000

    # residents' notices (python -m notify worker) and the resident's page (python -m resident serve)
    notify_rules_file: Path = ROOT / "notify" / "rules" / "default.yaml"  # ZHKH_NOTIFY_RULES_FILE
    smtp_host: str = ""  # empty = the worker refuses to start (nothing is sent)
    smtp_port: int = 25
    smtp_from: str = "ЖКХ <noreply@zhkh.local>"
    smtp_user: str = ""
    smtp_password: SecretStr = SecretStr("")
    smtp_starttls: bool = False
    smtp_timeout_s: float = 20.0
    # organisations' webhooks (python -m orgs webhook set|deliver, docs/webhooks.md)
    webhook_allow_private: bool = Field(default=False, description="true lets a webhook URL name a loopback, "
                                        "link-local or private address (tests, a closed network); false refuses it")
    webhook_key: SecretStr = Field(default=SecretStr(""), description="the key that seals the webhooks' signing "
                                   "secrets in the database (32+ characters); empty = a development key, refused "
                                   "when ZHKH_ENV=production")
    webhook_timeout_s: float = Field(default=10.0, gt=0, le=120)   # one POST: connect and answer
    webhook_backoff_s: float = Field(default=5.0, gt=0)            # the first retry; doubled each time ...
    webhook_backoff_max_s: float = Field(default=3600.0, gt=0)     # ... up to this
    webhook_poll_s: float = Field(default=2.0, gt=0)               # `deliver` looks for due events this often
    resident_url: str = Field(default="http://127.0.0.1:8520", description="the resident's page as residents "
                              "reach it (the unsubscribe link in every notice)")
    resident_port: int = 8520
    resident_rate_per_min: float = 60.0  # requests per IP and minute (a burst of as many)
    resident_code_tries_per_hour: float = 10.0  # account-code tries per IP and hour
    resident_code_account_failures: int = 10  # wrong codes for one account number (from any address) ...
    resident_code_lock_min: float = 60.0      # ... lock it for this long (the right code is refused too)
    trusted_proxies: str = Field(default="", description="comma-separated addresses or networks (CIDR) of the "
                                 "reverse proxies in front of the HTTP services; only their X-Forwarded-For is "
                                 "believed (the right-most entry not a trusted proxy is the client). Empty = none")

    # billing: tariffs and normatives (python -m billing run; billing/tariffs.py)
    billing_tariffs_file: Path = ROOT / "billing" / "rules" / "tariffs_default.yaml"
    # ГИС ЖКХ НСИ 360/361 for the outage export (billing/gis_nsi.py); the shipped file is a marked demo excerpt
    gis_nsi_file: Path = ROOT / "billing" / "rules" / "gis_nsi_demo.json"  # ZHKH_GIS_NSI_FILE
    # long billing jobs (run, close, demo): a statement running longer is cancelled and nothing is written;
    # waiting longer for the billing lock (another job) gives up; a dead client's query is noticed
    # (and the lock released) within the check interval instead of when the query would have ended
    billing_statement_timeout_s: float = 600.0
    billing_lock_timeout_s: float = 30.0
    db_client_check_interval_s: float = 2.0

    # smart-meter readings over MQTT (python -m meters listen|simulate, docs/meters.md)
    mqtt_url: str = "mqtt://127.0.0.1:1883"
    meters_client_id: str = "zhkh-meters-listener"  # fixed: the broker keeps this session's messages
    # non-empty: listen through the MQTT v5 shared subscription $share/<group>/... (several listeners, distinct
    # client ids, each reading delivered to one of them)
    meters_share_group: str = ""
    meters_batch_size: int = 2000
    # monthly partitions (migration 0024): months kept, older ones dropped by `python -m scripts.cluster partitions`
    # (0 = keep everything); the same command creates partitions_ahead_months ahead
    meter_readings_retention_months: int = Field(default=0, ge=0)
    audit_retention_months: int = Field(default=0, ge=0)
    partitions_ahead_months: int = Field(default=3, ge=1, le=36)
    meters_flush_ms: int = 100
    # the simulator's own persistent session (as a meter's): run one simulator per id at a time
    meters_simulator_client_id: str = "zhkh-meters-simulator"


def _env_name(loc: tuple[int | str, ...]) -> str:
    field = str(loc[0]) if loc else "?"
    if field in ("DATABASE_URL", "ZHKH_DATABASE_URL"):
        return field
    return "ZHKH_" + field.upper()


def refusal(exc: ValidationError) -> SettingsError:
    """One line naming each refused variable, its value (never a secret's) and what it should be."""
    parts, refused = [], []
    for err in exc.errors():
        name = _env_name(err.get("loc", ()))
        secret = name in ("DATABASE_URL", "ZHKH_DATABASE_URL", "ZHKH_READ_DATABASE_URL", "ZHKH_SMTP_PASSWORD",
                          "ZHKH_WEBHOOK_KEY")
        shown = name if secret else f"{name}={err.get('input')!r}"
        refused.append(" ".join(shown.split()))
        parts.append(f"{refused[-1]}: {' '.join(str(err.get('msg', 'refused')).split())}")
    return SettingsError("settings refused: " + "; ".join(parts), tuple(refused))


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The settings of this process; a refused value stops it here (``SettingsError``, one line on stderr)."""
    try:
        return Settings()
    except ValidationError as exc:
        refused = refusal(exc)
        if log.hasHandlers():  # a server with logging set up: its log says it
            log.error("%s", refused)
        print(f"error: {refused}", file=sys.stderr)
        raise refused from None
