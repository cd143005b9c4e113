"""A real Celery worker process takes tasks from the broker and returns their results.

Nothing is mocked: the test starts `celery worker` as a subprocess and sends it tasks from
another process, both configured only through the environment, as bin/run does. It runs on
both brokers the project supports: Redis (REDIS_URL, as in production and in bin/test) and
the embedded file-system transport (what bin/run uses with no REDIS_URL).
"""

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
from django.db import connection

REPO_ROOT = Path(__file__).resolve().parent.parent
TASK_TIMEOUT = 60  # seconds; the worker itself starts in a few

# Sends each task to the test's own queue and prints their results as JSON.
CLIENT = """
import json, os
import django

django.setup()
from campaigns.tasks import health_check, ping

queue = os.environ["TEST_QUEUE"]
timeout = float(os.environ["TEST_TIMEOUT"])
print(json.dumps({
    "ping": ping.apply_async(queue=queue).get(timeout=timeout),
    "health_check": health_check.apply_async(queue=queue).get(timeout=timeout),
}))
"""


def database_url_of_this_session() -> str:
    """A DATABASE_URL for the database this test session runs on (the test database)."""
    db = connection.settings_dict
    if db["ENGINE"] == "django.db.backends.sqlite3":
        return f"sqlite:///{Path(db['NAME']).resolve()}"
    credentials = quote(db["USER"] or "", safe="")
    if db["PASSWORD"]:
        credentials += ":" + quote(db["PASSWORD"], safe="")
    host = db["HOST"] or "localhost"
    port = f":{db['PORT']}" if db["PORT"] else ""
    return f"postgres://{credentials}@{host}{port}/{quote(db['NAME'], safe='')}"


@pytest.fixture(params=["redis", "filesystem"])
def broker_env(request: pytest.FixtureRequest, tmp_path: Path) -> dict[str, str]:
    """The environment of a worker and its client for one broker, minus the database."""
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"REDIS_URL", "DATABASE_URL", "DJANGO_VAR_DIR"}
    }
    env["DJANGO_SETTINGS_MODULE"] = "talonone.settings"
    env["DJANGO_VAR_DIR"] = str(tmp_path / "var")
    if request.param == "redis":
        redis_url = os.environ.get("REDIS_URL")
        if not redis_url:
            pytest.skip("REDIS_URL is not set (bin/test sets it)")
        env["REDIS_URL"] = redis_url
    return env


@pytest.fixture
def worker(broker_env: dict[str, str], tmp_path: Path) -> Iterator[dict[str, str]]:
    """Start a worker on a queue of its own; yield the environment that reaches it."""
    env = {
        **broker_env,
        "DATABASE_URL": database_url_of_this_session(),
        "TEST_QUEUE": f"test-{uuid.uuid4().hex}",
        "TEST_TIMEOUT": str(TASK_TIMEOUT),
    }
    log_path = tmp_path / "worker.log"
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "talonone",
                "worker",
                "--pool=solo",
                "--loglevel=INFO",
                "--queues",
                env["TEST_QUEUE"],
                "--hostname",
                f"{env['TEST_QUEUE']}@%h",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
            ],
            cwd=REPO_ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        yield env
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
        print("--- worker log ---\n" + log_path.read_text())  # shown if the test failed


@pytest.mark.django_db(transaction=True)
def test_a_real_worker_runs_tasks_and_returns_their_results(worker: dict[str, str]) -> None:
    client = subprocess.run(
        [sys.executable, "-c", CLIENT],
        cwd=REPO_ROOT,
        env=worker,
        capture_output=True,
        text=True,
        timeout=TASK_TIMEOUT * 3,
        check=False,
    )

    assert client.returncode == 0, client.stderr
    results = json.loads(client.stdout.strip().splitlines()[-1])
    assert results == {
        "ping": "pong",
        "health_check": {"worker": "ok", "database": "ok"},
    }
