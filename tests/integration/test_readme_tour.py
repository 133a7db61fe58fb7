"""The README's five-minute tour, run as written (only the base URL and the key filled in) against
`serialtrail run --distributed`: every service its own process behind the gateway, PostgreSQL and
a Kafka-protocol broker, as a new user starts it."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import httpx
from serialtrail_kit.pgserver import free_port
from serialtrail_kit.testing.waiting import until

README = Path(__file__).resolve().parents[2] / "README.md"


def tour(base: str, key: str) -> str:
    """The tour's shell block with the two lines a reader fills in filled in."""
    text = README.read_text()
    block = text.split("## A five-minute tour", 1)[1].split("```sh\n", 1)[1].split("```", 1)[0]
    assert "API=http://127.0.0.1:8000\n" in block
    assert "export KEY=st_...   # the ADMIN_KEY printed by `make run`\n" in block
    block = block.replace("API=http://127.0.0.1:8000\n", f"API={base}\n")
    return block.replace("export KEY=st_...   # the ADMIN_KEY printed by `make run`\n", f"export KEY={key}\n")


async def test_the_readme_tour_works_unchanged_in_distributed_mode() -> None:
    with tempfile.TemporaryDirectory(prefix="serialtrail-tour-") as folder:
        os.chmod(folder, 0o755)  # the unprivileged PostgreSQL user must reach its data
        port = free_port()
        log = Path(folder) / "run.log"
        env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "KAFKA_BOOTSTRAP_SERVERS")}
        env["SERIALTRAIL_DATA_DIR"] = str(Path(folder) / "data")
        process = start(port, env, log)
        try:
            await until(lambda: "Ctrl-C stops everything" in log.read_text() or process.poll() is not None, 240)
            assert process.poll() is None, log.read_text()
            key = re.search(r"ADMIN_KEY=(\S+)", log.read_text())
            assert key is not None, log.read_text()
            script = "shopt -s expand_aliases\n" + tour(f"http://127.0.0.1:{port}", key.group(1))
            done = await asyncio.to_thread(
                subprocess.run, ["bash", "-c", script], capture_output=True, text=True, timeout=180, check=False
            )
            await _the_client_cannot_name_its_address(f"http://127.0.0.1:{port}", key.group(1))
        finally:
            os.killpg(process.pid, signal.SIGINT)  # Ctrl-C
            process.wait(90)
        said = done.stdout
        assert done.returncode == 0, done.stderr + said
        assert '"status":5' not in said, said  # no 5xx anywhere
        assert '"gtin":"09506000134352","company_prefix_length":7' in said  # 1: the product
        assert '"issued":1000,"imported":0,"commissioned":10' in said  # 6: the batch's counts
        assert '{"field":"gtin","rule":"gtin","message":"check digit is wrong' in said  # 7: the typo named
        # 9: eleven packed, the late one pending (the others too, had commissioning not reached aggregation yet)
        assert re.search(r'"children":11,"pending_children":\[[^]]*LATE00000001"\]', said), said
        assert '"rule":"matches-count"' in said  # 9: closed with the wrong count first
        assert '"child_count":11,"expected_count":11' in said  # 9: then closed
        assert re.search(r'"pending_links":\{"count":1,"items":\[\{"child":"[^"]*LATE00000001"', said)  # 10
        assert '"status":403,"detail":"role cmo lacks permission identity:admin"' in said  # 11
        assert '"status":401,"detail":"credentials required' in said  # 11: no credentials
        assert '"type":"damaged","state":"open","units":1,"parents":0,"taken_out":1' in done.stderr  # 12 (tee)
        assert '"state":"under-investigation"' in said  # 12
        assert '{"field":"signature","rule":"qa-signature"' in said  # 12: unsigned refused
        assert re.search(r'"state":"resolved".*"signer_role":"admin"', said)  # 12: signed
        assert '"records":1,"units_taken_out":1' in said  # 12: the batch's summary
        assert re.search(r'"holds":\[\{"hold_id":"[^"]+","gtin":"09506000134352","lot":"L2026A"', said)  # 13
        assert '"state":"lifted","global_position"' in said  # 13: lifted, signed
        assert re.search(r'"state":"closed".*"signer_role":"admin"', said)  # 14: the deviation closed, signed
        assert re.search(r'"deviations":\["[0-9a-f-]{36}"\]', said)  # 14: the unit's record leads to it
        assert '"root_cause_category":"machine"' in said  # 14
        assert re.search(r'"running":false,"success":true,"captureErrorBehaviour":"rollback".*"captured":1', said)  # 15
        assert '"by":"reactor:serial_issuance.epcis_commissioning"' in said  # 15: commissioned through EPCIS
        assert '"rule":"captured-once"' in said  # 15: sent again, a duplicate
        assert process.returncode in (0, 130), log.read_text()[-3000:]
        assert "Traceback" not in log.read_text()
        await _a_restart_keeps_everything_and_shows_no_key(port, env, Path(folder) / "again.log", key.group(1))
        for service_log in (Path(folder) / "data" / "distributed" / "logs").glob("*.log"):
            assert "Traceback" not in service_log.read_text(), service_log.read_text()[-3000:]


