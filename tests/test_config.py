"""Configuration: TOML + environment, validated once, errors that name the key."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from connector.config import ConfigError, load_settings, resolve_secrets


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "connector.toml"
    path.write_text(text)
    return path


def test_defaults_need_no_file():
    settings = load_settings(environ={})
    assert settings.intake.max_body_bytes == 1024 * 1024
    assert settings.sqlalchemy_url.startswith("sqlite:///") and settings.sqlalchemy_url.endswith(
        "connector.db"
    )
    assert settings.redis_url == ""


def test_file_values_and_env_overrides(tmp_path: Path):
    path = write(tmp_path, '[intake]\nmax_body_bytes = 2048\n[jobs]\nqueue = "from-file"\nmax_attempts = 3\n')
    settings = load_settings(
        path,
        environ={
            "CONNECTOR_JOBS__MAX_ATTEMPTS": "5",
            "DATABASE_URL": "postgres://u@db/x",
            "CONNECTOR_LOG_LEVEL": "debug",
        },
    )
    assert settings.intake.max_body_bytes == 2048
    assert settings.jobs.queue == "from-file"
    assert settings.jobs.max_attempts == 5
    assert settings.log_level == "DEBUG"
    assert settings.sqlalchemy_url == "postgresql+psycopg://u@db/x"


def test_config_path_from_environment(tmp_path: Path):
    path = write(tmp_path, "[web]\nport = 9123\n")
    assert load_settings(environ={"CONNECTOR_CONFIG": str(path)}).web.port == 9123


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "[intake]\nmax_body_byte = 10\n",
            "unknown key 'intake.max_body_byte' (expected one of: body_timeout_seconds, max_body_bytes)",
        ),
        ('[intake]\nmax_body_bytes = "big"\n', "intake.max_body_bytes: expected an integer, got 'big'"),
        ("[jobs]\nmax_attempts = 0\n", "jobs.max_attempts: expected an integer >= 1, got 0"),
        (
            "[jobs]\nbackoff_seconds = [5, -1]\n",
            "jobs.backoff_seconds: expected a non-empty list of non-negative",
        ),
        ('log_format = "xml"\n', "log_format: expected one of json, text, got 'xml'"),
        (
            '[sources.generic]\nenabled = "yes"\n',
            "sources.generic.enabled: expected true or false, got 'yes'",
        ),
        ("[sources.generic]\nsecret_env = [1]\n", "sources.generic.secret_env: expected a list of str"),
        ("intake = 3\n", "intake: expected a table"),
        ("[web\n", "not valid TOML"),
    ],
)
def test_invalid_files_name_the_key(tmp_path: Path, text: str, expected: str):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as error:
        load_settings(path, environ={})
    assert str(path) in str(error.value)
    assert expected in str(error.value)


def test_missing_file_is_an_error(tmp_path: Path):
    with pytest.raises(ConfigError, match="file not found"):
        load_settings(tmp_path / "nope.toml", environ={})


def test_invalid_config_stops_the_cli_with_the_key(tmp_path: Path):
    path = write(tmp_path, "[jobs]\nmax_attempts = -2\n")
    result = subprocess.run(
        [sys.executable, "-m", "connector", "--config", str(path), "check"], capture_output=True, text=True
    )
    assert result.returncode != 0
    assert "jobs.max_attempts: expected an integer >= 1, got -2" in result.stderr


def test_secrets_come_from_named_env_vars_and_files(tmp_path: Path):
    secret_file = tmp_path / "s.txt"
    secret_file.write_text("from-file\n")
    path = write(
        tmp_path, f'[sources.generic]\nsecret_env = ["OLD", "NEW"]\nsecret_file = ["{secret_file}"]\n'
    )
    settings = load_settings(path, environ={})
    assert resolve_secrets(settings, "generic", {"OLD": "old-one", "NEW": " new-one "}) == [
        "old-one",
        "new-one",
        "from-file",
    ]


def test_unreadable_secret_file_names_the_key(tmp_path: Path):
    path = write(tmp_path, '[sources.generic]\nsecret_file = ["/nonexistent/secret"]\n')
    with pytest.raises(ConfigError, match="sources.generic.secret_file: cannot read /nonexistent/secret"):
        resolve_secrets(load_settings(path, environ={}), "generic", {})


def test_dev_token_is_generated_once_and_private(tmp_path: Path):
    settings = load_settings(environ={"CONNECTOR_DATA_DIR": str(tmp_path)})
    first = resolve_secrets(settings, "generic", {})
    second = resolve_secrets(settings, "generic", {})
    token_file = tmp_path / "secrets" / "generic.token"
    assert first == second and len(first[0]) >= 32
    assert token_file.stat().st_mode & 0o777 == 0o600


def test_configured_env_secret_replaces_dev_token(tmp_path: Path):
    settings = load_settings(environ={"CONNECTOR_DATA_DIR": str(tmp_path)})
    assert resolve_secrets(settings, "generic", {"CONNECTOR_GENERIC_SECRET": "s3cret"}) == ["s3cret"]
    assert not (tmp_path / "secrets").exists()


def test_example_config_documents_every_key_with_its_default():
    import tomllib
    from dataclasses import asdict, fields, is_dataclass

    from connector.config import Settings

    example_path = Path(__file__).resolve().parent.parent / "config.example.toml"
    example = tomllib.loads(example_path.read_text())
    defaults = asdict(load_settings(environ={}))

    def walk(cls, table: dict, prefix: str) -> None:
        for f in fields(cls):
            if f.name in ("source_path", "sources"):
                continue
            assert f.name in table, f"config.example.toml lacks {prefix}{f.name}"
            if is_dataclass(getattr(cls(), f.name)):
                walk(type(getattr(cls(), f.name)), table[f.name], f"{prefix}{f.name}.")

    walk(Settings, example, "")
    assert "generic" in example["sources"]
    from connector.config import SourceSettings

    for f in fields(SourceSettings):
        assert f.name in example["sources"]["generic"], f"config.example.toml lacks sources.generic.{f.name}"
    loaded = asdict(load_settings(example_path, environ={}))
    assert loaded["sources"]["generic"] == asdict(SourceSettings(secret_env=["CONNECTOR_GENERIC_SECRET"]))
    for key in (
        "intake",
        "jobs",
        "web",
        "run",
        "retention",
        "collect",
        "conversions",
        "log_level",
        "data_dir",
    ):
        assert loaded[key] == defaults[key], f"config.example.toml shows a non-default value for {key}"


def test_crm_settings_defaults_env_and_errors(tmp_path: Path):
    import tomllib
    from dataclasses import asdict

    defaults = load_settings(environ={}).crm
    assert defaults.provider == "none" and defaults.mappings_path == "mappings"
    assert defaults.salesforce.api_version == "59.0" and defaults.hubspot.host == "https://api.hubapi.com"
    example = Path(__file__).resolve().parent.parent / "config.example.toml"
    assert tomllib.loads(example.read_text())["crm"] == asdict(defaults)
    settings = load_settings(
        environ={
            "CONNECTOR_CRM__PROVIDER": "HubSpot",
            "CONNECTOR_CRM__BATCH_WINDOW_SECONDS": "1.5",
            "CONNECTOR_CRM__HUBSPOT__HOST": "http://127.0.0.1:9",
        }
    )
    assert settings.crm.provider == "hubspot" and settings.crm.batch_window_seconds == 1.5
    assert settings.crm.hubspot.host == "http://127.0.0.1:9"
    for text, expected in [
        ('[crm]\nprovider = "pipedrive"\n', "crm.provider: expected one of none, salesforce, hubspot"),
        ("[crm]\nbatch_window_seconds = -1\n", "crm.batch_window_seconds: expected a number >= 0"),
        ('[crm.salesforce]\nauth_method = "magic"\n', "crm.salesforce.auth_method: expected one of jwt"),
        ('[crm.hubspot]\ntoken = "pat-123"\n', "unknown key 'crm.hubspot.token'"),
    ]:
        with pytest.raises(ConfigError, match=expected.replace(".", r"\.")):
            load_settings(write(tmp_path, text), environ={})


def test_crm_secrets_come_only_from_the_named_environment(tmp_path: Path):
    from connector.crm.configured import build_adapter

    settings = load_settings(environ={"CONNECTOR_CRM__PROVIDER": "hubspot"})
    with pytest.raises(ConfigError, match="environment variable HUBSPOT_ACCESS_TOKEN is not set"):
        build_adapter(settings, environ={})
    token_file = tmp_path / "token"
    token_file.write_text("pat-from-file\n")
    settings = load_settings(
        environ={
            "CONNECTOR_CRM__PROVIDER": "hubspot",
            "CONNECTOR_CRM__HUBSPOT__TOKEN_FILE": f'"{token_file}"',
        }
    )
    assert build_adapter(settings, environ={}).name == "hubspot"
    sf = load_settings(environ={"CONNECTOR_CRM__PROVIDER": "salesforce"})
    with pytest.raises(ConfigError, match="environment variable SALESFORCE_CLIENT_ID is not set"):
        build_adapter(sf, environ={})
