"""Setting a store up: `init --store URI --store-option KEY=VALUE`, secrets refused, and the CLI's logging."""

from __future__ import annotations

import logging
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from gitreg.cli.app import main


def _registry_yaml(root: Path) -> dict:
    return yaml.safe_load((root / ".mcp/registry.yaml").read_text())


def test_init_writes_store_options(hermetic, capsys):
    code = main(["init", "--store", "s3://bucket/registry", "--store-option",
                 "client_kwargs.endpoint_url=http://127.0.0.1:9000", "--store-option", "anon=false",
                 "--store-option", "client_kwargs.region_name=eu-west-1", "--store-option", "max_concurrency=4"])
    assert code == 0, capsys.readouterr().err
    assert _registry_yaml(hermetic)["options"] == {"storage_options": {
        "anon": False, "max_concurrency": 4,
        "client_kwargs": {"endpoint_url": "http://127.0.0.1:9000", "region_name": "eu-west-1"}}}
    assert _registry_yaml(hermetic)["store"] == "s3://bucket/registry"


def test_init_accepts_a_gcs_credentials_source(hermetic):
    from gitreg import Client

    Client.init(hermetic, store="gs://bucket/r", store_options={"token": "anon", "endpoint_url": "http://x:1"})
    assert _registry_yaml(hermetic)["options"]["storage_options"] == {"endpoint_url": "http://x:1", "token": "anon"}


@pytest.mark.parametrize("store, option, hint", [
    ("s3://b/r", "key=AKIAEXAMPLE", "AWS_ACCESS_KEY_ID"),
    ("s3://b/r", "secret=abc", "AWS_SECRET_ACCESS_KEY"),
    ("s3://b/r", "client_kwargs.aws_secret_access_key=abc", "AWS_SECRET_ACCESS_KEY"),
    ("gs://b/r", "token=ya29.a0AfH6SMBx", "GOOGLE_APPLICATION_CREDENTIALS"),
    ("az://c/r", "account_key=Eby8vdM0", "AZURE_STORAGE_ACCOUNT_KEY"),
    ("az://c/r", "sas_token=sv=2024&sig=x", "AZURE_STORAGE_SAS_TOKEN"),
    ("abfs://c/r", "connection_string=AccountKey=x", "AZURE_STORAGE_CONNECTION_STRING"),
    ("az://c/r", "client_secret=x", "AZURE_STORAGE_CLIENT_SECRET"),
    ("sftp://host/r", "password=hunter2", "environment variables"),
])
def test_init_refuses_secrets_and_says_where_they_go(hermetic, capsys, store, option, hint):
    code = main(["init", "--store", store, "--store-option", option])
    err = capsys.readouterr().err
    assert code == 2, err
    assert "look like secrets" in err and option.split("=")[0] in err and hint in err
    assert len(err.strip().splitlines()) == 1
    assert not (hermetic / ".mcp").exists() and not (hermetic / ".git").exists()  # nothing was created


def test_store_options_need_a_store_and_the_key_value_form(hermetic, capsys):
    assert main(["init", "--store-option", "anon=true"]) == 2
    assert "need a store" in capsys.readouterr().err
    assert main(["init", "--store", "s3://b/r", "--store-option", "anon"]) == 2
    assert "KEY=VALUE" in capsys.readouterr().err
    assert not (hermetic / ".mcp").exists()


def test_the_api_refuses_secrets_too(hermetic):
    from gitreg import Client
    from gitreg.errors import InvalidValueError

    with pytest.raises(InvalidValueError, match="AZURE_STORAGE_CONNECTION_STRING"):
        Client.init(hermetic, store="az://c/r", store_options={"credential": {"account_key": "x"}})
    assert not (hermetic / ".mcp").exists()


# ------------------------------------------------------------ the CLI owns logging


def _library_noise() -> None:
    logging.getLogger("gcsfs").warning("Failed to move file using moveTo API. Falling back to copy/delete.")
    try:
        raise OSError("connection reset")
    except OSError:
        logging.getLogger("aiohttp.client").exception("retrying")
    logging.getLogger("adlfs").debug("debug detail")


def test_library_logs_are_silent_by_default_and_shown_with_verbosity(capsys):
    from gitreg.cli.logs import configure

    try:
        configure(0)
        _library_noise()
        logging.getLogger("gitreg").warning("the write succeeded, but the push did not")
        assert "Falling back" not in capsys.readouterr().err  # nor the traceback, nor the warning

        configure(1)
        _library_noise()
        err = capsys.readouterr().err
        assert "gcsfs: WARNING: Failed to move file" in err and "Traceback" in err
        assert "debug detail" not in err

        configure(2)
        _library_noise()
        assert "adlfs: DEBUG: debug detail" in capsys.readouterr().err
    finally:
        configure(0)


@pytest.mark.parametrize("verbosity, shown", [(0, False), (1, True)])
def test_library_warnings_follow_the_verbosity(verbosity, shown):
    code = (f"import warnings; from gitreg.cli.logs import configure; configure({verbosity});"
            " warnings.warn('socket_timeout is deprecated', FutureWarning)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert ("FutureWarning: socket_timeout is deprecated" in result.stderr) is shown, result.stderr


def test_gitreg_warnings_still_reach_the_user(hermetic, capsys):
    """configure(0) silences the libraries, not gitreg's own warnings (the CLI's `warning:` lines)."""
    assert main(["init"]) == 0
    capsys.readouterr()
    logging.getLogger("gitreg").warning("pushed nothing")
    assert "warning: pushed nothing" in capsys.readouterr().err


def test_the_cli_entry_point_silences_library_logs(hermetic, capsys):
    """Without configuration, logging's last resort would print a library's errors and tracebacks."""
    logging.getLogger().handlers.clear()  # as in a fresh `gitreg` process
    assert main(["init"]) == 0
    capsys.readouterr()
    try:
        raise ConnectionError("Cannot connect to host 127.0.0.1:1")
    except ConnectionError:
        logging.getLogger("gcsfs").exception("_call retrying after exception")
    assert capsys.readouterr().err == ""
