"""The official Talon.One JavaScript SDK (npm ``talon_one`` 4.3.0) against the running
server's Management API: ``sdk/drive_management.mjs`` logs in with ``createSession`` and reads
the applications and an application's campaigns with the bearer token, through the SDK's
models; the test checks what the SDK deserialised."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
from pytest_django.live_server_helper import LiveServer

from management.models import Role
from tests.factories import ApplicationFactory, CampaignFactory, UserFactory
from tests.management.factories import MembershipFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

NODE_TIMEOUT_SECONDS = 60
PASSWORD = "correct horse battery staple"


def drive(node: str, sdk_dir: Path, scenario: dict[str, Any]) -> dict[str, Any]:
    try:
        done = subprocess.run(
            [node, "drive_management.mjs"],
            cwd=sdk_dir,
            input=json.dumps(scenario),
            capture_output=True,
            text=True,
            timeout=NODE_TIMEOUT_SECONDS,
            check=False,
        )
    except subprocess.TimeoutExpired as error:
        pytest.fail(f"drive_management.mjs took over {NODE_TIMEOUT_SECONDS} s:\n{error.stderr}")
    assert done.returncode == 0, done.stderr
    report: dict[str, Any] = json.loads(done.stdout)
    return report


def test_the_javascript_sdk_logs_in_and_reads_applications_and_campaigns(
    live_server: LiveServer, node: str, sdk_dir: Path
) -> None:
    shop = ApplicationFactory(name="Shop")
    ApplicationFactory(name="Someone else's")  # not the user's: never listed
    CampaignFactory(application=shop, name="Summer sale", state="enabled")
    CampaignFactory(application=shop, name="Winter sale", state="disabled")
    user = UserFactory(email="ada@example.com", password=PASSWORD)
    MembershipFactory(user=user, application=shop, role=Role.EDITOR)

    report = drive(
        node,
        sdk_dir,
        {
            "baseUrl": live_server.url,
            "email": "ada@example.com",
            "password": PASSWORD,
            "applicationId": shop.pk,
        },
    )

    assert report["sdk"] == "4.3.0"
    assert report["session"]["model"] == "Session"
    assert report["session"]["userId"] == user.pk
    assert report["session"]["hasToken"] is True
    assert report["session"]["created"] is not None
    assert report["applications"]["names"] == ["Shop"]
    assert set(report["applications"]["models"]) == {"Application"}
    assert report["applications"]["totalResultSize"] == 1
    assert sorted(report["campaigns"]["names"]) == ["Summer sale", "Winter sale"]
    assert set(report["campaigns"]["models"]) == {"Campaign"}
    assert sorted(report["campaigns"]["states"]) == ["disabled", "enabled"]
