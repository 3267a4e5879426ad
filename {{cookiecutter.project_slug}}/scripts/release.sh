#!/usr/bin/env bash
# Release safety for the deploy workflow (.github/workflows/deploy.yml); each part also runs from a workstation.
#
#   scripts/release.sh deploy STAGE    deploy (make -C infra deploy-STAGE), migrate the database (make -C infra
#                                      migrate-STAGE), check GET /health/ready, and record the release. When a step
#                                      fails, roll the code back to the last recorded release and say what is live.
#   scripts/release.sh rollback STAGE  roll the code back to the last recorded release (after a cancelled run, say).
#   scripts/release.sh publish         create the GitHub release vYYYY.MM.DD-<sha7> (date in UTC) for GITHUB_SHA in
#                                      GITHUB_REPOSITORY; a commit released again the same day gets .2, .3, ...
#   ALLOW_ROLLBACK_ACROSS_MIGRATION=1  roll back even when the database was migrated past the release rolled back to.
#
# The record: after a release passes its readiness check, the object serverless/<service>/<stage>/.last-release in the
# deployment bucket (beside Serverless's own deployments, where the deploy already writes, so CI needs no new right)
# names the deployment the stack runs and the database revision it runs on. A rollback goes to exactly that
# deployment, never to the newest one Serverless listed: after one failed-and-rolled-back release, the newest is the
# failed one. (The leading dot keeps the object out of Serverless's deployment listing and its change check.)
#
# The schema is never rolled back: MySQL commits each DDL statement, and a down-migration loses data. So a rollback
# first asks the migrate function for the database's revision ({"read_only": true}, or the migration's own answer)
# and refuses when it is not the revision the recorded release ran on: old code on a schema it was not written for
# can pass the readiness check and still fail on its queries. When every migration since only added (expand/contract,
# README: Migrations), ALLOW_ROLLBACK_ACROSS_MIGRATION=1 allows it. Whatever stops the deploy after it began (a failing
# step, an unexpected error, a cancellation) ends with one line saying what is live. The workflow runs `publish` in its
# own job, only after `deploy` succeeded. READINESS_ATTEMPTS (default 6) and READINESS_DELAY (seconds, default 5; try n
# waits n times the delay) pace the check. Commands come from PATH: make, npx (sls), aws, curl, gh.
set -euo pipefail

# This file's own path before changing directory, for the usage text.
SELF="$(cd "$(dirname "$0")" && pwd)/$(basename "$0")"
cd "$(dirname "$0")/.."

READINESS_ATTEMPTS=${READINESS_ATTEMPTS:-6}
READINESS_DELAY=${READINESS_DELAY:-5}
ALLOW_ROLLBACK_ACROSS_MIGRATION=${ALLOW_ROLLBACK_ACROSS_MIGRATION:-0}
# What CI must receive from the prod environment (infra/ci-access.yml creates them; README: Deploy from GitHub).
CI_SETTINGS=(AWS_CLOUDFORMATION_ROLE_ARN AWS_API_ROLE_ARN AWS_MIGRATION_ROLE_ARN SERVERLESS_DEPLOYMENT_BUCKET)

# The release under way, for the exit trap: what it is doing (empty before the deploy starts and once it is over)
# and what it knows. The database's revision "none" means no migration has run; empty means unknown.
stage='' stack='' step='' signal='' reported=''
target='' target_revision='' database_revision='' revision_before=''

usage() {
  sed -n '2,11p' "$SELF" >&2
  exit 2
}

log() {
  printf '%s\n' "$*"
}

