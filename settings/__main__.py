"""``python -m settings``: check the settings alone (a wrong one: exit 2 with the one line)."""
from settings import get_settings

get_settings()
print("settings: ok")
