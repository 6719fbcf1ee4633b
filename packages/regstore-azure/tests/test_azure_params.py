"""Parameters: the registry's keys, strings for numbers, clear errors, secrets kept out."""

from __future__ import annotations

import logging
import re
import socket
from datetime import timedelta
from typing import Any

import pytest
from azure.storage.blob import (
    AccountSasPermissions,
    ContainerClient,
    ResourceTypes,
    generate_account_sas,
)
from azure_helpers import DriverFactory, Interceptor

import regstore
from regstore import DriverError, InvalidParameterError, PathNotFoundError, StorageDriver
from regstore_azure import AzureDriver
from regstore_azure.config import (
    AzureConfig,
    ClientSecret,
    DefaultCredentials,
    SasToken,
    SharedKey,
)
from regstore_azure.config import parse as parse_config

KEY = "c2VjcmV0LWtleS1mb3ItdGVzdHMtb25seQ=="
SECRET = "client-secret-value-never-shown"
BASE = {"accountname": "myaccount", "accountkey": KEY, "container": "registry"}


def config(**overrides: Any) -> AzureConfig:
    values = {**BASE, **overrides}
    return parse({k: v for k, v in values.items() if v is not None})


def parse(values: dict[str, Any]) -> AzureConfig:
    return parse_config(values, driver_name="azure")


def invalid(parameter: str, **overrides: Any) -> InvalidParameterError:
    with pytest.raises(InvalidParameterError) as caught:
        config(**overrides)
    assert caught.value.parameter == parameter
    assert str(caught.value).startswith("azure: parameter ")
    assert KEY not in str(caught.value)
    assert SECRET not in str(caught.value)
    return caught.value


def test_defaults_follow_the_registry() -> None:
    result = config()
    assert result.account_name == "myaccount"
    assert result.container == "registry"
    assert result.service_url == "https://myaccount.blob.core.windows.net"
    assert result.root == ""
    assert result.auth == SharedKey(KEY)
    assert result.max_retries == 5
    assert result.retry_delay == pytest.approx(0.1)
    assert result.skip_verify is False


def test_realm_serviceurl_and_rootdirectory() -> None:
    assert config(realm="core.chinacloudapi.cn").service_url == (
        "https://myaccount.blob.core.chinacloudapi.cn"
    )
    assert config(serviceurl="http://127.0.0.1:10000/myaccount/").service_url == (
        "http://127.0.0.1:10000/myaccount"
    )
    assert config(rootdirectory="/docker/registry/").root == "docker/registry"


def test_strings_are_accepted_for_numbers_booleans_and_durations() -> None:
    result = config(max_retries="3", skipverify="true", retry_delay="1m30s")
    assert result.max_retries == 3
    assert result.skip_verify is True
    assert result.retry_delay == pytest.approx(90.0)
    assert config(retry_delay=timedelta(milliseconds=250)).retry_delay == pytest.approx(0.25)
    assert config(max_retries=0).max_retries == 5  # 0 means the default, as in Go


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("100ms", 0.1), ("1.5s", 1.5), ("2m", 120.0), ("1h30m", 5400.0), ("250us", 0.00025)],
)
def test_go_durations(text: str, seconds: float) -> None:
    assert config(retry_delay=text).retry_delay == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["100", "1 s", "s", "-1s", "0s", "1d"])
def test_malformed_durations(text: str) -> None:
    assert "a duration such as" in str(invalid("retry_delay", retry_delay=text))


def test_missing_account_or_container_names_the_key() -> None:
    assert "required" in str(invalid("accountname", accountname=None))
    assert "required" in str(invalid("container", container=None))


def test_malformed_values_name_the_key_and_what_is_allowed() -> None:
    assert "lowercase" in str(invalid("container", container="My_Container"))
    assert "3 to 24" in str(invalid("accountname", accountname="My-Account"))
    assert "500ms" in str(invalid("retry_delay", retry_delay="100"))
    assert "0 or more" in str(invalid("max_retries", max_retries=-1))
    assert "integer" in str(invalid("max_retries", max_retries="many"))
    assert "boolean" in str(invalid("skipverify", skipverify="perhaps"))
    assert "http or https URL" in str(invalid("serviceurl", serviceurl="ftp://host"))


