"""Settings: environment, TOML file, validation, and the generated reference page."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from assistant.core.errors import ConfigError
from assistant.core.sections import SECTIONS, NewsSettings
from assistant.core.settings import Settings, settings_reference
from tests.conftest import REPO


def test_settings_reference_page_matches_the_settings_model() -> None:
    page = (REPO / "docs" / "settings.md").read_text(encoding="utf-8")
    assert page == settings_reference(), (
        "regenerate with: python -m assistant.core.settings > docs/settings.md"
    )


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


def test_every_setting_belongs_to_exactly_one_section() -> None:
    owners: dict[str, list[str]] = {name: [] for name in Settings.model_fields}
    for section, kind in SECTIONS.items():
        for name in kind.names():
            assert name in owners, f"section {section} names {name}, which is no setting"
            owners[name].append(section)
    assert {name: found for name, found in owners.items() if len(found) != 1} == {}
    sections = "store model ingest retrieval answering llm news server api auth ui observability"
    assert list(SECTIONS) == sections.split()


def test_sections_show_the_values_of_todays_names_from_file_and_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "newsdesk.toml"
    path.write_text('collection = "from_file"\nretrieve_k = 7\nllm_model = "file-model"\n', encoding="utf-8")
    monkeypatch.setenv("NEWSDESK_DUPLICATE_OVERLAP", "0.25")
    monkeypatch.setenv("NEWSDESK_LLM_MODEL", "env-model")
    loaded = Settings.load(path)
    assert loaded.store.collection == "from_file" and loaded.retrieval.retrieve_k == 7
    assert loaded.answering.duplicate_overlap == 0.25 and loaded.llm.llm_model == "env-model"
    assert isinstance(loaded.news, NewsSettings) and loaded.store.uses_server is loaded.uses_server is False
    with pytest.raises(ValidationError, match="frozen"):
        loaded.retrieval.retrieve_k = 3  # type: ignore[misc]


def test_a_section_follows_a_copy_of_the_settings() -> None:
    copied = Settings().model_copy(update={"rrf_k": 5})
    assert copied.retrieval.rrf_k == 5


@pytest.mark.parametrize(
    ("name", "value", "rule"),
    [
        ("retrieve_k", 0, "greater than or equal to 1 .*input_value=0"),
        ("lexical_k", 0, "greater than or equal to 1 .*input_value=0"),
        ("rrf_k", -3, "greater than or equal to 1 .*input_value=-3"),
        ("duplicate_overlap", 1.5, "less than or equal to 1 .*input_value=1.5"),
        ("corroboration_threshold", 0, "greater than 0 .*input_value=0"),
        ("corroboration_candidates", 0, "greater than or equal to 1 .*input_value=0"),
        ("syndication_shingle_words", 0, "greater than or equal to 1 .*input_value=0"),
        ("llm_timeout_s", 0, "greater than 0 .*input_value=0"),
        ("llm_max_tokens", 0, "greater than or equal to 1 .*input_value=0"),
        ("context_sentences", -1, "greater than or equal to 0 .*input_value=-1"),
        ("ui_example_questions", -1, "greater than or equal to 0 .*input_value=-1"),
        ("feeds_jitter", 1, "less than 1 .*input_value=1"),
        ("ui_passage_chars", 79, "greater than or equal to 80"),
    ],
)
def test_each_rule_is_checked_in_the_settings_naming_the_setting_and_value(
    name: str, value: float, rule: str
) -> None:
    with pytest.raises(ConfigError, match=rf"{name}\n.*{rule}"):
        Settings.load(None, **{name: value})


def test_a_rule_of_a_section_holds_for_an_environment_variable_too(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEWSDESK_RETRIEVE_K", "0")
    with pytest.raises(ConfigError, match=r"retrieve_k\n.*greater than or equal to 1"):
        Settings.load()


def test_archive_permissions_are_checked_when_the_settings_are_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "NEWSDESK_OIDC_GROUP_PERMISSIONS", '{"sports-desk": "sports:read", "admins": "*:write"}'
    )
    loaded = Settings.load()
    assert loaded.auth.oidc_group_permissions == {"sports-desk": "sports:read", "admins": "*:write"}
    with pytest.raises(
        ConfigError, match=r"(?s)key_permissions.*'key#1'.*'sports:admin' is not ARCHIVE:read"
    ):
        Settings.load(key_permissions={"key#1": "sports:admin"})


def test_the_client_secret_is_refused_in_a_settings_file(tmp_path: Path) -> None:
    path = tmp_path / "newsdesk.toml"
    path.write_text('oidc_issuer = "https://id.example"\noidc_client_secret = "s3cret"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="oidc_client_secret is a secret: set NEWSDESK_OIDC_CLIENT_SECRET"):
        Settings.load(path)
