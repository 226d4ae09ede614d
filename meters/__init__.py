"""Smart-meter readings: MQTT ingestion (``listen``), a realistic feed (``simulate``) and the demand
shapes both the feed and the DMA analysis use (``shapes``). See docs/meters.md."""
