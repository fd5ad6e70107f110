#!/usr/bin/env bash
# Prints the path of a Python 3.8-3.10 interpreter (Rasa 3.6 runs on nothing newer), or explains what to install.
set -u
ok() { "$1" -c 'import sys; sys.exit(0 if (3, 8) <= sys.version_info[:2] <= (3, 10) else 1)' >/dev/null 2>&1; }
for candidate in "${PYTHON:-}" python3.10 python3.9 python3.8; do
  [ -n "$candidate" ] || continue
  path=$(command -v "$candidate" 2>/dev/null) || continue
  if ok "$path"; then
    # a pyenv shim only works with its version selected: resolve it to the real binary
    real=$("$path" -c 'import sys; print(sys.executable)' 2>/dev/null) && { echo "$real"; exit 0; }
  fi
done
# pyenv installs, even when pyenv itself is not on PATH (CI shells, cron)
for real in $(ls -d "${PYENV_ROOT:-$HOME/.pyenv}"/versions/3.10.* "${PYENV_ROOT:-$HOME/.pyenv}"/versions/3.9.* \
                   "${PYENV_ROOT:-$HOME/.pyenv}"/versions/3.8.* 2>/dev/null | sort -r -V); do
  if [ -x "$real/bin/python" ] && ok "$real/bin/python"; then echo "$real/bin/python"; exit 0; fi
done
cat >&2 <<'MSG'
No Python 3.8, 3.9 or 3.10 found. Rasa Open Source 3.6 runs only on those versions.
Install one, for example:
  pyenv install 3.10.13              (with pyenv)
  sudo apt-get install python3.10 python3.10-venv   (Debian/Ubuntu, where packaged)
  brew install python@3.10           (macOS)
or point PYTHON at one: make run PYTHON=/path/to/python3.10
MSG
exit 1
