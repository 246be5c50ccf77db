"""Build the test images (`make test-images`) from Debian's busybox-static, as OCI image-layout
tarballs under build/test-images/:

    busybox-1.tar   kubelite.test/busybox:1   busybox, one symlink per applet in /bin, Cmd ["sh"]
    web-1.tar       kubelite.test/web:1       busybox httpd on port 80: GET / -> "web 1 <hostname>",
    web-2.tar       kubelite.test/web:2       GET /healthz -> 200 ("web 2 …" for web:2)

The web images share the busybox layer. Output is reproducible (fixed mtimes, sorted entries,
gzip without timestamps), so a rebuild gives the same digests; an archive that would come out
the same is not rewritten.

Usage: build_test_images.py [--out DIR] [--busybox PATH]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from kubelite.runtime.images import layout  # noqa: E402

BUSYBOX = Path("/bin/busybox")
INSTALL_HINT = "install Debian's busybox-static (apt-get install -y busybox-static)"
WEB_VERSIONS = ("1", "2")

PASSWD = "root:x:0:0:root:/root:/bin/sh\ndaemon:x:1:1:daemon:/usr/sbin:/bin/false\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"
GROUP = "root:x:0:\ndaemon:x:1:\nnogroup:x:65534:\n"

# Reads the pod's hostname at container start, then serves /tmp/www.
WEB_START = """#!/bin/sh
set -e
mkdir -p /tmp/www
version="$(cat /web/VERSION)"
printf 'web %s %s\\n' "$version" "$(hostname)" > /tmp/www/index.html
printf 'ok\\n' > /tmp/www/healthz
echo "web $version serving on :80 as $(hostname)"
exec httpd -f -v -p 80 -h /tmp/www
"""


def busybox_layer(busybox: Path) -> bytes:
    applets = subprocess.run([str(busybox), "--list"], capture_output=True, text=True, check=True).stdout.split()
    entries = [layout.file("bin/busybox", busybox.read_bytes(), mode=0o755)]
    entries += [layout.symlink(f"bin/{name}", "busybox") for name in sorted(set(applets)) if name != "busybox"]
    entries += [
        layout.file("etc/passwd", PASSWD),
        layout.file("etc/group", GROUP),
        layout.file("etc/hostname", "localhost\n"),
        layout.directory("root", 0o700),
        layout.directory("tmp", 0o1777),
        layout.directory("var/tmp", 0o1777),
        layout.directory("proc"),
        layout.directory("sys"),
        layout.directory("dev"),
        layout.directory("usr/bin"),
        layout.symlink("usr/bin/env", "/bin/env"),
    ]
    return layout.layer_tar(entries)


def web_layer(version: str) -> bytes:
    return layout.layer_tar(
        [layout.file("web/start.sh", WEB_START, mode=0o755), layout.file("web/VERSION", version + "\n")]
    )


def images(busybox: Path) -> dict[str, tuple[str, layout.Artifact]]:
    base = busybox_layer(busybox)
    built = {
        "busybox-1.tar": (
            "kubelite.test/busybox:1",
            layout.build_image([base], {"Env": [layout.DEFAULT_PATH_ENV], "Cmd": ["sh"]}, history=["busybox-static"]),
        )
    }
    for version in WEB_VERSIONS:
        config = {
            "Env": [layout.DEFAULT_PATH_ENV],
            "Entrypoint": ["/web/start.sh"],
            "ExposedPorts": {"80/tcp": {}},
        }
        built[f"web-{version}.tar"] = (
            f"kubelite.test/web:{version}",
            layout.build_image([base, web_layer(version)], config, history=["busybox-static", f"web {version}"]),
        )
    return built


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Build kubelite's test images.")
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "test-images")
    parser.add_argument("--busybox", type=Path, default=BUSYBOX)
    args = parser.parse_args(argv)
    if not args.busybox.is_file():
        print(f"build_test_images: {args.busybox} not found; {INSTALL_HINT}", file=sys.stderr)
        return 1
    args.out.mkdir(parents=True, exist_ok=True)
    for file_name, (name, artifact) in images(args.busybox).items():
        path = args.out / file_name
        written = layout.write_oci_archive(path, [(name, artifact)])
        state = "written" if written else "up to date"
        print(f"{path}: {name} {artifact.descriptor['digest']} ({state})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
