#!/usr/bin/env bash
# Release safety for the deploy workflow (.github/workflows/deploy.yml); each part also runs from a workstation.
#
#   scripts/release.sh deploy STAGE   note the deployment that is live, deploy (make -C infra deploy-STAGE), migrate
#                                     the database (make -C infra migrate-STAGE: the migrate function, inside the
#                                     network, fails when `alembic upgrade head` fails), then check GET /health/ready.
#                                     When the migration or the check fails: roll the code back to the deployment that
#                                     was live before (Serverless rollback), say which step failed and what was done,
#                                     and exit 1.
#   scripts/release.sh publish        create the GitHub release vYYYY.MM.DD-<sha7> (date in UTC) for GITHUB_SHA in
#                                     GITHUB_REPOSITORY; a commit released again the same day gets .2, .3, ...
#
# The workflow runs `publish` in its own job, after `deploy` succeeded: a release that failed its migration or its
# readiness check is never published. A rollback restores code and configuration, never the database: MySQL commits
# each DDL statement, so a migration that failed halfway can leave part of its changes. READINESS_ATTEMPTS (default
# 6) and READINESS_DELAY (seconds, default 5; try n waits n times the delay) pace the check. Commands come from PATH:
# make, npx (sls), aws, curl, gh.
set -euo pipefail

# This file's own path before changing directory, for the usage text.
SELF="$(cd "$(dirname "$0")" && pwd)/$(basename "$0")"
cd "$(dirname "$0")/.."

READINESS_ATTEMPTS=${READINESS_ATTEMPTS:-6}
READINESS_DELAY=${READINESS_DELAY:-5}
# What CI must receive from the prod environment (infra/ci-access.yml creates them; README: Deploy from GitHub).
CI_SETTINGS=(AWS_CLOUDFORMATION_ROLE_ARN AWS_PERMISSIONS_BOUNDARY_ARN SERVERLESS_DEPLOYMENT_BUCKET)

usage() {
  sed -n '2,11p' "$SELF" >&2
  exit 2
}

log() {
  printf '%s\n' "$*"
}

# One line for the log, the run's summary page and, in GitHub Actions, an error annotation; then stop.
fail() {
  printf '::error::%s\n' "$*" >&2
  if [[ -n ${GITHUB_STEP_SUMMARY:-} ]]; then
    printf '%s\n' "$*" >>"$GITHUB_STEP_SUMMARY"
  fi
  exit 1
}

sls() {
  (cd infra && npx sls "$@")
}

service_name() {
  sed -n 's/^service: *//p' infra/serverless.yml
}

readable_time() {
  date -u -d "@$(($1 / 1000))" '+%Y-%m-%d %H:%M:%S UTC'
}