def test_unknown_keys_are_rejected() -> None:
    error = invalid("bucket", bucket="registry")
    assert "accountname" in str(error)  # the message lists the accepted keys


def test_credential_types() -> None:
    assert config(credentials={"type": "shared_key"}).auth == SharedKey(KEY)
    assert config(
        accountkey=None,
        credentials={"type": "client_secret", "tenantid": "t", "clientid": "c", "secret": SECRET},
    ).auth == ClientSecret("t", "c", SECRET)
    assert (
        config(accountkey=None, credentials={"type": "default_credentials"}).auth
        == DefaultCredentials()
    )


def test_credential_errors_name_the_key() -> None:
    error = invalid("credentials.type", credentials={"type": "default"})
    assert "shared_key, client_secret, default_credentials" in str(error)
    invalid("credentials.type", credentials={})
    invalid(
        "credentials.secret",
        credentials={"type": "client_secret", "tenantid": "t", "clientid": "c"},
    )
    invalid("credentials.tenant", credentials={"type": "client_secret", "tenant": "t"})
    invalid("accountkey", accountkey=None, credentials={"type": "shared_key"})
    assert "accountkey" in str(invalid("credentials", accountkey=None))
    invalid("credentials", credentials="shared_key")


def test_connection_string() -> None:
    text = (
        "DefaultEndpointsProtocol=https;AccountName=other;"
        f"AccountKey={KEY};EndpointSuffix=core.usgovcloudapi.net"
    )
    result = parse({"connectionstring": text, "container": "registry"})
    assert result.account_name == "other"
    assert result.auth == SharedKey(KEY)
    assert result.service_url == "https://other.blob.core.usgovcloudapi.net"
    sas = parse(
        {
            "connectionstring": "BlobEndpoint=http://127.0.0.1:1/acct;SharedAccessSignature=?sv=x&sig=y",
            "accountname": "acct",
            "container": "registry",
        }
    )
    assert sas.auth == SasToken("sv=x&sig=y")
    assert sas.service_url == "http://127.0.0.1:1/acct"


def test_connection_string_errors_never_quote_it() -> None:
    text = f"AccountName=myaccount;AccountKey={KEY}"
    assert "not both" in str(invalid("connectionstring", connectionstring=text))
    error = invalid("accountname", accountkey=None, accountname="else", connectionstring=text)
    assert "differs" in str(error)
    invalid("connectionstring", accountkey=None, connectionstring="AccountName=myaccount")
    invalid(
        "connectionstring", accountkey=None, accountname=None, connectionstring=f"AccountKey={KEY}"
    )


def test_no_secret_in_reprs() -> None:
    for result in (
        config(),
        config(
            accountkey=None,
            credentials={
                "type": "client_secret",
                "tenantid": "t",
                "clientid": "c",
                "secret": SECRET,
            },
        ),
        parse(
            {"connectionstring": f"AccountName=a1b2c3;AccountKey={KEY}", "container": "registry"}
        ),
    ):
        assert KEY not in repr(result)
        assert SECRET not in repr(result)
    driver = AzureDriver(BASE)
    assert KEY not in repr(driver)
    assert KEY not in repr(regstore.create("azure", BASE))
    assert repr(driver).startswith("AzureDriver(account='myaccount', container='registry'")


def test_entry_point_builds_the_driver() -> None:
    assert "azure" in regstore.available_drivers()
    driver = regstore.create("azure", {**BASE, "max_retries": "2"})
    assert driver.name == "azure"


# -- against Azurite ----------------------------------------------------------


