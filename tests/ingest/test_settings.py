"""Settings: environment, TOML file, validation, and the generated reference page."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingest.errors import ConfigError
from ingest.settings import Settings, settings_reference
from tests.conftest import REPO


def test_settings_reference_page_matches_the_settings_model() -> None:
    page = (REPO / "docs" / "settings.md").read_text(encoding="utf-8")
    assert page == settings_reference(), "regenerate with: python -m ingest.settings > docs/settings.md"


def test_every_setting_has_a_description() -> None:
    missing = [name for name, field in Settings.model_fields.items() if not field.description]
    assert missing == []


def test_environment_variable_sets_a_value(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEWSDESK_COLLECTION", "from_env")
    assert Settings.load().collection == "from_env"


def test_settings_file_is_read_and_environment_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "newsdesk.toml"
    path.write_text('collection = "from_file"\nretrieve_k = 7\n', encoding="utf-8")
    assert Settings.load(path).collection == "from_file"
    monkeypatch.setenv("NEWSDESK_RETRIEVE_K", "9")
    loaded = Settings.load(path)
    assert (loaded.collection, loaded.retrieve_k) == ("from_file", 9)


def test_bad_value_is_a_config_error_naming_the_value() -> None:
    with pytest.raises(ConfigError, match="no spaces allowed"):
        Settings.load(collection="no spaces allowed")


def test_missing_settings_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        Settings.load(tmp_path / "absent.toml")


def test_a_chroma_timeout_that_is_not_above_zero_is_refused_naming_the_setting() -> None:
    with pytest.raises(ConfigError, match="chroma_timeout_s"):
        Settings.load(chroma_timeout_s=0)


@pytest.mark.parametrize(
    ("raw", "hosts"),
    [
        ("localhost", ["localhost"]),
        ("localhost, 127.0.0.1,,::1", ["localhost", "127.0.0.1", "::1"]),
        ('["localhost", "10.0.0.5"]', ["localhost", "10.0.0.5"]),
        ("", []),
    ],
)
def test_fetch_allowed_hosts_takes_a_comma_separated_or_json_list(
    monkeypatch: pytest.MonkeyPatch, raw: str, hosts: list[str]
) -> None:
    monkeypatch.setenv("NEWSDESK_FETCH_ALLOWED_HOSTS", raw)
    assert Settings.load().fetch_allowed_hosts == hosts


def test_a_broken_json_list_of_hosts_is_a_config_error_naming_the_setting(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("NEWSDESK_FETCH_ALLOWED_HOSTS", '["localhost"')
    with pytest.raises(ConfigError, match="fetch_allowed_hosts"):
        Settings.load()
