"""`kubelite image import|ls|rm`: the node's image store from the command line. Safe while a
`kubelite server` uses the same data dir (the store locks itself).

Must hold no logic beyond parsing arguments, calling kubelite.runtime.images and printing.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from kubelite.runtime.images.importer import ImageImportError, import_archive
from kubelite.runtime.images.progress import human_size
from kubelite.runtime.images.store import ImageNotFound, ImageRecord, ImageStore

NONE = "<none>"
ID_LENGTH = 13  # crictl shows ids truncated to 13 hex digits
MIN_COLUMN_WIDTH = 20
COLUMN_PADDING = 3


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    from kubelite.cli.server import default_data_dir

    image = sub.add_parser("image", help="manage the node's container images")
    actions = image.add_subparsers(dest="image_command", required=True)

    def data_dir_option(parser: argparse.ArgumentParser) -> None:
        parser.add_argument(
            "--data-dir", type=Path, default=default_data_dir(), help="the node's data dir (its images are in DIR/images)"
        )

    load = actions.add_parser("import", help="load a `docker save` or OCI-layout tarball")
    data_dir_option(load)
    load.add_argument("--base-name", default=None, help="repository for images the archive names only by a tag")
    load.add_argument("file", type=Path)
    listing = actions.add_parser("ls", help="list images (like `crictl images`)")
    data_dir_option(listing)
    remove = actions.add_parser("rm", help="remove images and the layers no other image uses")
    data_dir_option(remove)
    remove.add_argument("refs", nargs="+", metavar="REF")


def run(args: argparse.Namespace) -> int:
    store = ImageStore.for_data_dir(args.data_dir)
    if args.image_command == "import":
        return _import(store, args.file, args.base_name)
    if args.image_command == "ls":
        sys.stdout.write(format_table(store.list()))
        return 0
    if args.image_command == "rm":
        return _remove(store, args.refs)
    return 2


def _import(store: ImageStore, path: Path, base_name: str | None) -> int:
    try:
        records = import_archive(store, path, base_name=base_name)
    except (ImageImportError, OSError) as exc:
        print(f"kubelite: {exc}", file=sys.stderr)
        return 1
    for record in records:
        for name in record.tags or (record.id,):
            print(f"Loaded image: {name}")
    return 0


def _remove(store: ImageStore, refs: list[str]) -> int:
    failed = False
    for ref in refs:
        try:
            removed = store.remove(ref)
        except ImageNotFound as exc:
            print(f"kubelite: {exc}", file=sys.stderr)
            failed = True
            continue
        for name in removed.record.tags or removed.record.repo_digests or (removed.record.id,):
            print(f"Deleted: {name}")
    return 1 if failed else 0


def _rows(record: ImageRecord) -> list[list[str]]:
    image_id = record.id.removeprefix("sha256:")[:ID_LENGTH]
    size = human_size(record.size)
    if record.tags:
        return [[*tag.rsplit(":", 1), image_id, size] for tag in record.tags]
    name = record.repo_digests[0].split("@", 1)[0] if record.repo_digests else NONE
    return [[name, NONE, image_id, size]]


def format_table(records: list[ImageRecord]) -> str:
    """The `crictl images` table: IMAGE TAG IMAGE ID SIZE, columns at least 20 wide."""
    rows = [["IMAGE", "TAG", "IMAGE ID", "SIZE"]]
    for record in records:
        rows.extend(_rows(record))
    widths = [max(MIN_COLUMN_WIDTH, max(len(row[i]) for row in rows) + COLUMN_PADDING) for i in range(3)]
    return "".join("".join(cell.ljust(w) for cell, w in zip(row, widths, strict=False)) + row[3] + "\n" for row in rows)
