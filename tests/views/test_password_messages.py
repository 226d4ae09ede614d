"""The users page says, in the page's language, why a new password is refused."""
from __future__ import annotations

import pytest


@pytest.mark.parametrize(("lang", "password", "words"), [
    ("ru", "1234567890", "один из самых распространённых паролей"),
    ("en", "aaaaaaaaaa", "one of the most common passwords"),
    ("ru", "petrov-2026", "слишком похож на логин"),
    ("en", "petrov-2026", "too similar to the login"),
])
def test_the_users_page_says_why_a_password_is_refused(lang: str, password: str, words: str) -> None:
    import streamlit as st

    from auth.errors import InvalidUserInput
    from auth.passwords import password_problem
    from views.errors import message

    problem = password_problem(password, "petrov")
    assert problem is not None
    st.session_state["lang"] = lang
    try:
        text = message(InvalidUserInput(problem[2], [(problem[0], problem[1])]))
    finally:
        del st.session_state["lang"]
    assert words in text and "error.user" not in text
