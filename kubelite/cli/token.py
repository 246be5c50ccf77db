"""`kubelite token create|list|delete`: node join tokens, kept as bootstrap-token Secrets in
kube-system of the running server that DIR's admin kubeconfig reaches.

`create` prints one line, the join token `K10<sha256 of the CA PEM>::<id>.<secret>`, for
`kubelite agent --token`.

Must hold no logic beyond parsing arguments, calling the API through kubelite.client and printing.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path
from typing import Any

from kubelite.api import bootstraptoken as bt
from kubelite.api.errors import StatusError
from kubelite.client.client import Client
from kubelite.client.http import from_kubeconfig
from kubelite.client.kubeconfig import KubeconfigError, load_kubeconfig
from kubelite.client.transport import TransportError
from kubelite.controllers.metricsclient import parse_duration

DEFAULT_TTL = "24h"


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    from kubelite.cli.server import default_data_dir

    token = sub.add_parser("token", help="manage node join tokens")
    actions = token.add_subparsers(dest="token_command", required=True)

    def data_dir_option(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--data-dir", type=Path, default=default_data_dir(), help="the server's data dir (its admin kubeconfig)")

    create = actions.add_parser("create", help="create a join token and print it")
    data_dir_option(create)
    create.add_argument("--ttl", default=DEFAULT_TTL, help="how long the token is valid, e.g. 24h, 30m (0: never expires)")
    create.add_argument("--description", default="", help="a note kept with the token")
    listing = actions.add_parser("list", help="list join tokens")
    data_dir_option(listing)
    delete = actions.add_parser("delete", help="delete join tokens")
    data_dir_option(delete)
    delete.add_argument("tokens", nargs="+", metavar="ID", help="a token id, or a whole token")


def run(args: argparse.Namespace) -> int:
    kubeconfig = args.data_dir / "kubeconfig.yaml"
    if not kubeconfig.exists():
        print(f"kubelite: no kubeconfig at {kubeconfig}; is `kubelite server` running?", file=sys.stderr)
        return 1
    try:
        return asyncio.run(_run(args, kubeconfig))
    except (StatusError, TransportError, KubeconfigError, OSError) as exc:
        print(f"kubelite: {exc}", file=sys.stderr)
        return 1


async def _run(args: argparse.Namespace, kubeconfig: Path) -> int:
    client = Client(from_kubeconfig(kubeconfig, user_agent="kubelite-token"))
    secrets = client.resource("", "v1", "secrets").namespace(bt.SECRET_NAMESPACE)
    try:
        if args.token_command == "create":
            try:
                ttl = parse_duration(args.ttl)
            except ValueError:
                print(f"kubelite: invalid --ttl {args.ttl!r} (a duration such as 24h, 90m or 0)", file=sys.stderr)
                return 2
            ca_pem = _ca_pem(args.data_dir, kubeconfig)
            token_id, token_secret = bt.generate_token()
            await secrets.create(
                bt.token_secret_object(token_id, token_secret, ttl_seconds=max(ttl, 0.0), description=args.description),
                field_manager="kubelite-token",
            )
            print(bt.join_token(ca_pem, token_id, token_secret), flush=True)
            return 0
        if args.token_command == "list":
            found = await secrets.list(field_selector=f"type={bt.SECRET_TYPE}")
            sys.stdout.write(format_tokens(found["items"], time.time()))
            return 0
        if args.token_command == "delete":
            for text in args.tokens:
                token_id = text.split(".", 1)[0]
                await secrets.delete(bt.secret_name(token_id))
                print(f'bootstrap token "{token_id}" deleted', flush=True)
            return 0
        return 2
    finally:
        await client.close()


def _ca_pem(data_dir: Path, kubeconfig: Path) -> bytes:
    """The CA's PEM bytes, as the server publishes them (its tls/ca.crt, else the kubeconfig's)."""
    ca_file = data_dir / "tls" / "ca.crt"
    if ca_file.exists():
        return ca_file.read_bytes()
    ca_pem = load_kubeconfig(kubeconfig).ca_pem
    if not ca_pem:
        raise KubeconfigError(f"{kubeconfig} names no certificate authority")
    return ca_pem


def format_tokens(secrets: list[dict[str, Any]], now: float) -> str:
    """`kubeadm token list`'s table: TOKEN, TTL, EXPIRES, USAGES, DESCRIPTION, EXTRA GROUPS."""
    rows = [["TOKEN", "TTL", "EXPIRES", "USAGES", "DESCRIPTION", "EXTRA GROUPS"]]
    for secret in secrets:
        data = bt.secret_data(secret)
        token_id, token_secret = data.get("token-id", ""), data.get("token-secret", "")
        if not token_id:
            continue
        expiration = data.get("expiration", "")
        ttl, expires = "<forever>", "<never>"
        if expiration:
            expires = expiration
            try:
                left = bt.parse_rfc3339(expiration) - now
                ttl = "<invalid>" if left <= 0 else _human(left)
            except ValueError:
                ttl = "<invalid>"
        usages = ",".join(
            key.removeprefix("usage-bootstrap-") for key in sorted(data) if key.startswith("usage-bootstrap-") and data[key] == "true"
        )
        rows.append([f"{token_id}.{token_secret}", ttl, expires, usages, data.get("description", "") or "<none>", data.get("auth-extra-groups", "")])
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "".join("   ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() + "\n" for row in rows)


def _human(seconds: float) -> str:
    if seconds >= 48 * 3600:
        return f"{int(seconds // 86400)}d"
    if seconds >= 3600:
        return f"{int(seconds // 3600)}h"
    if seconds >= 60:
        return f"{int(seconds // 60)}m"
    return f"{int(seconds)}s"