# One line for the log, the run's summary page and, in GitHub Actions, an error annotation; then stop.
fail() {
  reported=1
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

# "deployment 1700000001000 (2023-11-14 22:13:21 UTC)"
deployment_name() {
  printf 'deployment %s (%s)' "$1" "$(readable_time "$1")"
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

# Whether the stage's stack exists (not on the first deploy). Any other failure stops: without the stack's state a
# failing release could not be undone.
stack_exists() {
  local output
  if output=$(aws cloudformation describe-stacks --stack-name "$stack" --query 'Stacks[0].StackStatus' \
    --output text 2>&1); then
    return 0
  fi
  if [[ $output == *"does not exist"* ]]; then
    return 1
  fi
  printf '%s\n' "$output" >&2
  fail "Could not read the stack $stack, so there would be nothing to roll back to; nothing was deployed."
}

stack_output() {
  local key=$1 value
  value=$(aws cloudformation describe-stacks --stack-name "$stack" \
    --query "Stacks[0].Outputs[?OutputKey=='$key'].OutputValue" --output text)
  if [[ -z $value || $value == None ]]; then
    fail "The stack $stack has no $key output."
  fi
  printf '%s\n' "$value"
}

# CI names the bucket (SERVERLESS_DEPLOYMENT_BUCKET); from a workstation it is the one the framework created in the
# stack.
deployment_bucket() {
  if [[ -n ${SERVERLESS_DEPLOYMENT_BUCKET:-} ]]; then
    printf '%s\n' "$SERVERLESS_DEPLOYMENT_BUCKET"
  else
    stack_output ServerlessDeploymentBucketName
  fi
}

record_key() {
  printf 'serverless/%s/%s/.last-release\n' "$(service_name)" "$stage"
}

# Sets target and target_revision from the record; both stay empty when no release was recorded yet.
read_record() {
  local bucket key file output
  bucket=$(deployment_bucket)
  key=$(record_key)
  file=$(mktemp)
  if ! output=$(aws s3api get-object --bucket "$bucket" --key "$key" "$file" 2>&1); then
    rm -f "$file"
    if [[ $output == *NoSuchKey* ]]; then
      return 0
    fi
    printf '%s\n' "$output" >&2
    fail "Could not read the release record s3://$bucket/$key; nothing was deployed or rolled back."
  fi
  target=$(sed -n 's/^deployment=//p' "$file")
  target_revision=$(sed -n 's/^revision=//p' "$file")
  rm -f "$file"
}

write_record() {
  local deployment=$1 bucket key file
  bucket=$(deployment_bucket)
  key=$(record_key)
  file=$(mktemp)
  printf 'deployment=%s\nrevision=%s\ncommit=%s\nreleased=%s\n' "$deployment" "$database_revision" \
    "${GITHUB_SHA:-}" "$(date -u '+%Y-%m-%dT%H:%M:%SZ')" >"$file"
  aws s3api put-object --bucket "$bucket" --key "$key" --body "$file" >/dev/null
  rm -f "$file"
}

# The deployment the stack runs now: the timestamp in its API function's code key
# (serverless/<service>/<stage>/<timestamp>-<date>/<file>.zip), which a Serverless rollback changes as well.
live_deployment() {
  local key timestamp
  key=$(aws cloudformation get-template --stack-name "$stack" \
    --query 'TemplateBody.Resources.ApiLambdaFunction.Properties.Code.S3Key' --output text)
  timestamp=${key#serverless/*/*/}
  timestamp=${timestamp%%-*}
  if [[ ! $timestamp =~ ^[0-9]+$ ]]; then
    fail "Could not tell which deployment the stack $stack runs (its API function's code is at '$key')."
  fi
  printf '%s\n' "$timestamp"
}

# The deployments Serverless still keeps in the bucket (it prunes old ones), which are the ones it can roll back to.
require_deployment() {
  local listed
  listed=$(sls deploy list --stage "$stage")
  if ! grep -qxF "Timestamp: $1" <<<"$listed"; then
    fail "$(deployment_name "$1"), the one a failing release would roll back to, is no longer in the deployment" \
      "bucket; nothing was deployed. Deploy with care by hand, or record a release that is."
  fi
}

# A revision from the migrate function's answer: "none" for null, nothing when the answer has none.
answered_revision() {
  local answer=$1 name=$2 value
  value=$(grep -oE "\"$name\": *(\"[^\"]*\"|null)" <<<"$answer" | head -n 1 | sed -E 's/^[^:]*: *//; s/"//g') || true
  if [[ $value == null ]]; then
    value=none
  fi
  printf '%s\n' "$value"
}

# `make -C infra migrate-STAGE`, noting the revisions it answers.
migrate() {
  local answer status=0
  answer=$(make -C infra "migrate-$stage") || status=$?
  printf '%s\n' "$answer"
  revision_before=$(answered_revision "$answer" revision_before)
  database_revision=$(answered_revision "$answer" revision_after)
  return "$status"
}

# The database's revision as the migrate function reads it without migrating; nothing when it cannot say.
read_database_revision() {
  local answer
  if answer=$(sls invoke --function migrate --stage "$stage" --data '{"read_only": true}' 2>&1) &&
    [[ $answer != *'"errorMessage"'* ]]; then
    answered_revision "$answer" revision_after
  else
    printf '%s\n' "$answer" >&2
  fi
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

# Refuses (fail) to put the recorded release's code on a database migrated past it, unless told to.
check_rollback_fits_database() {
  local failed=$1 mismatch
  if [[ -z $database_revision ]]; then
    database_revision=$(read_database_revision)
  fi
  if [[ -n $target_revision && $database_revision == "$target_revision" ]]; then
    return 0
  fi
  if [[ -n $target_revision && -n $database_revision ]]; then
    mismatch="the database is at revision $database_revision, and $(deployment_name "$target") ran on revision"
    mismatch+=" $target_revision"
  else
    mismatch="it is unknown whether $(deployment_name "$target") runs on the database (its revision:"
    mismatch+=" ${database_revision:-unknown}; the revision that deployment ran on: ${target_revision:-unknown})"
  fi
  if [[ $ALLOW_ROLLBACK_ACROSS_MIGRATION == 1 ]]; then
    log "Rolling back although $mismatch (ALLOW_ROLLBACK_ACROSS_MIGRATION=1)."
    return 0
  fi
  fail "$failed. Not rolled back: $mismatch, and the schema is never rolled back. The code of $stack stays as it" \
    "is (not published). If every migration since then only added (expand/contract, see the README), roll back with:" \
    "ALLOW_ROLLBACK_ACROSS_MIGRATION=1 scripts/release.sh rollback $stage"
}

# Rolls the code back to the recorded release after a failure (described by $1), and says what is live; always fails.
roll_back() {
  local failed=$1 url restored
  if [[ -z $target ]]; then
    fail "$failed. There is no earlier deployment to restore, so this first release stays live; fix it and deploy" \
      "again. It is not released."
  fi
  # A deploy that failed may have changed nothing, or CloudFormation may have undone it.
  if [[ $(live_deployment) == "$target" ]]; then
    fail "$failed. $stack still runs $(deployment_name "$target"), the last release: nothing to roll back." \
      "The new release is not published."
  fi
  step="checking the database's revision"
  check_rollback_fits_database "$failed"
  log "$failed. Rolling back $stack to $(deployment_name "$target")."
  step="rolling back to deployment $target"
  if ! sls rollback --stage "$stage" --timestamp "$target"; then
    fail "$failed, and the rollback to deployment $target failed too: the new release is still live. Roll back by" \
      "hand: scripts/release.sh rollback $stage"
  fi
  step="checking the restored deployment"
  if url=$(stack_output HttpApiUrl) && ready "$url"; then
    restored="the restored deployment passes the readiness check"
  else
    restored="the restored deployment fails the readiness check too, so the cause is probably outside the code"
    restored+=" (database, network, settings)"
  fi
  step=''
  fail "$failed. Rolled back the code of $stack to $(deployment_name "$target"): $restored." \
    "The new release is not published."
}

# The exit trap of a deploy. An unexpected error after the deploy began rolls back like a failing check. A
# cancellation starts nothing new (CI kills the job seconds later, and a half-started stack update is the least known
# state of all), and neither does an error during the rollback itself: both say what is live and how to restore.
finish() {
  local status=$? live stopped
  trap - EXIT INT TERM
  if [[ -z $step || -n $reported ]]; then
    exit "$status"
  fi
  if [[ -z $signal && $step != "rolling back"* && $step != "checking the restored"* ]]; then
    roll_back "The release stopped unexpectedly while $step (exit status $status)"
  fi
  case $step in
    deploying) live="CloudFormation completes or undoes the stack update on its own" ;;
    "rolling back"*) live="CloudFormation completes or undoes the rollback's stack update on its own" ;;
    "checking the restored"*) live="$stack runs $(deployment_name "$target") again, not yet checked" ;;
    *) live="$stack runs the new code, not released" ;;
  esac
  if [[ -n $target ]]; then
    live+=". The last release on record is still $(deployment_name "$target"): once the stack is stable,"
    live+=" scripts/release.sh rollback $stage restores it (or says it is live)"
  else
    live+=". There is no earlier release to restore (first deploy)"
  fi
  if [[ -n $signal ]]; then
    stopped="Cancelled ($signal)"
  else
    stopped="Stopped unexpectedly (exit status $status)"
  fi
  fail "$stopped while $step: $live. Nothing is published."
}

