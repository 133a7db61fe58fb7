"""Processes starting together share one checkpoint key: the first to create it wins."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from serialtrail_kit.eventstore.checkpoints import key_id_of, load_or_create_signing_key, load_public_key


def test_concurrent_starts_agree_on_one_key(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "checkpoint-key"
    with ThreadPoolExecutor(8) as pool:
        keys = list(pool.map(lambda _: load_or_create_signing_key(path), range(8)))
    assert len({key_id_of(k.public_key()) for k in keys}) == 1
    assert path.stat().st_mode & 0o777 == 0o600
    assert key_id_of(load_public_key(Path(f"{path}.pub"))) == key_id_of(keys[0].public_key())
    assert sorted(p.name for p in path.parent.iterdir()) == ["checkpoint-key", "checkpoint-key.pub"]
