# zhkh-ops — the two commands a newcomer needs: `make demo` and `make test`.
PY      := .venv/bin/python
PORT    ?= 8501
TILES_PORT ?= 8512
PYTEST_ARGS ?=
# the demo city is central Helsinki: its reports, outages and clocks in the city's own time zone
DEMO_ENV := ZHKH_SLA_RULES_FILE=incidents/rules/helsinki.yaml ZHKH_BILLING_RULES_FILE=billing/rules/helsinki.yaml

.PHONY: demo test setup system venv db load-demo app api tiles bench clean-db help texts \
	cluster cluster-down cluster-status cluster-partitions bench-cluster

help:
	@echo "make demo   - install what is missing, prepare PostGIS, load the Helsinki demo city, start the app on :$(PORT)"
	@echo "              (and the vector-tile server on :$(TILES_PORT), stopped with the app; log var/tiles.log)"
	@echo "make test   - the same set-up, then the whole test suite (real PostGIS, headless Chromium)"
	@echo "make bench  - three of the benchmarks: the graph engine (network.py), the forecast backtest (forecast.py),"
	@echo "              MQTT ingestion (meters.py); the others in benchmarks/ run one by one (see each file's first lines)"
	@echo "make cluster        - the whole service as a cluster on this machine (docs/scaling.md): etcd, two PostgreSQL"
	@echo "                      nodes under Patroni, HAProxy (write :9432, read :9433, stats :9404), two replicas of"
	@echo "                      each server (app :9501, tiles :9512, residents :9520, Open311 :9311), two meter"
	@echo "                      listeners, two notice workers; state and logs in var/cluster/"
	@echo "make cluster-status - one JSON object: URLs, nodes, roles, ports and pids;  make cluster-down - stop it"
	@echo "make texts  - extract the UI texts' keys into locale/zhkh.pot and add the new ones to both .po files (docs/i18n.md)"

venv: .venv/.installed

.venv/.installed: requirements.txt constraints.txt
	test -x $(PY) || python3 -m venv .venv
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements.txt -c constraints.txt
	touch $@

system:
	bash scripts/setup_system.sh

setup: system venv

db: setup
	$(PY) -m gis.local_pg

load-demo: db
	$(PY) -m data load-demo --if-missing
	$(PY) -m billing demo --if-missing
	$(PY) -m reports demo --if-missing --history-days 45
	$(PY) -m auth demo-users
	env $(DEMO_ENV) $(PY) -m billing demo-month --if-missing
	$(PY) -m dma demo --if-missing
	$(PY) -m forecast demo --if-missing

demo: load-demo
	env $(DEMO_ENV) bash scripts/run_demo.sh $(PORT) $(TILES_PORT)

app: venv
	$(PY) -m streamlit run app_server.py --server.port $(PORT) --server.headless true

api: venv
	$(PY) -m incidents serve --host 127.0.0.1 --port 8311

tiles: venv
	$(PY) -m gis serve-tiles --host 127.0.0.1 --port $(TILES_PORT)

resident: venv
	$(PY) -m resident serve --host 127.0.0.1 --port 8520

notify-worker: venv
	$(PY) -m notify worker

test: venv
	bash scripts/setup_system.sh --browser
	bash scripts/cluster/setup.sh  # the failover tests (tests/cluster) start their own small cluster
	.venv/bin/lint-imports .importlinter  # the layers (docs/architecture.md); fails fast, before the suite
	$(PY) -m gis.local_pg
	$(PY) -m pytest -n 2 --dist loadfile $(PYTEST_ARGS)

bench: db
	$(PY) benchmarks/network.py
	$(PY) benchmarks/forecast.py
	$(PY) benchmarks/meters.py

# the texts' keys from the code (babel.cfg) into the template, then new keys into both catalogs (empty texts
# to fill in) and texts no code asks for out of them; tests/i18n fails until every text is filled in
texts: venv
	$(PY) -m babel.messages.frontend -q extract -F babel.cfg --sort-output --no-wrap --add-location=file \
		--project=zhkh-ops --version=1 -o locale/zhkh.pot .
	$(PY) -m babel.messages.frontend -q update -i locale/zhkh.pot -d locale -D zhkh --no-wrap --no-fuzzy-matching \
		--ignore-obsolete --ignore-pot-creation-date

# ---- the service as a cluster of existing engines (issue 17, docs/scaling.md); not needed by demo or test
cluster: setup
	bash scripts/cluster/setup.sh
	$(PY) -m scripts.cluster up

cluster-down:
	$(PY) -m scripts.cluster down

cluster-status:
	@$(PY) -m scripts.cluster status

# monthly partitions of meter_readings and audit_events: months ahead created, those past the retention dropped
cluster-partitions:
	DATABASE_URL=postgresql://postgres@127.0.0.1:9432/zhkh $(PY) -m scripts.cluster partitions

bench-cluster: cluster
	$(PY) benchmarks/cluster.py
