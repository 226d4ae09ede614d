"""Streamlit pages: a thin skin over the domain packages (only app.py and views/ import streamlit)."""
