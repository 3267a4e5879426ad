#!/usr/bin/env bash
# Template updates as one pull request (.github/workflows/template-update.yml runs the two steps in turn):
#
#   scripts/template_update.sh apply     cruft update: the template's changes since the commit recorded in
#                                        .cruft.json, merged three-way into the work tree; conflicts stay as markers
#   scripts/template_update.sh propose   commit the result on the branch template-update, push it, and open its pull
#                                        request or refresh the open one; nothing at all when the project is current
#
# `apply` runs the template's code (cruft renders it and runs its hooks) and needs no token; only `propose` does
# (GH_TOKEN, for gh and, through gh, git push). BRANCH (default template-update), BASE_BRANCH (default: the current
# branch) and CRUFT (default: uvx --from cruft==2.16.0 cruft) can be set.
# Backticks inside single quotes are Markdown for the pull request, not command substitutions.
# shellcheck disable=SC2016
set -euo pipefail

cd "$(dirname "$0")/.."

BRANCH=${BRANCH:-template-update}
read -r -a CRUFT_COMMAND <<<"${CRUFT:-uvx --from cruft==2.16.0 cruft}"
GIT_AUTHOR=(-c "user.name=github-actions[bot]" -c "user.email=41898282+github-actions[bot]@users.noreply.github.com")

usage() {
  sed -n '2,11p' "$0" >&2
  exit 2
}

log() {
  printf '%s\n' "$*"
}

fail() {
  printf '::error::%s\n' "$*" >&2
  exit 1
}

# A field of .cruft.json, read from standard input.
cruft_field() {
  python3 -c 'import json, sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"
}

apply() {
  if [[ ! -f .cruft.json ]]; then
    log "No .cruft.json: this project was not created with cruft (cruft create), so it records no template" \
      "commit to update from. Nothing to do."
    return 0
  fi
  if [[ -n $(git status --porcelain) ]]; then
    fail "The work tree has uncommitted changes; apply runs on a clean checkout."
  fi
  # The post-generation hook would lock and sync dependencies inside cruft's temporary renders; what it writes is in
  # [tool.cruft] skip anyway.
  CHALLENGE_BACKEND_SKIP_UV=1 "${CRUFT_COMMAND[@]}" update --skip-apply-ask
}

# Whether the remote branch already holds exactly this update, so a run with nothing new pushes nothing (no new CI
# run, no notification).
remote_branch_matches() {
  git fetch --quiet origin "+refs/heads/$BRANCH:refs/remotes/origin/$BRANCH" 2>/dev/null || return 1
  [[ $(git rev-parse "refs/remotes/origin/$BRANCH^{tree}") == $(git rev-parse "HEAD^{tree}") ]]
}

push_branch() {
  if git push --quiet --force origin "HEAD:refs/heads/$BRANCH"; then
    return 0
  fi
  if [[ -n $(git diff --name-only HEAD^ HEAD -- .github/workflows) ]]; then
    fail "Could not push $BRANCH. The update changes workflow files, which the default GITHUB_TOKEN may not push:" \
      "set the TEMPLATE_UPDATE_TOKEN secret (a GitHub App or fine-grained token with contents, pull requests and" \
      "workflows write access; see the README)."
  fi
  fail "Could not push $BRANCH (see the git error above)."
}

bullets() {
  local item
  for item in "$@"; do
    printf -- '- `%s`\n' "$item"
  done
}

# The pull request's description; reads the conflicted and rejected arrays of propose.
write_body() {
  local template=$1 from=$2 to=$3
  printf 'Changes of the template %s from `%s` to `%s`, merged three-way with this project by `cruft update`\n' \
    "$template" "$from" "$to"
  printf '(scripts/template_update.sh).\n\n'
  if ((${#conflicted[@]})); then
    printf '**Conflicts to resolve.** The template and this project changed the same lines; both sides are kept'
    printf ' between conflict markers in:\n\n'
    bullets "${conflicted[@]}"
    printf '\n'
  else
    printf 'No conflicts.\n\n'
  fi
  if ((${#rejected[@]})); then
    printf '**Changes cruft could not place** (apply them by hand, then delete these files):\n\n'
    bullets "${rejected[@]}"
    printf '\n'
  fi
  printf 'Before merging:\n\n'
  if ((${#conflicted[@]})); then
    printf -- '- Check out this branch, resolve every conflict marker (`git grep -n -E "^(<<<<<<<|>>>>>>>) "`)'
    printf ' and commit.\n'
  fi
  if git diff --name-only HEAD^ HEAD | grep -qx pyproject.toml; then
    printf -- '- `pyproject.toml` changed: run `uv lock && make install && make requirements` and commit the'
    printf ' result (cruft never touches `uv.lock` or `requirements.txt`).\n'
  fi
  printf -- '- Read changes to `.github/workflows/`, `infra/` and `scripts/` closely: they run with deploy'
  printf ' credentials.\n'
  printf -- '- Let CI pass. A pull request opened with the default token starts no workflow: close and reopen it to'
  printf ' run CI, or set TEMPLATE_UPDATE_TOKEN.\n'
}

propose() {
  local base template from to title body number
  local -a conflicted rejected
  if [[ -z $(git status --porcelain) ]]; then
    log "The project is current with its template: no branch, no pull request."
    return 0
  fi
  base=${BASE_BRANCH:-$(git rev-parse --abbrev-ref HEAD)}
  template=$(cruft_field template <.cruft.json)
  from=$(git show HEAD:.cruft.json | cruft_field commit)
  to=$(cruft_field commit <.cruft.json)
  mapfile -t conflicted < <(git diff --name-only --diff-filter=U)
  mapfile -t rejected < <(git ls-files --others --exclude-standard -- '*.rej')
  title="Update from the template (${from:0:7} -> ${to:0:7})"

  # Conflicted files are committed with their markers, so the pull request shows them.
  git add --all
  git switch --quiet -C "$BRANCH"
  git "${GIT_AUTHOR[@]}" commit --quiet --no-verify -m "$title"
  gh auth setup-git
  if remote_branch_matches; then
    log "origin/$BRANCH already holds this update; not pushed again."
  else
    push_branch
  fi

  body=$(mktemp)
  write_body "$template" "$from" "$to" >"$body"
  number=$(gh pr list --head "$BRANCH" --base "$base" --state open --json number --jq '.[0].number // empty')
  if [[ -n $number ]]; then
    gh pr edit "$number" --title "$title" --body-file "$body"
    log "Refreshed pull request #$number: $title"
  else
    gh pr create --head "$BRANCH" --base "$base" --title "$title" --body-file "$body"
    log "Opened a pull request: $title"
  fi
  if ((${#conflicted[@]})); then
    log "With conflicts in: ${conflicted[*]}"
  fi
}

case "${1:-}" in
  apply)
    [[ $# -eq 1 ]] || usage
    apply
    ;;
  propose)
    [[ $# -eq 1 ]] || usage
    propose
    ;;
  *)
    usage
    ;;
esac