async def _the_client_cannot_name_its_address(base: str, key: str) -> None:
    """Through the gateway, an X-Forwarded-For the client sends is not the address a record names."""
    headers = {"Authorization": f"Bearer {key}", "X-Forwarded-For": "203.0.113.7"}
    async with httpx.AsyncClient(base_url=base, headers=headers) as client:
        made = await client.post(
            "/v1/sscc-requests", json={"company_prefix": "9506000", "extension_digit": 4, "quantity": 1}
        )
        assert made.status_code == 201, made.text
        trail = (await client.get("/v1/audit-trail/serial_issuance", params={"limit": 1000})).json()["events"]
    (recorded,) = [e for e in trail if e["record"]["correlation_id"] == made.headers["x-request-id"]]
    assert recorded["record"]["client_address"] == "127.0.0.1", recorded["record"]


def start(port: int, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "serialtrail", "run", "--distributed", "--port", str(port)],
            env=env,
            stdout=out,
            stderr=out,
            start_new_session=True,  # its own process group, as a terminal's foreground job
        )


async def _a_restart_keeps_everything_and_shows_no_key(port: int, env: dict[str, str], log: Path, key: str) -> None:
    """The first key is shown on the first start only; after a restart it still works."""
    process = start(port, env, log)
    try:
        await until(lambda: "Ctrl-C stops everything" in text(log) or process.poll() is not None, 240)
        assert process.poll() is None, text(log)
        assert "ADMIN_KEY" not in text(log)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            keys = await client.get("/v1/api-keys", headers={"Authorization": f"Bearer {key}"})
            summary = await client.get(
                "/v1/batches/09506000134352/L2026A/serial-summary", headers={"Authorization": f"Bearer {key}"}
            )
        assert keys.status_code == 200, keys.text
        assert summary.json()["commissioned"] == 12  # 10 in step 5, 2 through EPCIS in step 15
        await _the_commands_act_on_this_run(log, key)
        _a_service_that_stops_stops_everything(process, log)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGINT)
            process.wait(90)


async def _the_commands_act_on_this_run(log: Path, key: str) -> None:
    """With the settings the run prints, the CLI lists this run's keys (not embedded mode's)."""
    said = re.search(r"export (SERIALTRAIL_DATA_DIR=\S+) (KAFKA_BOOTSTRAP_SERVERS=\S+)", text(log))
    assert said is not None, text(log)
    env = {**os.environ, **dict(part.split("=", 1) for part in said.groups())}
    env.pop("DATABASE_URL", None)
    listed = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "serialtrail", "keys", "list"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert listed.returncode == 0, listed.stderr
    assert key.split("_")[1] in listed.stdout, listed.stdout


def _a_service_that_stops_stops_everything(process: subprocess.Popen[bytes], log: Path) -> None:
    """Said at once and everything stopped, rather than a gateway answering 502 for good."""
    (serve,) = [
        pid for pid in children_of(process.pid) if b"serial_issuance" in Path(f"/proc/{pid}/cmdline").read_bytes()
    ]
    os.kill(serve, signal.SIGTERM)
    process.wait(90)
    assert process.returncode not in (0, 130), text(log)[-3000:]
    assert re.search(r"serial_issuance stopped \(exit code -?\d+; log: .*\): stopping distributed mode", text(log))
    assert not children_of(process.pid)


def children_of(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # gone meanwhile
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def text(log: Path) -> str:
    return log.read_text()
