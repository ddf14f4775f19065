#!/usr/bin/env bash
# Installs the Debian packages nodicorn's tests (and, with `bench`, its benchmarks) use. Idempotent: does
# nothing when everything is present. Needs root (or sudo).
#   scripts/install-system-deps.sh test     python3-flask, python3-django, gunicorn (for /usr/bin/python3), openssl,
#                                           uwsgi, waitress (a test checks every bench scenario answers on each peer),
#                                           nginx and apache2 (docs/deploy.md's configurations are run),
#                                           curl (built with nghttp2, for the HTTP/2 tests)
#   scripts/install-system-deps.sh bench    wrk and the peer servers: gunicorn, uwsgi, waitress
set -euo pipefail

packages=()
for group in "${@:-test}"; do
  case "$group" in
    test)
      /usr/bin/python3 -c 'import flask' 2>/dev/null || packages+=(python3-flask)
      /usr/bin/python3 -c 'import django' 2>/dev/null || packages+=(python3-django)
      /usr/bin/python3 -c 'import gunicorn' 2>/dev/null || packages+=(gunicorn)
      command -v openssl >/dev/null || packages+=(openssl)
      /usr/bin/python3 -c 'import waitress' 2>/dev/null || packages+=(python3-waitress)
      uwsgi --plugin python3 --version >/dev/null 2>&1 || packages+=(uwsgi uwsgi-plugin-python3)
      command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || packages+=(nginx)
      [ -x /usr/sbin/apache2 ] || packages+=(apache2)
      curl --version 2>/dev/null | grep -q nghttp2 || packages+=(curl)
      ;;
    bench)
      command -v wrk >/dev/null || packages+=(wrk)
      /usr/bin/python3 -c 'import gunicorn' 2>/dev/null || packages+=(gunicorn)
      /usr/bin/python3 -c 'import waitress' 2>/dev/null || packages+=(python3-waitress)
      uwsgi --plugin python3 --version >/dev/null 2>&1 || packages+=(uwsgi uwsgi-plugin-python3)
      /usr/bin/python3 -c 'import flask' 2>/dev/null || packages+=(python3-flask)
      /usr/bin/python3 -c 'import django' 2>/dev/null || packages+=(python3-django)
      ;;
    *) echo "unknown group: $group (use test or bench)" >&2; exit 2 ;;
  esac
done

[ ${#packages[@]} -eq 0 ] && exit 0
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "installing: ${packages[*]}"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${packages[@]}" >/dev/null
