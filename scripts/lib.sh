# Shared by run.sh and fleet.sh (sourced): the laptop profile's admin token and the banner.

# ENCORE_ADMIN_TOKEN, or a stable one kept out of git in var/admin-token; exported.
admin_token() {
  if [ -z "${ENCORE_ADMIN_TOKEN:-}" ]; then
    mkdir -p var
    [ -s var/admin-token ] || "$BIN/python" -c "import secrets; print('adm_' + secrets.token_urlsafe(24))" > var/admin-token
    ENCORE_ADMIN_TOKEN="$(cat var/admin-token)"
  fi
  export ENCORE_ADMIN_TOKEN
}

# banner "<headline>" <base url>: where to look, and the admin token.
banner() {
  cat <<TXT

  $1
    dashboard / sign-in  $2/
    API docs             $2/docs
    health               $2/health
    scheduler health     $2/health/scheduler
    metrics              $2/metrics
    admin token          $ENCORE_ADMIN_TOKEN

TXT
}
