# kubelite — the project's commands. `make run` and `make test` are the quick start.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
DEB_PACKAGES := etcd-server etcd-client busybox-static docker-registry skopeo nftables iptables iproute2 conntrack runc crun conmon containernetworking-plugins nginx

.PHONY: install run test lint typecheck bench clean system-packages test-images

install: $(BIN)/kubelite system-packages

$(BIN)/kubelite: pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $(BIN)/kubelite

system-packages:
	@missing=""; for p in $(DEB_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	  else echo "note: Debian packages missing:$$missing (tests that need them will say so)"; fi; \
	fi

run: install
	$(BIN)/kubelite server

test: install
	$(BIN)/ruff check kubelite tests bench
	$(BIN)/mypy kubelite
	$(BIN)/pytest -q

lint:
	$(BIN)/ruff check kubelite tests bench

typecheck:
	$(BIN)/mypy kubelite

# Test images (OCI tarballs from Debian's busybox-static); see "Test images" in README.md.
TEST_IMAGES_DIR := build/test-images
TEST_IMAGES := $(TEST_IMAGES_DIR)/busybox-1.tar $(TEST_IMAGES_DIR)/web-1.tar $(TEST_IMAGES_DIR)/web-2.tar

test-images: $(TEST_IMAGES)

$(TEST_IMAGES) &: tools/build_test_images.py kubelite/runtime/images/layout.py | $(BIN)/kubelite system-packages
	$(BIN)/python tools/build_test_images.py --out $(TEST_IMAGES_DIR)
	@touch $(TEST_IMAGES)

bench: install
	$(BIN)/python bench/api.py

clean:
	rm -rf $(VENV) build *.egg-info