def test_connection_string_works_on_azurite(
    azurite: dict[str, str], container: ContainerClient
) -> None:
    driver = regstore.create(
        "azure",
        {"connectionstring": azurite["connection_string"], "container": container.container_name},
    )
    driver.put_content("/file", b"via connection string")
    assert driver.get_content("/file") == b"via connection string"
    driver.delete("/file")


def test_sas_connection_string_works_but_gives_no_redirects(
    azurite: dict[str, str], account_key: str, container: ContainerClient
) -> None:
    from datetime import datetime, timezone

    token = generate_account_sas(
        "devstoreaccount1",
        account_key,
        ResourceTypes(service=True, container=True, object=True),
        AccountSasPermissions(read=True, write=True, delete=True, list=True, add=True, create=True),
        expiry=datetime.now(timezone.utc) + timedelta(hours=1),
    )
    driver = regstore.create(
        "azure",
        {
            "connectionstring": f"BlobEndpoint={azurite['endpoint']};SharedAccessSignature={token}",
            "accountname": "devstoreaccount1",
            "container": container.container_name,
        },
    )
    with driver.writer("/upload") as writer:
        writer.write(b"pending")
    with driver.writer("/upload", append=True) as writer:
        writer.write(b" data")
        writer.commit()
    driver.move("/upload", "/moved")
    assert driver.get_content("/moved") == b"pending data"
    assert driver.redirect_url("/moved") is None
    driver.delete("/moved")


def test_wrong_account_key_says_the_key_was_refused(
    make_driver: DriverFactory, account_key: str
) -> None:
    wrong = "d3Jvbmcta2V5LW5vdC10aGUtcmlnaHQtb25lLWF0LWFsbA=="
    driver = make_driver(accountkey=wrong)
    with pytest.raises(DriverError) as caught:
        driver.put_content("/file", b"x")
    message = str(caught.value)
    assert message.startswith("azure: put_content /file: ")
    assert "refused the account key" in message
    assert wrong not in message
    assert account_key not in message


def test_missing_container_is_named(make_driver: DriverFactory) -> None:
    driver = make_driver(container="no-such-container")
    for call in (lambda: driver.stat("/file"), lambda: driver.get_content("/file")):
        with pytest.raises(DriverError) as caught:
            call()
        assert not isinstance(caught.value, PathNotFoundError)
        assert "container 'no-such-container' does not exist" in str(caught.value)


def test_unreachable_service_is_named(make_driver: DriverFactory) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}/devstoreaccount1"
    driver = make_driver(serviceurl=url, max_retries=1, retry_delay="1ms")
    with pytest.raises(DriverError, match="cannot reach the blob service at") as caught:
        driver.stat("/file")
    assert url in str(caught.value)


def test_retries_follow_max_retries(make_driver: DriverFactory, interceptor: Interceptor) -> None:
    driver = make_driver(serviceurl=interceptor.url, max_retries="1", retry_delay="10ms")
    busy = (503, {"x-ms-error-code": "ServerBusy", "Content-Type": "application/xml"}, b"")
    interceptor.answer = lambda method, target: busy if target.endswith("/file") else None
    with pytest.raises(DriverError, match=r"was busy \(ServerBusy\) after 1 retry") as caught:
        driver.stat("/file")
    assert "azure: stat /file: " in str(caught.value)
    assert len(interceptor.requests("HEAD", r"/file$")) == 2  # the first try and 1 retry


def test_no_key_or_signature_in_logs(
    driver: StorageDriver, account_key: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with driver.writer("/upload") as writer:
        writer.write(b"pending")
    writer = driver.writer("/upload", append=True)
    writer.commit()  # block copies under a SAS
    driver.move("/upload", "/moved")  # a copy under a SAS
    assert driver.redirect_url("/moved")
    driver.delete("/moved")
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "x-ms-copy-source" in logged  # the SDK logged the copy requests
    assert account_key not in logged
    signatures = re.findall(r"sig=([^&'\s\"]+)", logged)
    assert all(value in ("*****", "REDACTED") for value in signatures), signatures
