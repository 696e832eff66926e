"""Connecting to Temporal: one client configuration for the worker, the command line, the portal
and the benchmarks, and the one data converter every client and worker of the project uses
(`data_converter`: pydantic payloads, encrypted by client/codec.py).

The configuration is the Temporal SDK's (temporalio.envconfig): a TOML profile
(TEMPORAL_CONFIG_FILE, default ~/.config/temporalio/temporal.toml; TEMPORAL_PROFILE), under the
SDK's environment variables. settings.py reads the SDK's variables for the address, namespace,
API key and TLS (TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_API_KEY, TEMPORAL_TLS,
TEMPORAL_TLS_SERVER_CA_CERT_PATH, TEMPORAL_TLS_CLIENT_CERT_PATH, TEMPORAL_TLS_CLIENT_KEY_PATH,
TEMPORAL_TLS_SERVER_NAME), from the environment or .env, and those values come from the
settings, over the profile; the SDK's other variables (TEMPORAL_PROFILE, TEMPORAL_CONFIG_FILE,
TEMPORAL_GRPC_META_*, ...) reach it as they are. Without a profile file the connection is what
the settings say. The old names TEMPORAL_TLS_CA, TEMPORAL_TLS_CERT and TEMPORAL_TLS_KEY still
work for one release, with a warning that names the new variable.
"""

from __future__ import annotations

import dataclasses
import os
import sys
import warnings
from contextlib import suppress
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import DataConverter, DefaultFailureConverterWithEncodedAttributes
from temporalio.envconfig import ClientConfigProfile, ClientConfigTLS, ClientConnectConfig
from temporalio.service import TLSConfig

from client.codec import EncryptionCodec
from client.errors import ClientConfigError
from client.payloads import StrictPayloadConverter
from settings import Settings, environment_names

if TYPE_CHECKING:
    from collections.abc import Mapping

    from temporalio.runtime import Runtime


def data_converter(settings: Settings) -> DataConverter:
    """The one data converter of every client and worker of the project (the worker, the
    replayer, the command line, the portal, the benchmarks, the tests' environments):
    pydantic models in and out of every workflow, activity, update and query, decoded strictly
    (client/payloads.py); every payload
    encrypted with the settings' codec keys (client/codec.py); failure messages and stack
    traces moved into an encoded (so encrypted) attribute. Payloads written before the codec
    decode as they are."""
    return dataclasses.replace(
        pydantic_data_converter,
        payload_converter_class=StrictPayloadConverter,
        payload_codec=EncryptionCodec.from_settings(settings),
        failure_converter_class=DefaultFailureConverterWithEncodedAttributes,
    )


def deprecation_warning(old: str, new: str) -> str:
    return f"{old} is deprecated and read for one release only: set {new} instead"


def tls_config(
    settings: Settings, profile: ClientConfigTLS | None = None, *, api_key: bool = False
) -> TLSConfig | bool:
    """TLS to the Temporal frontend (docs/deployment.md); False: plain.

    On with TEMPORAL_TLS=true, a CA or client certificate, a TLS section in the profile, or an
    API key (`api_key`); TEMPORAL_TLS=false, in the settings or the profile, turns it off. Each
    part (CA, client certificate and key, server name) comes from the settings, else from the
    profile."""
    profile = profile or ClientConfigTLS()
    if "temporal_tls" in settings.model_fields_set and not settings.temporal_tls:
        return False  # set false explicitly (a certificate would have turned it on)
    if profile.disabled is True and not settings.temporal_tls:
        return False
    if not (settings.temporal_tls or profile != ClientConfigTLS() or api_key):
        return False

    def read(path: Path | None, source: Any) -> bytes | None:
        if path is not None:
            return path.read_bytes()
        if isinstance(source, Path):
            return source.read_bytes()
        return source.encode() if isinstance(source, str) else source

    return TLSConfig(
        server_root_ca_cert=read(settings.temporal_tls_ca, profile.server_root_ca_cert),
        client_cert=read(settings.temporal_tls_cert, profile.client_cert),
        client_private_key=read(settings.temporal_tls_key, profile.client_private_key),
        domain=settings.temporal_tls_server_name or profile.server_name or None,
    )


def connect_config(
    settings: Settings, *, environ: Mapping[str, str] | None = None
) -> ClientConnectConfig:
    """Client.connect's arguments (without the data converter): the profile with the SDK's
    variables of `environ` (default the process's environment) that settings.py does not read,
    under the settings. Warns (FutureWarning) for each old variable name in use."""
    for old, new in settings.deprecated_names.items():
        warnings.warn(deprecation_warning(old, new), FutureWarning, stacklevel=2)
    ours = environment_names()  # with the old names
    environ = os.environ if environ is None else environ
    theirs = {name: value for name, value in environ.items() if name not in ours}
    try:
        profile = ClientConfigProfile.load(override_env_vars=theirs)
    except RuntimeError as exc:  # the bridge's ConfigError: a broken file, an unknown profile
        raise ClientConfigError(
            f"Temporal client configuration: {exc} (TEMPORAL_CONFIG_FILE, TEMPORAL_PROFILE)"
        ) from None
    given = settings.model_fields_set
    config: ClientConnectConfig = profile.to_client_connect_config()
    if "temporal_address" in given or "target_host" not in config:
        config["target_host"] = settings.temporal_address
    if "temporal_namespace" in given or "namespace" not in config:
        config["namespace"] = settings.temporal_namespace
    if settings.temporal_api_key:
        config["api_key"] = settings.temporal_api_key
    # An API key goes over TLS (as the SDK has it), unless TLS is switched off.
    config["tls"] = tls_config(settings, profile.tls, api_key=bool(config.get("api_key")))
    return config


async def connect(
    settings: Settings,
    runtime: Runtime | None = None,
    *,
    config: ClientConnectConfig | None = None,
) -> Client:
    """A client for the settings' Temporal (`config`, default connect_config's), with the
    settings' data converter. The Rust bridge reports a failure to connect as a
    RuntimeError."""
    config = config or connect_config(settings)
    return await Client.connect(**config, data_converter=data_converter(settings), runtime=runtime)


def exit_without_finalizing(code: int) -> NoReturn:
    """Leave without interpreter finalization: the Temporal client's Rust threads can abort it
    (SIGABRT, "PyGILState_Release") after the work is done, which would turn a clean exit code
    into 134."""
    for stream in (sys.stdout, sys.stderr):
        with suppress(BrokenPipeError, ValueError):
            stream.flush()
    os._exit(code)
