"""Regenerate the committed JSON Schema snapshots of the contracts (`make schemas`)."""

from serialtrail_contracts.schemas import write_snapshots

if __name__ == "__main__":
    for path in write_snapshots():
        print(path)