# In CI, deploying without the CloudFormation service role would need IAM rights the deploy principal does not have
# (and should not): stop before anything changes, naming what is missing.
require_ci_settings() {
  local missing=() name
  if [[ ${GITHUB_ACTIONS:-} != true ]]; then
    return 0
  fi
  for name in "${CI_SETTINGS[@]}"; do
    if [[ -z ${!name:-} ]]; then
      missing+=("$name")
    fi
  done
  if ((${#missing[@]})); then
    fail "Missing environment secrets: ${missing[*]} (outputs of the infra/ci-access.yml stack; see the README)."
  fi
}

# The timestamp of the newest deployment Serverless recorded for the stage, or nothing when the stack does not
# exist yet (first deploy). Any other failure stops the deploy: without it a failing release could not be undone.
live_deployment() {
  local stack=$1 stage=$2 output
  if ! output=$(aws cloudformation describe-stacks --stack-name "$stack" --query 'Stacks[0].StackStatus' \
    --output text 2>&1); then
    if [[ $output == *"does not exist"* ]]; then
      return 0
    fi
    printf '%s\n' "$output" >&2
    fail "Could not read the stack $stack, so there would be nothing to roll back to; nothing was deployed."
  fi
  output=$(sls deploy list --stage "$stage")
  grep -oE 'Timestamp: [0-9]+' <<<"$output" | awk '{ print $2 }' | sort -n | tail -n 1
}

stack_output() {
  local stack=$1 key=$2 value
  value=$(aws cloudformation describe-stacks --stack-name "$stack" \
    --query "Stacks[0].Outputs[?OutputKey=='$key'].OutputValue" --output text)
  if [[ -z $value || $value == None ]]; then
    fail "The stack $stack has no $key output."
  fi
  printf '%s\n' "$value"
}

ready() {
  local url=$1 attempt
  for ((attempt = 1; attempt <= READINESS_ATTEMPTS; attempt++)); do
    if curl --fail --silent --show-error --max-time 10 "$url/health/ready"; then
      printf '\n'
      return 0
    fi
    if ((attempt < READINESS_ATTEMPTS)); then
      sleep $((attempt * READINESS_DELAY))
    fi
  done
  return 1
}

deploy() {
  local stage=$1 stack previous url failed restored
  stack="$(service_name)-$stage"
  require_ci_settings
  previous=$(live_deployment "$stack" "$stage")
  if [[ -n $previous ]]; then
    log "Live before this deploy: deployment $previous ($(readable_time "$previous"))."
  else
    log "First deploy of $stack: there is no earlier deployment to return to if this one fails."
  fi

  make -C infra "deploy-$stage"
  url=$(stack_output "$stack" HttpApiUrl)

  # The migration runs after the code is deployed (the migrate function ships in the same package) and before the
  # readiness check, so that the check sees the new code on the new schema.
  if ! make -C infra "migrate-$stage"; then
    failed="The migration failed (make -C infra migrate-$stage; the migrate function's error is above). MySQL"
    failed+=" commits each DDL statement, so the database may hold part of it: read the error before deploying again"
  elif ready "$url"; then
    log "Migration done; readiness check passed: $url/health/ready"
    return 0
  else
    failed="Readiness check failed for the new release ($url/health/ready)"
  fi

  if [[ -z $previous ]]; then
    fail "$failed. There is no earlier deployment to restore, so this first release stays live; fix it and deploy" \
      "again. It is not released."
  fi
  log "$failed. Rolling back $stack to deployment $previous."
  if ! sls rollback --stage "$stage" --timestamp "$previous"; then
    fail "$failed, and the rollback to deployment $previous failed too: the new release is still live. Roll back by" \
      "hand: (cd infra && npx sls rollback --stage $stage --timestamp $previous)"
  fi
  if ready "$url"; then
    restored="the restored deployment passes the readiness check"
  else
    restored="the restored deployment fails the readiness check too, so the cause is probably outside the code"
    restored+=" (database, network, settings)"
  fi
  fail "$failed. Rolled back the code of $stack to deployment $previous ($(readable_time "$previous")): $restored." \
    "The new release is not published."
}

publish() {
  : "${GITHUB_SHA:?GITHUB_SHA must name the commit to release}"
  : "${GITHUB_REPOSITORY:?GITHUB_REPOSITORY must name the repository (OWNER/REPO)}"
  local base tag existing number=1
  base="v$(date -u +%Y.%m.%d)-${GITHUB_SHA:0:7}"
  # Every tag starting with today's name for this commit, so a second release of it gets a new, unique tag.
  existing=$(gh api "repos/$GITHUB_REPOSITORY/git/matching-refs/tags/$base" --jq '.[].ref')
  tag=$base
  while grep -qxF "refs/tags/$tag" <<<"$existing"; do
    number=$((number + 1))
    tag="$base.$number"
  done
  gh release create "$tag" --repo "$GITHUB_REPOSITORY" --target "$GITHUB_SHA" --title "$tag" --generate-notes
  log "Released $tag ($GITHUB_SHA)."
}

case "${1:-}" in
  deploy)
    [[ $# -eq 2 ]] || usage
    deploy "$2"
    ;;
  publish)
    [[ $# -eq 1 ]] || usage
    publish
    ;;
  *)
    usage
    ;;
esac
