# Extra CA certificates for image builds behind a TLS-intercepting proxy; sourced by the build scripts.

# Prints the CA directory to use when no --ca-dir was given: $CODEX_RUNNER_EXTRA_CA_DIR when set
# (set and empty disables), else the host's /usr/local/share/ca-certificates when it holds any:
# behind such a proxy that is where its CA lives.
default_extra_ca_dir() {
  if [ -n "${CODEX_RUNNER_EXTRA_CA_DIR+set}" ]; then
    printf '%s' "$CODEX_RUNNER_EXTRA_CA_DIR"
  elif compgen -G '/usr/local/share/ca-certificates/*.crt' >/dev/null; then
    printf '%s' /usr/local/share/ca-certificates
  fi
}

# stage_extra_ca SRC DEST: copies SRC's *.crt and *.pem into DEST as *.crt (update-ca-certificates
# reads only those) and prints how many.
stage_extra_ca() {
  local src="$1" dest="$2" cert name
  mkdir -p "$dest"
  [ -n "$src" ] || { echo 0; return; }
  [ -d "$src" ] || { echo "CA directory not found: $src" >&2; return 1; }
  for cert in "$src"/*.crt "$src"/*.pem; do
    [ -f "$cert" ] || continue
    name="$(basename "$cert")"
    cp "$cert" "$dest/${name%.*}.crt"
  done
  find "$dest" -name '*.crt' | wc -l
}