deploy() {
  local url failed live
  stage=$1
  stack="$(service_name)-$stage"
  require_ci_settings
  if stack_exists; then
    read_record
    if [[ -n $target ]]; then
      log "Last release: $(deployment_name "$target"), on database revision ${target_revision:-unknown}."
    else
      target=$(live_deployment)
      log "No release recorded yet: a failing release rolls back to $(deployment_name "$target"), the one live now."
    fi
    require_deployment "$target"
  else
    log "First deploy of $stack: there is no earlier deployment to return to if this one fails."
  fi

  trap finish EXIT
  trap 'signal=SIGINT; exit 130' INT
  trap 'signal=SIGTERM; exit 143' TERM
  step=deploying
  make -C infra "deploy-$stage"
  step="reading the stack's outputs"
  url=$(stack_output HttpApiUrl)

  # The migration runs after the code is deployed (the migrate function ships in the same package) and before the
  # readiness check, so that the check sees the new code on the new schema.
  step=migrating
  if ! migrate; then
    failed="The migration failed (make -C infra migrate-$stage; the migrate function's error is above). MySQL"
    failed+=" commits each DDL statement, so the database may hold part of it: read the error before deploying again"
    # Its revision is asked afresh before a rollback.
    database_revision=''
    roll_back "$failed"
  fi
  # Without a record, the revision the live code ran on is the one this migration started from.
  if [[ -z $target_revision && -n $target ]]; then
    target_revision=$revision_before
  fi
  step="checking readiness"
  if ! ready "$url"; then
    roll_back "Readiness check failed for the new release ($url/health/ready)"
  fi
  step="recording the release"
  live=$(live_deployment)
  write_record "$live"
  step=''
  log "Migration done; readiness check passed: $url/health/ready"
  log "Recorded $(deployment_name "$live") on database revision $database_revision as the release to roll back to."
}

# By hand or after a cancelled run: the code back to the last recorded release, unless it is live already.
rollback() {
  local live url
  stage=$1
  stack="$(service_name)-$stage"
  stack_exists || fail "The stack $stack does not exist: there is nothing to roll back."
  read_record
  if [[ -z $target ]]; then
    fail "No release of $stack is recorded, so there is no known-good deployment to roll back to."
  fi
  live=$(live_deployment)
  if [[ $live == "$target" ]]; then
    log "$stack already runs $(deployment_name "$target"), the last release: nothing to roll back."
    return 0
  fi
  check_rollback_fits_database "Rolling $stack back from deployment $live"
  sls rollback --stage "$stage" --timestamp "$target" ||
    fail "The rollback of $stack to deployment $target failed: deployment $live is still live."
  url=$(stack_output HttpApiUrl)
  ready "$url" || fail "Rolled $stack back to $(deployment_name "$target"), which fails the readiness check."
  log "Rolled $stack back to $(deployment_name "$target"), which passes the readiness check."
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
  rollback)
    [[ $# -eq 2 ]] || usage
    rollback "$2"
    ;;
  publish)
    [[ $# -eq 1 ]] || usage
    publish
    ;;
  *)
    usage
    ;;
esac
